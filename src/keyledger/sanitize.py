"""Neutralise untrusted text (API messages, org names, labels) before it is shown or stored.

- C0 controls except tab and newline, DEL, C1 controls (0x80-0x9f, including CSI 0x9b),
  and bidi overrides (U+202A-202E, U+2066-2069) become caret or ``\\u`` notation, as the
  GitHub CLI's asciisanitizer does.
- Anything shaped like an API key is replaced by ``[REDACTED]``, and so is any registered key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_LINE_SEPARATORS = frozenset((0x2028, 0x2029, 0x0085))

# Key-shaped strings: known prefixes followed by a long token, and bearer tokens.
KEY_PATTERN = re.compile(
    r"(?:sk-ant-(?:admin01|api03)-|sk-(?:proj|svcacct|service|admin|or-v1)-|sess-|sk-)"
    r"[A-Za-z0-9_\-]{8,}"
    r"|Bearer\s+[A-Za-z0-9_\-\.]{8,}",
)
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


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every registered secret and anything key-shaped from ``text``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return KEY_PATTERN.sub(REDACTED, text)


def clean_message(text: str, secrets: Iterable[str] = (), limit: int = 200) -> str:
    """A remote message made safe to keep: redacted, neutralised, single-line, bounded."""
    text = redact(text, secrets)
    text = neutralise(text.replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def clean_label(text: str, limit: int = 128) -> str:
    """A user or remote label made safe to show: neutralised and bounded."""
    text = neutralise(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
