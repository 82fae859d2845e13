"""xAI (api.x.ai): the key's own record from ``GET /v1/api-key``; with a management key, the
team's prepaid balance from the Management API (providers-2026.md §3.6, provider-apis.md §4.6).

``/v1/api-key`` names the key, its team and ACLs, and says whether the key or its team is
blocked or disabled: each of ``team_blocked``, ``api_key_blocked`` and ``api_key_disabled`` means
no request with this key can succeed, so each is ``deactivated`` (with its own reason). The
management key (``--xai-management-key-env NAME``) is sent only to the management host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

from keyledger.classify import ErrorInfo, Rule, Rules
from keyledger.models import Account, CheckResult, Key, Status
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.providers.spec import Capabilities, CheckOptions, KeyShape, Provider, ProviderOption
from keyledger.providers.xai_balance import MANAGEMENT_BASE_URL, read_prepaid
from keyledger.sanitize import Redactor
from keyledger.secret import Secret
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

API_KEY = "/v1/api-key"
# Checked in this order: the team's block covers every key of it.
FLAGS = (
    ("team_blocked", "team_blocked"),
    ("api_key_blocked", "api_key_blocked"),
    ("api_key_disabled", "api_key_disabled"),
)


def _no_credit(i: ErrorInfo) -> bool:
    # A bare JSON string (429 on chat, 403 on /v1/responses).
    return i.http_status in (403, 429) and (
        "used all available credits" in i.text or "reached its monthly spending limit" in i.text
    )


RULES: Rules = (
    # 400/401 "Incorrect API key provided: na***ys. You can obtain an API key from …"
    Rule(
        "invalid-key",
        lambda i: i.http_status in (400, 401) and i.text.startswith("incorrect api key provided"),
        Status.INVALID,
        "invalid_api_key",
    ),
    Rule("no-credit", _no_credit, Status.NO_QUOTA, "insufficient_quota"),
)


class XAIProvider(Provider):
    """api.x.ai: key record (status, team, ACLs); prepaid balance with a management key."""

    name: ClassVar[str] = "xai"
    title: ClassVar[str] = "xAI"
    default_base_url: ClassVar[str] = "https://api.x.ai"
    currency: ClassVar[str | None] = "USD"
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (KeyShape("xai-"),)
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_xai"
    hosts: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[ProviderOption, ...]] = (
        ProviderOption(
            "management_key_env",
            "environment variable holding an xAI management key (reads the team's prepaid "
            "balance; sent only to management-api.x.ai)",
            None,
            secret_env=True,
        ),
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (key record: blocked, disabled, team blocked)",
        balance="with a management key: the team's prepaid balance",
        spend="no",
        expiry="no",
        calls=(
            "GET /v1/api-key",
            "GET management-api.x.ai/v1/billing/teams/{team}/prepaid/balance (management key)",
        ),
    )

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Read the key's record; then, with a management key, its team's prepaid balance."""
        out = ResultBuilder(key, options, self.classification)
        management = self.option(options, "management_key_env")
        if isinstance(management, Secret):
            out.redactor = Redactor((key.secret.reveal(), management.reveal()))
        exchange = await client.call(
            self.request("GET", self.base_url(key, options) + API_KEY, key)
        )
        verdict = out.record(exchange, "api_key")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        data = json_object(exchange.outcome)
        team = data.get("team_id") if data is not None else None
        if data is None or not all(isinstance(data.get(f), bool) for f, _ in FLAGS):
            verdict = out.unexpected(exchange, "api_key")
            return out.finish(verdict.status, verdict.reason)
        name = data.get("name")
        out.account = Account(
            organization=out.clean(team, 96) if isinstance(team, str) and team else None,
            name=out.clean(name, 96) if isinstance(name, str) and name else None,
        )
        for field, reason in FLAGS:
            if data[field]:
                return out.finish(Status.DEACTIVATED, reason)
        out.balance_reason = "needs_management_key"
        if isinstance(management, Secret):
            if isinstance(team, str) and team:
                root = options.base_urls.get("xai-management", MANAGEMENT_BASE_URL).rstrip("/")
                url = f"{root}/v1/billing/teams/{quote(team, safe='')}/prepaid/balance"
                await read_prepaid(client, url, management, self.classification, out)
            else:
                out.balance_reason = "team_unknown"
        return out.finish(Status.OK, None)
