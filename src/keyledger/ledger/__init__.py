"""The ledger: every check remembered in SQLite, and what can be read back from it.

Core code: it never prints, never exits and never imports click. Modules:

- :mod:`~keyledger.ledger.store`: the SQLite file, its settings and every query.
- :mod:`~keyledger.ledger.migrations`: the schema, as append-only migrations.
- :mod:`~keyledger.ledger.recorder`: a runner sink committing results in small batches.
- :mod:`~keyledger.ledger.analysis`: changes, burn rate, runway, expiring grants, sparklines.
- :mod:`~keyledger.ledger.insights`: those, assembled for one recorded run.
- :mod:`~keyledger.ledger.pool`: usable keys now, best first.
- :mod:`~keyledger.ledger.export` and :mod:`~keyledger.ledger.plot`: JSON/CSV and charts.
"""

from keyledger.ledger.analysis import BurnRate, Change, ExpiryWarning, burn_rate, runway_days
from keyledger.ledger.insights import KeyInsight, RunInsights, run_insights
from keyledger.ledger.pool import PoolEntry, PoolSelection, select_pool
from keyledger.ledger.recorder import LedgerRecorder
from keyledger.ledger.rows import EvidenceRow, GrantRow, ResultRow, RunRow
from keyledger.ledger.store import DB_NAME, Store, ledger_path

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
