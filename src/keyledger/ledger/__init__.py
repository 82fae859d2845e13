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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    "BurnRate": "analysis",
    "Change": "analysis",
    "ExpiryWarning": "analysis",
    "burn_rate": "analysis",
    "runway_days": "analysis",
    "KeyInsight": "insights",
    "RunInsights": "insights",
    "run_insights": "insights",
    "PoolEntry": "pool",
    "PoolSelection": "pool",
    "select_pool": "pool",
    "LedgerRecorder": "recorder",
    "EvidenceRow": "rows",
    "GrantRow": "rows",
    "ResultRow": "rows",
    "RunRow": "rows",
    "DB_NAME": "store",
    "Store": "store",
    "ledger_path": "store",
}


def __getattr__(name: str) -> Any:
    """The public name ``name``, importing its module on first use."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
