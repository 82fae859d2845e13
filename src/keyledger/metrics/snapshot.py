"""What a scrape reads from the ledger, in one function: :func:`read_snapshot`.

Everything the collector exposes comes from here, so a change in how the ledger stores
results (several balances per result, say) is made in this module only. It reads; it never
writes and never calls a provider.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from keyledger.errors import StoreError
from keyledger.ledger.analysis import burn_rate, burn_rates, runways
from keyledger.ledger.insights import BURN_WINDOW_DAYS
from keyledger.ledger.rows import ResultRow
from keyledger.ledger.store import Store

# The outbox table of alert deliveries (added by the alert channels); absent in older ledgers.
ALERTS_SQL = (
    "SELECT channel, count(*) FROM alert_outbox WHERE delivered_at IS NOT NULL GROUP BY channel"
)


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    """One key's latest result, with its burn rate and runway per currency over the recent
    window (``row.balances`` holds its money, one balance per currency)."""

    row: ResultRow
    burn_per_day: dict[str, Decimal] = field(default_factory=dict)  # by currency
    runway_days: dict[str, Decimal] = field(default_factory=dict)  # by currency


@dataclass(frozen=True, slots=True)
class LedgerSnapshot:
    """The ledger as one scrape sees it."""

    keys: list[KeySnapshot] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)  # run status -> count
    last_run_at: datetime | None = None
    requests: int = 0  # HTTP attempts made by every recorded check
    retries: int = 0  # attempts beyond the first of each endpoint call
    alerts_sent: dict[str, int] = field(default_factory=dict)  # channel -> deliveries


def read_snapshot(
    path: Path, *, now: datetime, window_days: int = BURN_WINDOW_DAYS
) -> LedgerSnapshot:
    """Read the latest result of every key and the run counters from the ledger at ``path``.

    Raises:
        StoreError: there is no ledger at ``path``, or it cannot be read.
    """
    with Store.open(path, create=False) as store:
        latest = store.latest()
        series = store.series(set(latest), since=now - timedelta(days=window_days))
        keys = []
        for fingerprint, row in sorted(latest.items(), key=lambda kv: (kv[1].label, kv[0])):
            history = series.get(fingerprint, [row])
            burns = burn_rates(history)
            per_day = {c: b.per_day for c, b in burns.items()}
            headline = burn_rate(history)  # an admin key's spend when it holds no balance
            if headline is not None and headline.currency not in per_day:
                per_day[headline.currency] = headline.per_day
            keys.append(KeySnapshot(row, per_day, runways(row, burns)))
        runs: dict[str, int] = {}
        last_run = None
        for run in store.runs():
            runs[run.status] = runs.get(run.status, 0) + 1
            last_run = run.started_at
        requests, retries = _attempts(store)
        return LedgerSnapshot(keys, runs, last_run, requests, retries, _alerts(store))


def _attempts(store: Store) -> tuple[int, int]:
    try:
        row = store.conn.execute(
            "SELECT coalesce(sum(attempts), 0), "
            "coalesce(sum(CASE WHEN calls IS NULL THEN 0 ELSE max(attempts - calls, 0) END), 0) "
            "FROM results WHERE attempts IS NOT NULL"
        ).fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the ledger {store.path}: {exc}") from None
    return int(row[0]), int(row[1])


def _alerts(store: Store) -> dict[str, int]:
    """Deliveries per channel; empty when the ledger has no alert outbox (yet)."""
    try:
        rows = store.conn.execute(ALERTS_SQL).fetchall()
    except sqlite3.Error:  # no such table or column: alerts were never set up here
        return {}
    return {str(channel): int(count) for channel, count in rows}
