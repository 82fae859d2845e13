"""Moonshot / Kimi: ``GET /v1/users/me/balance``, one provider per region.

``moonshot`` is api.moonshot.cn (CNY), ``moonshot-global`` is api.moonshot.ai (USD); the host
decides the currency (the body has no currency field) and keys are region-bound, so each
provider talks only to its own host (``provider-apis.md`` §4.3, ``providers-2026.md`` §3.3).
The balance body: ``{"code":0,"data":{"available_balance","voucher_balance","cash_balance"},
"scode":"0x0","status":true}``; ``available_balance`` ≤ 0 blocks inference and a negative
``cash_balance`` is a debt. Both no-money errors (429 suspended, 403 never funded) carry the
type ``exceeded_current_quota_error`` and are never retried; 429 ``rate_limit_reached_error``
is a real rate limit.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, ClassVar

from keyledger.classify import ErrorInfo, Rule, Rules, Verdict, code_or_type
from keyledger.models import CheckResult, Key, Status
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.providers.regional import RegionalProvider, add_note
from keyledger.providers.spec import Capabilities, CheckOptions, KeyShape
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

BALANCE = "/users/me/balance"
CN_HOST = "api.moonshot.cn"
GLOBAL_HOST = "api.moonshot.ai"
# Kimi Code subscription keys (api.kimi.com/coding) get 401 on the Moonshot balance
# (providers-2026.md §3.3): an "invalid" here says nothing about such a key there.
KIMI_CODE_NOTE = "a Kimi Code key is refused here too; keyledger does not check api.kimi.com"


def _exceeded_reason(i: ErrorInfo) -> str:
    if "suspended" in i.text:
        return "account_suspended"  # 429: "… is suspended due to insufficient balance …"
    if "not active" in i.text:
        return "account_not_active"  # 403: "Your account … is not active … exceeded current quota"
    return "exceeded_current_quota"


RULES: Rules = (
    # providers-2026 §3.3/§4: 429 or 403, money not a rate limit; a retry cannot help.
    Rule(
        "exceeded-current-quota",
        code_or_type("exceeded_current_quota_error"),
        Status.NO_QUOTA,
        _exceeded_reason,
    ),
    Rule(
        "rate-limit-reached",
        lambda i: i.http_status == 429 and "rate_limit_reached_error" in (i.type, i.code),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        retry=True,
    ),
    # provider-apis §4.3 / §6.5
    Rule(
        "invalid-authentication",
        code_or_type("invalid_authentication_error"),
        Status.INVALID,
        "invalid_api_key",
    ),
)


def _capabilities(host: str, currency: str) -> Capabilities:
    return Capabilities(
        status="yes (balance endpoint)",
        balance=f"yes, {currency}: available, cash (negative = debt) and voucher",
        calls=(f"GET https://{host}/v1/users/me/balance",),
    )


class MoonshotProvider(RegionalProvider):
    """Moonshot / Kimi, China platform (api.moonshot.cn, CNY)."""

    name: ClassVar[str] = "moonshot"
    title: ClassVar[str] = "Moonshot / Kimi (China, api.moonshot.cn)"
    default_base_url: ClassVar[str] = f"https://{CN_HOST}/v1"
    currency: ClassVar[str | None] = "CNY"
    # Plain ``sk-`` keys: no shape tells them from relay tokens or from the other region's keys
    # (trufflehog's Moonshot detector, sk- + 48 alphanumerics, needs a "moonshot"/"kimi"
    # keyword nearby), so no hint: only a pinned provider or base_url routes here.
    key_shapes: ClassVar[tuple[KeyShape, ...]] = ()
    rules = RULES
    sibling: ClassVar[str] = "moonshot-global"
    foreign_hosts: ClassVar[tuple[str, ...]] = (GLOBAL_HOST,)
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_moonshot"
    capabilities: ClassVar[Capabilities] = _capabilities(CN_HOST, "CNY")

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Read the balance; its answer decides the status."""
        out = ResultBuilder(key, options, self.classification)
        url = self.api_base(key, options) + BALANCE
        refused = self.refuse_foreign(url, out)
        if refused is not None:
            return refused
        exchange = await client.call(self.request("GET", url, key))
        verdict = out.record(exchange, "balance")
        if verdict is not None:
            if verdict.status is Status.INVALID:
                add_note(out, KIMI_CODE_NOTE)
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        data = json_object(exchange.outcome) or {}
        payload = data.get("data")
        if not isinstance(payload, dict) or data.get("status") is False:
            bad = out.unexpected(exchange, "balance", message="no balance object in the answer")
            return out.finish(bad.status, bad.reason)
        assert self.currency is not None
        read = out.read_balance(
            exchange,
            "balance",
            payload,
            available="available_balance",
            parts={"cash": "cash_balance", "voucher": "voucher_balance"},
            currency=self.currency,
            source=urllib.parse.urlsplit(url).path,
        )
        if isinstance(read, Verdict):
            return out.finish(read.status, read.reason)
        available = read.available
        cash = next((p.amount for p in read.parts if p.name == "cash"), None)
        assert available is not None
        if available <= 0:
            in_debt = cash is not None and cash < 0
            reason = "balance_in_debt" if in_debt else "balance_exhausted"
            return out.finish(Status.NO_QUOTA, reason)
        return out.finish(Status.OK, None)


class MoonshotGlobalProvider(MoonshotProvider):
    """Moonshot / Kimi, international platform (api.moonshot.ai, USD)."""

    name: ClassVar[str] = "moonshot-global"
    title: ClassVar[str] = "Moonshot / Kimi (global, api.moonshot.ai)"
    default_base_url: ClassVar[str] = f"https://{GLOBAL_HOST}/v1"
    currency: ClassVar[str | None] = "USD"
    sibling: ClassVar[str] = "moonshot"
    foreign_hosts: ClassVar[tuple[str, ...]] = (CN_HOST,)
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_moonshot_global"
    capabilities: ClassVar[Capabilities] = _capabilities(GLOBAL_HOST, "USD")
