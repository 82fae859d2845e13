"""Together AI: models list and the free probe; no balance endpoint.

Sources: ``providers-2026.md`` §3.14. ``type: "credit_limit"`` ("You have been rate limited.
Your rate limit is 60 queries per minute…") is a per-minute **rate limit**, retried, never
``no_quota``. The API is suspended at a zero balance, but no capture of that answer exists.
"""

from __future__ import annotations

from typing import ClassVar

from keyledger.classify import Rule, Rules, code_or_type
from keyledger.models import Status
from keyledger.providers.compat import COMMON, CompatProvider
from keyledger.providers.spec import Capabilities

RULES: Rules = (
    Rule(
        "credit-limit",
        code_or_type("credit_limit"),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        retry=True,
    ),
    *COMMON,
)


class TogetherProvider(CompatProvider):
    """Together AI's OpenAI-compatible API."""

    name: ClassVar[str] = "together"
    title: ClassVar[str] = "Together AI"
    default_base_url: ClassVar[str] = "https://api.together.xyz/v1"
    version_suffix: ClassVar[str] = "/v1"
    currency: ClassVar[str | None] = "USD"
    probe_models: ClassVar[tuple[str, ...]] = ("meta-llama/Llama-3.2-3B-Instruct-Turbo",)
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_together"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (models list + free probe)",
        balance="no (no balance endpoint)",
        calls=("GET /v1/models", "POST /v1/chat/completions (max_tokens -1, rejected)"),
    )
