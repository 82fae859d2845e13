"""Pieces the OpenAI-compatible vendors' simulator modules share (``sim_groq`` and friends)."""

from __future__ import annotations

from keyledger.models import Kind, Status
from keyledger.simulator.responses import Responder, json_reply, openai_error
from keyledger.simulator.scenario import Scenario

MAX_TOKENS_REJECTED = openai_error(
    400,
    "max_tokens must be greater than or equal to 1",
    param="max_tokens",
)


def routes(base_path: str, *, models: bool = True, chat: bool = True) -> dict[tuple[str, str], str]:
    """The models and chat routes under a vendor's base path (``/openai/v1``)."""
    found: dict[tuple[str, str], str] = {}
    if models:
        found[("GET", f"{base_path}/models")] = "models"
    if chat:
        found[("POST", f"{base_path}/chat/completions")] = "chat"
    return found


def models_list(*ids: str, bare: bool = False) -> Responder:
    """A models list, in the OpenAI envelope or (``bare``, Together) as a plain array."""
    items = [{"id": i, "object": "model", "owned_by": "vendor"} for i in ids]
    return json_reply(items if bare else {"object": "list", "data": items})


def scenario(
    provider: str,
    name: str,
    description: str,
    expect: Status,
    reason: str | None,
    key_prefix: str = "",
    **endpoints: Responder,
) -> Scenario:
    """A secret-key scenario of ``provider`` whose keys start with ``key_prefix``."""
    return Scenario(
        name,
        Kind.SECRET,
        description,
        expect,
        reason,
        dict(endpoints),
        provider=provider,
        key_prefix=key_prefix,
    )


def table(*scenarios: Scenario) -> dict[str, Scenario]:
    """Scenarios by name."""
    return {s.name: s for s in scenarios}
