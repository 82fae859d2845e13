"""What ``keyledger check`` shows after a recorded run, read back from the ledger.

For each key of the run: what changed since its previous result, its burn rate and runway
over the recent window, and a sparkline of its recent balances; for the run as a whole:
the grants and balances that expire soon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from keyledger.ledger.analysis import (
    BurnRate,
    Change,
    ExpiryWarning,
    burn_rate,
    burn_rates,
    expiry_warnings,
    runway_days,
    runways,
    sparkline,
)
from keyledger.ledger.rows import ResultRow, RunRow
from keyledger.ledger.store import Store

BURN_WINDOW_DAYS = 30
SPARK_POINTS = 12


@dataclass(frozen=True, slots=True)
class KeyInsight:
    """What the ledger says about one key after this run."""

    row: ResultRow
    change: Change
    burn: BurnRate | None  # the headline: primary balance's currency, else the spend
    runway: Decimal | None
    spark: str
    burns: dict[str, BurnRate] = field(default_factory=dict)  # by currency
    runways: dict[str, Decimal] = field(default_factory=dict)  # by currency


@dataclass(frozen=True, slots=True)
class RunInsights:
    """What the ledger says about one run."""

    run: RunRow | None
    previous_run: RunRow | None
    keys: dict[str, KeyInsight] = field(default_factory=dict)
    warnings: list[ExpiryWarning] = field(default_factory=list)

    @property
    def new_keys(self) -> int:
        """Keys recorded for the first time."""
        return sum(1 for k in self.keys.values() if k.change.is_new)

    @property
    def status_changes(self) -> int:
        """Keys whose status differs from their previous result."""
        return sum(1 for k in self.keys.values() if k.change.status_changed)

    @property
    def balance_changes(self) -> int:
        """Keys whose available balance moved."""
        return sum(1 for k in self.keys.values() if k.change.balance_delta)


def _available_in(row: ResultRow, currency: str | None) -> Decimal | None:
    balance = row.balance_in(currency) if currency is not None else None
    return balance.available if balance is not None and balance.known else None


def run_insights(
    store: Store,
    run_id: int,
    *,
    now: datetime,
    warn_days: int,
    window_days: int = BURN_WINDOW_DAYS,
    spark_points: int = SPARK_POINTS,
) -> RunInsights:
    """Changes, burn rates, runways, sparklines and expiry warnings for run ``run_id``."""
    rows = store.results_of_run(run_id)
    fingerprints = {r.fingerprint for r in rows}
    previous = store.latest(fingerprints, before_run=run_id)
    series = store.series(fingerprints, since=now - timedelta(days=window_days))
    insights: dict[str, KeyInsight] = {}
    for row in rows:
        history = [r for r in series.get(row.fingerprint, []) if r.run_id <= run_id]
        if not any(r.id == row.id for r in history):
            history.append(row)
        burn = burn_rate(history)
        burns = burn_rates(history)
        recent = [_available_in(r, row.currency) for r in history]
        insights[row.fingerprint] = KeyInsight(
            row=row,
            change=Change(row, previous.get(row.fingerprint)),
            burn=burn,
            runway=runway_days(row.available, burn) if not row.token_uncapped else None,
            spark=sparkline(recent[-spark_points:]) if row.available is not None else "",
            burns=burns,
            runways=runways(row, burns),
        )
    warnings = expiry_warnings(
        rows, store.grants([r.id for r in rows]), now=now, warn_days=warn_days
    )
    return RunInsights(store.run(run_id), store.previous_run(run_id), insights, warnings)
