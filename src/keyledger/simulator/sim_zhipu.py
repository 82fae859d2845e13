"""Zhipu's simulated chat endpoint; texts from ``providers-2026.md`` §3.10 and Zhipu's
error-code table."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import Responder, json_reply
from keyledger.simulator.sim_compat import routes, scenario, table

ROUTES = routes("/api/paas/v4", models=False)


def zhipu_error(status: int, code: str, message: str) -> Responder:
    """An error in Zhipu's envelope: ``{"error": {"code", "message"}}``."""
    return json_reply({"error": {"code": code, "message": message}}, status)


PROBE_REJECTED = zhipu_error(400, "1214", "max_tokens 参数非法。请检查文档")
NO_BALANCE_ZH = zhipu_error(429, "1113", "余额不足或无可用资源包,请充值。")
AUTH_FAILED = zhipu_error(
    401, "1002", "Authentication Token非法,请确认Authentication Token正确传递"
)

SCENARIOS = table(
    scenario("zhipu", "zhipu_ok", "Zhipu key with money", Status.OK, None, chat=PROBE_REJECTED),
    scenario(
        "zhipu",
        "zhipu_no_balance",
        "Zhipu key whose account is empty (429, code 1113)",
        Status.NO_QUOTA,
        "insufficient_balance",
        chat=NO_BALANCE_ZH,
    ),
    scenario(
        "zhipu",
        "zhipu_invalid",
        "Zhipu key Zhipu does not know (code 1002)",
        Status.INVALID,
        "invalid_api_key",
        chat=AUTH_FAILED,
    ),
)
