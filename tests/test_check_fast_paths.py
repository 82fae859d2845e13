"""The check path's cheaper forms give exactly what the plain forms give."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from types import FrameType

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from keyledger.models import Grant
from keyledger.money import WIDE
from keyledger.providers.openai_session import parse_grants
from keyledger.providers.spec import CheckOptions
from keyledger.sanitize import Redactor
from keyledger.secret import public_prefix

_NOW = datetime(2026, 6, 1, tzinfo=UTC)
_MONEY = st.decimals(
    min_value=Decimal("-1e14"), max_value=Decimal("1e14"), allow_nan=False, places=None
).filter(lambda d: d.is_finite())
_MONEY_TEXT = st.one_of(
    st.decimals(min_value=0, max_value=Decimal("1e14"), places=2).map(str),
    st.sampled_from(["0", "0.00", "-0.00", "18.00", "99999999999999.999999999999", "1e-12"]),
)


@given(_MONEY, _MONEY)
@example(Decimal("5.00"), Decimal("5"))
@example(Decimal("-0"), Decimal("0"))
@example(Decimal("1"), Decimal("3"))
def test_grant_remaining_is_the_max_with_zero(amount: Decimal, used: Decimal) -> None:
    """A grant's remaining is what ``max(0, amount - used)`` gives: same value, same digits."""
    grant = Grant(amount=amount, used=used, effective_at=None, expires_at=None, expired=False)
    expected = max(Decimal(0), amount - used)
    assert repr(grant.remaining) == repr(expected)


@given(st.lists(st.tuples(_MONEY_TEXT, _MONEY_TEXT, st.booleans()), max_size=12))
def test_available_sums_unexpired_grants_exactly(items: list[tuple[str, str, bool]]) -> None:
    """``available`` is the WIDE-context sum of unexpired grants' remaining, to the digit."""
    data: dict[str, object] = {
        "total_granted": "1.00",
        "grants": {
            "data": [
                {
                    "grant_amount": amount,
                    "used_amount": used,
                    "expires_at": 1 if expired else 4_000_000_000,
                }
                for amount, used, expired in items
            ]
        },
    }
    balance = parse_grants(data, _NOW)
    assert balance is not None
    if not balance.grants:
        assert balance.available is None
        return
    with localcontext(WIDE):
        expected = sum((g.remaining for g in balance.grants if not g.expired), Decimal(0))
    assert repr(balance.available) == repr(expected)


@given(st.lists(st.text(max_size=30), max_size=4))
def test_redactor_keeps_non_empty_secrets_and_their_bodies(secrets: list[str]) -> None:
    """Empty strings are dropped and the rest kept in order, each body past its prefix."""
    redactor = Redactor(iter(secrets))  # any iterable, read once
    kept = tuple(s for s in secrets if s)
    assert redactor._secrets == kept
    assert redactor._bodies == tuple(s[len(public_prefix(s)) :] for s in kept)


def test_the_default_clock_runs_no_python_frame() -> None:
    """A check's default clock is ``datetime.now(UTC)`` itself: an aware UTC time, got
    without a Python function of keyledger's in between."""
    now = CheckOptions().now
    calls: list[str] = []

    def watch(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            calls.append(frame.f_code.co_name)

    before = datetime.now(UTC)
    sys.setprofile(watch)
    try:
        read = now()
    finally:
        sys.setprofile(None)
    assert calls == []
    assert read.tzinfo is UTC and before <= read <= datetime.now(UTC)


def test_available_is_summed_without_asking_each_grant(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_grants sums what is left on unexpired grants as it reads them: no grant's
    ``remaining`` is asked again (the sum is pinned to it by the test above)."""

    def refuse(grant: Grant) -> Decimal:
        raise AssertionError("remaining asked again")

    data: dict[str, object] = {
        "total_granted": "9.00",
        "total_used": "7.25",
        "total_available": "1.75",
        "grants": {
            "data": [
                {"grant_amount": "5.00", "used_amount": "1.25", "expires_at": 4_000_000_000},
                {"grant_amount": "4.00", "used_amount": "6.00", "expires_at": 4_000_000_000},
                {"grant_amount": "3.00", "expires_at": 1},
            ]
        },
    }
    with monkeypatch.context() as patched:
        patched.setattr(Grant, "remaining", property(refuse))
        balance = parse_grants(data, _NOW)
    assert balance is not None
    assert repr(balance.available) == repr(Decimal("3.75"))
    assert (balance.granted, balance.used, balance.reported_available) == (
        Decimal("9.00"),
        Decimal("7.25"),
        Decimal("1.75"),
    )
    assert [g.expired for g in balance.grants] == [False, False, True]
