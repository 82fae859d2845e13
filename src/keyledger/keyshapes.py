"""Every key prefix keyledger knows, gathered from the provider registry.

Masking (:mod:`keyledger.secret`), redaction (:mod:`keyledger.sanitize`), the "label looks like
a secret" rule and the refusal of key-shaped arguments all ask this module, so a provider's key
shapes, declared once in its module, are recognised everywhere. The registry is loaded on
first use (a function-level import keeps this module free of import cycles).
"""

from __future__ import annotations

import re
import threading

# Prefixes known before (and independently of) any provider module: OpenAI's own kinds and
# the generic ``sk-``. Providers add theirs when the registry loads.
_BASE_PREFIXES: tuple[str, ...] = (
    "sk-svcacct-",
    "sk-service-",
    "sk-admin-",
    "sk-proj-",
    "sk-None-",
    "sess-",
    "sk-",
)

_lock = threading.Lock()
_prefixes: tuple[str, ...] = _BASE_PREFIXES
_loaded = False


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True  # set first: loading the registry calls back into register_prefixes
    from keyledger.providers.registry import default_registry

    default_registry()


def register_prefixes(prefixes: tuple[str, ...] | list[str]) -> None:
    """Add key prefixes (a provider's shapes); masking and redaction pick them up."""
    global _prefixes
    with _lock:
        merged = set(_prefixes) | {p for p in prefixes if p}
        _prefixes = tuple(sorted(merged, key=lambda p: (-len(p), p)))
        _compiled.clear()


def prefixes() -> tuple[str, ...]:
    """Every known public key prefix, longest first."""
    _ensure_loaded()
    return _prefixes


def public_prefix(value: str) -> str:
    """The known public prefix of ``value``, or ``""``.

    The first of :func:`prefixes` (longest first) that ``value`` starts with: one match of an
    alternation in that order, which tries them in turn as a loop would.
    """
    _ensure_loaded()
    pattern = _compiled.get("prefix")
    if pattern is None:
        pattern = re.compile("|".join(re.escape(p) for p in _prefixes))
        _compiled["prefix"] = pattern
    found = pattern.match(value)
    return "" if found is None else found.group()


# The three key-shape patterns, as (text before the prefix, body length, bearer form); each is
# compiled from the known prefixes on first use and again after a provider registers more.
WORD_BODY = 16  # characters after the prefix in a key-shaped word ("word" below)
_FORMS: dict[str, tuple[str, int, str]] = {
    # anything key-shaped, anywhere (redaction of remote text)
    "any": ("", 8, r"Bearer\s+[A-Za-z0-9_\-\.]{8,}"),
    # in text the user typed: a prefix glued to a word (``task-force``) is not a key
    "token": ("(?<![A-Za-z0-9])", 8, r"Bearer\s+[A-Za-z0-9_\-\.]{8,}"),
    # a whole key-shaped word (``desk-computer-1234…`` is not an ``sk-`` key)
    "word": (r"(?<![A-Za-z0-9_\-])", WORD_BODY, rf"(?i:bearer)\s+\S{{{WORD_BODY},}}"),
}
_compiled: dict[str, re.Pattern[str]] = {}
# The compiled patterns by form name, for a hot caller that asks whether a pattern it holds is
# still the current one without a call (``COMPILED.get("any") is held``); read it, never write.
COMPILED = _compiled


def _form(name: str) -> re.Pattern[str]:
    _ensure_loaded()
    pattern = _compiled.get(name)
    if pattern is None:
        before, length, bearer = _FORMS[name]
        alternatives = "|".join(re.escape(p) for p in _prefixes)
        # Atomic: once the longest prefix matched it is kept, so a masked ``sk-svcacct-…Ab12``
        # is not read as ``sk-`` followed by the 8-character body ``svcacct-``.
        pattern = re.compile(rf"{before}(?>{alternatives})[A-Za-z0-9_\-]{{{length},}}|{bearer}")
        _compiled[name] = pattern
    return pattern


def key_pattern() -> re.Pattern[str]:
    """A regex matching anything key-shaped: a known prefix then a token, or a bearer token."""
    return _form("any")


def token_pattern() -> re.Pattern[str]:
    """Key shapes in text the user typed: a known prefix that does not follow a letter or
    digit, then 8+ key characters, or a bearer token."""
    return _form("token")


def looks_like_key(text: str) -> bool:
    """Whether ``text`` holds a key-shaped word: a known prefix then 16+ key characters.

    The prefix must start a word (``desk-computer-1234…`` is not an ``sk-`` key), and a
    bearer token counts too.
    """
    return _form("word").search(text) is not None
