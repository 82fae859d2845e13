"""Fast paths of key loading give the same answers as the general code they shortcut."""

from __future__ import annotations

import csv
import gc
import hashlib
import hmac
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger import keys, keyshapes, sanitize
from keyledger.cli.keys_input import frozen_heap
from keyledger.keyset import MAX_LABEL, KeySet, _field_problem, _label, build_keyset
from keyledger.models import Kind
from keyledger.providers.registry import Registry, default_registry
from keyledger.providers.spec import KeyShape, Provider
from keyledger.sanitize import INVISIBLE, Redactor, finds_secret, pieces
from keyledger.secret import Fingerprinter, Secret, public_prefix
from keyledger.sources import (
    MAX_LINE_BYTES,
    QUOTE_CHARS,
    Directives,
    Entry,
    InputIssue,
    _csv_records,
    _CsvLines,
    _LineProblem,
    _read_csv,
    bad_key_char,
    split_lines,
)

KEYISH = st.text(
    alphabet=st.sampled_from("abcXYZ019_-.x*<>{}$[]…: /\t\"'`\u200b\u00a0\x00\x7féK\u212a"),
    max_size=60,
)
PREFIXED = st.builds(
    lambda p, rest: p + rest, st.sampled_from(["", "sk-", "sess-", "sk-proj-"]), KEYISH
)


def _slow_bad_key_char(value: str) -> int | None:
    for index, ch in enumerate(value):
        if ch in QUOTE_CHARS or ch.isspace():
            return index
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"):
            return index
    return None


def _slow_first_bad_char(value: str) -> int | None:
    for index, ch in enumerate(value):
        if not keys.KEY_CHARS.fullmatch(ch):
            return index
    return None


def _slow_placeholder(value: str) -> bool:
    body = value[len(keyshapes.public_prefix(value)) :]
    if keys._PLACEHOLDER_BODY.fullmatch(body):
        return True
    return bool(keys._PLACEHOLDER_ANYWHERE.search(value) or keys._BRACKETED.search(value))


def _slow_public_prefix(value: str) -> str:
    return next((p for p in keyshapes.prefixes() if value.startswith(p)), "")


@settings(max_examples=400)
@given(PREFIXED)
def test_character_checks_match_the_per_character_loops(value: str) -> None:
    """bad_key_char and first_bad_char find the same first bad character as a plain loop."""
    assert bad_key_char(value) == _slow_bad_key_char(value)
    assert keys.first_bad_char(value) == _slow_first_bad_char(value)


def test_bad_key_char_on_every_ascii_character() -> None:
    """The ASCII fast path refuses exactly the ASCII characters the general rule refuses."""
    for code in range(128):
        value = f"sk-abc{chr(code)}def"
        assert bad_key_char(value) == _slow_bad_key_char(value), code


@settings(max_examples=400)
@given(
    st.one_of(
        PREFIXED,
        st.sampled_from(
            [
                "sk-YOUR_API_KEY",
                "sk-your-key-here-000000000000",
                "sk-Replace_Me-0000000000000",
                "sess-ABCXXXXXXXdef0123456789",
                "sk-abc***def0123456789abc",
                "sk-ab...c0123456789abcdef",
                "sk-INSERT-KEY-0123456789abcdef",
                "sk-apikeyhere0123456789",
                "sk-0123456789abcHEREdef",
            ]
        ),
    )
)
def test_placeholder_prefilter_matches_the_full_patterns(value: str) -> None:
    """is_placeholder's word prefilter (and a prefix found beforehand) never changes its answer."""
    assert keys.is_placeholder(value) == _slow_placeholder(value)
    assert keys.is_placeholder(value, keyshapes.public_prefix(value)) == _slow_placeholder(value)


@settings(max_examples=300)
@given(PREFIXED)
def test_public_prefix_is_the_longest_known_prefix(value: str) -> None:
    """The compiled alternation returns what a longest-first loop over the prefixes does."""
    assert keyshapes.public_prefix(value) == _slow_public_prefix(value)


@settings(max_examples=400)
@given(
    st.one_of(KEYISH, st.builds(lambda a, b: a + b, KEYISH, KEYISH)),
    st.one_of(PREFIXED, st.just("sess-0123456789abcdefABCDEF")),
    st.integers(0, 30),
    st.integers(0, 12),
)
def test_finds_secret_matches_the_redactor(text: str, secret: str, at: int, size: int) -> None:
    """finds_secret (and its precomputed pieces) agrees with Redactor((secret,)).finds."""
    text = text + secret[at : at + size] + text  # sometimes holds a piece of the secret
    expected = Redactor((secret,)).finds(text)
    assert finds_secret(text, secret) == expected
    assert finds_secret(pieces(text), secret) == expected


class _Host(Provider):
    name = "hostone"
    title = "Host one"
    default_base_url = "https://api.one.example/v1"
    hosts = ("shared.example",)
    key_shapes = (KeyShape("one-"),)


class _Other(Provider):
    name = "hosttwo"
    title = "Host two"
    default_base_url = "https://api.two.example/v1"
    hosts = ("SHARED.example", "two-alt.example")
    key_shapes = (KeyShape("one-long-", Kind.ADMIN), KeyShape("two-"))


def test_host_cache_keeps_first_provider_and_follows_changes() -> None:
    """for_host answers per host, the first registered provider wins, and it follows changes."""
    registry = Registry([_Host(), _Other()])
    assert registry.for_host("https://api.one.example/v1").name == "hostone"  # type: ignore[union-attr]
    assert registry.for_host("https://api.two.example").name == "hosttwo"  # type: ignore[union-attr]
    assert registry.for_host("https://shared.example/v1").name == "hostone"  # type: ignore[union-attr]
    assert registry.for_host("https://elsewhere.example") is None
    registry.unregister("hostone")
    assert registry.for_host("https://shared.example/v1").name == "hosttwo"  # type: ignore[union-attr]
    assert registry.for_host("https://api.one.example/v1") is None
    registry.register(_Host())
    assert registry.for_host("https://api.one.example/v1").name == "hostone"  # type: ignore[union-attr]


def test_shape_order_follows_registration() -> None:
    """The cached shape order is rebuilt when a provider comes or goes (longest prefix wins)."""
    registry = Registry([_Host()])
    assert registry.owner("one-long-0123456789") == "hostone"
    registry.register(_Other())
    assert registry.owner("one-long-0123456789") == "hosttwo"
    assert registry.route("one-long-0123456789", None, None).kind is Kind.ADMIN
    registry.unregister("hosttwo")
    assert registry.owner("one-long-0123456789") == "hostone"


def test_keys_on_one_base_url_share_it_and_each_is_checked_for_its_own_pieces() -> None:
    """A base URL met on many lines is normalised once (one shared string), and a URL holding
    a piece of one line's key still skips that line only."""
    fp = Fingerprinter(b"s" * 32)
    url = "http://127.0.0.1:9/v1"
    values = [f"sess-{i:04d}abcdefghijklmnopqrstuv" for i in range(3)]
    leaky = f"http://127.0.0.1:9/{values[1][5:13]}"
    items = [
        Entry(value=values[0], where="f:1", base_url=url),
        Entry(value=values[1], where="f:2", base_url=leaky),
        Entry(value=values[2], where="f:3", base_url=url),
        Entry(value="sess-zzzzabcdefghijklmnopqrstuv", where="f:4", base_url=leaky),
    ]
    keyset = build_keyset(items, fp)
    assert [k.source for k in keyset.keys] == ["f:1", "f:3", "f:4"]
    assert keyset.keys[0].base_url is keyset.keys[1].base_url
    assert [str(i) for i in keyset.issues] == [
        "f:2: error: base_url looks like a secret: line skipped"
    ]


def test_default_registry_routes_like_before() -> None:
    """Routing by base URL host and by shape gives the documented providers."""
    registry = default_registry()
    assert registry.route("sk-0123456789abcdef0123", None, "https://api.deepseek.com").provider == (
        "deepseek"
    )
    assert registry.route("sess-0123456789abcdef0123", None, "http://127.0.0.1:9").kind is (
        Kind.SESSION
    )


def test_fingerprint_is_the_truncated_hmac() -> None:
    """The keyed HMAC copied per key gives the fingerprints already in ledgers (16 hex)."""
    expected = hmac.new(b"k" * 32, "sk-abcé".encode(), hashlib.sha256).hexdigest()[:16]
    assert Fingerprinter(b"k" * 32)("sk-abcé") == expected


def test_frozen_heap_keeps_the_key_set_out_of_the_gc_until_the_end() -> None:
    """Objects made before frozen_heap are frozen inside it and handed back to the GC after."""
    before = gc.get_freeze_count()
    keyset = build_keyset(
        [Entry(value="sess-" + "A1b2C3d4" * 4, where="f:1")], Fingerprinter(b"s" * 32)
    )
    with frozen_heap():
        assert gc.get_freeze_count() > before
        assert gc.is_tracked(keyset.keys[0])
    assert gc.get_freeze_count() == before


SHORTISH = st.text(
    alphabet=st.sampled_from("abAB01_-.sk-proj\u200b\u00ad\ufeff é"), min_size=0, max_size=24
)


@settings(max_examples=400)
@given(
    st.builds(lambda p, rest: p + rest, st.sampled_from(["", "sk-", "sess-", "Bearer "]), SHORTISH),
    st.one_of(PREFIXED, st.sampled_from(["s", "abc", "sess-0123456789abcdef"])),
)
def test_short_texts_answer_as_the_general_secret_checks(text: str, secret: str) -> None:
    """The length fast paths of finds_secret and looks_like_key give the general answers."""
    expected = Redactor((secret,)).finds(text) if secret else False
    assert finds_secret(text, secret) == expected
    body = secret[len(public_prefix(secret)) :]
    assert finds_secret(pieces(text), secret, body) == expected
    visible = INVISIBLE.sub("", text)
    for tokens in (True, False):
        general = keyshapes.looks_like_key(visible) or (
            tokens
            and any(sanitize._random(r.group()) for r in sanitize._TOKEN_RUN.finditer(visible))
        )
        assert sanitize.looks_like_key(text, tokens=tokens) == general


def test_no_key_shape_is_shorter_than_the_fast_path_bound() -> None:
    """The shortest key-shaped texts are exactly as long as the bound the fast path uses."""
    shortest = min(keyshapes.prefixes(), key=len) + "a" * keyshapes.WORD_BODY
    assert sanitize.looks_like_key(shortest)
    assert not sanitize.looks_like_key(shortest[:-1])
    assert len(shortest) >= sanitize.SHORTEST_KEY_SHAPE


CSV_COLUMNS = ("label", "key", "provider", "base_url", "other")
CELL = st.sampled_from(["", " ", "work", "openai", "http://127.0.0.1:9/v1", "sk-x", " é "])


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from(CSV_COLUMNS), min_size=1, max_size=6).filter(lambda h: "key" in h),
    st.lists(st.lists(CELL, min_size=0, max_size=7), max_size=6),
)
def test_csv_cells_are_read_as_a_dict_of_the_row_would(
    header: list[str], rows: list[list[str]]
) -> None:
    """Columns found once from the header give each row's cells as ``dict(zip(...))`` did
    (the last of repeated columns; a short row lacks the rest)."""
    keyed = [
        [
            f"sess-{n:03d}abcdefghijklmnop" if h == "key" and c else c
            for h, c in zip(header + ["x"] * 7, row, strict=False)
        ]
        for n, row in enumerate(rows)
    ]
    lines = [",".join(header)] + [",".join(row) for row in keyed]
    got = [
        item
        if isinstance(item, InputIssue)
        else (item.value, item.label, item.provider, item.base_url)
        for item in _read_csv("f.csv", [(f"f.csv:{i}", line) for i, line in enumerate(lines, 1)])
    ]
    expected: list[object] = []
    if len(set(header) - set(CSV_COLUMNS[:4])):
        expected.append(InputIssue("f.csv:1", "unknown CSV columns ignored: other", False))
    for number, row in enumerate(keyed, start=2):
        if not ",".join(row).strip():
            continue  # a blank line is no record
        cells = [c.strip(" \t\u00a0") for c in row]
        where = f"f.csv:{number}"
        if len(cells) > len(header):
            expected.append(
                InputIssue(where, f"{len(cells)} fields but the header has {len(header)}")
            )
            continue
        record = dict(zip(header, cells, strict=False))
        if not record.get("key", ""):
            expected.append(InputIssue(where, "no key in this row"))
            continue
        expected.append(
            (
                record["key"],
                record.get("label") or None,
                record.get("provider") or None,
                record.get("base_url") or None,
            )
        )
    assert got == expected


@pytest.mark.parametrize("pad", ["a", "\u00e9", "\u20ac", "\U0001f600"])
def test_csv_record_cap_counts_bytes_for_ascii_and_other_text(pad: str) -> None:
    """A record of exactly the cap (in UTF-8 bytes, line end included) is read, one byte more
    is skipped, whether the line is ASCII or not."""
    head = "key,label\nsess-0123456789abcdefghij,"
    size = len(b"sess-0123456789abcdefghij,") + 1
    for extra, skipped in ((0, False), (1, True)):
        room = MAX_LINE_BYTES - size + extra
        width = len(pad.encode())
        label = pad * (room // width) + "b" * (room % width)
        lines = [(f"f.csv:{i}", t) for i, t in enumerate((head + label).split("\n"), 1)]
        items = list(_read_csv("f.csv", lines))
        assert any(isinstance(i, InputIssue) for i in items) == skipped, (extra, len(label))


@settings(max_examples=300)
@given(
    st.one_of(PREFIXED, st.just("sess-0123456789abcdefABCDEF")),
    st.one_of(st.none(), KEYISH, st.just("a 0123456789abcdef")),
    st.one_of(st.none(), st.just("http://127.0.0.1:9/v1"), st.just("http://h/23456789abcdef")),
)
def test_field_check_with_the_body_found_beforehand_answers_alike(
    value: str, label: str | None, url: str | None
) -> None:
    """_field_problem gives the same issue whether it finds the key's body or is handed it."""
    entry = Entry(value=value, where="f:1", label=label, base_url=url)
    body = value[len(public_prefix(value)) :]
    assert _field_problem(entry, {}, body) == _field_problem(entry)


ROUTED = st.one_of(
    PREFIXED,
    st.builds(
        lambda p, rest: p + rest,
        st.sampled_from([*sorted(keyshapes.prefixes()), "sk-ant-", "sk-or-", "gsk", "AIza"]),
        st.text("abcdefABCDEF0123456789_-", min_size=0, max_size=60),
    ),
)


@settings(max_examples=400)
@given(
    ROUTED,
    st.sampled_from([None, "http://127.0.0.1:9/v1", "https://api.deepseek.com"]),
    st.sampled_from([None, "openai", "deepseek"]),
)
def test_routing_with_the_prefix_found_beforehand_answers_alike(
    value: str, base_url: str | None, provider: str | None
) -> None:
    """Route and claimant given the key's public prefix answer as without it."""
    registry = default_registry()
    prefix = public_prefix(value)
    assert registry.claimant(value, prefix) is registry.claimant(value)
    assert registry.route(value, provider, base_url, prefix) == registry.route(
        value, provider, base_url
    )


def test_claimant_tries_every_shape_when_a_shape_prefix_is_not_a_known_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shape whose prefix masking does not know (so the key's public prefix cannot tell)
    is still found: the per-prefix shortlist is not used."""
    registry = Registry([_Host(), _Other()])
    value = "one-long-0123456789abcdef"
    assert registry.claimant(value, "one-long-").name == "hosttwo"  # type: ignore[union-attr]
    known = tuple(p for p in keyshapes.prefixes() if not p.startswith("one-"))
    monkeypatch.setattr(keyshapes, "_prefixes", known)
    assert registry.claimant(value, "").name == "hosttwo"  # type: ignore[union-attr]


@settings(max_examples=200)
@given(st.binary(min_size=16, max_size=80), st.lists(st.text(max_size=40), max_size=4))
def test_fingerprints_from_the_keyed_copy_are_the_hmac(secret: bytes, values: list[str]) -> None:
    """Each fingerprint is HMAC-SHA256(secret, key) truncated, however many came before."""
    fingerprint = Fingerprinter(secret)
    for value in values:
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            continue
        expected = hmac.new(secret, data, hashlib.sha256).hexdigest()[:16]
        assert fingerprint(value) == expected


def _reader_only_records(
    lines: list[tuple[str, str | InputIssue]], directives: Directives
) -> list[object]:
    """Every record read by :func:`csv.reader` (the general path the quote-free split skips)."""
    feed = _CsvLines(lines, directives)
    reader = csv.reader(feed, strict=True)
    out: list[object] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            if not feed.record:
                return out
            out.append(InputIssue(feed.start, "malformed CSV row (check the quotes)"))
            feed.failed()
            continue
        except _LineProblem as problem:
            if feed.record and feed.start != problem.issue.where:
                out.append(InputIssue(feed.start, "malformed CSV row (check the quotes)"))
            out.append(problem.issue)
            feed.failed()
            continue
        except csv.Error:
            out.append(InputIssue(feed.start, "malformed CSV row (check the quotes)"))
            feed.failed()
            continue
        out.append((feed.start, feed.single, row))
        feed.done()


CSV_PIECE = st.sampled_from(
    ["a", "sk-x1", ",", '"', '""', " ", "\t", "#", "é", "\u00a0", "\u2028", "=", "x" * 40]
)
CSV_LINE = st.one_of(
    st.lists(CSV_PIECE, max_size=8).map("".join),
    st.sampled_from(
        [
            "# keyledger: provider=openai",
            "# keyledger: provider=",
            "  # note",
            "",
            "a" * (MAX_LINE_BYTES - 1),
            "a" * MAX_LINE_BYTES,
            "\u00e9" * (MAX_LINE_BYTES // 2),
        ]
    ),
    st.just(None),  # an unreadable line
)


@settings(max_examples=500)
@given(st.lists(CSV_LINE, max_size=10))
def test_quote_free_lines_split_as_the_csv_reader_reads_them(lines: list[str | None]) -> None:
    """Records, issues and directive issues are the same with the quote-free split as when
    :func:`csv.reader` reads every line (quotes spanning lines, blanks, comments, caps)."""
    numbered: list[tuple[str, str | InputIssue]] = [
        (f"f.csv:{n}", InputIssue(f"f.csv:{n}", "bad line") if line is None else line)
        for n, line in enumerate(lines, start=1)
    ]
    fast, slow = Directives(), Directives()
    got = list(_csv_records(numbered, fast))
    assert got == _reader_only_records(numbered, slow)
    assert fast.issues == slow.issues
    assert (fast.provider, fast.base_url) == (slow.provider, slow.base_url)


@settings(max_examples=400)
@given(st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=140))
def test_plain_labels_come_out_as_the_general_cleaning_makes_them(text: str) -> None:
    """A label answered by the printable-ASCII shortcut is what neutralising, joining the
    words and bounding it give (and so are the issues: none)."""
    expected_set = KeySet()
    label = " ".join(sanitize.neutralise(text).split())
    expected = sanitize.clean_label(label, MAX_LABEL) if label else None
    if label and len(label) > MAX_LABEL:
        expected_set.add_issue(
            InputIssue("f:1", f"label longer than {MAX_LABEL} characters: truncated", False)
        )
    got_set = KeySet()
    assert _label(Entry(value="v", where="f:1", label=text), got_set) == expected
    assert got_set.issues == expected_set.issues


@settings(max_examples=300)
@given(PREFIXED)
def test_secret_given_its_prefix_is_the_secret_that_finds_it(value: str) -> None:
    """A Secret handed the prefix and pattern it was found with masks and answers as one that
    finds them itself; handed no pattern, it finds the prefix again when asked."""
    prefix = keyshapes.public_prefix(value)
    pattern = keyshapes.COMPILED.get("prefix")
    plain = Secret(value)
    for given_secret in (Secret(value, prefix, pattern), Secret(value, prefix, None)):
        assert given_secret.masked == plain.masked
        assert given_secret.prefix == plain.prefix
        assert repr(given_secret) == repr(plain)


def test_a_keyset_secret_follows_prefixes_registered_after_loading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loaded key's prefix is found again once more prefixes are known (the pattern it was
    found with is no longer the current one)."""
    keyset = build_keyset(
        [Entry(value="zz-newshape-0123456789abcdefXYZ", where="f:1", provider="openai")],
        Fingerprinter(b"s" * 32),
    )
    secret = keyset.keys[0].secret
    assert secret.prefix == ""
    monkeypatch.setattr(keyshapes, "_prefixes", ("zz-newshape-", *keyshapes.prefixes()))
    monkeypatch.setattr(keyshapes, "_compiled", {})
    monkeypatch.setattr(keyshapes, "COMPILED", keyshapes._compiled)
    assert secret.prefix == "zz-newshape-"


def _regex_split_lines(chunks: list[bytes], limit: int) -> list[bytes | None]:
    """Lines as a search for each line end, byte run by byte run, finds them."""
    eol = re.compile(rb"\r\n|\r|\n")
    out: list[bytes | None] = []
    buf = bytearray()
    too_long = pending_cr = False
    for chunk in chunks:
        start = 1 if pending_cr and chunk.startswith(b"\n") else 0
        pending_cr = False
        while (match := eol.search(chunk, start)) is not None:
            if not too_long:
                buf += chunk[start : match.start()]
            out.append(None if too_long or len(buf) > limit else bytes(buf))
            buf.clear()
            too_long = False
            start = match.end()
            pending_cr = match.group() == b"\r" and start == len(chunk)
        if not too_long:
            buf += chunk[start:]
            if len(buf) > limit:
                too_long = True
                buf.clear()
    if too_long:
        out.append(None)
    elif buf:
        out.append(bytes(buf))
    return out


@settings(max_examples=600)
@given(
    st.lists(
        st.lists(st.sampled_from([b"a", b"bc", b"\r", b"\n", b"\r\n", b"\x0b", b"\x85", b""])).map(
            b"".join
        ),
        max_size=8,
    ),
    st.integers(min_value=0, max_value=6),
)
def test_split_lines_by_chunk_matches_the_line_end_search(chunks: list[bytes], limit: int) -> None:
    """Lines and over-long lines come out as a search for each line end finds them, however
    the bytes are cut into chunks (a CRLF split between chunks, empty chunks, long lines)."""
    assert list(split_lines(chunks, limit)) == _regex_split_lines(chunks, limit)
