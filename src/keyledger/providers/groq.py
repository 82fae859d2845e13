"""Groq (``gsk_`` keys): status from ``GET /openai/v1/models``; no balance for an API key.

Sources: ``provider-apis.md`` §4.6, ``providers-2026.md`` §3.8. Usage metrics are
Enterprise-only, so there is nothing to read about money.
"""

from __future__ import annotations

from typing import ClassVar

from keyledger.classify import Rule, Rules, code_or_type, has
from keyledger.models import Status
from keyledger.providers.compat import COMMON, CompatProvider
from keyledger.providers.spec import Capabilities, KeyShape

RULES: Rules = (
    # Issue 9 decides: an organization Groq restricted is ``restricted`` (provider-apis.md §6
    # r6 once said deactivated); the key still authenticates.
    Rule(
        "organization-restricted",
        lambda i: (
            code_or_type("organization_restricted")(i) or has("organization has been restricted")(i)
        ),
        Status.RESTRICTED,
        "organization_restricted",
    ),
    *COMMON,
)


class GroqProvider(CompatProvider):
    """Groq's OpenAI-compatible API."""

    name: ClassVar[str] = "groq"
    title: ClassVar[str] = "Groq"
    default_base_url: ClassVar[str] = "https://api.groq.com/openai/v1"
    version_suffix: ClassVar[str] = "/v1"
    currency: ClassVar[str | None] = "USD"
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (KeyShape("gsk_"),)
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_groq"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (models list)",
        balance="no (not exposed to API keys)",
        calls=("GET /openai/v1/models",),
    )
