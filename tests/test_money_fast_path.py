"""The fast paths of money and time parsing give exactly what the general paths give."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from keyledger import money

_DIGITS = st.text("0123456789", min_size=1, max_size=20)
_DECIMAL_TEXT = st.builds(
    lambda sign, whole, frac: sign + whole + frac,
    st.sampled_from(["", "-", "+"]),
    _DIGITS,
    st.one_of(st.just(""), st.builds(lambda d: "." + d, st.text("0123456789", max_size=16))),
)
_ANY_TEXT = st.one_of(_DECIMAL_TEXT, st.text(max_size=24), st.from_regex(r"\s*-?\d+(\.\d*)?\s*"))


def _outcome(value: object) -> tuple[str, str]:
    """The result as exact text (``str`` of a Decimal keeps its exponent), or the error."""
    try:
        return "ok", repr(money.parse_money(value))
    except money.MoneyError as exc:
        return "error", str(exc)


def _general(value: object) -> tuple[str, str]:
    try:
        return "ok", repr(money._parse_money(value))
    except money.MoneyError as exc:
        return "error", str(exc)


@given(_ANY_TEXT)
@example("18.00")
@example("-0.00")
@example("0")
@example("999999999999999")
@example("1000000000000000")
@example("1.123456789012")
@example("1.1234567890123")
@example("٣")
@example(" 5")
def test_parse_money_fast_path_matches_the_general_path(text: str) -> None:
    """Any string parses to the same Decimal (same digits and exponent) or the same error."""
    assert _outcome(text) == _general(text)


def test_fast_path_zero_is_a_plain_zero() -> None:
    """A zero written with places (``0.00``) is ``Decimal(0)``, as the general path returns."""
    assert repr(money.parse_money("0.00")) == repr(Decimal(0)) == repr(money._parse_money("0.00"))


@given(st.one_of(st.integers(), st.integers(-(2**70), 2**70)))
@example(0)
@example(1790893189)
@example(10**15 - 1)
@example(10**15)
@example(253402300800)
def test_from_unix_fast_path_matches_the_general_path(seconds: int) -> None:
    """Any int gives the same datetime (or ``None``) through either path."""
    fast: datetime | None = money.from_unix(seconds)
    assert fast == money._from_unix(seconds)


@given(_ANY_TEXT)
@example("18.00")
@example("-0.00")
def test_money_read_again_is_what_the_general_path_gives(text: str) -> None:
    """A string read a second time (from the cache of read values) matches the general path."""
    first = _outcome(text)
    assert _outcome(text) == first == _general(text)


def test_read_values_are_shared_and_bounded() -> None:
    """The same amount text gives the same Decimal object; the cache never exceeds its size."""
    assert money.parse_money("18.00") is money.parse_money("18.00")
    for cents in range(money.READ_CACHE_SIZE + 5):
        money.parse_money(f"{cents}.01")
    assert len(money._READ) <= money.READ_CACHE_SIZE
