"""Cohere's simulated check-api-key endpoint (docs.cohere.com/reference/check-api-key)."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import json_reply
from keyledger.simulator.sim_compat import scenario, table

ROUTES = {("POST", "/v1/check-api-key"): "check_api_key"}

SCENARIOS = table(
    scenario(
        "cohere",
        "cohere_ok",
        "Cohere key (check-api-key: valid)",
        Status.OK,
        None,
        check_api_key=json_reply(
            {"valid": True, "organization_id": "org-7f3a", "owner_id": "usr-19c2"}
        ),
    ),
    scenario(
        "cohere",
        "cohere_not_valid",
        "Cohere key check-api-key calls not valid",
        Status.INVALID,
        "invalid_api_key",
        check_api_key=json_reply({"valid": False}),
    ),
    scenario(
        "cohere",
        "cohere_invalid",
        "Cohere key refused with 401",
        Status.INVALID,
        "invalid_api_key",
        check_api_key=json_reply({"message": "invalid api token"}, 401),
    ),
)
