"""Mistral's simulated endpoints; texts from ``providers-2026.md`` §3.9."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import json_reply
from keyledger.simulator.sim_compat import models_list, routes, scenario, table

ROUTES = routes("/v1")
MODELS = models_list("mistral-small-latest", "mistral-large-latest", "codestral-latest")
# The probe's max_tokens -1 refused by request validation (FastAPI-style 422).
PROBE_422 = json_reply(
    {
        "object": "error",
        "message": {
            "detail": [
                {
                    "type": "greater_than_equal",
                    "loc": ["body", "max_tokens"],
                    "msg": "Input should be greater than or equal to 0",
                }
            ]
        },
        "type": "invalid_request_error",
    },
    422,
)
UNAUTHORIZED = json_reply({"detail": "Unauthorized"}, 401)
CODESTRAL_UNAUTHORIZED = json_reply(
    {"message": "Unauthorized", "request_id": "0f3c2bd1a9e84c7d"}, 401
)

SCENARIOS = table(
    scenario(
        "mistral",
        "mistral_ok",
        "Mistral key with an active subscription (probe answered 422)",
        Status.OK,
        None,
        models=MODELS,
        chat=PROBE_422,
    ),
    scenario(
        "mistral",
        "mistral_invalid",
        "Mistral key api.mistral.ai does not know",
        Status.INVALID,
        "invalid_api_key",
        models=UNAUTHORIZED,
        chat=UNAUTHORIZED,
    ),
    scenario(
        "mistral",
        "mistral_wrong_host",
        "a key refused by the Codestral host (a La Plateforme key there, or a bad one)",
        Status.INVALID,
        "unauthorized_on_host",
        models=CODESTRAL_UNAUTHORIZED,
        chat=CODESTRAL_UNAUTHORIZED,
    ),
)
