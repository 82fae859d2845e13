"""Fireworks AI: models list and the free probe; no balance for an API key.

Sources: ``providers-2026.md`` §3.15. Spend is readable only per account
(``/v1/accounts/{slug}/billing/summary``), not by a plain inference key's own calls: not read.
No Fireworks error text is published; the OpenAI envelope's ``invalid_api_key`` and the
shared 401/403 rules apply.
"""

from __future__ import annotations

from typing import ClassVar

from keyledger.providers.compat import COMMON, CompatProvider
from keyledger.providers.spec import Capabilities


class FireworksProvider(CompatProvider):
    """Fireworks AI's OpenAI-compatible inference API."""

    name: ClassVar[str] = "fireworks"
    title: ClassVar[str] = "Fireworks AI"
    default_base_url: ClassVar[str] = "https://api.fireworks.ai/inference/v1"
    version_suffix: ClassVar[str] = "/v1"
    currency: ClassVar[str | None] = "USD"
    probe_models: ClassVar[tuple[str, ...]] = ("accounts/fireworks/models/llama-v3p1-8b-instruct",)
    rules = COMMON
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_fireworks"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (models list + free probe)",
        balance="no (account billing needs the account's API, not read)",
        calls=(
            "GET /inference/v1/models",
            "POST /inference/v1/chat/completions (max_tokens -1, rejected)",
        ),
    )
