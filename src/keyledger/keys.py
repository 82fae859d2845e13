"""Keys: kind detection, provider routing and validation of a single key value.

Routing never guesses (so a key is never sprayed at several providers): a known prefix maps
to exactly one provider and kind; a key with an unknown or ambiguous shape is sent only where
the user pinned it (``provider=`` or ``base_url=``), and otherwise nowhere. Keys are
case-sensitive and never normalised: ``SK-PROJ-…`` is not an OpenAI key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyledger.models import Kind

MIN_KEY_LENGTH = 20
MAX_KEY_LENGTH = 512
KEY_CHARS = re.compile(r"[A-Za-z0-9_\-.]")

# OpenAI secret-key prefixes that need no further evidence; plain ``sk-`` keys are OpenAI's
# only when they carry the legacy marker (base64 of "OpenAI") that every OpenAI key has.
OPENAI_SECRET_PREFIXES: tuple[str, ...] = ("sk-proj-", "sk-svcacct-", "sk-service-", "sk-None-")
OPENAI_MARKER = "T3BlbkFJ"

# Prefixes of other providers' keys: recognised so they are never sent to OpenAI.
FOREIGN_PREFIXES: dict[str, str] = {
    "sk-ant-": "anthropic",
    "sk-or-": "openrouter",
    "xai-": "xai",
    "gsk_": "groq",
    "pplx-": "perplexity",
    "AIza": "gemini",
}

_PUBLIC_PREFIX = re.compile(r"^(?:sk-(?:proj|svcacct|service|admin|None)-|sess-|sk-)")
_PLACEHOLDER_BODY = re.compile(r"[xX*.…\-_]*")
_PLACEHOLDER_ANYWHERE = re.compile(
    r"(?i)(?:x{6,}|\*{3,}|\.{3}|…"
    r"|your[_-]?(?:openai[_-]?)?(?:api[_-]?)?(?:key|token|secret)"
    r"|replace[_-]?me|change[_-]?me|insert[_-]?(?:your|key)|api[_-]?key[_-]?here|key[_-]?here)"
)
_BRACKETED = re.compile(r"<[^<>]*>|\{\{.*\}\}|\$\{.*\}|\[[^\[\]]*\]")


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


def foreign_provider(value: str) -> str | None:
    """The other provider whose prefix ``value`` carries, if any."""
    for prefix, other in FOREIGN_PREFIXES.items():
        if value.startswith(prefix):
            return other
    return None


def is_openai_shaped(value: str) -> bool:
    """Whether ``value`` is unambiguously an OpenAI key (known prefix or legacy marker)."""
    if value.startswith(("sess-", "sk-admin-", *OPENAI_SECRET_PREFIXES)):
        return True
    return value.startswith("sk-") and OPENAI_MARKER in value


def is_placeholder(value: str) -> bool:
    """Whether ``value`` is an obvious placeholder such as ``sk-xxxx`` or ``YOUR_API_KEY``.

    Only shapes a random key cannot plausibly take are matched (a long run of ``x``, ``...``,
    ``***``, ``<key>``, "your key"), so a real key is never skipped as a placeholder.
    """
    body = _PUBLIC_PREFIX.sub("", value, count=1)
    if _PLACEHOLDER_BODY.fullmatch(body):
        return True
    return bool(_PLACEHOLDER_ANYWHERE.search(value) or _BRACKETED.search(value))


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

    A pinned provider or base URL is the user's explicit choice and is obeyed. Without one,
    a foreign prefix goes nowhere (``unsupported_provider``), an ``sk-`` key that is not
    OpenAI-shaped goes nowhere (``ambiguous_provider``), and any other shape goes nowhere
    (``unrecognized_key``).
    """
    kind = detect_kind(value)
    if provider is None:
        other = foreign_provider(value)
        if other is not None:
            return Route(other, Kind.UNRECOGNIZED, "unsupported_provider")
    chosen = provider or "openai"
    if chosen != "openai":
        return Route(chosen, Kind.UNRECOGNIZED, "unsupported_provider")
    pinned = provider is not None or base_url is not None
    if kind is Kind.UNRECOGNIZED:
        if base_url is not None:
            return Route("openai", Kind.SECRET)  # relay tokens take many shapes
        return Route("openai", kind, "unrecognized_key")
    if kind is Kind.SECRET and not pinned and not is_openai_shaped(value):
        return Route("openai", kind, "ambiguous_provider")
    return Route("openai", kind)
