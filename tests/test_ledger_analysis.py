"""Pure ledger arithmetic: burn rate, runway, changes, expiry warnings, sparklines, pool order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from keyledger.ledger.analysis import (
    BalancePoint,
    Basis,
    Change,
    burn_from_balances,
    burn_from_spend,
    burn_rate,
    days_between,
    expiry_warnings,
    runway_days,
    sparkline,
    spent_across,
)
from keyledger.ledger.pool import select_pool
from keyledger.ledger.rows import GrantRow, ResultRow
from keyledger.models import Key, Kind
from keyledger.secret import Secret

T0 = datetime(2026, 3, 1, tzinfo=UTC)
D = Decimal


def row(n: int, at: datetime, available: str | None, **extra: Any) -> ResultRow:
    """A ledger row for key ``fp`` with ``available`` (USD) at ``at``."""
    fields: dict[str, Any] = {
        "id": n,
        "run_id": n,
        "fingerprint": extra.pop("fingerprint", "fp"),
        "masked": "sk-…abcd",
        "provider": "openai",
        "kind": "session",
        "label": extra.pop("label", "acct"),
        "base_url": None,
        "checked_at": at,
        "status": extra.pop("status", "ok"),
        "reason": None,
        "currency": "USD" if available is not None else None,
        "available": None if available is None else D(available),
    }
    fields.update(extra)
    return ResultRow(**fields)


def test_days_between_is_exact_to_the_microsecond() -> None:
    """A span converts to days exactly, with no float rounding."""
    assert days_between(T0, T0 + timedelta(days=2, hours=12)) == D("2.5")
    assert days_between(T0, T0 + timedelta(microseconds=864)) == D("0.00000001")


def test_burn_from_a_steady_series_is_exact() -> None:
    """100 → 90 → 80 → 70 over three days burns exactly 10 per day."""
    points = [BalancePoint(T0 + timedelta(days=i), D(100 - 10 * i)) for i in range(4)]
    burn = burn_from_balances(points, "USD")
    assert burn is not None
    assert (burn.per_day, burn.spent, burn.days, burn.basis) == (D(10), D(30), D(3), Basis.BALANCE)


def test_burn_ignores_top_ups() -> None:
    """A top-up is not negative spend: only drops count (10 + 5 over 2 days = 7.5/day)."""
    points = [
        BalancePoint(T0, D("50.00")),
        BalancePoint(T0 + timedelta(days=1), D("40.00")),  # spent 10
        BalancePoint(T0 + timedelta(days=1, hours=1), D("140.00")),  # topped up 100
        BalancePoint(T0 + timedelta(days=2), D("135.00")),  # spent 5
    ]
    assert spent_across(points) == D("15.00")
    burn = burn_from_balances(points, "USD")
    assert burn is not None and burn.per_day == D("7.5")


def test_burn_with_cents_keeps_exact_decimal_digits() -> None:
    """Cents stay exact: 0.30 spent over half a day is 0.6 per day, not 0.5999…"""
    points = [BalancePoint(T0, D("0.30")), BalancePoint(T0 + timedelta(hours=12), D("0.00"))]
    burn = burn_from_balances(points, "USD")
    assert burn is not None and burn.per_day == D("0.6")


@pytest.mark.parametrize(
    "points",
    [[], [BalancePoint(T0, D(5))], [BalancePoint(T0, D(5)), BalancePoint(T0, D(4))]],
)
def test_burn_needs_two_readings_apart_in_time(points: list[BalancePoint]) -> None:
    """With fewer than two readings, or none apart in time, there is no burn rate."""
    assert burn_from_balances(points, "USD") is None


def test_burn_from_spend_over_its_period() -> None:
    """31.00 spent in the first 10 days of a month is 3.1 per day."""
    burn = burn_from_spend(D("31.00"), T0, T0 + timedelta(days=10), "USD")
    assert burn is not None and burn.per_day == D("3.1") and burn.basis is Basis.SPEND
    assert burn_from_spend(D(1), T0, T0, "USD") is None


def test_runway_is_available_over_burn() -> None:
    """70 left at 10 per day is exactly 7 days; 0 left is 0 days; no spending is no runway."""
    burn = burn_from_balances(
        [BalancePoint(T0, D(80)), BalancePoint(T0 + timedelta(days=1), D(70))], "USD"
    )
    assert runway_days(D(70), burn) == D(7)
    assert runway_days(D("2.5"), burn) == D("0.25")
    assert runway_days(D(0), burn) == D(0)
    assert runway_days(D("-1"), burn) == D(0)
    flat = burn_from_balances(
        [BalancePoint(T0, D(5)), BalancePoint(T0 + timedelta(days=1), D(5))], "USD"
    )
    assert flat is not None and flat.per_day == 0
    assert runway_days(D(5), flat) is None
    assert runway_days(None, burn) is None
    assert runway_days(D(5), None) is None


def test_burn_rate_of_rows_prefers_balances_and_skips_missing_values() -> None:
    """Rows with a missing balance are skipped, never read as 0."""
    rows = [
        row(1, T0, "30"),
        row(2, T0 + timedelta(days=1), None),
        row(3, T0 + timedelta(days=2), "20"),
    ]
    burn = burn_rate(rows)
    assert burn is not None and burn.per_day == D(5)


def test_burn_rate_of_admin_rows_comes_from_spend() -> None:
    """A key with spend but no balance burns its spend over the spend period."""
    admin = row(
        1,
        T0 + timedelta(days=4),
        None,
        spend=D("12.00"),
        spend_currency="USD",
        spend_start=T0,
        spend_end=T0 + timedelta(days=4),
    )
    burn = burn_rate([admin])
    assert burn is not None and burn.per_day == D(3) and burn.basis is Basis.SPEND


def test_change_reports_status_and_balance_delta() -> None:
    """The change since last time: a new status and the exact balance delta."""
    before = row(1, T0, "10.50", status="ok")
    after = row(2, T0 + timedelta(days=1), "0.25", status="no_quota")
    change = Change(after, before)
    assert change.status_changed and change.balance_delta == D("-10.25") and change.changed
    assert Change(after, None).is_new
    same = Change(row(3, T0, "1"), row(2, T0, "1"))
    assert not same.changed and same.balance_delta == 0


def test_change_has_no_delta_across_currencies_or_missing_values() -> None:
    """No delta when either balance is missing or the currency changed."""
    assert Change(row(2, T0, "5"), row(1, T0, None)).balance_delta is None
    assert Change(row(2, T0, "5", currency="CNY"), row(1, T0, "5")).balance_delta is None


def test_expiry_warnings_within_the_window_only() -> None:
    """Grants with money left that expire within warn-days are warned about, soonest first."""
    now = T0
    current = row(7, now, "32.60", label="trial", balance_expires_at=now + timedelta(days=5))
    grants = {
        7: [
            GrantRow(7, "soon", D(120), D("87.40"), None, now + timedelta(days=3), False),
            GrantRow(7, "later", D(50), D(0), None, now + timedelta(days=30), False),
            GrantRow(7, "spent", D(10), D(10), None, now + timedelta(days=1), False),
            GrantRow(7, "gone", D(10), D(1), None, now - timedelta(days=1), True),
        ]
    }
    warnings = expiry_warnings([current], grants, now=now, warn_days=7)
    assert [(w.what, w.grant_id, w.left) for w in warnings] == [
        ("grant", "soon", D("32.60")),
        ("balance", None, D("32.60")),
    ]
    assert warnings[0].days_left(now) == 3
    assert expiry_warnings([current], grants, now=now, warn_days=2) == []


def test_sparkline_scales_between_min_and_max() -> None:
    """Lowest value is the lowest bar, highest the highest, a gap for a missing value."""
    assert sparkline([D(0), D(7), None, D("3.5")]) == "▁█ ▄"
    assert sparkline([D(5), D(5)]) == "▄▄"
    assert sparkline([]) == "" and sparkline([None]) == ""


def _key(label: str, fp: str) -> Key:
    return Key(secret=Secret(f"sk-proj-{label}-0123456789abcdefghij"), fingerprint=fp, label=label)


def test_pool_keeps_usable_keys_best_first() -> None:
    """ok keys only, most known money first; unknown money (an uncapped relay token too) comes
    last and fails --min-available."""
    keys = [_key(n, f"fp{n}") for n in ("low", "high", "dead", "unknown", "uncapped", "new")]
    latest = {
        "fplow": row(1, T0, "2", fingerprint="fplow"),
        "fphigh": row(2, T0, "90", fingerprint="fphigh"),
        "fpdead": row(3, T0, "50", fingerprint="fpdead", status="deactivated"),
        "fpunknown": row(4, T0, None, fingerprint="fpunknown"),
        "fpuncapped": row(
            5, T0, None, fingerprint="fpuncapped", token_uncapped=True, currency="USD"
        ),
    }
    chosen = select_pool(keys, latest)
    assert [e.key.label for e in chosen.entries] == ["high", "low", "uncapped", "unknown"]
    assert (chosen.never_checked, chosen.excluded) == (1, 1)
    rich = select_pool(keys, latest, min_available=D(5))
    assert [e.key.label for e in rich.entries] == ["high"]
    both = select_pool(keys, latest, statuses=("ok", "deactivated"), min_available=D(5))
    assert [e.key.label for e in both.entries] == ["high", "dead"]


def test_an_expiring_grant_is_not_spend() -> None:
    """A grant lapsing lowers available but not usage: burn counts only what was used."""
    points = [
        BalancePoint(T0, D("68.00"), used=D("10.00")),
        BalancePoint(T0 + timedelta(days=1), D("48.00"), used=D("12.00")),  # $18 grant expired
        BalancePoint(T0 + timedelta(days=2), D("45.00"), used=D("15.00")),
    ]

    assert spent_across(points) == D("5.00")


def test_pool_leaves_out_admin_spent_and_expired_keys() -> None:
    """Admin keys cannot call models; spent or expired balances are not usable either."""
    admin = Key(
        secret=Secret("sk-admin-0123456789abcdefghijklmn"),
        fingerprint="fpadmin",
        label="admin",
        kind=Kind.ADMIN,
    )
    keys = [admin, _key("empty", "fpempty"), _key("lapsed", "fplapsed"), _key("good", "fpgood")]
    latest = {
        "fpadmin": row(1, T0, None, fingerprint="fpadmin"),
        "fpempty": row(2, T0, "0.00", fingerprint="fpempty"),
        "fplapsed": row(
            3, T0, "5", fingerprint="fplapsed", balance_expires_at=T0 - timedelta(days=1)
        ),
        "fpgood": row(4, T0, "5", fingerprint="fpgood", balance_expires_at=T0 + timedelta(days=9)),
    }

    chosen = select_pool(keys, latest, now=T0)

    assert [e.key.label for e in chosen.entries] == ["good"]
    assert chosen.excluded == 3
