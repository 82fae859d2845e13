"""The ledger: every check remembered in SQLite, and what can be read back from it.

Core code: it never prints, never exits and never imports click. Modules:

- :mod:`~keyledger.ledger.store`: the SQLite file, its settings and every query.
- :mod:`~keyledger.ledger.migrations`: the schema, as append-only migrations.
- :mod:`~keyledger.ledger.write`: a batch of results as plain rows, and the SQL that commits it.
- :mod:`~keyledger.ledger.recorder`: a runner sink committing results in small batches, through
  :mod:`~keyledger.ledger.child` (a writer process) or on a thread.
- :mod:`~keyledger.ledger.analysis`: changes, burn rate, runway, expiring grants, sparklines.
- :mod:`~keyledger.ledger.insights`: those, assembled for one recorded run.
- :mod:`~keyledger.ledger.pool`: usable keys now, best first.
- :mod:`~keyledger.ledger.export` and :mod:`~keyledger.ledger.plot`: JSON/CSV and charts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyledger.lazy import lazy_exports

if TYPE_CHECKING:
    from keyledger.ledger.analysis import BurnRate, Change, ExpiryWarning, burn_rate, runway_days
    from keyledger.ledger.insights import KeyInsight, RunInsights, run_insights
    from keyledger.ledger.pool import PoolEntry, PoolSelection, select_pool
    from keyledger.ledger.recorder import LedgerRecorder
    from keyledger.ledger.rows import EvidenceRow, GrantRow, ResultRow, RunRow
    from keyledger.ledger.store import DB_NAME, Store, ledger_path

# Loaded on first use: `check` imports the store and the recorder before its first request and
# need not pay for the analysis, insights and pool modules (a JSON run never uses them).
_HOME = {
    "BurnRate": "keyledger.ledger.analysis",
    "Change": "keyledger.ledger.analysis",
    "ExpiryWarning": "keyledger.ledger.analysis",
    "burn_rate": "keyledger.ledger.analysis",
    "runway_days": "keyledger.ledger.analysis",
    "KeyInsight": "keyledger.ledger.insights",
    "RunInsights": "keyledger.ledger.insights",
    "run_insights": "keyledger.ledger.insights",
    "PoolEntry": "keyledger.ledger.pool",
    "PoolSelection": "keyledger.ledger.pool",
    "select_pool": "keyledger.ledger.pool",
    "LedgerRecorder": "keyledger.ledger.recorder",
    "EvidenceRow": "keyledger.ledger.rows",
    "GrantRow": "keyledger.ledger.rows",
    "ResultRow": "keyledger.ledger.rows",
    "RunRow": "keyledger.ledger.rows",
    "DB_NAME": "keyledger.ledger.store",
    "Store": "keyledger.ledger.store",
    "ledger_path": "keyledger.ledger.store",
}


__getattr__ = lazy_exports(__name__, _HOME, globals())


__all__ = [
    "DB_NAME",
    "BurnRate",
    "Change",
    "EvidenceRow",
    "ExpiryWarning",
    "GrantRow",
    "KeyInsight",
    "LedgerRecorder",
    "PoolEntry",
    "PoolSelection",
    "ResultRow",
    "RunInsights",
    "RunRow",
    "Store",
    "burn_rate",
    "ledger_path",
    "run_insights",
    "runway_days",
    "select_pool",
]
