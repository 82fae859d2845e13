"""Groq's simulated endpoints; texts from ``provider-apis.md`` §4.6."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import openai_error
from keyledger.simulator.sim_compat import models_list, routes, scenario, table

ROUTES = routes("/openai/v1", chat=False)
MODELS = models_list("llama-3.1-8b-instant", "llama-3.3-70b-versatile")
INVALID = openai_error(401, "Invalid API Key", code="invalid_api_key")
RESTRICTED = openai_error(
    400,
    "Organization has been restricted. Please reach out to support if you believe this was in "
    "error.",
    code="organization_restricted",
)

SCENARIOS = table(
    scenario(
        "groq", "groq_ok", "Groq key that lists models", Status.OK, None, "gsk_", models=MODELS
    ),
    scenario(
        "groq",
        "groq_invalid",
        "Groq key Groq does not know",
        Status.INVALID,
        "invalid_api_key",
        "gsk_",
        models=INVALID,
    ),
    scenario(
        "groq",
        "groq_restricted",
        "Groq key of an organization Groq restricted",
        Status.RESTRICTED,
        "organization_restricted",
        "gsk_",
        models=RESTRICTED,
    ),
)
