"""Record a run's results as they arrive: a runner sink that commits in small batches.

A result is committed at most ``max_rows`` (50) results or ``max_delay`` (1 s) after it
arrived, so a run killed at any moment keeps everything that had finished more than a
second earlier, and a slow run still shows up in the ledger while it goes (reliability D2,
D3). A failed write (a full disk, say) does not crash the run: the recorder keeps what was
committed, stops writing, and reports the error in :attr:`LedgerRecorder.error`.

Commits (each an fsync, since ``synchronous=FULL``) are handed to one writer thread, so the
event loop keeps checking keys while the disk works; batches are written in order, and batches
that queued up while the disk was busy are committed together (a burst of results, such as the
``deadline`` placeholders, costs a few commits, not one per 50 rows). With ``process=True``
(what ``check`` and ``watch`` use, through :class:`~keyledger.ledger.session.RunLedger`) the
thread only sends each batch to a writer process (:mod:`keyledger.ledger.child`) as one JSON
frame of compact records (:func:`~keyledger.ledger.store.record_of`, taken on the event
loop's thread when a batch is flushed; no secret), then waits for its answer without holding
the interpreter lock: the rows are built and SQLite runs in that process, on another core. The
thread starts that process for the first batch flushed while the run goes on (its start-up,
some 25 ms of CPU, then no longer competes with the run's first requests); a run whose results
all come to :meth:`LedgerRecorder.finish` (a small one) starts none and commits them
in-process, and a run without results writes nothing at all. If the process cannot start or
dies, the thread writes in-process from then on (the batch being sent included), and the run
goes on.

A run with a deadline sets :attr:`LedgerRecorder.cutoff` (the end of the deadline's grace):
batches not committed by then are dropped and counted, so recording never outlasts it.

The queue is bounded: once ``max_queued`` (1,000) results are buffered or queued,
:meth:`LedgerRecorder.has_room` is false and the runner awaits
:meth:`LedgerRecorder.wait_room` before it takes the next result, so a lagging disk slows
the checks (the engine gives a slot back only when its result is taken) instead of piling
results up in memory; with a caller that honours it, the recorder never holds more than
``max_queued`` results besides the batch being committed. The wait never blocks the event
loop: the timer above still commits on time, and the runner stops waiting at Ctrl-C or the
deadline (past the deadline nothing waits: its placeholders are few, and the cutoff drops
what the disk cannot take in time). While the disk is that far behind, a finished check
waits in the engine rather than here; either way it is committed as soon as the disk allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import orjson

from keyledger.errors import StoreError
from keyledger.ledger.child import WriterGone, WriterProcess
from keyledger.ledger.records import Record, rows_of
from keyledger.ledger.store import RunStatus, Store, record_of
from keyledger.models import CheckResult

MAX_BATCH_ROWS = 50
MAX_BATCH_DELAY = 1.0
MAX_COMMIT_ROWS = 500  # queued batches are committed together, up to this many rows at once
MAX_QUEUED_ROWS = 1000  # results held, not yet being committed, before the runner must wait


def _iso(value: object) -> str:
    if isinstance(value, datetime):  # a subclass, or a time zone orjson does not know
        return value.isoformat()
    raise TypeError


def encode(run_id: int, records: list[Record]) -> bytes:
    """A writer-process frame's payload: ``[run_id, records]`` as JSON, a time as ISO 8601
    text (:func:`~keyledger.ledger.records.time_text` reads either form).

    Raises:
        TypeError: a value JSON cannot carry exactly (a lone surrogate, a huge integer).
    """
    return orjson.dumps((run_id, records), default=_iso)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class LedgerRecorder:
    """Buffers results of one run and commits them to the ledger in small batches.

    When called from a running event loop (as the runner does), a timer makes sure no result
    waits longer than ``max_delay`` even if the next one is slow to come. ``process=True``
    commits in a writer process (:mod:`keyledger.ledger.child`) when ``store`` is a writable
    :class:`Store`; else, or if that process fails, the writer thread commits in-process.
    """

    def __init__(
        self,
        store: Store,
        run_id: int,
        *,
        max_rows: int = MAX_BATCH_ROWS,
        max_delay: float = MAX_BATCH_DELAY,
        max_queued: int = MAX_QUEUED_ROWS,
        clock: Callable[[], float] = time.monotonic,
        process: bool = False,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.max_rows = max(1, max_rows)
        self.max_delay = max_delay
        self.max_queued = max(max_queued, 2 * self.max_rows)  # room for a full batch, and more
        self.clock = clock
        self.recorded = 0
        self.dropped = 0
        self.batches = 0
        self.error: StoreError | None = None
        self.cutoff: float | None = None  # monotonic time after which nothing more is written
        self.cut_off = 0  # results dropped because the cutoff had passed
        self.unwritten = 0  # results dropped because the ledger could not take a value
        self._pending: list[CheckResult] = []
        self._queued: list[Record] = []  # handed to the writer, not yet taken (under lock)
        self._oldest = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()  # guards the counters and error across threads
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._writing = False  # a _write is submitted or running (under lock)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyledger-ledger")
        self._process: WriterProcess | None = None
        # Wanted: started by the writer thread for the first batch flushed before finish() (not
        # here: its interpreter's start-up would compete with the first requests for the CPU).
        self._spawn = process and isinstance(store, Store) and not store.read_only
        self._launch = False  # a batch was flushed while _spawn held: the writer starts it

    def add(self, result: CheckResult) -> None:
        """Take one result; commit the batch when it is full or old enough."""
        if self.error is not None:
            self.dropped += 1
            return
        if not self._pending:
            self._oldest = self.clock()
            self._arm_timer()
        self._pending.append(result)
        if len(self._pending) >= self.max_rows or self.clock() - self._oldest >= self.max_delay:
            self.flush()

    @property
    def held(self) -> int:
        """Results taken but not yet handed to a commit (buffered or queued)."""
        return len(self._pending) + len(self._queued)

    def has_room(self) -> bool:
        """Whether the next result may come now (else await :meth:`wait_room` first)."""
        return len(self._pending) + len(self._queued) < self.max_queued

    async def wait_room(self) -> None:
        """Wait until the writer has taken enough off the queue for the next result."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self.has_room():
                    return
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, waiter))
            await waiter

    def _arm_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside a loop: the size/age checks in add() suffice
            return
        if self._timer is None:
            self._timer = loop.call_later(self.max_delay, self.flush)

    def flush(self) -> None:
        """Commit what is buffered (a failure is kept in :attr:`error`, never raised)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        if self._spawn:  # the first batch of a run that goes on: the writer starts the process
            self._spawn = False
            self._launch = True
        try:
            records = [record_of(r) for r in batch]  # plain values: the writer needs no more
        except Exception:  # a value the ledger cannot hold (a time past year 9999 in UTC)
            records = self._records(batch)
        with self._lock:
            self._queued.extend(records)
            if self._writing:  # the writer takes these before it stops: no wake-up needed
                return
            self._writing = True
        self._writer.submit(self._write)

    def _records(self, batch: list[CheckResult]) -> list[Record]:
        """``batch``'s records, one at a time: a result whose record cannot be made is
        dropped and counted (the run then closes as interrupted), never raised into the run."""
        records: list[Record] = []
        for result in batch:
            try:
                records.append(record_of(result))
            except Exception:
                with self._lock:
                    self.dropped += 1
                    self.unwritten += 1
        return records

    def _write(self) -> None:
        """Commit what is queued, up to :data:`MAX_COMMIT_ROWS` a transaction (writer thread)."""
        while True:
            with self._lock:
                batch = self._queued[:MAX_COMMIT_ROWS]
                del self._queued[:MAX_COMMIT_ROWS]
                waiters, self._waiters = self._waiters, []
                if not batch:
                    self._writing = False  # the next flush submits again
            for loop, waiter in waiters:  # room was made: the runner may take the next result
                with contextlib.suppress(RuntimeError):  # that loop has closed
                    loop.call_soon_threadsafe(_wake, waiter)
            if not batch:
                return
            try:
                self._commit(batch)
            except Exception:  # a value the ledger cannot take: lose this batch, not the writer
                with self._lock:
                    self.dropped += len(batch)
                    self.unwritten += len(batch)

    def _commit(self, batch: list[Record]) -> None:
        """Commit one batch, unless recording failed or the cutoff has passed."""
        with self._lock:
            failed = self.error is not None
        if failed:
            with self._lock:
                self.dropped += len(batch)
            return
        if self._past_cutoff(batch):
            return
        if self._launch:  # the first batch of a run that goes on: start the process now,
            self._launch = False
            self._process = WriterProcess.start(self.store.path)
            if self._past_cutoff(batch):  # its start-up took time: the cutoff is asked again
                return
        try:
            self._store(batch)
        except StoreError as exc:
            with self._lock:
                self.error = exc
                self.dropped += len(batch)
            return
        with self._lock:
            self.recorded += len(batch)
            self.batches += 1

    def _past_cutoff(self, batch: list[Record]) -> bool:
        """Whether the cutoff has passed; if so, ``batch`` is counted as dropped."""
        if self.cutoff is None or self.clock() < self.cutoff:
            return False
        with self._lock:
            self.cut_off += len(batch)
            self.dropped += len(batch)
        return True

    def _store(self, batch: list[Record]) -> None:
        """Commit ``batch`` through the writer process if there is one, else in-process."""
        process = self._process
        if process is not None:
            try:
                payload = encode(self.run_id, batch)
            except TypeError:  # a value JSON cannot carry: this batch in-process
                pass
            else:
                try:
                    process.write(payload)
                    return
                except WriterGone:  # from now on, and this batch too, in-process
                    self._process = None
                    process.close()
        self.store.write_rows(rows_of(self.run_id, batch))

    def drain(self) -> None:
        """Wait until every batch handed to the writer is committed (or dropped)."""
        self._writer.submit(lambda: None).result()

    def finish(self, status: RunStatus) -> None:
        """Commit the rest and close the run as ``complete`` or ``interrupted``.

        A run whose writes failed, or whose results were dropped at the cutoff, is closed as
        ``interrupted`` (if the ledger still takes the update at all).

        A writer process not started by now is not started at all: the few results left (at
        most a batch, or what queued while the run went on) are committed in-process, which
        costs less than an interpreter's start-up; a run without results starts none.
        """
        self._spawn = False
        self.flush()
        self._writer.shutdown(wait=True)
        if self._process is not None:
            self._process.close()
            self._process = None
        if self.error is not None or self.cut_off or self.unwritten:
            status = "interrupted"
        try:
            self.store.finish_run(self.run_id, status)
        except StoreError as exc:
            self.error = self.error or exc
