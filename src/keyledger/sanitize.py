"""Neutralise untrusted text (API messages, org names, labels) before it is shown or stored.

- C0 controls except tab and newline, DEL, C1 controls (0x80-0x9f, including CSI 0x9b),
  and bidi overrides (U+202A-202E, U+2066-2069) become caret or ``\\u`` notation, as the
  GitHub CLI's asciisanitizer does.
- Anything shaped like an API key is replaced by ``[REDACTED]``, and so is any registered key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from keyledger import keyshapes
from keyledger.secret import public_prefix

_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_LINE_SEPARATORS = frozenset((0x2028, 0x2029, 0x0085))

REDACTED = "[REDACTED]"


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"\\u{code:04x}"


# Everything neutralise() rewrites; text without any of it is returned as it is (fast path).
_NEEDS_WORK = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def neutralise(text: str, *, keep_newlines: bool = False) -> str:
    """Replace control, C1 and bidi characters with visible notation."""
    if _NEEDS_WORK.search(text) is None:
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch == "\t" or (ch == "\n" and keep_newlines):
            out.append(ch)
        elif (
            code < 0x20
            or code == 0x7F
            or 0x80 <= code <= 0x9F
            or code in _BIDI
            or code in _LINE_SEPARATORS
        ):
            out.append(_escape_char(ch))
        elif 0xD800 <= code <= 0xDFFF:  # lone surrogate: not valid UTF-8
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


WINDOW = 8  # no run of this many characters of a key's secret body may appear anywhere
_KEY_CHAR_RUN = re.compile(r"[A-Za-z0-9_.\-]{8,}")  # the characters a key may hold (keys.py)


class Redactor:
    """Removes registered secrets from text: the whole key, and any 8-character run of its body.

    The body is the key without its public prefix (``sk-proj-``, ``sess-``…), so a masked form
    such as ``sk-proj-…Ab12`` stays readable while any echo of the secret part is cut out.
    """

    __slots__ = ("_secrets", "_windows")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(s for s in secrets if s)
        self._windows: frozenset[str] = frozenset(
            body[i : i + WINDOW]
            for secret in self._secrets
            for body in (secret[len(public_prefix(secret)) :],)
            for i in range(len(body) - WINDOW + 1)
        )

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def __call__(self, text: str) -> str:
        """``text`` with every registered secret, any window of one, and key shapes removed."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if self._windows and len(text) >= WINDOW:
            windows = self._windows
            # Keys hold only [A-Za-z0-9_.-]: a window can only lie inside such a run.
            hits = [
                i
                for run in _KEY_CHAR_RUN.finditer(text)
                for i in range(run.start(), run.end() - WINDOW + 1)
                if text[i : i + WINDOW] in windows
            ]
            if hits:
                text = _cut(text, hits)
        return keyshapes.key_pattern().sub(REDACTED, text)


def _cut(text: str, starts: list[int]) -> str:
    """Replace each run covered by windows starting at ``starts`` with one marker."""
    out: list[str] = []
    position = 0
    end = -1
    for start in starts:
        if start > end:
            if end >= 0:
                out.append(REDACTED)
            out.append(text[position:start])
        end = max(end, start + WINDOW)
        position = end
    out.append(REDACTED)
    out.append(text[position:])
    return "".join(out)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every registered secret (and any 8-character run of one) and key shapes."""
    return Redactor(secrets)(text)


def clean_message(text: str, secrets: Iterable[str] | Redactor = (), limit: int = 200) -> str:
    """A remote message made safe to keep: redacted, neutralised, single-line, bounded."""
    text = text[: limit * 4]  # only ``limit`` characters are kept: do not work on the rest
    text = secrets(text) if isinstance(secrets, Redactor) else redact(text, secrets)
    text = neutralise(text.replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def clean_label(text: str, limit: int = 128) -> str:
    """A user or remote label made safe to show: neutralised and bounded."""
    text = neutralise(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
