"""A grant's part of a balance object is worked out once per grant value and reused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from keyledger.models import Balance, Grant
from keyledger.money import plain_text
from keyledger.render import serialize
from keyledger.render.serialize import _time, _time_for_orjson, balance_dict

_NOW = datetime(2026, 12, 1, tzinfo=UTC)
_AMOUNTS = st.sampled_from(["0", "5", "5.00", "12.5", "12.50", "0.001", "1E+2", "-3", "49.25"])
_TIMES = st.one_of(
    st.none(),
    st.integers(-400, 400).map(lambda days: _NOW + timedelta(days=days)),
)
_GRANTS = st.builds(
    Grant,
    _AMOUNTS.map(Decimal),
    _AMOUNTS.map(Decimal),
    _TIMES,
    _TIMES,
    st.booleans(),
    st.one_of(st.none(), st.text(max_size=12)),
)


def _reference(balance: Balance) -> dict[str, object]:
    """The grants and next expiry as Grant and Balance themselves answer them."""
    return {
        "grants": [
            {
                "id": g.grant_id,
                "amount": plain_text(g.amount),
                "used": plain_text(g.used),
                "remaining": plain_text(g.remaining),
                "effective_at": _time(g.effective_at),
                "expires_at": _time(g.expires_at),
                "expired": g.expired,
            }
            for g in balance.grants
        ],
        "next_expiry": _time(balance.next_expiry),
    }


@given(st.lists(_GRANTS, max_size=4), st.integers(0, 3))
def test_shared_grants_give_what_each_grant_gives(grants: list[Grant], repeats: int) -> None:
    """The same grant values written for many balances give the grants of each one's own."""
    for _ in range(repeats + 1):  # the first time fills the memo, the next ones read it
        balance = Balance("USD", "s", _NOW, grants=tuple(grants))
        found = balance_dict(balance)
        assert found is not None
        assert {"grants": found["grants"], "next_expiry": found["next_expiry"]} == _reference(
            balance
        )
        as_is = balance_dict(balance, _time_for_orjson)
        assert as_is is not None
        assert [g["amount"] for g in as_is["grants"]] == [g["amount"] for g in found["grants"]]


def test_a_kept_entry_of_another_grant_is_not_used() -> None:
    """A memo entry filed under a grant's identity but made for another grant is ignored."""
    grant = Grant(Decimal("12.50"), Decimal("1"), None, _NOW, False, "g-1")
    other = Grant(Decimal("99"), Decimal("0"), None, None, True, "g-2")
    serialize._GRANT_PARTS[(id(grant), True)] = serialize._grant_parts(other, _time)
    found = balance_dict(Balance("USD", "s", _NOW, grants=(grant,)))
    assert found is not None
    assert found["grants"][0]["amount"] == "12.50"
    assert found["grants"][0]["id"] == "g-1"
    assert found["next_expiry"] == _time(_NOW)
