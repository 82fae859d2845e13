"""Vendors with one API per region whose keys work only in their own region.

Moonshot (api.moonshot.cn / api.moonshot.ai) and SiliconFlow (api.siliconflow.cn /
api.siliconflow.com) issue separate keys per region: each region is its own provider, and a
key is never sent to the other region's host, not even as a fallback (``providers-2026.md``
§3.3). A key whose own ``base_url`` names the other region's host is refused before any
request, and says which provider to pin instead.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import replace
from typing import ClassVar

from keyledger.models import CheckResult, Evidence, Key, Status
from keyledger.providers.base import ResultBuilder
from keyledger.providers.spec import CheckOptions, Provider, host_of

REGION_MISMATCH = "region_mismatch"


class RegionalProvider(Provider):
    """A provider serving one region; ``sibling`` is the other region's provider name."""

    sibling: ClassVar[str]
    foreign_hosts: ClassVar[tuple[str, ...]] = ()  # the other region's hosts

    def api_base(self, key: Key, options: CheckOptions) -> str:
        """The base URL ending in ``/v1``, whether or not it was given with it.

        Key files store a ``base_url`` without its ``/v1`` (``baseurl.normalise_base_url``),
        while these vendors document their base URLs with it: both mean the same API.
        """
        return self.base_url(key, options).removesuffix("/v1") + "/v1"

    def refuse_foreign(self, url: str, out: ResultBuilder) -> CheckResult | None:
        """A result refusing to send the key to ``url`` when it is the other region's host."""
        host = host_of(url)
        if host not in self.foreign_hosts:
            return None
        out.evidence.append(
            Evidence(
                endpoint=out.clean(urllib.parse.urlsplit(url).path or "/", 240),
                http_status=None,
                attempts=0,
                outcome=REGION_MISMATCH,
                message=(
                    f"not sent: {host} serves {self.sibling}, and {self.title} keys work only "
                    f"in their own region (pin provider={self.sibling})"
                ),
            )
        )
        return out.finish(Status.UNKNOWN, REGION_MISMATCH)


def add_note(out: ResultBuilder, note: str) -> None:
    """Append our own ``note`` to the message of the last evidence entry."""
    if not out.evidence:
        return
    last = out.evidence[-1]
    message = f"{last.message} ({note})" if last.message else note
    out.evidence[-1] = replace(last, message=message)
