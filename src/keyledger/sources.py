"""Read key entries from text files, CSV, TOML accounts files, stdin and the environment.

Every problem with one line is reported as an :class:`InputIssue` naming ``file:line[:column]``
and never echoing the line; only a source unreadable as a whole raises :class:`KeyFileError`.
Input is streamed in chunks with a per-line cap, so a huge file cannot exhaust memory.

Decoding: UTF-8 (a leading BOM is dropped); UTF-16 and UTF-32 when they start with a BOM.
Line ends ``\\r\\n``, ``\\r`` and ``\\n`` all end a line, and nothing else does (so U+2028,
U+0085, VT and FF stay inside the line, where they make the key invalid). ``docs/key-files.md``
documents the text-line grammar implemented by :func:`parse_text_line`.
"""

from __future__ import annotations

import codecs
import csv
import errno
import os
import re
import stat
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import BinaryIO

from keyledger.errors import KeyFileError
from keyledger.sanitize import looks_like_key

MAX_LINE_BYTES = 8192
SNIFF_BYTES = 8192
MAX_TOML_BYTES = 1 << 20
CHUNK_BYTES = 65536

OPTION_NAMES = ("provider", "base_url")
_QUOTES = {'"': '"', "'": "'"}
_SMART_QUOTES = {
    "\u201c": "\u201d",  # “ ”
    "\u201d": "\u201d",  # ” ”
    "\u2018": "\u2019",  # ‘ ’
    "\u2019": "\u2019",  # ’ ’
    "\u201e": "\u201c",  # „ “
    "\u00ab": "\u00bb",  # « »
}
QUOTE_CHARS = frozenset("\"'`\u201c\u201d\u2018\u2019\u201e\u201a\u00ab\u00bb")
_ENV_LABEL_SUFFIXES = ("_API_KEY", "_KEY", "_TOKEN", "_SECRET")
# The ASCII characters :func:`bad_key_char` refuses: controls (Cc), whitespace, quotes.
_BAD_ASCII = re.compile("[\x00-\x20\x7f\"'`]")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_TOML_TABLE = re.compile(
    r"^\s*\[\s*accounts\s*\.\s*(?:\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_\-]+))\s*\]\s*(?:#.*)?$"
)
_TOML_KEYS = re.compile(r"^\s*\[\[\s*keys\s*\]\]\s*(?:#.*)?$")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)|\(at end of document\)")
_TOML_FIRST_LINE = re.compile(r"^\s*\[\[?\s*(?:accounts|keys|defaults)\b")
# ``# keyledger: provider=NAME base_url=URL``: defaults for the key lines after it.
_DIRECTIVE = re.compile(r"^\s*#\s*keyledger\s*:(.*)$", re.IGNORECASE)
_PROVIDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One key as read, before validation and routing.

    ``column`` is the 1-based character column of the key in its line, or ``None`` when the
    source has no meaningful column; ``notes`` are warnings about how the line was read.
    ``account`` is the TOML table name (``[accounts.NAME]``), which is checked like a label.
    """

    value: str
    where: str
    column: int | None = 1
    label: str | None = None
    provider: str | None = None
    base_url: str | None = None
    notes: tuple[str, ...] = ()
    account: str | None = None
    # The file's defaults for this entry (a TOML ``[defaults]`` table or a
    # ``# keyledger: provider=…`` directive): used only when the entry pins neither, and never
    # for a key another provider's shape claims.
    default_provider: str | None = None
    default_base_url: str | None = None


@dataclass(frozen=True, slots=True)
class InputIssue:
    """A problem with one line or entry; ``error`` lines are skipped, warnings are not."""

    where: str
    message: str
    error: bool = True

    def __str__(self) -> str:
        return f"{self.where}: {'error' if self.error else 'warning'}: {self.message}"


Item = Entry | InputIssue


class Directives:
    """The ``# keyledger: provider=NAME base_url=URL`` comment lines of a text or CSV file.

    Each directive sets the defaults for the key lines after it, up to the next directive
    (which replaces both values; ``# keyledger:`` alone clears them; `` # …`` after the values
    is a comment). A bad directive is an
    error and clears the defaults, so the lines after it are routed by their shape alone
    (an ambiguous key then goes nowhere). Values are never echoed.
    """

    def __init__(self) -> None:
        self.provider: str | None = None
        self.base_url: str | None = None
        self.issues: list[InputIssue] = []

    def feed(self, where: str, line: str) -> bool:
        """Take ``line`` if it is a directive (returns whether it was)."""
        match = _DIRECTIVE.match(line)
        if match is None:
            return False
        self.provider = self.base_url = None
        values: dict[str, str] = {}
        for token in re.split(r"\s#", match.group(1), maxsplit=1)[0].split():
            name, sep, value = token.partition("=")
            value = value.strip("\"'")
            if not sep or name not in OPTION_NAMES or not value:
                self.issues.append(
                    InputIssue(where, "keyledger directive takes only provider=NAME base_url=URL")
                )
                return True
            if name in values:
                self.issues.append(InputIssue(where, f"{name}= given twice in the directive"))
                return True
            values[name] = value
        provider, base_url = values.get("provider"), values.get("base_url")
        if provider is not None and (
            looks_like_key(provider) or not _PROVIDER_NAME.fullmatch(provider)
        ):
            self.issues.append(
                InputIssue(where, "directive provider must be a provider name such as deepseek")
            )
            return True
        if base_url is not None and looks_like_key(base_url, tokens=False):
            self.issues.append(InputIssue(where, "directive base_url looks like a secret"))
            return True
        self.provider, self.base_url = provider, base_url
        return True

    def drain(self) -> list[InputIssue]:
        """Issues met since the last call."""
        issues, self.issues = self.issues, []
        return issues

    def apply(self, entry: Entry) -> Entry:
        """``entry`` with the current defaults."""
        if self.provider is None and self.base_url is None:
            return entry
        return replace(entry, default_provider=self.provider, default_base_url=self.base_url)


# --------------------------------------------------------------------------- characters


def is_blank(ch: str) -> bool:
    """Whether ``ch`` separates tokens: tab or any Unicode space (NBSP, U+3000, …)."""
    return ch == "\t" or unicodedata.category(ch) == "Zs"


def bad_key_char(value: str) -> int | None:
    """0-based index of the first character no key may contain, or ``None``.

    Whitespace, quotes, control and format characters (zero-width, bidi, BOM), line and
    paragraph separators, surrogates and unassigned code points are never part of a key.
    """
    if value.isascii():  # the common case, in one regex search (same answer as the loop)
        found = _BAD_ASCII.search(value)
        return None if found is None else found.start()
    for index, ch in enumerate(value):
        if ch in QUOTE_CHARS or ch.isspace():
            return index
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"):
            return index
    return None


def char_name(ch: str) -> str:
    """``U+XXXX`` and the Unicode name of a character that is not part of any key."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def _invalid_char(where: str, column: int, ch: str) -> InputIssue:
    return InputIssue(
        f"{where}:{column}", f"invalid character at column {column} ({char_name(ch)})"
    )


# --------------------------------------------------------------------------- opening


def looks_like_key_argument(path: str) -> bool:
    """Whether a command-line path is really a key pasted in place of a file name."""
    return looks_like_key(path) and not os.path.lexists(path)


def open_source(path: str, stdin: BinaryIO | None = None) -> tuple[str, BinaryIO]:
    """Open ``path`` (``-`` for stdin) as a binary stream, refusing non-regular files.

    The file is opened non-blocking and checked with ``fstat``, so a FIFO or device is
    refused without ever blocking on it.

    Raises:
        KeyFileError: missing, unreadable, a directory, a FIFO, a device or a socket.
    """
    if path == "-":
        if stdin is None:
            raise KeyFileError("<stdin>", "standard input is not available")
        return "<stdin>", stdin
    if looks_like_key_argument(path):
        raise KeyFileError(
            "<argument>",
            "looks like a key, not a file name: keys are never taken from the command line; "
            "put it in a file, or pipe it to 'keyledger check -'",
        )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise KeyFileError(path, "no such file") from None
    except PermissionError:
        raise KeyFileError(path, "permission denied") from None
    except IsADirectoryError:
        raise KeyFileError(path, "is a directory, not a key file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise KeyFileError(path, "symbolic link loop") from None
        raise KeyFileError(path, f"cannot open ({exc.strerror or 'OS error'})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise KeyFileError(path, "is a directory, not a key file")
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
            raise KeyFileError(path, f"is {kind}, not a regular file (use - for standard input)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return path, os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def detect_format(name: str, first_line: str) -> str:
    """``csv``, ``toml`` or ``text`` from the file name, else from the first meaningful line."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".toml"):
        return "toml"
    first = first_line.strip().lower().replace(" ", "")
    if first.startswith(("label,key", '"label","key"')) or first in ("key", '"key"'):
        return "csv"
    if _TOML_FIRST_LINE.match(first_line):
        return "toml"
    return "text"


def read_source(path: str, stdin: BinaryIO | None = None) -> Iterator[Item]:
    """Entries and issues from one source, in order.

    Raises:
        KeyFileError: the source cannot be read as a whole (and only that).
    """
    name, stream = open_source(path, stdin)
    try:
        lines = decoded_lines(name, _chunks(stream))
        peeked, first = _peek(name, lines)
        all_lines = chain(peeked, lines)
        fmt = detect_format(name, first)
        if fmt == "toml":
            yield from _read_toml(name, all_lines)
        elif fmt == "csv":
            yield from _read_csv(name, all_lines)
        else:
            directives = Directives()
            for where, line in all_lines:
                if isinstance(line, InputIssue):
                    yield line
                    continue
                if directives.feed(where, line):
                    yield from directives.drain()
                    continue
                item = parse_text_line(line, where)
                if isinstance(item, Entry):
                    yield directives.apply(item)
                elif item is not None:
                    yield item
    except OSError as exc:
        raise KeyFileError(name, f"read failed ({exc.strerror or 'OS error'})") from None
    finally:
        if stream is not stdin:
            stream.close()


MAX_PEEKED_ISSUES = 1000


def _peek(
    name: str, lines: Iterator[tuple[str, str | InputIssue]]
) -> tuple[Iterator[tuple[str, str | InputIssue]], str]:
    """Read up to the first meaningful line (for :func:`detect_format`) in constant memory.

    Blank and comment lines before it are only counted, and given back as blank lines under
    their own ``file:line``; unreadable lines are kept as they are (up to
    ``MAX_PEEKED_ISSUES``, after which the format is decided from the name alone).
    Returns the lines read (the meaningful one last) and that line.
    """
    kept: list[tuple[int, int] | tuple[str, str | InputIssue]] = []
    issues = 0
    first = ""
    for number, (where, line) in enumerate(lines, start=1):
        if isinstance(line, InputIssue):
            kept.append((where, line))
            issues += 1
            if issues >= MAX_PEEKED_ISSUES:
                break
        elif line.strip() and not line.lstrip().startswith("#"):
            kept.append((where, line))
            first = line
            break
        elif _DIRECTIVE.match(line):
            kept.append((where, line))  # a directive is kept for the reader (bounded too)
            issues += 1
            if issues >= MAX_PEEKED_ISSUES:
                break
        elif kept and isinstance(kept[-1][0], int):
            start, count = kept[-1]
            kept[-1] = (start, int(count) + 1)
        else:
            kept.append((number, 1))

    def replay() -> Iterator[tuple[str, str | InputIssue]]:
        for head, tail in kept:
            if isinstance(head, int):
                assert isinstance(tail, int)
                for at in range(head, head + tail):
                    yield f"{name}:{at}", ""
            else:
                assert not isinstance(tail, int)
                yield head, tail

    return replay(), first


def read_environment(environ: Mapping[str, str]) -> Iterator[Item]:
    """The key in ``OPENAI_API_KEY``; an empty (or blank) value counts as unset.

    ``OPENAI_BASE_URL`` pins the base URL the same way (empty counts as unset).
    """
    where = "$OPENAI_API_KEY"
    value = environ.get("OPENAI_API_KEY", "").strip()
    if not value:
        return
    bad = bad_key_char(value)
    if bad is not None:
        yield InputIssue(where, f"invalid character at column {bad + 1} ({char_name(value[bad])})")
        return
    base = environ.get("OPENAI_BASE_URL", "").strip() or None
    yield Entry(value=value, where=where, column=None, label="OPENAI_API_KEY", base_url=base)


# --------------------------------------------------------------------------- decoding


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            return
        yield bytes(chunk)


def _rechunk(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    yield from rest


def _sniff(chunks: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first ``SNIFF_BYTES`` (or fewer at end of input) and the stream after them."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    return head, chunks


def looks_binary(head: bytes) -> bool:
    """Whether the first bytes of a (non-UTF-16/32) source are binary, not text.

    NUL bytes, or at least 4 undecodable or control bytes making up over a tenth of the text.
    """
    if b"\x00" in head:
        return True
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head, final=False)
    bad = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\x0b\x0c\x1b"))
    return bad >= 4 and bad * 10 > len(text)


def _transcode(chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """UTF-16/32 to UTF-8, chunk by chunk; undecodable units become U+FFFD."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for chunk in chunks:
        yield decoder.decode(chunk).encode("utf-8", "surrogatepass")
    yield decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")


def split_lines(chunks: Iterable[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[bytes | None]:
    """Lines split on ``\\r\\n``, ``\\r`` or ``\\n``; ``None`` for a line over ``limit`` bytes.

    Memory stays bounded by ``limit`` plus one chunk whatever the line lengths. Each chunk's
    ended lines are split in one :meth:`bytes.splitlines` (which ends lines at exactly those
    three and nothing else); the unended rest is carried to the next chunk.
    """
    tail = b""  # the start of a line not ended yet (never over ``limit``)
    too_long = False  # that line is already over ``limit``
    pending_cr = False  # the last chunk ended with ``\r``: a ``\n`` next ends nothing more
    for chunk in chunks:
        if pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        pending_cr = False
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            if not too_long:
                tail += chunk
                if len(tail) > limit:
                    too_long, tail = True, b""
            continue
        lines: list[bytes | None] = list(chunk[: end + 1].splitlines())
        if too_long:
            lines[0] = None
        elif tail:
            lines[0] = tail + (lines[0] or b"")
        for line in lines:
            yield None if line is None or len(line) > limit else line
        tail = chunk[end + 1 :]
        too_long = len(tail) > limit
        if too_long:
            tail = b""
        pending_cr = end == len(chunk) - 1 and chunk[end] == 13
    if too_long:
        yield None
    elif tail:
        yield tail


def decoded_lines(name: str, chunks: Iterator[bytes]) -> Iterator[tuple[str, str | InputIssue]]:
    """``(file:line, text)`` per line; a line that cannot be decoded comes as an issue.

    Raises:
        KeyFileError: the source is binary (sniffed from its first ``SNIFF_BYTES``).
    """
    head, rest = _sniff(chunks)
    encoding = "UTF-8"
    stream: Iterator[bytes] = _rechunk(head, rest)
    for bom, codec, label in _WIDE_BOMS:
        if head.startswith(bom):
            encoding = label
            stream = _transcode(stream, codec)
            break
    else:
        if head.startswith(codecs.BOM_UTF8):
            head = head[len(codecs.BOM_UTF8) :]
            stream = _rechunk(head, rest)
        if looks_binary(head[:SNIFF_BYTES]):
            raise KeyFileError(name, "not a text key file (binary content)")
    for number, raw in enumerate(split_lines(stream), start=1):
        where = f"{name}:{number}"
        if raw is None:
            yield where, InputIssue(where, f"line longer than {MAX_LINE_BYTES} bytes, skipped")
            continue
        if b"\x00" in raw:
            at = raw.index(b"\x00") + 1
            yield where, InputIssue(where, f"NUL byte at byte {at}, skipped")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if encoding == "UTF-8":
                yield where, InputIssue(where, f"invalid UTF-8 at byte {exc.start + 1}")
            else:
                yield where, InputIssue(where, f"invalid {encoding} text")
            continue
        if encoding != "UTF-8" and "\ufffd" in text:
            yield where, InputIssue(where, f"invalid {encoding} text")
            continue
        yield where, text


# --------------------------------------------------------------------------- text lines


@dataclass(frozen=True, slots=True)
class _Token:
    """One blank-separated token: ``head`` is an unquoted ``name=``/``name:`` before a quote."""

    value: str
    column: int
    quoted: bool = False
    smart: bool = False
    head: str = ""


def _tokenise(line: str, where: str) -> list[_Token] | InputIssue:
    """Split on blanks outside quotes and drop an inline ``#`` comment."""
    tokens: list[_Token] = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if is_blank(ch):
            i += 1
            continue
        if ch == "#":  # a comment at line start or after a blank
            break
        start = i
        head = ""
        while i < n and not is_blank(line[i]):
            opener = line[i]
            closing = _QUOTES.get(opener) or _SMART_QUOTES.get(opener)
            if closing is not None and (i == start or line[i - 1] in "=:"):
                head = line[start:i]
                end = line.find(closing, i + 1)
                if end == -1:
                    return InputIssue(f"{where}:{i + 1}", "unbalanced quote")
                if end + 1 < n and not is_blank(line[end + 1]):
                    return InputIssue(f"{where}:{end + 2}", "text directly after a closing quote")
                smart = opener in _SMART_QUOTES
                tokens.append(_Token(line[i + 1 : end], i + 2, True, smart, head))
                i = end + 1
                break
            i += 1
        else:
            tokens.append(_Token(line[start:i], start + 1))
    return tokens


def _option(token: _Token) -> tuple[str, str] | None:
    """``(name, value)`` when the token is ``provider=…`` or ``base_url=…``."""
    if token.head:
        name = token.head[:-1]
        return (name, token.value) if token.head.endswith("=") and name in OPTION_NAMES else None
    if token.quoted:
        return None
    name, sep, value = token.value.partition("=")
    return (name, value) if sep and name in OPTION_NAMES else None


def _looks_like_env_name(label: str) -> bool:
    return label.isupper() and label.endswith(_ENV_LABEL_SUFFIXES) and " " not in label


def parse_text_line(line: str, where: str) -> Item | None:
    """One line of a text key file: ``[export] [label[:|=]] key [provider=NAME] [base_url=URL]``.

    Returns ``None`` for blank and comment lines, an :class:`InputIssue` for a bad line, and
    otherwise an :class:`Entry` whose value holds no blank, quote or control character.
    Never raises; never echoes the line.
    """
    if len(line) > MAX_LINE_BYTES:
        return InputIssue(where, f"line longer than {MAX_LINE_BYTES} bytes, skipped")
    if line.startswith("\ufeff"):
        line = " " + line[1:]  # a stray BOM (concatenated files); keep columns
    tokens = _tokenise(line, where)
    if isinstance(tokens, InputIssue):
        return tokens
    if not tokens:
        return None
    notes: list[str] = []
    options: dict[str, str] = {}
    while tokens and (option := _option(tokens[-1])) is not None:
        name, value = option
        if name in options:
            return InputIssue(f"{where}:{tokens[-1].column}", f"{name}= given twice")
        options[name] = value
        tokens.pop()
    for token in tokens:
        if _option(token) is not None:
            return InputIssue(f"{where}:{token.column}", "options must come after the key")
    assignment = False
    if len(tokens) >= 2 and not tokens[0].quoted and tokens[0].value == "export":
        tokens = tokens[1:]
        assignment = True
    if len(tokens) >= 2 and not tokens[0].quoted and tokens[0].value.lower() == "authorization:":
        tokens = tokens[1:]
        notes.append("'Authorization:' removed before the key")
    if len(tokens) >= 2 and not tokens[-2].quoted and tokens[-2].value.lower() == "bearer":
        del tokens[-2]
        notes.append("'Bearer' removed before the key")
    if not tokens:
        return InputIssue(where, "no key on this line")
    key = tokens[-1]
    words = [t.head + t.value if t.head else t.value for t in tokens[:-1]]
    value, column = key.value, key.column
    if key.head:
        words.append(key.head[:-1])
    elif not key.quoted:
        cut = min((i for i in (value.find("="), value.find(":")) if i >= 0), default=-1)
        if cut >= 0:
            words.append(value[:cut])
            value, column = value[cut + 1 :], column + cut + 1
    if key.smart or any(t.smart for t in tokens[:-1]):
        notes.append("typographic (smart) quotes removed")
    label = " ".join(w for w in words if w).strip().rstrip(":=").strip() or None
    if label is not None and (assignment or _looks_like_env_name(label)):
        notes.append("variable assignment removed before the key (the name is not a label)")
        label = None
    elif assignment:
        notes.append("'export' removed before the key")
    if not value:
        return InputIssue(where, "no key on this line")
    if not key.quoted:
        for offset, ch in enumerate(value):
            if ch in QUOTE_CHARS:
                return InputIssue(f"{where}:{column + offset}", "unbalanced quote")
    bad = bad_key_char(value)
    if bad is not None:
        return _invalid_char(where, column + bad, value[bad])
    return Entry(
        value=value,
        where=where,
        column=column,
        label=label,
        provider=options.get("provider"),
        base_url=options.get("base_url"),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- CSV and TOML


def _key_column(line: str, cell: str) -> int | None:
    """The character column of an unquoted key cell in its line, when unambiguous."""
    if cell and line.count(cell) == 1:
        return line.index(cell) + 1
    return None


def _safe_names(names: Sequence[str]) -> str:
    """Column or table names for a message: short plain names only, never anything key-like."""
    shown = [n for n in names if _ENV_NAME.fullmatch(n) and len(n) <= 32 and not looks_like_key(n)]
    hidden = sum(1 for n in names if n not in shown)
    text = ", ".join(shown)
    if hidden:
        text += (", " if text else "") + f"{hidden} more"
    return text


class _LineProblem(Exception):
    """Raised out of the CSV reader's input: a line that cannot be read, or a record too long."""

    def __init__(self, issue: InputIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


class _CsvLines:
    """Feeds lines to :func:`csv.reader` so that it reads real RFC 4180 records (a quoted
    cell may span lines), skipping blank and comment lines between records.

    It keeps the lines of the current record (capped at ``MAX_LINE_BYTES`` in all, as a line
    is capped), so it can say where the record started and, when the record turns out
    malformed (an unclosed quote, say), read the lines after its first one again as records
    of their own. An unreadable line, or a record over the cap, is raised as
    :class:`_LineProblem`; the reader then starts afresh.
    """

    def __init__(
        self, lines: Iterable[tuple[str, str | InputIssue]], directives: Directives
    ) -> None:
        self.lines = iter(lines)
        self.directives = directives
        self.again: deque[tuple[str, str | InputIssue]] = deque()
        self.record: list[tuple[str, str]] = []
        self.size = 0

    def __iter__(self) -> _CsvLines:
        return self

    @property
    def start(self) -> str:
        """``file:line`` where the current record started."""
        return self.record[0][0] if self.record else ""

    @property
    def single(self) -> str | None:
        """The record's line when it is one line."""
        return self.record[0][1] if len(self.record) == 1 else None

    def done(self) -> None:
        """The reader finished a record: the next line may start another."""
        self.record = []

    def failed(self) -> None:
        """The record was malformed: its lines after the first are read again."""
        self.again.extendleft(reversed(self.record[1:]))
        self.record = []

    def _next_line(self) -> tuple[str, str | InputIssue]:
        if self.again:
            return self.again.popleft()
        return next(self.lines)

    def __next__(self) -> str:
        while True:
            where, line = self._next_line()
            if isinstance(line, InputIssue):
                raise _LineProblem(line)
            if not self.record:
                if not line.strip() or line.lstrip().startswith("#"):
                    self.directives.feed(where, line)
                    continue
                self.size = 0
            self.record.append((where, line))
            # An ASCII line is as many bytes as characters (no encoding to count them).
            self.size += (
                len(line) if line.isascii() else len(line.encode("utf-8", "surrogatepass"))
            ) + 1
            if self.size > MAX_LINE_BYTES:
                raise _LineProblem(
                    InputIssue(
                        self.start,
                        f"CSV record longer than {MAX_LINE_BYTES} bytes, skipped "
                        "(check the quotes)",
                    )
                )
            return line + "\n"


def _csv_records(
    lines: Iterable[tuple[str, str | InputIssue]], directives: Directives
) -> Iterator[tuple[str, str | None, list[str]] | InputIssue]:
    """``(file:line of the record start, its line if the record is one line, cells)`` per
    record, or an issue; ``directives`` sees the comment lines between records.

    A line that starts a record and holds no double quote is one whole record whose cells
    are its comma-separated parts (what :func:`csv.reader` makes of it): it is split at once.
    Only a line with a quote, or one that may be over the record cap, goes through the reader.
    """
    feed = _CsvLines(lines, directives)
    reader = csv.reader(feed, strict=True)
    take = feed._next_line
    again = feed.again
    fast_limit = MAX_LINE_BYTES - 1  # record size is the line's bytes plus one
    while True:
        try:
            where, line = take()
        except StopIteration:
            return
        if isinstance(line, InputIssue):
            yield line
            continue
        if '"' not in line and len(line) <= fast_limit and line.isascii():
            if not line.strip() or line.lstrip().startswith("#"):
                directives.feed(where, line)
                continue
            yield where, line, line.split(",")
            continue
        again.appendleft((where, line))  # the reader takes it (and any lines after it)
        yield from _reader_record(feed, reader)


def _reader_record(
    feed: _CsvLines, reader: Iterator[list[str]]
) -> Iterator[tuple[str, str | None, list[str]] | InputIssue]:
    """One record (or the issues it makes) read by :func:`csv.reader` from ``feed``."""
    try:
        row = next(reader)
    except StopIteration:
        if feed.record:
            # end of input inside a quoted cell (strict mode may not say so): malformed
            yield InputIssue(feed.start, "malformed CSV row (check the quotes)")
            feed.failed()
        return
    except _LineProblem as problem:
        if feed.record and feed.start != problem.issue.where:
            yield InputIssue(feed.start, "malformed CSV row (check the quotes)")
        yield problem.issue
        feed.failed()
        return
    except csv.Error:
        yield InputIssue(feed.start, "malformed CSV row (check the quotes)")
        feed.failed()
        return
    where, single = feed.start, feed.single
    feed.done()
    yield where, single, row


def _cell(cells: list[str], at: Mapping[str, tuple[int, ...]], name: str) -> str | None:
    """The cell of column ``name`` in a row, as ``dict(zip(header, cells)).get(name) or None``
    (the last place of a repeated name that the row reaches; ``None`` when empty or absent)."""
    width = len(cells)
    for index in at.get(name, ()):
        if index < width:
            return cells[index] or None
    return None


_CELL_BLANKS = " \t\u00a0"  # stripped from both ends of every CSV cell
_CSV_FIELDS = ("key", "label", "provider", "base_url")


def _read_csv(name: str, lines: Iterable[tuple[str, str | InputIssue]]) -> Iterator[Item]:
    header: list[str] | None = None
    # Where each column is read from, found once from the header: for a repeated name, its
    # places last first (a dict of the row keeps the last of them that the row reaches).
    at: dict[str, tuple[int, ...]] = {}
    # A row as wide as the header reaches every place: each column is then read from its
    # last place (-1: no such column), without making the stripped row.
    width = 0
    key_at = label_at = provider_at = base_url_at = -1
    directives = Directives()
    for parsed in _csv_records(lines, directives):
        if directives.issues:
            yield from directives.drain()
        if isinstance(parsed, InputIssue):
            yield parsed
            continue
        where, line, row = parsed
        if header is None:
            header = [c.strip(_CELL_BLANKS).lower() for c in row]
            if "key" not in header:
                raise KeyFileError(
                    where, "CSV header must name a 'key' column (label,key,provider,base_url)"
                )
            at = {
                title: tuple(i for i in reversed(range(len(header))) if header[i] == title)
                for title in header
            }
            width = len(header)
            key_at, label_at, provider_at, base_url_at = (
                at[title][0] if title in at else -1 for title in _CSV_FIELDS
            )
            unknown = sorted(set(header) - {"label", "key", "provider", "base_url"})
            if unknown:
                names = _safe_names(unknown)
                yield InputIssue(where, f"unknown CSV columns ignored: {names}", False)
            continue
        if len(row) == width:
            value = row[key_at].strip(_CELL_BLANKS)
            label = row[label_at].strip(_CELL_BLANKS) or None if label_at >= 0 else None
            provider = row[provider_at].strip(_CELL_BLANKS) or None if provider_at >= 0 else None
            base_url = row[base_url_at].strip(_CELL_BLANKS) or None if base_url_at >= 0 else None
        elif len(row) > width:
            yield InputIssue(where, f"{len(row)} fields but the header has {width}")
            continue
        else:
            cells = [c.strip(_CELL_BLANKS) for c in row]
            value = _cell(cells, at, "key") or ""
            label = _cell(cells, at, "label")
            provider = _cell(cells, at, "provider")
            base_url = _cell(cells, at, "base_url")
        if not value:
            yield InputIssue(where, "no key in this row")
            continue
        column = _key_column(line, value) if line is not None else None
        bad = bad_key_char(value)
        if bad is not None:
            if column is None:
                detail = f"invalid character at position {bad + 1} of the key field"
                yield InputIssue(where, f"{detail} ({char_name(value[bad])})")
            else:
                yield _invalid_char(where, column + bad, value[bad])
            continue
        yield directives.apply(
            Entry(
                value=value,
                where=where,
                column=column,
                label=label,
                provider=provider,
                base_url=base_url,
            )
        )
    yield from directives.drain()


def _toml_lines(text_lines: list[str]) -> tuple[dict[str, int], list[int]]:
    """Line numbers of ``[accounts.NAME]`` headers and of each ``[[keys]]``."""
    tables: dict[str, int] = {}
    arrays: list[int] = []
    for number, line in enumerate(text_lines, start=1):
        match = _TOML_TABLE.match(line)
        if match:
            tables.setdefault(next(g for g in match.groups() if g is not None), number)
        elif _TOML_KEYS.match(line):
            arrays.append(number)
    return tables, arrays


def _load_toml(
    name: str, lines: Iterable[tuple[str, str | InputIssue]]
) -> tuple[dict[str, object], list[str]]:
    parts: list[str] = []
    size = 0
    for _, line in lines:
        if isinstance(line, InputIssue):
            raise KeyFileError(line.where, line.message)
        size += len(line) + 1
        if size > MAX_TOML_BYTES:
            raise KeyFileError(name, f"TOML accounts file larger than {MAX_TOML_BYTES} bytes")
        parts.append(line)
    import tomllib  # only for a TOML accounts file: a text or CSV file never loads it

    try:
        return tomllib.loads("\n".join(parts)), parts
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.search(str(exc))
        if match and match.group(1):
            where = f"{name}:{match.group(1)}:{match.group(2)}"
        else:
            where = f"{name}:{len(parts)}"
        raise KeyFileError(where, "not valid TOML") from None
    except RecursionError:  # tomllib recurses once per nested array/table
        raise KeyFileError(name, "not valid TOML (nested too deeply)") from None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _read_toml(name: str, lines: Iterable[tuple[str, str | InputIssue]]) -> Iterator[Item]:
    data, parts = _load_toml(name, lines)
    table_lines, array_lines = _toml_lines(parts)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise KeyFileError(name, "[defaults] must be a table")
    bad_defaults = set(defaults) - {"provider", "base_url"}
    if bad_defaults:
        raise KeyFileError(name, "[defaults] may set only provider and base_url")
    tables: list[tuple[str, str | None, object]] = []
    accounts = data.get("accounts", {})
    if not isinstance(accounts, dict):
        raise KeyFileError(name, "[accounts] must hold tables, e.g. [accounts.work]")
    for index, (label, body) in enumerate(accounts.items(), start=1):
        number = table_lines.get(label)
        where = f"{name}:{number}" if number else f"{name}:accounts#{index}"
        tables.append((where, label, body))
    listed = data.get("keys", [])
    if not isinstance(listed, list):
        raise KeyFileError(name, "keys must be an array of tables, e.g. [[keys]]")
    for index, body in enumerate(listed):
        number = array_lines[index] if index < len(array_lines) else None
        where = f"{name}:{number}" if number else f"{name}:keys#{index + 1}"
        tables.append((where, None, body))
    unknown = sorted(set(data) - {"defaults", "accounts", "keys"})
    if unknown:
        names = _safe_names(unknown)
        yield InputIssue(name, f"unknown top-level entries ignored: {names}", False)
    inline = 0
    for where, label, body in tables:
        if not isinstance(body, dict):
            yield InputIssue(where, "must be a table")
            continue
        merged = {**defaults, **body}
        bad = sorted(set(merged) - {"key", "key_env", "label", "provider", "base_url"})
        if bad:
            yield InputIssue(where, f"unknown fields: {_safe_names(bad)}")
            continue
        if "key" in merged and "key_env" in merged:
            yield InputIssue(where, "give key or key_env, not both")
            continue
        value = merged.get("key")
        if "key_env" in merged:
            env_name = merged["key_env"]
            if (
                not isinstance(env_name, str)
                or not _ENV_NAME.fullmatch(env_name)
                or looks_like_key(env_name)
            ):
                yield InputIssue(where, "key_env must name an environment variable, e.g. WORK_KEY")
                continue
            value = os.environ.get(env_name, "").strip()
            if not value:
                yield InputIssue(where, f"environment variable {env_name} is unset or empty")
                continue
        elif isinstance(value, str):
            inline += 1
        if not isinstance(value, str) or not value.strip():
            yield InputIssue(where, 'needs key = "…" or key_env = "ENV_NAME"')
            continue
        value = value.strip(" \t\u00a0")
        text_fields = {k: body.get(k) for k in ("label", "provider", "base_url")}
        fallback = {k: defaults.get(k) for k in ("provider", "base_url")}
        if any(
            v is not None and not isinstance(v, str)
            for v in (*text_fields.values(), *fallback.values())
        ):
            yield InputIssue(where, "label, provider and base_url must be strings")
            continue
        bad_at = bad_key_char(value)
        if bad_at is not None:
            detail = f"invalid character at position {bad_at + 1} of the key"
            yield InputIssue(where, f"{detail} ({char_name(value[bad_at])})")
            continue
        given = text_fields["label"]
        yield Entry(
            value=value,
            where=where,
            column=None,
            label=given if isinstance(given, str) and given else label,
            account=label,
            provider=text_fields["provider"] if isinstance(text_fields["provider"], str) else None,
            base_url=text_fields["base_url"] if isinstance(text_fields["base_url"], str) else None,
            default_provider=_text(fallback["provider"]),
            default_base_url=_text(fallback["base_url"]),
        )
    if inline:
        yield InputIssue(
            name,
            f'{inline} key(s) written inline; prefer key_env = "NAME" to keep keys out of files',
            False,
        )
