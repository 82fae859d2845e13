"""Z.ai (api.z.ai, USD): Zhipu's international platform, same API and error codes."""

from __future__ import annotations

from typing import ClassVar

from keyledger.providers.compat import CompatProvider
from keyledger.providers.spec import Capabilities
from keyledger.providers.zhipu import RULES


class ZaiProvider(CompatProvider):
    """Z.ai (international, USD)."""

    name: ClassVar[str] = "zai"
    title: ClassVar[str] = "Z.ai"
    default_base_url: ClassVar[str] = "https://api.z.ai/api/paas/v4"
    currency: ClassVar[str | None] = "USD"
    models_path: ClassVar[str | None] = None
    probe_models: ClassVar[tuple[str, ...]] = ("glm-4.5-flash",)
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_zai"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (free probe)",
        balance="no (no pay-as-you-go money endpoint)",
        calls=("POST /api/paas/v4/chat/completions (max_tokens -1, rejected)",),
    )
