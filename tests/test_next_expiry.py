"""A balance's next expiry: the nearest expiry of an unexpired grant with money left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from keyledger.models import Balance, Grant

_AT = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]),
)
_MONEY = st.decimals(min_value=-10, max_value=10, places=2, allow_nan=False)
_GRANT = st.builds(
    Grant,
    amount=_MONEY,
    used=_MONEY,
    effective_at=st.none() | _AT,
    expires_at=st.none() | _AT,
    expired=st.booleans(),
)


def _by_remaining(balance: Balance) -> datetime | None:
    """The rule as stated: grants not expired, with an expiry and a positive remainder."""
    dates = [g.expires_at for g in balance.grants if not g.expired and g.expires_at and g.remaining]
    if balance.expires_at is not None:
        dates.append(balance.expires_at)
    return min(dates) if dates else None


@given(grants=st.lists(_GRANT, max_size=5), own=st.none() | _AT)
def test_the_next_expiry_is_the_nearest_of_grants_with_money_left(
    grants: list[Grant], own: datetime | None
) -> None:
    """The same object as the rule written with Grant.remaining (a tie keeps the first)."""
    read = datetime(2026, 1, 1, tzinfo=UTC)
    balance = Balance("USD", "/grants", read, grants=tuple(grants), expires_at=own)
    assert balance.next_expiry is _by_remaining(balance)


def test_a_spent_grant_does_not_count() -> None:
    """A grant with nothing left (used up or overdrawn) has no say in the next expiry."""
    soon = datetime(2026, 2, 1, tzinfo=UTC)
    later = soon + timedelta(days=9)
    grants = (
        Grant(Decimal("5"), Decimal("5"), None, soon, False),
        Grant(Decimal("5"), Decimal("6"), None, soon, False),
        Grant(Decimal("5"), Decimal("4.99"), None, later, False),
    )
    assert Balance("USD", "/grants", soon, grants=grants).next_expiry is later
