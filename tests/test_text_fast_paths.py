"""Fast text forms of money, times and balances give exactly what the general forms give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

from keyledger.ledger.rows import money_text as ledger_money_text
from keyledger.ledger.rows import to_text
from keyledger.models import Balance, CheckResult, Key, Status
from keyledger.money import WIDE, plain_text
from keyledger.render.serialize import _time, balance_dict, result_dict
from keyledger.secret import Secret


def slow_plain_text(value: Decimal) -> str:
    """The general form of :func:`plain_text` (its code before the fast path)."""
    with localcontext(WIDE):
        if value == value.to_integral_value():
            return format(value.normalize(), "f")
        return format(value, "f")


def slow_time(value: datetime) -> str:
    """The general form of the JSON time text."""
    return value.isoformat().replace("+00:00", "Z")


def slow_to_text(value: datetime) -> str:
    """The general form of the ledger's time text."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.builds(
        lambda digits, exponent, negative: Decimal((negative, digits, exponent)),
        st.lists(st.integers(0, 9), min_size=1, max_size=110).map(tuple),
        st.integers(-40, 40),
        st.integers(0, 1),
    ),
)


@given(decimals)
def test_plain_text_fast_path_matches_the_general_form(value: Decimal) -> None:
    """Any finite Decimal (exponent, trailing zeros, -0, 110 digits) reads the same both ways."""
    assert plain_text(value) == slow_plain_text(value)


def test_plain_text_of_typical_money() -> None:
    """Typical amounts: integers lose ``.00``, fractions keep their written zeros."""
    cases = ["73", "73.00", "12.50", "-0.00", "500", "5E+2", "1E-7", "0.000001", "49.25"]
    got = [plain_text(Decimal(c)) for c in cases]
    assert got == ["73", "73", "12.50", "-0", "500", "500", "0.0000001", "0.000001", "49.25"]


times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 29), timezones=st.just(UTC)
)
offsets = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-23 * 60, 23 * 60)
)


@given(times)
def test_json_time_fast_path_matches_isoformat(value: datetime) -> None:
    """A UTC datetime (any year, with or without microseconds) reads as isoformat with Z."""
    assert _time(value) == slow_time(value)
    assert _time(value.replace(microsecond=0)) == slow_time(value.replace(microsecond=0))


@given(times, offsets)
def test_json_time_of_other_zones_is_unchanged(value: datetime, zone: timezone) -> None:
    """A datetime in another zone, or naive, keeps its general form."""
    moved = value.replace(tzinfo=None) + timedelta(days=1)
    assert _time(moved.replace(tzinfo=zone)) == slow_time(moved.replace(tzinfo=zone))
    assert _time(moved) == slow_time(moved)


@given(times)
def test_ledger_time_fast_path_matches_strftime(value: datetime) -> None:
    """The ledger's text of a UTC datetime is what strftime gives (any year)."""
    assert to_text(value) == slow_to_text(value)


@given(times, offsets)
def test_ledger_time_of_other_zones_is_unchanged(value: datetime, zone: timezone) -> None:
    """A datetime in another zone, or naive, is converted to UTC as before."""
    moved = value.replace(tzinfo=None) + timedelta(days=1)
    assert to_text(moved.replace(tzinfo=zone)) == slow_to_text(moved.replace(tzinfo=zone))
    assert to_text(moved) == slow_to_text(moved)


@given(decimals)
def test_ledger_money_text_matches_the_general_form(value: Decimal) -> None:
    """The ledger's money text is format(value, "f") for any finite Decimal."""
    assert ledger_money_text(value) == format(value, "f")


def _result(balance: Balance | None, balances: tuple[Balance, ...]) -> CheckResult:
    key = Key(Secret("sk-test-" + "q" * 30), "fp-one", "one")
    at = datetime(2026, 3, 1, tzinfo=UTC)
    return CheckResult(key, Status.OK, None, at, balance=balance, balances=balances)


def test_the_primary_balance_is_in_balances_however_the_result_was_built() -> None:
    """``balance`` appears in ``balances`` once, whether or not the result listed it there,
    and several currencies stay ordered by currency."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    usd = Balance("USD", "test", at, available=Decimal("5.00"))
    cny = Balance("CNY", "test", at, available=Decimal("7"))
    for balance, balances, currencies in (
        (usd, (usd,), ["USD"]),
        (usd, (), ["USD"]),
        (None, (cny,), ["CNY"]),
        (usd, (usd, cny), ["CNY", "USD"]),
        (usd, (cny,), ["CNY", "USD"]),
    ):
        data = result_dict(_result(balance, balances))
        assert [b["currency"] for b in data["balances"]] == currencies
        expected = None if balance is None else balance_dict(balance)
        assert data["balance"] == expected
        if balance is not None:
            assert data["balance"]["available"] == "5"
