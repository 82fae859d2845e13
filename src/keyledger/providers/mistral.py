"""Mistral: ``GET /v1/models``, then the ``max_tokens: -1`` chat probe; no balance.

Sources: ``providers-2026.md`` §3.9. A 422 on the probe means the request got past the
subscription check (keychecker's rule). Keys are host-specific: an ``api.mistral.ai`` key gets
401 on ``codestral.mistral.ai`` and the other way round, so pin ``base_url`` for Codestral keys.
Billing is cookie-only.
"""

from __future__ import annotations

from typing import ClassVar

from keyledger.classify import Rule, Rules
from keyledger.models import Status
from keyledger.providers.compat import PROBE_OK, CompatProvider
from keyledger.providers.spec import Capabilities

RULES: Rules = (
    # codestral.mistral.ai: {"message":"Unauthorized","request_id":…} -- also what a key of
    # the other host gets, so the reason names the host, not the key.
    Rule(
        "unauthorized-on-host",
        lambda i: i.http_status == 401 and i.message == "Unauthorized",
        Status.INVALID,
        "unauthorized_on_host",
    ),
    # api.mistral.ai: {"detail":"Unauthorized"} (no error envelope at all).
    Rule(
        "unauthorized",
        lambda i: i.http_status == 401 and i.body_kind == "json",
        Status.INVALID,
        "invalid_api_key",
    ),
    Rule("subscription-active", lambda i: i.http_status == 422, Status.OK, PROBE_OK),
)


class MistralProvider(CompatProvider):
    """Mistral's La Plateforme (and its Codestral host, when pinned)."""

    name: ClassVar[str] = "mistral"
    title: ClassVar[str] = "Mistral"
    default_base_url: ClassVar[str] = "https://api.mistral.ai/v1"
    version_suffix: ClassVar[str] = "/v1"
    hosts: ClassVar[tuple[str, ...]] = ("codestral.mistral.ai",)
    rules = RULES
    probe_models: ClassVar[tuple[str, ...]] = (
        "mistral-small-latest",
        "open-mistral-nemo",
        "codestral-latest",
    )
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_mistral"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (models list + free probe)",
        balance="no (billing is cookie-only)",
        calls=("GET /v1/models", "POST /v1/chat/completions (max_tokens -1, rejected)"),
    )
