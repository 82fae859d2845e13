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
_pattern: re.Pattern[str] | None = None
_word_pattern: re.Pattern[str] | None = None
_token_pattern: re.Pattern[str] | None = None
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
    global _prefixes, _pattern, _word_pattern, _token_pattern
    with _lock:
        merged = set(_prefixes) | {p for p in prefixes if p}
        _prefixes = tuple(sorted(merged, key=lambda p: (-len(p), p)))
        _pattern = _word_pattern = _token_pattern = None


def prefixes() -> tuple[str, ...]:
    """Every known public key prefix, longest first."""
    _ensure_loaded()
    return _prefixes


def public_prefix(value: str) -> str:
    """The known public prefix of ``value``, or ``""``."""
    for prefix in prefixes():
        if value.startswith(prefix):
            return prefix
    return ""


def key_pattern() -> re.Pattern[str]:
    """A regex matching anything key-shaped: a known prefix then a token, or a bearer token."""
    global _pattern
    _ensure_loaded()
    pattern = _pattern
    if pattern is None:
        alternatives = "|".join(re.escape(p) for p in _prefixes)
        pattern = re.compile(
            rf"(?:{alternatives})[A-Za-z0-9_\-]{{8,}}|Bearer\s+[A-Za-z0-9_\-\.]{{8,}}"
        )
        _pattern = pattern
    return pattern


def token_pattern() -> re.Pattern[str]:
    """Key shapes in text the user typed, where a prefix glued to a word (``task-force``) is
    not a key: a known prefix that does not follow a letter or digit, then 8+ key characters."""
    global _token_pattern
    _ensure_loaded()
    pattern = _token_pattern
    if pattern is None:
        alternatives = "|".join(re.escape(p) for p in _prefixes)
        pattern = re.compile(
            rf"(?<![A-Za-z0-9])(?:{alternatives})[A-Za-z0-9_\-]{{8,}}"
            rf"|Bearer\s+[A-Za-z0-9_\-\.]{{8,}}"
        )
        _token_pattern = pattern
    return pattern


def looks_like_key(text: str) -> bool:
    """Whether ``text`` holds a key-shaped word: a known prefix then 16+ key characters.

    The prefix must start a word (``desk-computer-1234…`` is not an ``sk-`` key), and a
    bearer token counts too.
    """
    global _word_pattern
    _ensure_loaded()
    pattern = _word_pattern
    if pattern is None:
        alternatives = "|".join(re.escape(p) for p in _prefixes)
        pattern = re.compile(
            rf"(?<![A-Za-z0-9_\-])(?:{alternatives})[A-Za-z0-9_\-]{{16,}}|(?i:bearer)\s+\S{{16,}}"
        )
        _word_pattern = pattern
    return pattern.search(text) is not None
