"""Together's simulated endpoints; texts from ``providers-2026.md`` §3.14."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import openai_error, sequence
from keyledger.simulator.sim_compat import MAX_TOKENS_REJECTED, models_list, routes, scenario, table

ROUTES = routes("/v1")
MODELS = models_list(
    "meta-llama/Llama-3.2-3B-Instruct-Turbo", "Qwen/Qwen2.5-7B-Instruct-Turbo", bare=True
)
CREDIT_LIMIT = openai_error(
    429,
    "You have been rate limited. Your rate limit is 60 queries per minute. Please navigate to "
    "https://api.together.xyz/settings/billing to upgrade to a paid plan.",
    type_="credit_limit",
)
INVALID = openai_error(
    401,
    "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.",
    code="invalid_api_key",
)

SCENARIOS = table(
    scenario(
        "together",
        "together_ok",
        "Together key (models list is a bare array)",
        Status.OK,
        None,
        models=MODELS,
        chat=MAX_TOKENS_REJECTED,
    ),
    scenario(
        "together",
        "together_credit_limit_then_ok",
        "Together key rate limited once (type credit_limit), fine on the retry",
        Status.OK,
        None,
        models=MODELS,
        chat=sequence([CREDIT_LIMIT, MAX_TOKENS_REJECTED]),
    ),
    scenario(
        "together",
        "together_credit_limit",
        "Together key on the free plan's 60 queries per minute (type credit_limit)",
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        models=MODELS,
        chat=CREDIT_LIMIT,
    ),
    scenario(
        "together",
        "together_invalid",
        "Together key Together does not know",
        Status.INVALID,
        "invalid_api_key",
        models=INVALID,
        chat=INVALID,
    ),
)
