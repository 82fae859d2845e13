"""Volcengine Ark's simulated chat endpoint; texts from ``providers-2026.md`` §3.12."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import json_reply
from keyledger.simulator.sim_compat import MAX_TOKENS_REJECTED, routes, scenario, table

ROUTES = routes("/api/v3", models=False)
OVERDUE_TEXT = (
    "The request failed because your account has an overdue balance. Request id: 0217a9c3"
)
OVERDUE_FLAT = json_reply({"code": "AccountOverdueError", "message": OVERDUE_TEXT}, 403)
OVERDUE_WRAPPED = json_reply(
    {"error": {"code": "AccountOverdueError", "message": OVERDUE_TEXT, "type": "Forbidden"}}, 403
)
INVALID = json_reply(
    {
        "error": {
            "code": "AuthenticationError",
            "message": "The API key in the request is missing or invalid.",
            "type": "Unauthorized",
        }
    },
    401,
)

SCENARIOS = table(
    scenario(
        "ark", "ark_ok", "Ark key in good standing", Status.OK, None, chat=MAX_TOKENS_REJECTED
    ),
    scenario(
        "ark",
        "ark_overdue",
        "Ark key of an overdue account (403, flat body)",
        Status.NO_QUOTA,
        "account_overdue",
        chat=OVERDUE_FLAT,
    ),
    scenario(
        "ark",
        "ark_overdue_wrapped",
        "Ark key of an overdue account (403, error-wrapped body)",
        Status.NO_QUOTA,
        "account_overdue",
        chat=OVERDUE_WRAPPED,
    ),
    scenario(
        "ark",
        "ark_invalid",
        "Ark key Volcengine does not know",
        Status.INVALID,
        "invalid_api_key",
        chat=INVALID,
    ),
)
