"""One recorded run as a runner sink: results go to the ledger as they arrive, and
:meth:`RunLedger.finish` closes the run and reads back what changed, burn rates, runways
and expiry warnings.

Core code: ``check``, ``watch`` and the alert rules all use it; the command line only
renders :attr:`RunLedger.insights`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from keyledger.errors import StoreError
from keyledger.ledger.recorder import LedgerRecorder
from keyledger.ledger.store import Store
from keyledger.models import CheckResult
from keyledger.runner import RunReport

if TYPE_CHECKING:
    from keyledger.ledger.insights import RunInsights


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RunLedger:
    """Records one run in ``store`` and, when it ends, works out its insights."""

    def __init__(
        self,
        store: Store,
        run_id: int,
        *,
        warn_days: int = 7,
        now: Callable[[], datetime] = _utcnow,
        insights: bool = True,
        process: bool = True,
    ) -> None:
        self.store = store
        self.want_insights = insights  # False: the caller shows none (JSON/JSONL/CSV output)
        self.run_id = run_id
        self.warn_days = warn_days
        self.now = now
        # process: commit in a writer process (keyledger.ledger.child); False keeps the thread
        self.recorder = LedgerRecorder(store, run_id, process=process)
        self.insights: RunInsights | None = None
        self.read_error: StoreError | None = None  # the run was written but not read back
        self.finished = False

    @classmethod
    def begin(
        cls,
        store: Store,
        keys_total: int,
        *,
        warn_days: int = 7,
        now: Callable[[], datetime] = _utcnow,
        insights: bool = True,
        process: bool = True,
    ) -> RunLedger:
        """Start a run in ``store``; ``insights=False`` skips reading the run back at the end
        (the insights serve the table: a JSON run of 100,000 keys need not load them);
        ``process=False`` commits on the recorder's thread instead of a writer process.

        Raises:
            StoreError: the ledger does not take the new run.
        """
        run_id = store.begin_run(keys_total)
        return cls(store, run_id, warn_days=warn_days, now=now, insights=insights, process=process)

    @property
    def error(self) -> StoreError | None:
        """Why writing the run failed, if it did."""
        return self.recorder.error

    @property
    def recorded_ok(self) -> bool:
        """The run was finished and every write succeeded."""
        return self.finished and self.recorder.error is None

    def add(self, result: CheckResult) -> None:
        """Take one result (committed in small batches)."""
        self.recorder.add(result)

    def has_room(self) -> bool:
        """Whether the next result may come now (the recorder's queue is bounded)."""
        return self.recorder.has_room()

    async def wait_room(self) -> None:
        """Wait until the recorder takes results again."""
        await self.recorder.wait_room()

    def finish(self, report: RunReport) -> None:
        """Commit the rest, close the run, and compute its insights (never raises)."""
        if self.finished:
            return
        self.recorder.finish("complete" if report.complete else "interrupted")
        self.finished = True
        if self.recorder.error is not None or not self.want_insights:
            return
        cutoff = self.recorder.cutoff
        if cutoff is not None and time.monotonic() >= cutoff:  # no time left to compare runs
            return
        # imported only now: a run that shows no insights (JSON output) never loads them
        from keyledger.ledger.insights import run_insights

        try:
            self.insights = run_insights(
                self.store, self.run_id, now=self.now(), warn_days=self.warn_days
            )
        except StoreError as exc:
            self.read_error = exc

    def abort(self) -> None:
        """The run failed before it finished: keep what was recorded, mark it interrupted."""
        if not self.finished:
            self.recorder.finish("interrupted")
            self.finished = True
