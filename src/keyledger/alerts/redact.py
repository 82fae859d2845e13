"""Channel secrets out of every text: webhook URLs (whole, and their token parts), signing
secrets, bearer tokens and SMTP passwords.

A webhook URL is a secret as a whole (its path or query holds the token), but its scheme and
host are what an error may show. So the whole URL, its path and query are removed *exactly*,
and only the token-like parts (path segments and query values of 8+ characters holding a
digit, or of 16+ characters; user info; configured secrets) are also removed by any 8-character
window, as keys are (:class:`keyledger.sanitize.Redactor`). A host stays readable.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

from keyledger.sanitize import REDACTED, Redactor

_TOKEN_MIN = 8
_LONG_WORD = 16
_EXACT_MIN = 4  # shorter values would blank out ordinary words


def _token_like(part: str) -> bool:
    return len(part) >= _TOKEN_MIN and (any(c.isdigit() for c in part) or len(part) >= _LONG_WORD)


def url_parts(url: str) -> tuple[list[str], list[str]]:
    """``(exact, tokens)``: what of ``url`` to remove exactly, and what by any window."""
    exact = [url]
    tokens: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return exact, tokens
    tail = url.split(parts.netloc, 1)[-1] if parts.netloc else url
    for piece in (tail, parts.path, parts.query, unquote(parts.path), unquote(parts.query)):
        if piece and piece != "/":
            exact.append(piece)
    if parts.username:
        exact.append(parts.username)
    if parts.password:
        tokens.append(parts.password)
    for segment in parts.path.split("/"):
        for form in {segment, unquote(segment)}:
            if _token_like(form):
                tokens.append(form)
    for _name, value in parse_qsl(parts.query, keep_blank_values=True):
        if _token_like(value):
            tokens.append(value)
        else:
            exact.append(value)
    return [e for e in exact if len(e) >= _EXACT_MIN], tokens


class ChannelRedactor(Redactor):
    """A :class:`Redactor` for tokens that also removes some strings exactly (URLs, paths)."""

    __slots__ = ("_exact",)

    def __init__(self, exact: Iterable[str] = (), tokens: Iterable[str] = ()) -> None:
        super().__init__(tokens)
        self._exact = tuple(sorted({s for s in exact if s}, key=len, reverse=True))

    def __repr__(self) -> str:
        return f"ChannelRedactor(<{len(self._exact)} exact>)"

    @property
    def exact(self) -> tuple[str, ...]:
        """The strings removed exactly."""
        return self._exact

    @property
    def tokens(self) -> tuple[str, ...]:
        """The strings removed whole and by any 8-character window."""
        return self._secrets

    def secrets(self) -> list[str]:
        """Everything, for :meth:`keyledger.logs.RedactingFilter.register` (which over-redacts
        windows of a host too: safe for logs)."""
        return [*self._exact, *self._secrets]

    def __call__(self, text: str) -> str:
        for secret in self._exact:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return super().__call__(text)


__all__ = ["ChannelRedactor", "url_parts"]
