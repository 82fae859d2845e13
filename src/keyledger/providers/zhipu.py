"""Zhipu (open.bigmodel.cn, CNY): status from a chat call that validation rejects; no balance.

Codes are Zhipu's published table (docs.bigmodel.cn/cn/api/api-code) and the captures in
``providers-2026.md`` §3.10: 429 with code ``"1113"`` is an empty wallet (also what a
Coding-Plan key gets on the pay-as-you-go base URL), never retried. Z.ai (:mod:`.zai`) runs
the same platform and shares these rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from keyledger.classify import ErrorInfo, Rule, Rules
from keyledger.models import Status
from keyledger.providers.compat import PROBE_OK, CompatProvider
from keyledger.providers.spec import Capabilities


def codes(*values: str) -> Callable[[ErrorInfo], bool]:
    """A matcher: the envelope's ``code`` is one of ``values``."""
    return lambda i: i.code in values


RULES: Rules = (
    Rule("token-expired", codes("1003"), Status.INVALID, "token_expired"),
    Rule("auth-failed", codes("1000", "1001", "1002", "1004"), Status.INVALID, "invalid_api_key"),
    Rule("account-missing", codes("1111"), Status.INVALID, "account_not_found"),
    Rule("account-inactive", codes("1110"), Status.DEACTIVATED, "account_inactive"),
    Rule("account-locked", codes("1112", "1121"), Status.DEACTIVATED, "account_locked"),
    Rule("no-balance", codes("1113"), Status.NO_QUOTA, "insufficient_balance"),
    Rule("plan-expired", codes("1309"), Status.NO_QUOTA, "plan_expired"),
    Rule("plan-limit", codes("1304", "1308", "1310"), Status.NO_QUOTA, "usage_limit_reached"),
    Rule(
        "rate-limited",
        codes("1302", "1303", "1305"),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        retry=True,
    ),
    Rule("model-unavailable", codes("1211", "1311"), Status.UNKNOWN, "model_unavailable"),
    # The probe's ``max_tokens: -1`` is refused as an invalid parameter: the key works.
    Rule("probe-rejected", codes("1210", "1213", "1214"), Status.OK, PROBE_OK),
)


class ZhipuProvider(CompatProvider):
    """Zhipu BigModel (mainland China, CNY)."""

    name: ClassVar[str] = "zhipu"
    title: ClassVar[str] = "Zhipu BigModel"
    default_base_url: ClassVar[str] = "https://open.bigmodel.cn/api/paas/v4"
    currency: ClassVar[str | None] = "CNY"
    models_path: ClassVar[str | None] = None
    probe_models: ClassVar[tuple[str, ...]] = ("glm-4-flash",)
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_zhipu"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (free probe)",
        balance="no (no pay-as-you-go money endpoint)",
        calls=("POST /api/paas/v4/chat/completions (max_tokens -1, rejected)",),
    )
