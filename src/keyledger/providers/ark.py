"""Volcengine Ark (Doubao): status from the free chat probe; no balance for an API key.

Sources: ``providers-2026.md`` §3.12: an overdue account answers 403 ``AccountOverdueError``
("…your account has an overdue balance…"), flat (``{"code", "message"}``) or wrapped in
``error``. The account balance (``QueryBalanceAcct``) needs Volcengine access keys: out of
scope (§5).
"""

from __future__ import annotations

from typing import ClassVar

from keyledger.classify import Rule, Rules, code_or_type, has
from keyledger.models import Status
from keyledger.providers.compat import COMMON, CompatProvider
from keyledger.providers.spec import Capabilities

RULES: Rules = (
    Rule(
        "account-overdue",
        lambda i: code_or_type("AccountOverdueError")(i) or has("overdue balance")(i),
        Status.NO_QUOTA,
        "account_overdue",
    ),
    Rule("authentication", code_or_type("AuthenticationError"), Status.INVALID, "invalid_api_key"),
    *COMMON,
)


class ArkProvider(CompatProvider):
    """Volcengine Ark's OpenAI-compatible API (cn-beijing)."""

    name: ClassVar[str] = "ark"
    title: ClassVar[str] = "Volcengine Ark"
    default_base_url: ClassVar[str] = "https://ark.cn-beijing.volces.com/api/v3"
    currency: ClassVar[str | None] = "CNY"
    models_path: ClassVar[str | None] = None
    probe_models: ClassVar[tuple[str, ...]] = ("doubao-seed-1-6-flash-250615",)
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_ark"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (free probe)",
        balance="no (needs Volcengine access keys: out of scope)",
        calls=("POST /api/v3/chat/completions (max_tokens -1, rejected)",),
    )
