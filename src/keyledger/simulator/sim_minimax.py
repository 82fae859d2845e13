"""MiniMax's simulated chat endpoint; texts from ``providers-2026.md`` §3.13."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import json_reply
from keyledger.simulator.sim_compat import MAX_TOKENS_REJECTED, routes, scenario, table

ROUTES = routes("/v1", models=False)
NO_BALANCE = json_reply(
    {
        "type": "error",
        "error": {"type": "api_error", "message": "insufficient balance (1008)"},
        "request_id": "05d1c2b3a4",
    },
    500,
)
INVALID = json_reply(
    {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid api key (2049)"},
        "request_id": "05d1c2b3a5",
    },
    401,
)

SCENARIOS = table(
    scenario(
        "minimax", "minimax_ok", "MiniMax key with money", Status.OK, None, chat=MAX_TOKENS_REJECTED
    ),
    scenario(
        "minimax",
        "minimax_no_balance",
        "MiniMax key whose wallet is empty (HTTP 500, 1008)",
        Status.NO_QUOTA,
        "insufficient_balance",
        chat=NO_BALANCE,
    ),
    scenario(
        "minimax",
        "minimax_invalid",
        "MiniMax key MiniMax does not know",
        Status.INVALID,
        "invalid_api_key",
        chat=INVALID,
    ),
)
