"""Reading key sources: the bad-input catalogue of reliability.md §4, row by row."""

from __future__ import annotations

import io
import os
import random
import socket
import stat
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyledger.errors import KeyFileError
from keyledger.sources import (
    MAX_LINE_BYTES,
    QUOTE_CHARS,
    Entry,
    InputIssue,
    Item,
    parse_text_line,
    read_environment,
    read_source,
)

from .keyfixtures import ADMIN, ALL_KEYS, LEGACY, PROJ, SESSION

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write(tmp_path: Path, data: bytes | str, name: str = "keys.txt") -> str:
    """Write ``data`` to a file in ``tmp_path`` and return its path."""
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def split(items: list[Item]) -> tuple[list[Entry], list[InputIssue]]:
    """Entries and issues apart."""
    return (
        [i for i in items if isinstance(i, Entry)],
        [i for i in items if isinstance(i, InputIssue)],
    )


def read(
    tmp_path: Path, data: bytes | str, name: str = "keys.txt"
) -> tuple[list[Entry], list[InputIssue]]:
    """Read a file holding ``data``."""
    return split(list(read_source(write(tmp_path, data, name))))


def parse(line: str) -> Item | None:
    """One text line as the parser sees it."""
    return parse_text_line(line, "k.txt:1")


def entry(line: str) -> Entry:
    """One line that must parse to an entry."""
    item = parse(line)
    assert isinstance(item, Entry), item
    return item


def issue(line: str) -> InputIssue:
    """One line that must parse to an issue."""
    item = parse(line)
    assert isinstance(item, InputIssue), item
    return item


def no_echo(text: str, *secrets: str) -> None:
    """``text`` holds no secret and no 8-character window of one."""
    for secret in secrets:
        for start in range(len(secret) - 7):
            assert secret[start : start + 8] not in text


# --------------------------------------------------------------------------- encodings

SAMPLE = f"# keys\nwork {PROJ}\ncafé-laptop: {LEGACY}\n\n{SESSION} provider=openai\n"


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("utf-8"),
        lambda s: s.encode("utf-8-sig"),
        lambda s: s.encode("utf-16"),
        lambda s: b"\xff\xfe" + s.encode("utf-16-le"),
        lambda s: b"\xfe\xff" + s.encode("utf-16-be"),
        lambda s: s.encode("utf-32"),
        lambda s: b"\x00\x00\xfe\xff" + s.encode("utf-32-be"),
        lambda s: s.replace("\n", "\r\n").encode("utf-16"),
    ],
    ids=[
        "utf8",
        "utf8-bom",
        "utf16",
        "utf16le-bom",
        "utf16be-bom",
        "utf32",
        "utf32be-bom",
        "utf16-crlf",
    ],
)
def test_bom_and_wide_encodings_give_identical_entries(tmp_path: Path, encode: object) -> None:
    """A UTF-8 BOM is dropped and UTF-16/32 with a BOM decode to exactly the UTF-8 entries."""
    want, want_issues = read(tmp_path, SAMPLE, "plain.txt")
    got, issues = read(tmp_path, encode(SAMPLE), "plain.txt")  # type: ignore[operator]
    assert issues == want_issues == []
    assert got == want
    assert [e.value for e in got] == [PROJ, LEGACY, SESSION]
    assert got[1].label == "café-laptop"


def test_invalid_utf8_names_line_and_byte_and_spares_other_lines(tmp_path: Path) -> None:
    """A Latin-1 label gives ``file:line: invalid UTF-8 at byte N``; the other lines still read."""
    data = f"a {PROJ}\n".encode() + b"caf\xe9 " + LEGACY.encode() + f"\nb {ADMIN}\n".encode()
    path = write(tmp_path, data)
    entries, issues = split(list(read_source(path)))
    assert [e.value for e in entries] == [PROJ, ADMIN]
    assert [str(i) for i in issues] == [f"{path}:2: error: invalid UTF-8 at byte 4"]


def test_invalid_utf16_is_a_line_error_naming_the_encoding(tmp_path: Path) -> None:
    """A lone surrogate in a UTF-16 file spoils only its own line, named with the encoding."""
    data = b"\xff\xfe" + f"a {PROJ}\n".encode("utf-16-le") + b"\x00\xd8\n\x00"
    data += f"b {ADMIN}\n".encode("utf-16-le")
    entries, issues = read(tmp_path, data)
    assert [e.value for e in entries] == [PROJ, ADMIN]
    assert [(i.where.rsplit(":", 1)[1], i.message) for i in issues] == [
        ("2", "invalid UTF-16 text")
    ]


# --------------------------------------------------------------------------- binary input


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


@pytest.mark.parametrize(
    "data",
    [
        _png(),
        random.Random(1).randbytes(8192),
        random.Random(2).randbytes(100),
        f"{PROJ}\n".encode() + b"\x00" * 10,
        bytes(b for b in random.Random(3).randbytes(4096) if b),  # junk with no NUL at all
    ],
    ids=["png", "urandom-8k", "urandom-100", "nul-in-text", "junk-without-nul"],
)
def test_binary_input_is_not_a_text_key_file(tmp_path: Path, data: bytes) -> None:
    """Binary content is refused as a whole after sniffing, with no traceback and no echo."""
    path = write(tmp_path, data)
    with pytest.raises(KeyFileError) as info:
        list(read_source(path))
    assert str(info.value) == f"{path}: not a text key file (binary content)"
    no_echo(str(info.value), PROJ)


def test_nul_after_the_sniff_window_is_a_line_error(tmp_path: Path) -> None:
    """A NUL byte past the first 8 KiB spoils only its line."""
    filler = "# padding\n" * 1000
    data = (filler + f"{PROJ}\n").encode() + b"bad\x00" + LEGACY.encode() + f"\n{ADMIN}\n".encode()
    entries, issues = read(tmp_path, data)
    assert [e.value for e in entries] == [PROJ, ADMIN]
    assert [i.message for i in issues] == ["NUL byte at byte 4, skipped"]
    no_echo(str(issues[0]), LEGACY)


# --------------------------------------------------------------------------- line endings


@pytest.mark.parametrize(
    "data",
    [
        f"a {PROJ}\nb {LEGACY}\n\nc {ADMIN}\n",
        f"a {PROJ}\r\nb {LEGACY}\r\n\r\nc {ADMIN}\r\n",
        f"a {PROJ}\rb {LEGACY}\r\rc {ADMIN}\r",
        f"a {PROJ}\r\nb {LEGACY}\r\n\rc {ADMIN}",
        f"a {PROJ}\nb {LEGACY}\n\nc {ADMIN}",
    ],
    ids=["lf", "crlf", "cr", "mixed", "no-final-newline"],
)
def test_line_endings_are_normalised_and_never_leave_cr_in_a_key(tmp_path: Path, data: str) -> None:
    """LF, CRLF, lone CR, mixed and missing final newline give the same entries and lines."""
    entries, issues = read(tmp_path, data)
    assert issues == []
    assert [(e.value, e.label, e.where.rsplit(":", 1)[1]) for e in entries] == [
        (PROJ, "a", "1"),
        (LEGACY, "b", "2"),
        (ADMIN, "c", "4"),
    ]
    assert not any("\r" in e.value or "\n" in e.value for e in entries)


def test_crlf_split_across_read_chunks_is_one_line_end() -> None:
    """A CR at the end of one chunk and LF at the start of the next make one line end."""
    from keyledger.sources import split_lines

    assert list(split_lines([b"a\r", b"\nb\r", b"c"])) == [b"a", b"b", b"c"]


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c"])
@pytest.mark.parametrize("where", ["inside", "before", "after"])
def test_unicode_line_separators_reject_the_key_and_do_not_split(
    tmp_path: Path, sep: str, where: str
) -> None:
    """U+2028/U+2029/U+0085/VT/FF never split a line; a key containing one is rejected."""
    key = {"inside": PROJ[:10] + sep + PROJ[10:], "before": sep + PROJ, "after": PROJ + sep}[where]
    column = {"inside": 16, "before": 6, "after": 6 + len(PROJ)}[where]
    entries, issues = read(tmp_path, f"work {key}\nnext {ADMIN}\n")
    assert [(e.value, e.where[-1]) for e in entries] == [(ADMIN, "2")]
    assert len(issues) == 1
    assert issues[0].where.endswith(f":1:{column}")
    assert issues[0].message.startswith(f"invalid character at column {column} (U+")


# --------------------------------------------------------------------------- blanks and quotes


@pytest.mark.parametrize(
    "line",
    [
        f"  {PROJ}  ",
        f"\t{PROJ}\t",
        f"\u00a0{PROJ}\u00a0",
        f"\u3000{PROJ}\u3000",
        f" \t\u00a0{PROJ}",
    ],
    ids=["spaces", "tabs", "nbsp", "ideographic-space", "mixed"],
)
def test_leading_and_trailing_blanks_are_trimmed(line: str) -> None:
    """Spaces, tabs, NBSP and other Unicode spaces around a key are trimmed."""
    assert entry(line).value == PROJ


@pytest.mark.parametrize("char", ["\u200b", "\ufeff", "\u200d", "\u2060", "\u202e", "\x1b", "\x7f"])
def test_zero_width_and_control_chars_inside_a_key_name_the_column(char: str) -> None:
    """A zero-width, bidi or control character inside a key is an error at its exact column."""
    found = issue(f"work {PROJ[:12]}{char}{PROJ[12:]}")
    assert found.where == "k.txt:1:18"
    assert found.message.startswith("invalid character at column 18 (U+")
    no_echo(str(found), PROJ)


@pytest.mark.parametrize(
    ("line", "label", "smart"),
    [
        (f'"{PROJ}"', None, False),
        (f"'{PROJ}'", None, False),
        (f"\u201c{PROJ}\u201d", None, True),
        (f"\u2018{PROJ}\u2019", None, True),
        (f"\u201d{PROJ}\u201d", None, True),
        (f'work "{PROJ}"', "work", False),
        (f'work="{PROJ}"', "work", False),
        (f"work: '{PROJ}'", "work", False),
        (f"work=\u201c{PROJ}\u201d", "work", True),
        (f'"my work laptop" "{PROJ}"', "my work laptop", False),
    ],
)
def test_quoted_keys_are_unquoted(line: str, label: str | None, smart: bool) -> None:
    """Straight and typographic quotes around a key are removed; typographic ones warn."""
    found = entry(line)
    assert (found.value, found.label) == (PROJ, label)
    assert ("typographic (smart) quotes removed" in found.notes) is smart


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"\"{PROJ}'", "unbalanced quote"),
        (f"'{PROJ}\"", "unbalanced quote"),
        (f'"{PROJ}', "unbalanced quote"),
        (f'{PROJ}"', "unbalanced quote"),
        (f'\u201c{PROJ}"', "unbalanced quote"),
        (f'"{PROJ}"x', "text directly after a closing quote"),
    ],
)
def test_mismatched_quotes_are_a_line_error(line: str, message: str) -> None:
    """Mismatched or unclosed quotes make the line an error, without echoing it."""
    found = issue(line)
    assert found.message == message
    assert found.where.startswith("k.txt:1:")
    no_echo(str(found), PROJ)


# --------------------------------------------------------------------------- copy-paste debris


@pytest.mark.parametrize(
    ("line", "note"),
    [
        (f"Bearer {PROJ}", "'Bearer' removed before the key"),
        (f"Authorization: Bearer {PROJ}", "'Bearer' removed before the key"),
        (f"OPENAI_API_KEY={PROJ}", "variable assignment removed"),
        (f'OPENAI_API_KEY="{PROJ}"', "variable assignment removed"),
        (f"export OPENAI_API_KEY={PROJ}", "variable assignment removed"),
        (f"export X={PROJ}", "variable assignment removed"),
        (f"export X='{PROJ}'", "variable assignment removed"),
        (f"export {PROJ}", "'export' removed before the key"),
    ],
)
def test_copy_paste_prefixes_are_stripped_with_a_warning(line: str, note: str) -> None:
    """``Bearer``, ``NAME=`` and ``export NAME=`` are removed with a warning; no label is made."""
    found = entry(line)
    assert (found.value, found.label) == (PROJ, None)
    assert any(n.startswith(note) for n in found.notes)
    no_echo(" ".join(found.notes), PROJ)


# --------------------------------------------------------------------------- comments


@pytest.mark.parametrize("line", ["", "   ", "\t", f"# {PROJ}", f"   # {PROJ}", f"\t#{PROJ}"])
def test_blank_and_comment_lines_are_ignored(line: str) -> None:
    """Blank lines, ``#`` lines and blanks-then-``#`` lines are not entries."""
    assert parse(line) is None


@pytest.mark.parametrize(
    ("line", "value", "label"),
    [
        (f"{PROJ} # personal", PROJ, None),
        (f"work {PROJ}\t# since 2024", PROJ, "work"),
        (f'"{PROJ}#x"', f"{PROJ}#x", None),
        (f"{PROJ}#x", f"{PROJ}#x", None),
        (f"work#2 {PROJ}", PROJ, "work#2"),
    ],
)
def test_inline_comments_need_a_blank_before_the_hash(
    line: str, value: str, label: str | None
) -> None:
    """`` # …`` ends the line; ``#`` inside quotes or glued to a token is kept."""
    found = entry(line)
    assert (found.value, found.label) == (value, label)


# --------------------------------------------------------------------------- labels and options


@pytest.mark.parametrize(
    ("line", "label", "value"),
    [
        (f"work {PROJ}", "work", PROJ),
        (f"work: {PROJ}", "work", PROJ),
        (f"work : {PROJ}", "work", PROJ),
        (f"work={PROJ}", "work", PROJ),
        (f"work = {PROJ}", "work", PROJ),
        (f"work:{PROJ}", "work", PROJ),
        (f"work\t{PROJ}", "work", PROJ),
        (f"my work laptop {PROJ}", "my work laptop", PROJ),
        (f"team=a {PROJ}", "team=a", PROJ),
        (f"a:b={PROJ}", "a", f"b={PROJ}"),
        (f"a=b:{PROJ}", "a", f"b:{PROJ}"),
        (f"Bob's key {PROJ}", "Bob's key", PROJ),
    ],
)
def test_label_separators_first_separator_wins(line: str, label: str, value: str) -> None:
    """Blank, ``:``, ``=`` and tab separate a label; in one token the first ``:``/``=`` wins."""
    found = entry(line)
    assert (found.label, found.value) == (label, value)
    assert line[found.column - 1 :].startswith(found.value) if found.column else True


def test_options_follow_the_key() -> None:
    """``provider=`` and ``base_url=`` after the key are read; before it they are an error."""
    found = entry(f'relay {PROJ} provider=openai base_url="https://relay.example/v1"')
    assert (found.label, found.value, found.provider, found.base_url) == (
        "relay",
        PROJ,
        "openai",
        "https://relay.example/v1",
    )
    assert issue(f"provider=openai {PROJ}").message == "options must come after the key"
    assert issue(f"{PROJ} provider=a provider=b").message == "provider= given twice"


@pytest.mark.parametrize("line", ["OPENAI_API_KEY=", "work:", "export X=", "provider=openai"])
def test_a_line_without_a_key_is_an_error(line: str) -> None:
    """A label or assignment with nothing after it is ``no key on this line``."""
    assert issue(line).message == "no key on this line"


def test_columns_count_characters_of_the_original_line() -> None:
    """The entry's column points at the key in the original line."""
    line = f"\u00a0 café: \u201c{PROJ}\u201d"
    found = entry(line)
    assert line[found.column - 1 :].startswith(PROJ) if found.column else False


# --------------------------------------------------------------------------- huge input


def test_a_line_over_8_kib_is_a_line_error(tmp_path: Path) -> None:
    """A line longer than 8 KiB is skipped with an error; the lines around it still read."""
    data = f"a {PROJ}\n" + "b" * (MAX_LINE_BYTES + 1) + f"\nc {ADMIN}\n"
    entries, issues = read(tmp_path, data)
    assert [e.value for e in entries] == [PROJ, ADMIN]
    assert [(i.where[-1], i.message) for i in issues] == [
        ("2", f"line longer than {MAX_LINE_BYTES} bytes, skipped")
    ]
    exactly, _ = read(tmp_path, "#" + "c" * (MAX_LINE_BYTES - 1) + f"\n{PROJ}")
    assert [e.value for e in exactly] == [PROJ]


class _Endless(io.RawIOBase):
    """A stream of ``size`` bytes of one long line then a key, produced lazily."""

    def __init__(self, size: int, tail: bytes) -> None:
        self.left = size
        self.tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.left > 0:
            n = min(len(buffer), self.left)
            buffer[:n] = b"k" * n
            self.left -= n
            return n
        n = min(len(buffer), len(self.tail))
        buffer[:n] = self.tail[:n]
        self.tail = self.tail[n:]
        return n


def test_a_huge_line_is_streamed_with_bounded_memory() -> None:
    """A 32 MB line is skipped with bounded memory, and the key after it is still read."""
    stream = io.BufferedReader(_Endless(32 << 20, f"\n{PROJ}\n".encode()))
    tracemalloc.start()
    try:
        items = list(read_source("-", stream))  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    entries, issues = split(items)
    assert [e.value for e in entries] == [PROJ]
    assert [i.where for i in issues] == ["<stdin>:1"]
    assert peak < 2 << 20


def test_many_lines_are_read_lazily(tmp_path: Path) -> None:
    """The reader yields entries one by one instead of loading the file first."""
    path = write(tmp_path, "".join(f"k{n} {PROJ}{n:04d}\n" for n in range(5000)))
    reader = read_source(path)
    first = next(reader)
    assert isinstance(first, Entry) and first.label == "k0"
    reader.close()


# --------------------------------------------------------------------------- not regular files


def test_missing_file_directory_fifo_device_socket_and_loop_are_clean_errors(
    tmp_path: Path,
) -> None:
    """Each non-regular or unreachable path gives a KeyFileError naming it, without blocking."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    cases = {
        str(tmp_path / "missing.txt"): "no such file",
        str(tmp_path): "is a directory, not a key file",
        str(fifo): "is a FIFO, not a regular file (use - for standard input)",
        "/dev/zero": "is a device or socket, not a regular file (use - for standard input)",
        str(loop): "symbolic link loop",
    }
    try:
        for path, message in cases.items():
            with pytest.raises(KeyFileError) as info:
                list(read_source(path))
            assert str(info.value) == f"{path}: {message}"
        with pytest.raises(KeyFileError) as info:
            list(read_source(str(sock_path)))
        assert str(info.value).startswith(f"{sock_path}: ")
    finally:
        sock.close()


def test_permission_denied_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EACCES gives ``file: permission denied``."""
    path = write(tmp_path, PROJ)

    def deny(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(KeyFileError) as info:
        list(read_source(path))
    assert str(info.value) == f"{path}: permission denied"


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root reads all")
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    """A real mode-000 file gives ``permission denied``."""
    path = write(tmp_path, PROJ)
    os.chmod(path, 0)
    with pytest.raises(KeyFileError, match="permission denied"):
        list(read_source(path))


def test_stdin_dash_is_read_as_a_stream() -> None:
    """``-`` reads the given stdin stream, named ``<stdin>``, even though it is not a file."""
    items = list(read_source("-", io.BytesIO(f"work {PROJ}\r\n".encode())))
    assert items == [Entry(PROJ, "<stdin>:1", column=6, label="work")]


def test_a_key_given_as_the_file_name_is_not_echoed() -> None:
    """A key pasted where a file name goes is refused without being shown."""
    with pytest.raises(KeyFileError) as info:
        list(read_source(PROJ))
    assert "never taken from the command line" in str(info.value)
    no_echo(str(info.value), PROJ)


# --------------------------------------------------------------------------- format detection


@pytest.mark.parametrize(
    ("name", "data", "labels"),
    [
        ("keys.txt", f"label,key\nwork,{PROJ}\n", ["work"]),
        ("keys", f"\ufeffkey\n{PROJ}\n", [None]),
        ("keys.txt", f'# accounts\n[accounts.work]\nkey = "{PROJ}"\n', ["work"]),
        ("keys.conf", f'[[keys]]\nkey = "{PROJ}"\nlabel = "w"\n', ["w"]),
    ],
)
def test_format_is_detected_from_the_content_when_the_name_says_nothing(
    tmp_path: Path, name: str, data: str, labels: list[str | None]
) -> None:
    """A ``label,key`` header means CSV and an ``[accounts.…]``/``[[keys]]`` table means TOML."""
    entries, _ = read(tmp_path, data, name)
    assert [(e.value, e.label) for e in entries] == [(PROJ, label) for label in labels]


# --------------------------------------------------------------------------- CSV


def test_csv_reads_every_column_and_only_key_is_required(tmp_path: Path) -> None:
    """CSV with ``label,key,provider,base_url`` in any order; empty cells are absent."""
    data = (
        "key,label,base_url,provider\n"
        f"{PROJ},work,,\n"
        f'{LEGACY},"acme, inc",https://relay.example/v1,openai\n'
        f"  {ADMIN}  ,,,\n"
    )
    path = write(tmp_path, data, "keys.csv")
    entries, issues = split(list(read_source(path)))
    assert issues == []
    assert [(e.value, e.label, e.provider, e.base_url, e.where) for e in entries] == [
        (PROJ, "work", None, None, f"{path}:2"),
        (LEGACY, "acme, inc", "openai", "https://relay.example/v1", f"{path}:3"),
        (ADMIN, None, None, None, f"{path}:4"),
    ]
    only_key, _ = read(tmp_path, f"key\n{PROJ}\r\n", "k.csv")
    assert [e.value for e in only_key] == [PROJ]


def test_csv_in_utf16_reads_like_utf8(tmp_path: Path) -> None:
    """A UTF-16 CSV with a BOM gives the same entries as UTF-8."""
    data = f"label,key\nwork,{PROJ}\n"
    assert read(tmp_path, data.encode("utf-16"), "a.csv") == read(tmp_path, data, "a.csv")


@pytest.mark.parametrize(
    ("row", "where_suffix", "message"),
    [
        (f'work,"{PROJ}', ":2", "malformed CSV row (check the quotes)"),
        (f"work,{PROJ},openai,https://x.example,extra", ":2", "5 fields but the header has 4"),
        ("work,,openai,", ":2", "no key in this row"),
        (f"work,{PROJ[:10]}\u200b{PROJ[10:]},,", ":2:16", "invalid character at column 16"),
        (f'work,"{PROJ[:10]} {PROJ[10:]}",,', ":2:17", "invalid character at column 17"),
    ],
)
def test_csv_bad_rows_name_file_and_line(
    tmp_path: Path, row: str, where_suffix: str, message: str
) -> None:
    """Each malformed CSV row is an error at ``file:line[:column]`` that never echoes the row."""
    path = write(tmp_path, f"label,key,provider,base_url\n{row}\nok,{ADMIN},,\n", "keys.csv")
    entries, issues = split(list(read_source(path)))
    assert [e.value for e in entries] == [ADMIN]
    assert len(issues) == 1
    assert issues[0].where == path + where_suffix
    assert issues[0].message.startswith(message)
    no_echo(str(issues[0]), PROJ)


def test_csv_header_without_key_is_refused_without_echo(tmp_path: Path) -> None:
    """A CSV whose first row is a key instead of a header is refused as a whole, not echoed."""
    path = write(tmp_path, f"work,{PROJ}\n", "keys.csv")
    with pytest.raises(KeyFileError) as info:
        list(read_source(path))
    assert str(info.value).startswith(f"{path}:1: CSV header must name a 'key' column")
    no_echo(str(info.value), PROJ)


def test_csv_unknown_columns_warn_without_showing_key_like_names(tmp_path: Path) -> None:
    """Unknown header cells are named when plain, counted when they look like anything else."""
    _, issues = read(tmp_path, f"label,key,notes,{PROJ}\n", "k.csv")
    assert [(i.error, i.message) for i in issues] == [
        (False, "unknown CSV columns ignored: notes, 1 more")
    ]


# --------------------------------------------------------------------------- TOML


TOML = f"""
[defaults]
provider = "openai"

[accounts.work]
key = "{PROJ}"

[accounts."side project"]
key_env = "SIDE_KEY"
base_url = "https://relay.example/v1"

[[keys]]
key = "{ADMIN}"
label = "org admin"
"""


def test_toml_accounts_keys_defaults_and_key_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accounts tables and ``[[keys]]`` read, ``key_env`` resolves, defaults apply, inline warns."""
    monkeypatch.setenv("SIDE_KEY", f"  {LEGACY} ")
    path = write(tmp_path, TOML, "accounts.toml")
    entries, issues = split(list(read_source(path)))
    assert [
        (e.value, e.label, e.provider, e.default_provider, e.base_url, e.where) for e in entries
    ] == [
        (PROJ, "work", None, "openai", None, f"{path}:5"),
        (LEGACY, "side project", None, "openai", "https://relay.example/v1", f"{path}:8"),
        (ADMIN, "org admin", None, "openai", None, f"{path}:12"),
    ]
    assert [(i.error, i.message) for i in issues] == [
        (False, '2 key(s) written inline; prefer key_env = "NAME" to keep keys out of files')
    ]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_toml_key_env_unset_or_empty_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    """``key_env`` naming an unset or empty variable is a line error (empty counts as unset)."""
    if value is None:
        monkeypatch.delenv("SIDE_KEY", raising=False)
    else:
        monkeypatch.setenv("SIDE_KEY", value)
    path = write(tmp_path, TOML, "accounts.toml")
    entries, issues = split(list(read_source(path)))
    assert len(entries) == 2
    assert [(i.where, i.message) for i in issues if i.error] == [
        (f"{path}:8", "environment variable SIDE_KEY is unset or empty")
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f'[accounts.a]\nkey_env = "{PROJ}"\n', "key_env must name an environment variable"),
        (f'[accounts.a]\nkey = "{PROJ}"\nkey_env = "X"\n', "give key or key_env, not both"),
        ('[accounts.a]\nlabel = "x"\n', 'needs key = "…" or key_env = "ENV_NAME"'),
        (
            f'[accounts.a]\nkey = "{PROJ}"\nlabel = 3\n',
            "label, provider and base_url must be strings",
        ),
        (f'[accounts.a]\nkey = "{PROJ}"\ncolour = "red"\n', "unknown fields: colour"),
        (f'[accounts.a]\nkey = "{PROJ}\\u200b"\n', "invalid character at position"),
        ("[accounts]\na = 1\n", "must be a table"),
    ],
)
def test_toml_bad_accounts_are_errors_that_never_echo(
    tmp_path: Path, body: str, message: str
) -> None:
    """Each malformed account is an error at its ``file:line`` and never shows the key."""
    path = write(tmp_path, body, "a.toml")
    entries, issues = split(list(read_source(path)))
    assert entries == []
    errors = [i for i in issues if i.error]
    assert len(errors) == 1 and errors[0].message.startswith(message)
    assert errors[0].where.startswith(f"{path}:")
    no_echo(str(errors[0]), PROJ)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (f'[accounts.a]\nkey = "{PROJ}\n', ":2:"),
        (f"[accounts.a]\nkey = {PROJ}\n", ":2:"),
        (f'[accounts.a]\nkey = "{PROJ}"\n[accounts.a]\n', ":3:"),
    ],
)
def test_invalid_toml_names_line_and_column_without_echo(
    tmp_path: Path, body: str, where: str
) -> None:
    """A TOML syntax error is refused as a whole with ``file:line:column`` and no echo."""
    path = write(tmp_path, body, "a.toml")
    with pytest.raises(KeyFileError) as info:
        list(read_source(path))
    assert str(info.value).startswith(path + where)
    assert str(info.value).endswith(": not valid TOML")
    no_echo(str(info.value), PROJ)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("defaults = 1\n", "[defaults] must be a table"),
        (f'[defaults]\nkey = "{PROJ}"\n', "[defaults] may set only provider and base_url"),
        ("accounts = 1\n", "[accounts] must hold tables"),
        ("keys = 1\n", "keys must be an array of tables"),
    ],
)
def test_toml_structure_errors_refuse_the_file(tmp_path: Path, body: str, message: str) -> None:
    """A wrongly shaped TOML file is refused as a whole, naming the file."""
    path = write(tmp_path, body, "a.toml")
    with pytest.raises(KeyFileError) as info:
        list(read_source(path))
    assert str(info.value).startswith(f"{path}: {message}")


def test_toml_unknown_top_level_names_warn(tmp_path: Path) -> None:
    """Unknown top-level tables are ignored with a warning that shows only plain names."""
    _, issues = read(tmp_path, f'[extra]\n[accounts.a]\nkey = "{PROJ}"\n', "a.toml")
    assert (False, "unknown top-level entries ignored: extra") in [
        (i.error, i.message) for i in issues
    ]


# --------------------------------------------------------------------------- environment


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_empty_openai_api_key_counts_as_unset(value: str) -> None:
    """``OPENAI_API_KEY`` set to an empty or blank string gives no entry, like unset."""
    assert list(read_environment({"OPENAI_API_KEY": value})) == []
    assert list(read_environment({})) == []


def test_openai_api_key_and_base_url_from_the_environment() -> None:
    """The env key is read trimmed; an empty ``OPENAI_BASE_URL`` counts as unset."""
    got = list(read_environment({"OPENAI_API_KEY": f" {PROJ}\n", "OPENAI_BASE_URL": ""}))
    assert got == [Entry(PROJ, "$OPENAI_API_KEY", column=None, label="OPENAI_API_KEY")]
    relay = list(read_environment({"OPENAI_API_KEY": PROJ, "OPENAI_BASE_URL": "https://r.example"}))
    assert isinstance(relay[0], Entry) and relay[0].base_url == "https://r.example"


def test_a_quoted_environment_key_is_rejected_without_echo() -> None:
    """An env value with quotes or inner blanks is an error that does not show it."""
    got = list(read_environment({"OPENAI_API_KEY": f'"{PROJ}"'}))
    assert len(got) == 1 and isinstance(got[0], InputIssue)
    assert got[0].message.startswith("invalid character at column 1")
    no_echo(str(got[0]), PROJ)


# --------------------------------------------------------------------------- properties


SENTINEL = PROJ
_FRAGMENTS = st.sampled_from(
    [
        " ",
        "\t",
        "\u00a0",
        "\u3000",
        "#",
        " # ",
        '"',
        "'",
        "\u201c",
        "\u201d",
        "=",
        ":",
        "export ",
        "Bearer ",
        "provider=",
        "base_url=",
        "\u200b",
        "\u2028",
        "\x0b",
        "\x1b[31m",
        ",",
        ";",
        ")",
        "work",
        "OPENAI_API_KEY",
        "\ufeff",
        "\\",
        "…",
        "<",
        ">",
    ]
)


def _assert_clean(items: Iterator[Item] | list[Item], secret: str | None = None) -> None:
    for item in items:
        if isinstance(item, Entry):
            value = item.value
            assert value
            assert not any(ch.isspace() or ch in QUOTE_CHARS for ch in value)
            assert all(ch.isprintable() for ch in value)
        elif secret is not None:
            no_echo(str(item), secret)


@SETTINGS
@given(st.text(max_size=300))
def test_property_parse_text_line_returns_only_clean_keys(line: str) -> None:
    """On any text the parser never raises; keys it returns hold no blank, quote or control."""
    item = parse_text_line(line, "f:1")
    _assert_clean([item] if item is not None else [])


@SETTINGS
@given(st.lists(st.one_of(_FRAGMENTS, st.just(SENTINEL)), max_size=12))
def test_property_parse_errors_never_echo_the_key(parts: list[str]) -> None:
    """Lines made of debris around a key never produce a message holding the key."""
    item = parse_text_line("".join(parts), "f:1")
    _assert_clean([item] if item is not None else [], SENTINEL)


@SETTINGS
@given(st.binary(max_size=2000))
def test_property_read_source_on_random_bytes_raises_only_key_file_error(data: bytes) -> None:
    """Random bytes never raise anything but KeyFileError, and every key returned is clean."""
    try:
        items = list(read_source("-", io.BytesIO(data)))
    except KeyFileError:
        return
    _assert_clean(items)


@SETTINGS
@given(
    st.lists(st.one_of(_FRAGMENTS, st.just(SENTINEL)), max_size=10),
    st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-8-sig"]),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.sampled_from(["keys.txt", "keys.csv", "keys.toml"]),
)
def test_property_any_format_never_echoes_the_key(
    tmp_path: Path, parts: list[str], encoding: str, eol: str, name: str
) -> None:
    """Debris in any format, encoding and line ending gives clean keys and key-free messages."""
    text = eol.join(["label,key", "".join(parts), "".join(reversed(parts))])
    path = tmp_path / name
    path.write_bytes(text.encode(encoding, "surrogatepass"))
    try:
        items = list(read_source(str(path)))
    except KeyFileError as exc:
        no_echo(str(exc), SENTINEL)
        return
    _assert_clean(items, SENTINEL)


def test_every_known_key_shape_parses_unchanged() -> None:
    """Every fixture key reads back exactly, case and all."""
    for key in ALL_KEYS:
        assert entry(f"label {key}").value == key
        assert entry(key.upper()).value == key.upper()


def test_key_file_mode_is_untouched_by_reading(tmp_path: Path) -> None:
    """Reading a key file never changes its permissions."""
    path = write(tmp_path, PROJ)
    os.chmod(path, 0o600)
    list(read_source(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_csv_quoted_cells_may_span_lines_as_rfc_4180_says(tmp_path: Path) -> None:
    """A quoted multi-line cell is one record, reported at the line it starts on; the next
    row keeps its own label."""
    data = f'label,key\n"team\nalpha",{PROJ}\n# comment\nnext,{ADMIN}\n'
    path = write(tmp_path, data, "keys.csv")
    entries, issues = split(list(read_source(path)))
    assert issues == []
    assert [(e.label, e.value, e.where) for e in entries] == [
        ("team\nalpha", PROJ, f"{path}:2"),
        ("next", ADMIN, f"{path}:5"),
    ]
    assert entries[1].column == 6


def test_csv_record_over_the_line_cap_is_skipped_and_reading_resumes(tmp_path: Path) -> None:
    """A record spanning lines is capped like a line: an unclosed quote cannot swallow the
    file, and the rows after it are still read."""
    filler = "\n".join("x" * 100 for _ in range(MAX_LINE_BYTES // 100 + 5))
    data = f'label,key\nwork,"{PROJ}\n{filler}\nok,{ADMIN}\n'
    path = write(tmp_path, data, "keys.csv")
    entries, issues = split(list(read_source(path)))
    assert [e.value for e in entries] == [ADMIN]
    assert issues[0].where == f"{path}:2"
    assert all(PROJ not in str(i) for i in issues)


def test_many_comment_lines_take_constant_memory(tmp_path: Path) -> None:
    """Comment lines before the first key are counted, not kept: memory does not grow."""
    path = tmp_path / "keys.txt"
    with path.open("w") as handle:
        for _ in range(2):
            handle.write("# a comment line of about fifty bytes, no key\n" * 100_000)
        handle.write(f"{PROJ}\n")
    tracemalloc.start()
    try:
        items = list(read_source(str(path)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(i.value, i.where) for i in items if isinstance(i, Entry)] == [(PROJ, f"{path}:200001")]
    assert peak < 4 << 20
