"""Cleaning remote text through the cache gives what the redactor itself gives, key by key."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keyledger import keyshapes, sanitize
from keyledger.sanitize import REDACTED, Redactor, clean_message
from keyledger.secret import Secret

_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_KEYS = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["sess-", "sk-proj-", "", "gsk_"]),
    st.text(_KEY_CHARS, min_size=12, max_size=40),
)


def _reference(text: str, redactor: Redactor, limit: int) -> str:
    """The general path: the redactor on the bounded text, then neutralised and bounded."""
    return sanitize._finish(redactor(text[: limit * 4]), limit)


@st.composite
def _texts(draw: st.DrawFn, key: str) -> str:
    """Remote text that may quote the key, a window of it, with invisible characters."""
    parts = draw(
        st.lists(
            st.one_of(
                st.text(max_size=20),
                st.just(key),
                st.integers(0, max(0, len(key) - 8)).map(lambda i: key[i : i + 9]),
                st.sampled_from(["/dashboard/billing/credit_grants", "org-170c404bd4", "\u200b"]),
            ),
            max_size=5,
        )
    )
    return "".join(parts)


@settings(max_examples=300)
@given(st.data(), _KEYS, _KEYS, st.sampled_from([32, 64, 96, 240]))
@example(None, "sess-AAAAbbbbCCCCdddd1234", "sess-ZZZZyyyyXXXXwwww9876", 64)
def test_cached_cleaning_matches_the_redactor(
    data: st.DataObject | None, first: str, second: str, limit: int
) -> None:
    """The same text cleaned for two keys in turn gives, for each, the general path's answer."""
    text = data.draw(_texts(first)) if data is not None else f"echo {first} tail"
    for key in (first, second, first):
        redactor = Redactor((key,))
        assert clean_message(text, redactor, limit) == _reference(text, redactor, limit)


def test_text_holding_a_key_is_not_served_from_another_keys_cache() -> None:
    """A text cached as clean for one key is still redacted for the key it quotes."""
    quoted = "sess-QuotedKey1234567890abcd"
    text = "id Key1234567890abcd"  # a window of the quoted key's body, no key shape
    other = Redactor(("sess-SomeoneElse0987654321zz",))
    assert clean_message(text, other, 64) == text
    assert "Key12345" not in clean_message(text, Redactor((quoted,)), 64)


def test_cache_follows_new_key_prefixes() -> None:
    """A prefix registered after a text was cached is redacted on the next clean."""
    text = "token zzqx-abcdefghijklmnop"
    redactor = Redactor(("sess-Unrelated1234567890",))
    before = clean_message(text, redactor, 64)
    saved = keyshapes.prefixes()
    keyshapes.register_prefixes(["zzqx-"])
    try:
        after = clean_message(text, redactor, 64)
    finally:
        keyshapes._prefixes = saved
        keyshapes._compiled.clear()
    assert (before, after) == (text, "token [REDACTED]")


@settings(max_examples=300, deadline=None)
@given(st.data(), _KEYS)
def test_a_redactor_misses_a_text_without_its_set_exactly_when_it_finds_nothing(
    data: st.DataObject, key: str
) -> None:
    """Looking a short text's windows up in the key body agrees with the key's window set."""
    text = data.draw(_texts(key))
    visible = sanitize.INVISIBLE.sub("", text)
    windows = sanitize.text_windows(visible)
    lazy = Redactor([key]).misses(visible, windows)  # no window set built yet
    built = Redactor([key])
    assert built.windows is not None  # the set path
    assert lazy == built.misses(visible, windows) == (not built.finds(visible))


@settings(max_examples=400, deadline=None)
@given(st.data(), _KEYS)
@example(None, "sess-AAAAd8e2c0a2-0000-4c3fZZZZ")
def test_looking_blocks_up_first_gives_the_same_answer(
    data: st.DataObject | None, key: str
) -> None:
    """A redactor asked with the text's blocks misses exactly when it misses without them."""
    # the example: a UUID-shaped text sharing 8 characters with the key's body
    text = "d8e2c0a2-0000-4c3f-9d10-5c6b0f0e0000" if data is None else data.draw(_texts(key))
    visible = sanitize.INVISIBLE.sub("", text)
    windows = sanitize.text_windows(visible)
    blocks = sanitize.text_blocks(visible)
    with_blocks = Redactor([key]).misses(visible, windows, blocks)
    assert (
        with_blocks
        == Redactor([key]).misses(visible, windows)
        == (not Redactor([key]).finds(visible))
    )


_TOKEN_CHARS = _KEY_CHARS + "_.-"


@settings(max_examples=300, deadline=None)
@given(st.text(_TOKEN_CHARS, min_size=1, max_size=120), _KEYS, st.sampled_from([8, 16, 96]))
@example("org-170c404bd4", "sess-AAAAbbbbCCCCdddd1234", 96)
@example("sk-proj-" + "a1B2" * 6, "sess-AAAAbbbbCCCCdddd1234", 16)
def test_a_text_of_key_characters_is_cleaned_as_the_general_path_cleans_it(
    text: str, key: str, limit: int
) -> None:
    """A text made only of key characters (the shortcut) comes out as the general path gives."""
    sanitize._CLEAN_CACHE.clear()
    redactor = Redactor((key,))
    assert clean_message(text, redactor, limit) == _reference(text, redactor, limit)
    assert clean_message(text, redactor, limit) == _reference(text, redactor, limit)  # cached


def test_a_cached_text_is_answered_without_asking_for_the_key_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A text cleaned before is served from the cache without recompiling or looking up the
    key-shape pattern, and a prefix registered since still empties the cache."""
    text = "d8e2c0a2-0000-4c3f-9d10-5c6b0f0e0000"
    redactor = Redactor(("sess-Unrelated1234567890",))
    sanitize._SEEN_ONCE.clear()
    clean_message(text, redactor, 64)  # an id seen once is not cached
    first = clean_message(text, redactor, 64)  # seen again: cached

    def refuse() -> re.Pattern[str]:
        raise AssertionError("the cache hit asked for the key pattern")

    with monkeypatch.context() as patched:
        patched.setattr(keyshapes, "key_pattern", refuse)
        again = clean_message(text, redactor, 64)
    assert again == first == _reference(text, redactor, 64)
    saved = keyshapes.prefixes()
    keyshapes.register_prefixes(["d8e2c0a2-"])
    try:
        assert clean_message(text, redactor, 64) == "[REDACTED]"
    finally:
        keyshapes._prefixes = saved
        keyshapes._compiled.clear()


@pytest.mark.parametrize(
    ("key", "redacted"),
    [
        ("sess-XXd8e2YYYYYYYYYYYYYYYY", False),  # one block of the id in the body, no window
        ("sess-XXd8e2c0a2-0001YYYYYYY", True),  # a window of the id in the body
        ("sess-ZZZZZZZZZZZZZZZZZZZZZZ", False),  # nothing of the id
    ],
)
def test_a_cached_long_id_is_served_for_one_key_only_when_no_window_of_it_is_in_the_key(
    key: str, redacted: bool
) -> None:
    """A cached grant id (looked up by blocks, then windows) is cut exactly for a key holding
    a window of it, as the general path cuts it."""
    text = "d8e2c0a2-0001-4c3f-9d10-5c6b0f0e0001"
    for _ in range(2):  # seen once, then seen again: cached as clean
        clean_message(text, Redactor(("sess-Unrelated1234567890",)), 64)
    redactor = Redactor.of(Secret(key))
    found = clean_message(text, redactor, 64)
    assert found == _reference(text, redactor, 64)
    assert (found != text) is redacted


_SAFE_CHARS = _KEY_CHARS + "_-"


@st.composite
def _ids(draw: st.DrawFn, key: str) -> str:
    """An id of key characters (an organization) that may quote the key or a piece of it."""
    parts = draw(
        st.lists(
            st.one_of(
                st.text(_SAFE_CHARS, max_size=12),
                st.just(key),
                st.tuples(st.integers(0, len(key)), st.integers(4, 12)).map(
                    lambda cut: key[cut[0] : cut[0] + cut[1]]
                ),
                st.sampled_from(["org-", "sk-proj-", "sess-", "gsk_", "0000", "-"]),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return "".join(parts)


@settings(max_examples=500, deadline=None)
@given(st.data(), _KEYS, st.sampled_from([8, 16, 32, 64, 96]))
@example(None, "sess-AAAAbbbbCCCCdddd1234", 96)
def test_an_id_seen_for_the_first_time_is_cleaned_as_the_general_path_cleans_it(
    data: st.DataObject | None, key: str, limit: int
) -> None:
    """A new id of key characters (not cached) comes out as the general path gives, for any
    key, and so it does when seen again (cached) and again (from the cache)."""
    text = "org-" + key[7:16] if data is None else data.draw(_ids(key))
    sanitize._SEEN_ONCE.clear()
    sanitize._CLEAN_CACHE.clear()
    for redactor in (Redactor((key,)), Redactor.of(Secret(key))):
        for _ in range(3):
            assert clean_message(text, redactor, limit) == _reference(text, redactor, limit)
        sanitize._SEEN_ONCE.clear()
        sanitize._CLEAN_CACHE.clear()


@pytest.mark.parametrize("start", range(10))
def test_a_piece_of_the_key_in_a_new_organization_is_redacted(start: int) -> None:
    """An organization id quoting any 8 characters of the key's body, at any offset from the
    id's start, or the whole key, is redacted the first time it is seen."""
    key = "sess-KLSIM__grants__000007x7Rq2LmZ9vK3pT8w6tQc"
    body = key[5:]
    redactor = Redactor.of(Secret(key))
    for org in (f"org-{'a' * start}{body[start : start + 8]}", f"org-{'b' * start}{key}"):
        sanitize._SEEN_ONCE.clear()
        sanitize._CLEAN_CACHE.clear()
        cleaned = clean_message(org, redactor, 96)
        assert cleaned == _reference(org, redactor, 96)
        assert body[start : start + 8] not in cleaned
        assert REDACTED in cleaned


def test_an_id_seen_once_is_not_cached() -> None:
    """A new organization (one per key) does not enter the cache; seen again, it does."""
    sanitize._SEEN_ONCE.clear()
    sanitize._CLEAN_CACHE.clear()
    redactor = Redactor.of(Secret("sess-KLSIM__grants__000007x7Rq2LmZ9vK3pT8w6tQc"))
    assert clean_message("org-170c404bd4", redactor, 96) == "org-170c404bd4"
    assert ("org-170c404bd4", 96) not in sanitize._CLEAN_CACHE
    assert clean_message("org-170c404bd4", redactor, 96) == "org-170c404bd4"
    assert ("org-170c404bd4", 96) in sanitize._CLEAN_CACHE


class _Counted(str):
    """A key body that records what is looked up in it."""

    asked: list[str]

    def __contains__(self, piece: object) -> bool:
        self.asked.append(str(piece))
        return super().__contains__(piece)  # type: ignore[operator]


def test_a_found_block_looks_up_only_the_windows_covering_it() -> None:
    """When one block of a cached UUID is in the key's body, only the windows covering that
    block are looked up, not all 29 windows of the UUID (and the answer stays the same)."""
    text = "d8e2c0a2-0000-4c3f-9d10-5c6b0f0e0000"
    key = "sess-KLSIM__grants__000007x7Rq2LmZ9vK3pT8w6tQc"  # its body holds "0000"
    sanitize._SEEN_ONCE.clear()
    sanitize._CLEAN_CACHE.clear()
    for _ in range(2):  # seen once, then seen again: cached
        clean_message(text, Redactor(("sess-Unrelated123456789",)), 64)
    _, windows, blocks, _ = sanitize._CLEAN_CACHE[(text, 64)]
    assert blocks is not None
    body = _Counted(key[5:])
    body.asked = []
    redactor = Redactor.of(Secret(key))
    redactor._bodies = (body,)
    assert redactor.misses(text, windows, blocks)
    looked_up_windows = [piece for piece in body.asked if len(piece) == sanitize.WINDOW]
    assert looked_up_windows == ["0f0e0000"]  # the one window covering the last "0000"
    body.asked = []
    assert clean_message(text, redactor, 64) == text == _reference(text, redactor, 64)
    assert [piece for piece in body.asked if len(piece) == sanitize.WINDOW] == ["0f0e0000"]
