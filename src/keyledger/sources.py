"""Read key entries from text files, CSV, TOML accounts files, stdin and the environment.

Every problem is reported as an :class:`InputIssue` naming ``file:line[:column]`` and never
echoing the line; only a source unreadable as a whole raises :class:`KeyFileError`. Input is
streamed with a per-line cap, so a huge file cannot exhaust memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import stat
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from keyledger.errors import KeyFileError

MAX_LINE_BYTES = 8192
SNIFF_BYTES = 8192
_QUOTES = {'"': '"', "'": "'"}
_SMART_QUOTES = {"\u201c": "\u201d", "\u2018": "\u2019", "\u201d": "\u201d", "\u2019": "\u2019"}
_EDGE_JUNK = " \t\u00a0\u200b\ufeff\u2028\u2029\u0085\x0b\x0c"
_OPTION_NAMES = ("provider", "base_url")
_ENV_LABEL_SUFFIXES = ("_API_KEY", "_KEY", "_TOKEN")


@dataclass(frozen=True, slots=True)
class Entry:
    """One key as read, before validation and routing."""

    value: str
    where: str
    column: int = 1
    label: str | None = None
    provider: str | None = None
    base_url: str | None = None


@dataclass(frozen=True, slots=True)
class InputIssue:
    """A problem with one line or entry; ``error`` lines are skipped, warnings are not."""

    where: str
    message: str
    error: bool = True

    def __str__(self) -> str:
        return f"{self.where}: {'error' if self.error else 'warning'}: {self.message}"


Item = Entry | InputIssue


# --------------------------------------------------------------------------- opening


def open_source(path: str, stdin: BinaryIO | None = None) -> tuple[str, BinaryIO]:
    """Open ``path`` (``-`` for stdin) as a binary stream, refusing non-regular files."""
    if path == "-":
        if stdin is None:
            raise KeyFileError("<stdin>", "standard input is not available")
        return "<stdin>", stdin
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise KeyFileError(path, "no such file") from None
    except PermissionError:
        raise KeyFileError(path, "permission denied") from None
    except OSError as exc:
        raise KeyFileError(path, f"cannot read ({exc.strerror or 'OS error'})") from None
    if stat.S_ISDIR(st.st_mode):
        raise KeyFileError(path, "is a directory, not a key file")
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(path, "is not a regular file (use - to read standard input)")
    try:
        return path, p.open("rb")
    except OSError as exc:
        raise KeyFileError(path, f"cannot open ({exc.strerror or 'OS error'})") from None


def detect_format(name: str, head: bytes) -> str:
    """``csv``, ``toml`` or ``text`` from the file name, else from the first line."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".toml"):
        return "toml"
    first = head.lstrip(codecs.BOM_UTF8).split(b"\n", 1)[0].strip().lower()
    if first.replace(b" ", b"").startswith(b"label,key") or first.replace(b" ", b"") == b"key":
        return "csv"
    return "text"


def read_source(path: str, stdin: BinaryIO | None = None) -> Iterator[Item]:
    """Entries and issues from one source, in order."""
    name, stream = open_source(path, stdin)
    try:
        head = _peek(stream)
        fmt = detect_format(name, head)
        text_lines = _decoded_lines(name, stream, head)
        if fmt == "toml":
            yield from _read_toml(name, text_lines)
        elif fmt == "csv":
            yield from _read_csv(name, text_lines)
        else:
            for where, line in text_lines:
                if isinstance(line, InputIssue):
                    yield line
                else:
                    item = parse_text_line(line, where)
                    if item is not None:
                        yield item
    finally:
        if stream is not stdin:
            stream.close()


def read_environment(environ: Mapping[str, str]) -> Iterator[Item]:
    """The key in ``OPENAI_API_KEY`` (an empty value counts as unset)."""
    value = environ.get("OPENAI_API_KEY", "").strip()
    if not value:
        return
    base = environ.get("OPENAI_BASE_URL", "").strip() or None
    yield Entry(value=value, where="$OPENAI_API_KEY", label="OPENAI_API_KEY", base_url=base)


# --------------------------------------------------------------------------- decoding


class _Peeked:
    """A binary stream with its first bytes pushed back."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._buffer = io.BytesIO(head)
        self._stream = stream

    def readline(self, limit: int) -> bytes:
        line = self._buffer.readline(limit)
        if line.endswith(b"\n") or len(line) >= limit:
            return line
        return line + self._stream.readline(limit - len(line))


def _peek(stream: BinaryIO) -> bytes:
    head = stream.read(SNIFF_BYTES)
    return head if isinstance(head, bytes) else b""


def _decoded_lines(name: str, stream: BinaryIO, head: bytes) -> Iterator[tuple[str, str | InputIssue]]:
    """``(where, text)`` per logical line; bad lines come as issues."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            yield from _wide_lines(name, stream, head, encoding)
            return
    if b"\x00" in head:
        raise KeyFileError(name, "not a text key file (binary content)")
    peeked = _Peeked(head[3:] if head.startswith(codecs.BOM_UTF8) else head, stream)
    number = 0
    while True:
        raw = peeked.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        where = f"{name}:{number}"
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = peeked.readline(MAX_LINE_BYTES + 1)
            yield where, InputIssue(where, f"line longer than {MAX_LINE_BYTES} bytes, skipped")
            continue
        if b"\x00" in raw:
            yield where, InputIssue(where, "NUL byte in line, skipped")
            continue
        body = raw.rstrip(b"\n")
        for part in body.split(b"\r"):
            try:
                text = part.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield where, InputIssue(where, f"invalid UTF-8 at byte {exc.start + 1}")
                continue
            yield where, text


def _wide_lines(
    name: str, stream: BinaryIO, head: bytes, encoding: str
) -> Iterator[tuple[str, str | InputIssue]]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending = decoder.decode(head)
    number = 0
    while True:
        chunk = stream.read(65536)
        pending += decoder.decode(chunk if isinstance(chunk, bytes) else b"", final=not chunk)
        *complete, pending = pending.split("\n")
        if not chunk:
            complete.append(pending)
            pending = ""
        for line in complete:
            number += 1
            where = f"{name}:{number}"
            if len(line) > MAX_LINE_BYTES:
                yield where, InputIssue(where, f"line longer than {MAX_LINE_BYTES} bytes, skipped")
                continue
            if "\ufffd" in line:
                yield where, InputIssue(where, f"invalid {encoding.upper()} text")
                continue
            for part in line.lstrip("\ufeff").split("\r"):
                yield where, part
        if not chunk:
            return
        if len(pending) > MAX_LINE_BYTES * 4:
            raise KeyFileError(name, f"line longer than {MAX_LINE_BYTES} bytes")


# --------------------------------------------------------------------------- text lines


def _tokenise(line: str, where: str) -> list[tuple[str, int, bool]] | InputIssue:
    """Split on blanks outside quotes; drop an inline ``#`` comment. Returns (token, col, quoted)."""
    tokens: list[tuple[str, int, bool]] = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch in " \t\u00a0":
            i += 1
            continue
        if ch == "#":  # comment at line start or after a blank
            break
        start = i
        closing = _QUOTES.get(ch) or _SMART_QUOTES.get(ch)
        if closing is not None:
            end = line.find(closing, i + 1)
            if end == -1:
                return InputIssue(f"{where}:{start + 1}", "unbalanced quote")
            tokens.append((line[i + 1 : end], start + 2, True))
            i = end + 1
            if i < n and line[i] not in " \t\u00a0":
                return InputIssue(f"{where}:{i + 1}", "text directly after a closing quote")
            continue
        while i < n and line[i] not in " \t\u00a0":
            if line[i] in _QUOTES or line[i] in _SMART_QUOTES:
                return InputIssue(f"{where}:{i + 1}", "unbalanced quote")
            i += 1
        tokens.append((line[start:i], start + 1, False))
    return tokens


def _looks_like_env_name(label: str) -> bool:
    return label.isupper() and label.endswith(_ENV_LABEL_SUFFIXES)


def parse_text_line(line: str, where: str) -> Item | None:
    """One line of a text key file: ``[label] key [provider=NAME] [base_url=URL]``.

    Returns ``None`` for blank and comment lines.
    """
    stripped = line.strip(_EDGE_JUNK)
    if not stripped or stripped.startswith("#"):
        return None
    offset = line.find(stripped[0])
    tokens = _tokenise(stripped, where)
    if isinstance(tokens, InputIssue):
        return tokens
    options: dict[str, str] = {}
    rest: list[tuple[str, int, bool]] = []
    for token, col, quoted in tokens:
        name, sep, value = token.partition("=")
        if sep and not quoted and name in _OPTION_NAMES:
            options[name] = value
        elif options:
            return InputIssue(f"{where}:{col + offset}", "options must come after the key")
        else:
            rest.append((token, col, quoted))
    if rest and rest[0][0] == "export":
        rest = rest[1:]
    if not rest:
        return InputIssue(where, "no key on this line")
    value, col, quoted = rest[-1]
    label_tokens = [t for t, _, _ in rest[:-1]]
    if label_tokens and label_tokens[-1] == "Bearer":
        label_tokens.pop()
    if not label_tokens and not quoted:
        for sep in ("=", ":"):
            head, found, tail = value.partition(sep)
            if found and head and tail:
                label_tokens, value, col = [head], tail, col + len(head) + 1
                break
    label = " ".join(label_tokens).rstrip(":=").strip() or None
    if label is not None and _looks_like_env_name(label):
        label = None
    return Entry(
        value=value,
        where=where,
        column=col + offset,
        label=label,
        provider=options.get("provider"),
        base_url=options.get("base_url"),
    )


# --------------------------------------------------------------------------- CSV and TOML


def _read_csv(name: str, lines: Iterator[tuple[str, str | InputIssue]]) -> Iterator[Item]:
    header: list[str] | None = None
    for where, line in lines:
        if isinstance(line, InputIssue):
            yield line
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = next(csv.reader([line]))
        except csv.Error:
            yield InputIssue(where, "malformed CSV row")
            continue
        cells = [c.strip(_EDGE_JUNK) for c in row]
        if header is None:
            header = [c.lower() for c in cells]
            if "key" not in header:
                raise KeyFileError(name, "CSV header must name a 'key' column")
            unknown = sorted(set(header) - {"label", "key", "provider", "base_url"})
            if unknown:
                yield InputIssue(where, f"unknown CSV columns ignored: {', '.join(unknown)}", False)
            continue
        record = dict(zip(header, cells, strict=False))
        value = record.get("key", "")
        if not value:
            yield InputIssue(where, "no key in this row")
            continue
        yield Entry(
            value=value,
            where=where,
            column=header.index("key") + 1,
            label=record.get("label") or None,
            provider=record.get("provider") or None,
            base_url=record.get("base_url") or None,
        )


def _read_toml(name: str, lines: Iterator[tuple[str, str | InputIssue]]) -> Iterator[Item]:
    parts: list[str] = []
    for _, line in lines:
        if isinstance(line, InputIssue):
            raise KeyFileError(line.where, line.message)
        parts.append(line)
    try:
        data = tomllib.loads("\n".join(parts))
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc).split("(", 1)[-1].rstrip(")") if "(" in str(exc) else "syntax error"
        raise KeyFileError(name, f"not valid TOML ({detail})") from None
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise KeyFileError(name, "[defaults] must be a table")
    tables: list[tuple[str, str | None, object]] = []
    accounts = data.get("accounts", {})
    if not isinstance(accounts, dict):
        raise KeyFileError(name, "[accounts] must hold tables, e.g. [accounts.work]")
    tables += [(f"{name}:accounts.{label}", label, body) for label, body in accounts.items()]
    listed = data.get("keys", [])
    if not isinstance(listed, list):
        raise KeyFileError(name, "keys must be an array of tables, e.g. [[keys]]")
    tables += [(f"{name}:keys[{i}]", None, body) for i, body in enumerate(listed)]
    unknown = sorted(set(data) - {"defaults", "accounts", "keys"})
    if unknown:
        yield InputIssue(name, f"unknown top-level entries ignored: {', '.join(unknown)}", False)
    inline = 0
    for where, label, body in tables:
        if not isinstance(body, dict):
            yield InputIssue(where, "must be a table")
            continue
        merged = {**defaults, **body}
        bad = sorted(set(merged) - {"key", "key_env", "label", "provider", "base_url"})
        if bad:
            yield InputIssue(where, f"unknown fields: {', '.join(bad)}")
            continue
        value = merged.get("key")
        if "key_env" in merged:
            env_name = str(merged["key_env"])
            value = os.environ.get(env_name, "").strip()
            if not value:
                yield InputIssue(where, f"environment variable {env_name} is unset or empty")
                continue
        elif isinstance(value, str):
            inline += 1
        if not isinstance(value, str) or not value:
            yield InputIssue(where, "needs key = \"…\" or key_env = \"ENV_NAME\"")
            continue
        text_fields = {k: merged.get(k) for k in ("label", "provider", "base_url")}
        if any(v is not None and not isinstance(v, str) for v in text_fields.values()):
            yield InputIssue(where, "label, provider and base_url must be strings")
            continue
        yield Entry(
            value=value.strip(),
            where=where,
            label=text_fields["label"] or label,
            provider=text_fields["provider"],
            base_url=text_fields["base_url"],
        )
    if inline:
        yield InputIssue(
            name,
            f"{inline} key(s) written inline; prefer key_env = \"NAME\" to keep keys out of files",
            False,
        )
