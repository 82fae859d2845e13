"""The `Secret` wrapper: a key's value travels only inside it.

Its ``repr``, ``str``, ``format`` and pickle forms are all masked; the only way to the raw
value is :meth:`Secret.reveal`, which the transport calls when it builds a header.

Masking follows ``public_prefix + "…" + last4`` where the prefix comes only from the public
prefixes the providers declare (:mod:`keyledger.keyshapes`), and keys shorter than 20 characters
are fully masked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, NoReturn, Protocol

from keyledger import keyshapes

ELLIPSIS = "…"
FULL_MASK = "****"
SHORTEST_PARTLY_SHOWN = 20
SHORTEST_BODY_SHOWN = 12  # the last 4 are shown only when at least 8 more stay hidden


def known_prefixes() -> tuple[str, ...]:
    """Every public key prefix the registered providers declare, longest first."""
    return keyshapes.prefixes()


def public_prefix(value: str) -> str:
    """The known public prefix of ``value``, or ``""``."""
    return keyshapes.public_prefix(value)


def mask(value: str) -> str:
    """Display form of a key: ``prefix…last4``; short keys are fully masked.

    At most 4 characters of the secret body (what follows the public prefix) are shown, and
    only when the key has at least 20 characters and its body at least 12.
    """
    return _mask(value, public_prefix(value))


def _mask(value: str, prefix: str) -> str:
    """:func:`mask` of ``value`` whose public prefix is ``prefix``."""
    if len(value) < SHORTEST_PARTLY_SHOWN or len(value) - len(prefix) < SHORTEST_BODY_SHOWN:
        return FULL_MASK
    return f"{prefix}{ELLIPSIS}{value[-4:]}"


_MASK_TAIL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def is_mask(text: str) -> bool:
    """Whether ``text`` is a masked key as :func:`mask` builds it (a known public prefix,
    ``…`` and 4 key characters, or the full mask): shown as is, never passed to a redactor,
    whose key-shape pattern could take ``sk-`` + ``svcacct-`` for a key."""
    if text == FULL_MASK:
        return True
    rest = text[len(public_prefix(text)) :]
    return (
        len(rest) == 1 + 4
        and rest.startswith(ELLIPSIS)
        and all(c in _MASK_TAIL_CHARS for c in rest[1:])
    )


class Secret:
    """A key value whose every printable form is masked."""

    __slots__ = ("_masked", "_pattern", "_prefix", "_value")

    def __init__(
        self, value: str, prefix: str | None = None, pattern: re.Pattern[str] | None = None
    ) -> None:
        """Wrap ``value``. ``prefix``: its public prefix when the caller already found it,
        with ``pattern``, the prefix pattern (``keyshapes.COMPILED["prefix"]``) it was found
        with (``None`` when unknown: :attr:`prefix` then finds it again)."""
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value
        if prefix is not None:
            self._prefix, self._pattern = prefix, pattern
        else:
            # The public prefix is found once (the mask needs it) and kept with the prefix
            # pattern it was found with: it stays the answer while that pattern is the current
            # one (a provider registering more prefixes replaces it). No pattern kept when it
            # changed while the prefix was being found.
            before = keyshapes.COMPILED.get("prefix")
            self._prefix = public_prefix(value)
            now = keyshapes.COMPILED.get("prefix")
            self._pattern = now if now is before else None
        self._masked = _mask(value, self._prefix)

    def reveal(self) -> str:
        """The raw value; call it only where a header is built."""
        return self._value

    @property
    def masked(self) -> str:
        """The display form, ``prefix…last4``."""
        return self._masked

    @property
    def prefix(self) -> str:
        """The known public prefix of the key, if any."""
        pattern = self._pattern
        if pattern is not None and keyshapes.COMPILED.get("prefix") is pattern:
            return self._prefix
        return public_prefix(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def startswith(self, prefix: str) -> bool:
        """Whether the key starts with ``prefix`` (prefixes are public)."""
        return self._value.startswith(prefix)

    def __repr__(self) -> str:
        return f"Secret({self._masked!r})"

    def __str__(self) -> str:
        return self._masked

    def __format__(self, spec: str) -> str:
        return format(self._masked, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


class _Keyed(Protocol):
    """A keyed HMAC state: ``hmac.HMAC`` or the OpenSSL object inside it."""

    def copy(self) -> _Keyed: ...
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class Fingerprinter:
    """Stable, non-reversible key identity: ``HMAC-SHA256(install_secret, key)``, 16 hex chars."""

    __slots__ = ("_keyed", "_secret")

    def __init__(self, install_secret: bytes) -> None:
        if len(install_secret) < 16:
            raise ValueError("the install secret must be at least 16 bytes")
        self._secret = install_secret
        # Keyed once: each key's digest starts from a copy of this state, so the secret is
        # not hashed into the pads again for every key (HMAC's result is the same). The
        # OpenSSL state inside ``hmac.HMAC`` is copied directly when there is one (its
        # ``copy`` is a C call; the wrapper's is a Python frame building a new wrapper).
        keyed = hmac.new(install_secret, digestmod=hashlib.sha256)
        self._keyed: _Keyed = getattr(keyed, "_hmac", None) or keyed

    def __repr__(self) -> str:
        return "Fingerprinter(<install secret>)"

    def __call__(self, value: str | Secret) -> str:
        raw = value.reveal() if isinstance(value, Secret) else value
        keyed = self._keyed.copy()
        keyed.update(raw.encode("utf-8"))
        return keyed.hexdigest()[:16]
