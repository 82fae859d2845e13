"""Keys: kind detection, provider routing and validation of a single key value.

Routing never guesses (so a key is never sprayed at several providers): a known prefix maps
to exactly one provider and kind; a key with an unknown shape is sent only where the user
pinned it (``provider=`` or ``base_url=``), and otherwise nowhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyledger.models import Kind

MIN_KEY_LENGTH = 20
MAX_KEY_LENGTH = 512
KEY_CHARS = re.compile(r"[A-Za-z0-9_\-.]")
_DEEPSEEK_SHAPE = re.compile(r"sk-[0-9a-f]{32}")
_PLACEHOLDER = re.compile(
    r"(?i)(x{4,}|\.{3}|your[_-]?(api[_-]?)?key|<[^>]*>|\*{3,}|replace[_-]?me|changeme)"
)

# Prefixes of other providers' keys: recognised so they are never sent to OpenAI.
FOREIGN_PREFIXES: dict[str, str] = {
    "sk-ant-": "anthropic",
    "sk-or-": "openrouter",
    "xai-": "xai",
    "gsk_": "groq",
    "AIza": "gemini",
}


@dataclass(frozen=True, slots=True)
class Route:
    """Where a key goes: its provider and kind, or the reason it goes nowhere."""

    provider: str
    kind: Kind
    problem: str | None = None


def detect_kind(value: str) -> Kind:
    """The OpenAI key kind of ``value`` from its prefix."""
    if value.startswith("sess-"):
        return Kind.SESSION
    if value.startswith("sk-admin-"):
        return Kind.ADMIN
    if value.startswith("sk-"):
        return Kind.SECRET
    return Kind.UNRECOGNIZED


def is_placeholder(value: str) -> bool:
    """Whether ``value`` is an obvious placeholder such as ``sk-xxxx`` or ``YOUR_API_KEY``."""
    return bool(_PLACEHOLDER.search(value))


def first_bad_char(value: str) -> int | None:
    """0-based index of the first character not allowed in a key, or ``None``."""
    for index, ch in enumerate(value):
        if not KEY_CHARS.fullmatch(ch):
            return index
    return None


def route(value: str, provider: str | None, base_url: str | None) -> Route:
    """Decide where ``value`` may be sent.

    Args:
        value: the raw key.
        provider: the provider pinned by the user, if any.
        base_url: the custom base URL pinned by the user, if any.
    """
    kind = detect_kind(value)
    if provider is None:
        for prefix, other in FOREIGN_PREFIXES.items():
            if value.startswith(prefix):
                return Route(other, Kind.UNRECOGNIZED, "unsupported_provider")
    chosen = provider or "openai"
    if chosen != "openai":
        return Route(chosen, Kind.UNRECOGNIZED, "unsupported_provider")
    pinned = provider is not None or base_url is not None
    if kind is Kind.UNRECOGNIZED:
        if base_url is not None:
            return Route("openai", Kind.SECRET)  # relay tokens take many shapes
        return Route("openai", kind, "unrecognized_key")
    if kind is Kind.SECRET and not pinned and _DEEPSEEK_SHAPE.fullmatch(value):
        return Route("openai", kind, "ambiguous_provider")
    return Route("openai", kind)
