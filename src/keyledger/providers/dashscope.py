"""Alibaba DashScope (Model Studio), OpenAI-compatible mode: models list and the free probe.

Sources: ``providers-2026.md`` §3.11. An overdue account answers 400 with code/type
``Arrearage``; the message changed in 2026 (a help URL was appended), so the code decides.
The account balance needs Alibaba Cloud access keys (BSS ``QueryAccountBalance``): out of
scope (§5).
"""

from __future__ import annotations

from typing import ClassVar

from keyledger.classify import Rule, Rules, code_or_type
from keyledger.models import Status
from keyledger.providers.compat import COMMON, CompatProvider
from keyledger.providers.spec import Capabilities

RULES: Rules = (
    Rule("arrearage", code_or_type("Arrearage"), Status.NO_QUOTA, "arrearage"),
    *COMMON,
)


class DashScopeProvider(CompatProvider):
    """DashScope's compatible mode (mainland and international hosts)."""

    name: ClassVar[str] = "dashscope"
    title: ClassVar[str] = "Alibaba DashScope"
    default_base_url: ClassVar[str] = "https://dashscope.aliyuncs.com/compatible-mode/v1"
    version_suffix: ClassVar[str] = "/v1"
    hosts: ClassVar[tuple[str, ...]] = ("dashscope-intl.aliyuncs.com",)
    probe_models: ClassVar[tuple[str, ...]] = ("qwen-turbo", "qwen-plus")
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_dashscope"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (models list + free probe)",
        balance="no (needs Alibaba Cloud access keys: out of scope)",
        calls=(
            "GET /compatible-mode/v1/models",
            "POST /compatible-mode/v1/chat/completions (max_tokens -1, rejected)",
        ),
    )
