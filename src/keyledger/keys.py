"""Keys: validation of a single key value, and its route to a provider.

Routing never guesses (so a key is never sprayed at several providers): a shape that a provider
claims maps to exactly that provider and kind; a key with an unknown or ambiguous shape is sent
only where the user pinned it (``provider=`` or ``base_url=``), and otherwise nowhere. The shapes
are declared by the providers (:mod:`keyledger.providers.registry`). Keys are case-sensitive and
never normalised: ``SK-PROJ-…`` is not an OpenAI key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from keyledger import keyshapes

if TYPE_CHECKING:
    from keyledger.providers.registry import Registry, Route

MIN_KEY_LENGTH = 20
MAX_KEY_LENGTH = 512
KEY_CHARS = re.compile(r"[A-Za-z0-9_\-.]")
_NOT_KEY_CHAR = re.compile(r"[^A-Za-z0-9_\-.]")

_PLACEHOLDER_BODY = re.compile(r"[xX*.…\-_]*")
_PLACEHOLDER_ANYWHERE = re.compile(
    r"(?i)(?:x{6,}|\*{3,}|\.{3}|…"
    r"|your[_-]?(?:openai[_-]?)?(?:api[_-]?)?(?:key|token|secret)"
    r"|replace[_-]?me|change[_-]?me|insert[_-]?(?:your|key)|api[_-]?key[_-]?here|key[_-]?here)"
)
# Every alternative of _PLACEHOLDER_ANYWHERE holds one of these (lower case): a text with none
# of them cannot match, which is the answer for nearly every real key.
_PLACEHOLDER_WORDS = ("xxxxxx", "***", "...", "…", "your", "replace", "change", "insert", "here")
_PLACEHOLDER_WORD = re.compile("|".join(re.escape(word) for word in _PLACEHOLDER_WORDS))
_BRACKETED = re.compile(r"<[^<>]*>|\{\{.*\}\}|\$\{.*\}|\[[^\[\]]*\]")


def is_placeholder(value: str, prefix: str | None = None) -> bool:
    """Whether ``value`` is an obvious placeholder such as ``sk-xxxx`` or ``YOUR_API_KEY``.

    Only shapes a random key cannot plausibly take are matched (a long run of ``x``, ``...``,
    ``***``, ``<key>``, "your key"), so a real key is never skipped as a placeholder.
    ``prefix``, when given, is ``keyshapes.public_prefix(value)`` already found.
    """
    if prefix is None:
        prefix = keyshapes.public_prefix(value)
    body = value[len(prefix) :]
    if _PLACEHOLDER_BODY.fullmatch(body):
        return True
    if _BRACKETED.search(value):
        return True
    if value.isascii():  # lower() is exact on ASCII, as (?i) is
        lowered = value.lower()
        if _PLACEHOLDER_WORD.search(lowered) is None:  # holds none of the words
            return False
    return _PLACEHOLDER_ANYWHERE.search(value) is not None


def first_bad_char(value: str) -> int | None:
    """0-based index of the first character not allowed in a key, or ``None``."""
    found = _NOT_KEY_CHAR.search(value)
    return None if found is None else found.start()


_DEFAULT_REGISTRY: list[Callable[[], Registry]] = []


def _registry() -> Registry:
    """The default registry. Its module is imported at the first call (not with this
    module), once: these helpers run for every key a run loads."""
    if not _DEFAULT_REGISTRY:
        from keyledger.providers.registry import default_registry

        _DEFAULT_REGISTRY.append(default_registry)
    return _DEFAULT_REGISTRY[0]()


def route(
    value: str, provider: str | None, base_url: str | None, prefix: str | None = None
) -> Route:
    """Decide where ``value`` may be sent (see :meth:`Registry.route`); ``prefix``: its
    public prefix, when already found."""
    return _registry().route(value, provider, base_url, prefix)


def is_provider_name(text: str) -> bool:
    """Whether ``text`` is the name of a registered provider (public, never part of a key)."""
    return text in _registry()


def claimed_elsewhere(value: str, provider: str | None) -> bool:
    """Whether another provider's shape claims ``value`` (defaults never re-route such keys)."""
    owner = _registry().owner(value)
    return owner is not None and owner != (provider or "openai")
