"""Pure arithmetic over ledger rows: changes, burn rate, runway, expiring grants, sparklines.

Everything is ``Decimal`` and exact (time spans are counted in whole microseconds), so a
known series gives a known answer. Missing money stays ``None``: a key whose balance could
not be read has no burn rate and no runway rather than a made-up ``0``.

- **Burn rate** (money per day) comes from successive balances: the sum of every *drop* in
  ``available`` between consecutive checks (a top-up is not negative spend) divided by the
  days between the first and the last check. Keys with no balance but a spend reading
  (admin keys) use the spend over its period instead.
- **Runway** is ``available / burn rate`` in days; ``0`` once nothing is left, ``None``
  when nothing is being spent (or nothing is known).
- **Per currency:** a key with balances in several currencies (DeepSeek's CNY and USD) gets a
  burn rate and a runway for each currency (:func:`burn_rates`, :func:`runways`), each from
  that currency's readings alone; amounts in different currencies are never added.
  :func:`burn_rate` is the headline figure: the primary balance's currency, else the spend.
  A relay token without a cap has no known balance, so no runway.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from keyledger.ledger.rows import GrantRow, ResultRow

SPARK_BARS = "▁▂▃▄▅▆▇█"
MICROS_PER_DAY = 86_400 * 1_000_000


def days_between(start: datetime, end: datetime) -> Decimal:
    """``end - start`` in days, exact (to the microsecond)."""
    delta = end - start
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / Decimal(MICROS_PER_DAY)


class Basis(enum.StrEnum):
    """Where a burn rate was computed from."""

    BALANCE = "balance"
    SPEND = "spend"


@dataclass(frozen=True, slots=True)
class BalancePoint:
    """One reading of the money left on an account."""

    at: datetime
    available: Decimal
    used: Decimal | None = None  # cumulative usage, when the provider reports it


@dataclass(frozen=True, slots=True)
class BurnRate:
    """Money spent per day, and what it was computed from."""

    per_day: Decimal
    currency: str
    basis: Basis
    spent: Decimal
    days: Decimal


def spent_across(points: Sequence[BalancePoint]) -> Decimal:
    """Money spent between consecutive points.

    Where both readings carry cumulative usage, spend is its growth: a credit grant that
    expires lowers ``available`` without anything being spent. Otherwise spend is the drop
    in ``available`` (top-ups ignored).
    """
    spent = Decimal(0)
    for before, after in itertools.pairwise(points):
        if before.used is not None and after.used is not None:
            if after.used > before.used:
                spent += after.used - before.used
        elif after.available < before.available:
            spent += before.available - after.available
    return spent


def burn_from_balances(points: Sequence[BalancePoint], currency: str) -> BurnRate | None:
    """Burn rate from successive balances (oldest first); ``None`` with under two readings
    or no time between them."""
    ordered = sorted(points, key=lambda p: p.at)
    if len(ordered) < 2:
        return None
    days = days_between(ordered[0].at, ordered[-1].at)
    if days <= 0:
        return None
    spent = spent_across(ordered)
    return BurnRate(spent / days, currency, Basis.BALANCE, spent, days)


def burn_from_spend(
    amount: Decimal, start: datetime, end: datetime, currency: str
) -> BurnRate | None:
    """Burn rate from money spent over ``[start, end]``; ``None`` for an empty period."""
    days = days_between(start, end)
    if days <= 0:
        return None
    return BurnRate(amount / days, currency, Basis.SPEND, amount, days)


def runway_days(available: Decimal | None, burn: BurnRate | None) -> Decimal | None:
    """Days until ``available`` reaches 0 at ``burn``; ``None`` when it never does (or is
    unknown), ``0`` when nothing is left."""
    if available is None or burn is None:
        return None
    if available <= 0:
        return Decimal(0)
    if burn.per_day <= 0:
        return None
    return available / burn.per_day


def balance_points(rows: Iterable[ResultRow], currency: str) -> list[BalancePoint]:
    """Known balances in ``currency`` among ``rows`` (any of their balances), oldest first."""
    points: list[BalancePoint] = []
    for row in rows:
        balance = row.balance_in(currency)
        if balance is not None and balance.known:
            assert balance.available is not None
            points.append(BalancePoint(row.checked_at, balance.available, balance.used))
    return sorted(points, key=lambda p: p.at)


def _latest(rows: Sequence[ResultRow]) -> ResultRow:
    return max(rows, key=lambda r: (r.checked_at, r.id))


def burn_rates(rows: Sequence[ResultRow]) -> dict[str, BurnRate]:
    """A key's burn rate in each currency its latest check holds a known balance in."""
    if not rows:
        return {}
    out: dict[str, BurnRate] = {}
    for balance in _latest(rows).balances:
        if balance.known:
            burn = burn_from_balances(balance_points(rows, balance.currency), balance.currency)
            if burn is not None:
                out[balance.currency] = burn
    return out


def runways(row: ResultRow, burns: Mapping[str, BurnRate]) -> dict[str, Decimal]:
    """Days left in each currency of ``row`` at that currency's burn rate (known ones only)."""
    out: dict[str, Decimal] = {}
    for balance in row.balances:
        days = runway_days(balance.available, burns.get(balance.currency))
        if balance.known and days is not None:
            out[balance.currency] = days
    return out


def burn_rate(rows: Sequence[ResultRow]) -> BurnRate | None:
    """A key's headline burn rate from its rows (any order): its primary balance's currency
    first, else its latest spend."""
    if not rows:
        return None
    latest = _latest(rows)
    primary = latest.balance_in(latest.currency) if latest.currency is not None else None
    if primary is not None and primary.known:
        from_balances = burn_from_balances(balance_points(rows, primary.currency), primary.currency)
        if from_balances is not None:
            return from_balances
    with_spend = [r for r in rows if r.spend is not None and r.spend_start and r.spend_end]
    if with_spend:
        last = max(with_spend, key=lambda r: (r.checked_at, r.id))
        assert last.spend is not None and last.spend_start and last.spend_end
        return burn_from_spend(
            last.spend, last.spend_start, last.spend_end, last.spend_currency or ""
        )
    return None


@dataclass(frozen=True, slots=True)
class Change:
    """How a key's latest result differs from its previous one."""

    current: ResultRow
    previous: ResultRow | None

    @property
    def is_new(self) -> bool:
        """The key had never been recorded before."""
        return self.previous is None

    @property
    def status_changed(self) -> bool:
        """The status differs from last time."""
        return self.previous is not None and self.previous.status != self.current.status

    @property
    def balance_delta(self) -> Decimal | None:
        """``available`` of the primary balance now minus before in that same currency (both
        known), else ``None``."""
        before, now = self.previous, self.current
        if before is None or now.currency is None or now.available is None:
            return None
        earlier = before.balance_in(now.currency)
        if earlier is None or not earlier.known or now.token_uncapped:
            return None
        assert earlier.available is not None
        return now.available - earlier.available

    @property
    def spend_delta(self) -> Decimal | None:
        """Spend now minus before, within the same spend period, else ``None``."""
        before, now = self.previous, self.current
        if before is None or before.spend is None or now.spend is None:
            return None
        if before.spend_start != now.spend_start or before.spend_currency != now.spend_currency:
            return None
        return now.spend - before.spend

    @property
    def changed(self) -> bool:
        """Anything worth reporting: new, another status, or money moved."""
        return (
            self.is_new or self.status_changed or bool(self.balance_delta) or bool(self.spend_delta)
        )


@dataclass(frozen=True, slots=True)
class ExpiryWarning:
    """Money that lapses soon: a credit grant, or a whole balance (a relay token)."""

    label: str
    fingerprint: str
    what: str  # "grant" or "balance"
    expires_at: datetime
    left: Decimal | None
    currency: str | None
    grant_id: str | None = None

    def days_left(self, now: datetime) -> int:
        """Whole days until expiry (0 when under a day)."""
        return max(0, (self.expires_at - now).days)


def expiry_warnings(
    rows: Iterable[ResultRow],
    grants: Mapping[int, Sequence[GrantRow]],
    *,
    now: datetime,
    warn_days: int,
) -> list[ExpiryWarning]:
    """Grants (with money left) and balances that expire within ``warn_days``, soonest first."""
    horizon = now + timedelta(days=warn_days)
    found: list[ExpiryWarning] = []
    for row in rows:
        for grant in grants.get(row.id, ()):
            expires = grant.expires_at
            if grant.expired or expires is None or not grant.remaining:
                continue
            if now <= expires <= horizon:
                found.append(
                    ExpiryWarning(
                        row.label,
                        row.fingerprint,
                        "grant",
                        expires,
                        grant.remaining,
                        row.currency,
                        grant.grant_id,
                    )
                )
        expires = row.balance_expires_at
        if expires is not None and now <= expires <= horizon:
            found.append(
                ExpiryWarning(
                    row.label, row.fingerprint, "balance", expires, row.available, row.currency
                )
            )
    return sorted(found, key=lambda w: (w.expires_at, w.label))


def sparkline(values: Sequence[Decimal | None]) -> str:
    """One bar per value, scaled between the smallest and largest; a gap for ``None``."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    top = len(SPARK_BARS) - 1
    bars: list[str] = []
    for value in values:
        if value is None:
            bars.append(" ")
        elif high == low:
            bars.append(SPARK_BARS[top // 2])
        else:
            bars.append(SPARK_BARS[int((value - low) * top / (high - low))])
    return "".join(bars)
