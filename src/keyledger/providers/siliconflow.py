"""SiliconFlow: ``GET /v1/user/info``, one provider per region.

``siliconflow`` is api.siliconflow.cn (CNY), ``siliconflow-global`` is api.siliconflow.com
(USD); keys work only in their own region, so each provider talks only to its own host. The
body is ``{"code":20000,"message":"OK","status":true,"data":{…,"balance","chargeBalance",
"totalBalance"}}`` with amounts as strings; the balance is ``totalBalance``: ``balance`` is
only the gift part (``provider-apis.md`` §4.4, ``providers-2026.md`` §6). The China endpoint
was retired on 2026-08-14 (HTTP 410, ``providers-2026.md`` §3.4): the status then comes from
the free ``GET /v1/models`` and the balance is unknown (``endpoint_retired``), never a bad key.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, ClassVar

from keyledger.classify import Rule, Rules, Verdict
from keyledger.models import CheckResult, Key, Status
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.providers.regional import RegionalProvider, add_note
from keyledger.providers.spec import Capabilities, CheckOptions, KeyShape
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

USER_INFO = "/user/info"
MODELS = "/models"
CN_HOST = "api.siliconflow.cn"
GLOBAL_HOST = "api.siliconflow.com"
OK_CODE = 20000
ENDPOINT_RETIRED = "endpoint_retired"

# providers-2026 §3.4: /v1/user/info answers 410 on api.siliconflow.cn since 2026-08-14. Its
# body is not published (it may be a page), so the rule runs before the shared head.
FIRST_RULES: Rules = (
    Rule("endpoint-retired", lambda i: i.http_status == 410, Status.UNKNOWN, ENDPOINT_RETIRED),
)

RULES: Rules = (
    # providers-2026 §3.4/§4: 403 code 30011, "The selected model requires paid balance…".
    Rule(
        "paid-balance-required",
        lambda i: i.code == "30011",
        Status.NO_QUOTA,
        "paid_balance_required",
    ),
    # A bad key gets 401 with a bare JSON string body, "Invalid token" or "Api key is invalid"
    # (github.com/chatboxai/chatbox/issues/2573, github.com/rikkahub/rikkahub/issues/372).
    Rule(
        "invalid-key",
        lambda i: i.http_status == 401 and i.body_kind == "json",
        Status.INVALID,
        "invalid_api_key",
    ),
)


def _capabilities(host: str, currency: str, retired: bool) -> Capabilities:
    calls = [f"GET https://{host}/v1/user/info"]
    if retired:
        calls.append(f"GET https://{host}/v1/models (when /user/info answers 410)")
    balance = f"yes, {currency}: total, gift and charged parts"
    return Capabilities(
        status="yes (user info, or the models list)" if retired else "yes (user info)",
        balance=f"unknown since 2026-08-14 (endpoint retired); {balance}" if retired else balance,
        calls=tuple(calls),
    )


class SiliconFlowProvider(RegionalProvider):
    """SiliconFlow, China platform (api.siliconflow.cn, CNY)."""

    name: ClassVar[str] = "siliconflow"
    title: ClassVar[str] = "SiliconFlow (China, api.siliconflow.cn)"
    default_base_url: ClassVar[str] = f"https://{CN_HOST}/v1"
    currency: ClassVar[str | None] = "CNY"
    # Plain ``sk-`` keys; no published shape tells them from relay tokens or from the other
    # region's keys (trufflehog has no SiliconFlow detector), so no hint.
    key_shapes: ClassVar[tuple[KeyShape, ...]] = ()
    rules = RULES
    first_rules = FIRST_RULES
    sibling: ClassVar[str] = "siliconflow-global"
    foreign_hosts: ClassVar[tuple[str, ...]] = (GLOBAL_HOST,)
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_siliconflow"
    capabilities: ClassVar[Capabilities] = _capabilities(CN_HOST, "CNY", retired=True)

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Read the user info; when it is retired, the models list decides the status."""
        out = ResultBuilder(key, options, self.classification)
        root = self.api_base(key, options)
        url = root + USER_INFO
        refused = self.refuse_foreign(url, out)
        if refused is not None:
            return refused
        exchange = await client.call(self.request("GET", url, key))
        verdict = out.record(exchange, "user_info")
        if verdict is not None and verdict.reason == ENDPOINT_RETIRED:
            out.balance_reason = ENDPOINT_RETIRED
            return await self._probe(client, key, root, out)
        if verdict is not None:
            if verdict.status is Status.INVALID:
                add_note(out, f"keys work only in their own region; see {self.sibling}")
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        data = json_object(exchange.outcome) or {}
        info = data.get("data")
        if (
            data.get("code") != OK_CODE
            or data.get("status") is not True
            or not isinstance(info, dict)
        ):
            bad = out.unexpected(exchange, "user_info", message="not a code 20000 user info")
            return out.finish(bad.status, bad.reason)
        assert self.currency is not None
        read = out.read_balance(
            exchange,
            "user_info",
            info,
            available="totalBalance",
            parts={"charge": "chargeBalance", "gift": "balance"},
            currency=self.currency,
            source=urllib.parse.urlsplit(url).path,
        )
        if isinstance(read, Verdict):
            return out.finish(read.status, read.reason)
        total = read.available
        assert total is not None
        if total <= 0:
            return out.finish(Status.NO_QUOTA, "balance_exhausted")
        return out.finish(Status.OK, None)

    async def _probe(self, client: Client, key: Key, root: str, out: ResultBuilder) -> CheckResult:
        """The free models list: valid keys get it, bad keys get 401."""
        exchange = await client.call(self.request("GET", root + MODELS, key))
        verdict = out.record(exchange, "models")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        if not isinstance((json_object(exchange.outcome) or {}).get("data"), list):
            bad = out.unexpected(exchange, "models", message="not a models list")
            return out.finish(bad.status, bad.reason)
        return out.finish(Status.OK, None)


class SiliconFlowGlobalProvider(SiliconFlowProvider):
    """SiliconFlow, international platform (api.siliconflow.com, USD)."""

    name: ClassVar[str] = "siliconflow-global"
    title: ClassVar[str] = "SiliconFlow (global, api.siliconflow.com)"
    default_base_url: ClassVar[str] = f"https://{GLOBAL_HOST}/v1"
    currency: ClassVar[str | None] = "USD"
    sibling: ClassVar[str] = "siliconflow"
    foreign_hosts: ClassVar[tuple[str, ...]] = (CN_HOST,)
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_siliconflow_global"
    capabilities: ClassVar[Capabilities] = _capabilities(GLOBAL_HOST, "USD", retired=False)
