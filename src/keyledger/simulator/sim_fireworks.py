"""Fireworks' simulated inference endpoints (OpenAI envelope: no capture is published)."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import openai_error
from keyledger.simulator.sim_compat import MAX_TOKENS_REJECTED, models_list, routes, scenario, table

ROUTES = routes("/inference/v1")
MODELS = models_list("accounts/fireworks/models/llama-v3p1-8b-instruct")
INVALID = openai_error(401, "The API key you provided is invalid.", code="invalid_api_key")

SCENARIOS = table(
    scenario(
        "fireworks",
        "fireworks_ok",
        "Fireworks key",
        Status.OK,
        None,
        models=MODELS,
        chat=MAX_TOKENS_REJECTED,
    ),
    scenario(
        "fireworks",
        "fireworks_invalid",
        "Fireworks key Fireworks does not know",
        Status.INVALID,
        "invalid_api_key",
        models=INVALID,
        chat=INVALID,
    ),
)
