"""A simulator scenario, and how a key selects one.

A key selects its scenario with the marker ``KLSIM__<scenario>__`` anywhere in it, e.g.
``sk-proj-KLSIM__no_quota__0001abcd…``; ``KLSIM__<scenario>__<account>__`` also names an
account (keys that share one share an organization). Each provider's simulator module
(``sim_<provider>.py``) declares its routes and scenarios with these pieces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from aiohttp import web

from keyledger.models import Kind, Status
from keyledger.simulator.responses import Responder

MARKER = "KLSIM__"
DAY = 86400

# Adds provider-specific headers to an answer (OpenAI names the organization of every answer).
Decorate = Callable[[web.StreamResponse, "Scenario", str], None]


@dataclass(frozen=True)
class Scenario:
    """What each endpoint answers for keys of this scenario, and what keyledger should say."""

    name: str
    kind: Kind
    description: str
    expect: Status
    expect_reason: str | None = None
    endpoints: dict[str, Responder] = field(default_factory=dict)
    relay: bool = False
    provider: str = "openai"
    key_prefix: str | None = None  # the prefix make_key gives this scenario's keys
    # Money the account spends per simulated day (in its currency), from the epoch on.
    spend_per_day: Decimal = Decimal(0)
    # From ``dies_at`` after the epoch the key answers as scenario ``dies_as`` does, until
    # ``revives_at`` (if any), when it answers as itself again.
    dies_at: timedelta | None = None
    dies_as: str | None = None
    revives_at: timedelta | None = None

    def alive_at(self, elapsed: timedelta) -> bool:
        """Whether the key answers as itself ``elapsed`` after the epoch."""
        if self.dies_at is None or elapsed < self.dies_at:
            return True
        return self.revives_at is not None and elapsed >= self.revives_at


def scenario_of(key: str) -> str | None:
    """The scenario name a key selects, if any."""
    start = key.find(MARKER)
    if start < 0:
        return None
    rest = key[start + len(MARKER) :]
    name, sep, _ = rest.partition("__")
    return name if sep else None


SITE_PREFIX = "/klsite-"


def site_id(scenario: str) -> str:
    """A relay site's id on the simulator: a digest of its scenario's name (a base URL must
    not hold any piece of the key, and the key holds the scenario's name)."""
    return hashlib.sha256(scenario.encode()).hexdigest()[:12]


def site_of(path: str) -> tuple[str | None, str]:
    """The site id a relay's path starts with, and the path without it:
    ``/klsite-<id>/api/status`` -> (``<id>``, ``/api/status``)."""
    if not path.startswith(SITE_PREFIX):
        return None, path
    ident, _, rest = path[len(SITE_PREFIX) :].partition("/")
    return ident, "/" + rest


def account_of(key: str) -> str | None:
    """The account a key names with ``KLSIM__<scenario>__<account>__``, if any."""
    start = key.find(MARKER)
    if start < 0:
        return None
    parts = key[start + len(MARKER) :].split("__")
    return parts[1] if len(parts) > 2 and parts[1] else None
