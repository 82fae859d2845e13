"""Perplexity (``pplx-`` keys): status from the free chat probe; no balance API.

A JSON 401 ("Invalid API key provided…", type ``invalid_api_key``) is ``invalid`` with reason
``invalid_or_no_credit``: a third-party report (``providers-2026.md`` §3.16) says an account
out of credit also gets 401, and the two cannot be told apart; either way the key cannot be
used until someone acts. Perplexity also answers some bad keys with an openresty HTML 401
page; a proxy's login page looks the same, so that stays ``unknown``/``proxy``.
"""

from __future__ import annotations

from typing import ClassVar

from keyledger.classify import Rule, Rules
from keyledger.models import Status
from keyledger.providers.compat import CompatProvider
from keyledger.providers.spec import Capabilities, KeyShape

RULES: Rules = (
    Rule(
        "unauthorized",
        lambda i: i.http_status == 401 and i.has_error_object,
        Status.INVALID,
        "invalid_or_no_credit",
    ),
)


class PerplexityProvider(CompatProvider):
    """Perplexity's Sonar API."""

    name: ClassVar[str] = "perplexity"
    title: ClassVar[str] = "Perplexity"
    default_base_url: ClassVar[str] = "https://api.perplexity.ai"
    currency: ClassVar[str | None] = "USD"
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (KeyShape("pplx-"),)
    models_path: ClassVar[str | None] = None
    probe_models: ClassVar[tuple[str, ...]] = ("sonar",)
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_perplexity"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (free probe; 401 may also mean no credit)",
        balance="no (no balance API)",
        calls=("POST /chat/completions (max_tokens -1, rejected)",),
    )
