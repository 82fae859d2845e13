"""Fast paths of key loading give the same answers as the general code they shortcut."""

from __future__ import annotations

import gc
import hashlib
import hmac
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger import keys, keyshapes
from keyledger.cli.keys_input import frozen_heap
from keyledger.keyset import build_keyset
from keyledger.models import Kind
from keyledger.providers.registry import Registry, default_registry
from keyledger.providers.spec import KeyShape, Provider
from keyledger.sanitize import Redactor, finds_secret, pieces
from keyledger.secret import Fingerprinter
from keyledger.sources import QUOTE_CHARS, Entry, bad_key_char

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
    """is_placeholder's word prefilter never changes its answer."""
    assert keys.is_placeholder(value) == _slow_placeholder(value)


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
    """The one-shot HMAC gives the fingerprints already in ledgers: HMAC-SHA256, 16 hex."""
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
