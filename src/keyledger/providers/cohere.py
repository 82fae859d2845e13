"""Cohere: ``POST /v1/check-api-key``, a free validity check; no balance.

Sources: ``providers-2026.md`` §3.17 (docs.cohere.com/reference/check-api-key): the answer is
``{valid, organization_id, owner_id}``. Trial keys are capped at 1,000 calls a month, which
the check does not report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from keyledger.classify import Rule, Rules
from keyledger.models import Account, CheckResult, Key, Status
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.providers.compat import NOT_EXPOSED
from keyledger.providers.spec import Capabilities, CheckOptions, Provider
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

CHECK = "/v1/check-api-key"
RULES: Rules = (
    # {"message":"invalid api token"}: the key is not one of Cohere's.
    Rule(
        "unauthorized",
        lambda i: i.http_status == 401 and i.body_kind == "json",
        Status.INVALID,
        "invalid_api_key",
    ),
)


class CohereProvider(Provider):
    """Cohere's platform API."""

    name: ClassVar[str] = "cohere"
    title: ClassVar[str] = "Cohere"
    default_base_url: ClassVar[str] = "https://api.cohere.com"
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_cohere"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (check-api-key)",
        balance="no (not exposed)",
        calls=("POST /v1/check-api-key",),
    )

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Ask Cohere whether the key is valid, and for its organization."""
        out = ResultBuilder(key, options, self.classification)
        out.balance_reason = NOT_EXPOSED
        root = self.base_url(key, options)
        exchange = await client.call(self.request("POST", root + CHECK, key, json_body={}))
        verdict = out.record(exchange, "check-api-key")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        data = json_object(exchange.outcome) or {}
        valid = data.get("valid")
        if valid is False:
            return out.finish(Status.INVALID, "invalid_api_key")
        if valid is not True:
            verdict = out.unexpected(exchange, "check-api-key")
            return out.finish(verdict.status, verdict.reason)
        org = data.get("organization_id")
        if isinstance(org, str) and org:
            out.account = Account(organization=out.clean(org, 96))
        return out.finish(Status.OK, None)
