"""MiniMax: status from the free chat probe; no pay-as-you-go balance endpoint.

Sources: ``providers-2026.md`` §3.13 and MiniMax's error-code table
(platform.minimax.io/docs/api-reference/errorcode): an empty wallet is HTTP **500**
``api_error`` "insufficient balance (1008)". That rule is a ``first_rule``: it runs before the
shared 5xx head, so the answer is ``no_quota``, is sent once (the retry policy reads this
table) and does not count against the host's circuit breaker.
"""

from __future__ import annotations

from typing import ClassVar

from keyledger.classify import Rule, Rules, has
from keyledger.models import Status
from keyledger.providers.compat import COMMON, CompatProvider
from keyledger.providers.spec import Capabilities

FIRST_RULES: Rules = (
    Rule("insufficient-balance", has("(1008)"), Status.NO_QUOTA, "insufficient_balance"),
)
RULES: Rules = (
    Rule(
        "not-authorized",
        lambda i: i.type == "authentication_error" or "(1004)" in i.text or "(2049)" in i.text,
        Status.INVALID,
        "invalid_api_key",
    ),
    *COMMON,
)


class MiniMaxProvider(CompatProvider):
    """MiniMax's OpenAI-compatible API (international; ``api.minimaxi.com`` in China)."""

    name: ClassVar[str] = "minimax"
    title: ClassVar[str] = "MiniMax"
    default_base_url: ClassVar[str] = "https://api.minimax.io/v1"
    version_suffix: ClassVar[str] = "/v1"
    hosts: ClassVar[tuple[str, ...]] = ("api.minimaxi.com",)
    models_path: ClassVar[str | None] = None
    probe_models: ClassVar[tuple[str, ...]] = ("MiniMax-M2",)
    rules = RULES
    first_rules = FIRST_RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_minimax"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (free probe)",
        balance="no (no pay-as-you-go endpoint)",
        calls=("POST /v1/chat/completions (max_tokens -1, rejected)",),
    )
