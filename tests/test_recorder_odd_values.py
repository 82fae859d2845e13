"""A result the ledger cannot hold (a time beyond its range) is dropped on its own: the
recorder never raises into the run, and the other results of its batch are committed."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from keyledger.ledger.recorder import LedgerRecorder
from keyledger.ledger.store import Store

from .test_ledger_bulk import session_results

# "Never expires", as a relay in a UTC-8 zone might write it: past year 9999 once in UTC.
FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-8)))


def _far_expiry(item: object) -> object:
    balance = item.balance  # type: ignore[attr-defined]
    far = dataclasses.replace(balance, expires_at=FAR)
    return dataclasses.replace(item, balance=far, balances=(far,))  # type: ignore[type-var]


@pytest.mark.parametrize("process", [False, True])
def test_a_result_beyond_the_ledgers_range_is_dropped_alone(tmp_path: Path, process: bool) -> None:
    """add() and flush() do not raise; the other results are recorded, the run is closed
    as interrupted and the dropped result is counted."""
    with Store.open(tmp_path / "l.db") as store:
        recorder = LedgerRecorder(store, store.begin_run(4), max_rows=4, process=process)
        results = session_results(4)
        results[1] = _far_expiry(results[1])
        for item in results:
            recorder.add(item)  # the fourth fills the batch: flushed here
        recorder.finish("complete")
        assert (recorder.recorded, recorder.dropped, recorder.unwritten) == (3, 1, 1)
        assert store.count_results() == 3
        assert store.runs()[0].status == "interrupted"
