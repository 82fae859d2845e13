"""The ledger writer's queue is bounded: a lagging disk slows the run, it never piles up."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from keyledger.engine import RunOptions
from keyledger.ledger.recorder import LedgerRecorder
from keyledger.ledger.store import Store
from keyledger.ledger.write import BatchRows
from keyledger.models import CheckResult, Key
from keyledger.providers import CheckOptions
from keyledger.runner import run_checks, wait_for_room
from keyledger.secret import Secret
from keyledger.transport import HttpOptions

HTTP = HttpOptions(attempt_deadline=1.0, connect_timeout=0.5)


def offline_keys(count: int) -> list[Key]:
    """Keys the engine answers without a request (a placeholder result each)."""
    return [
        Key(Secret(f"sk-test-{i:06d}-" + "x" * 24), f"fp{i:06d}", f"k{i}", problem="no_network")
        for i in range(count)
    ]


class GatedStore:
    """A store whose commits each wait for a permit (a disk far slower than the checks)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.permits = threading.Semaphore(0)
        self.calls = 0

    def write_rows(self, batch: BatchRows) -> int:
        """Wait for a permit, then commit."""
        self.permits.acquire()
        self.calls += 1
        return self.store.write_rows(batch)

    def finish_run(self, run_id: int, status: str) -> None:
        """Close the run in the real store."""
        self.store.finish_run(run_id, status)  # type: ignore[arg-type]


class Probe:
    """A sink after the recorder: notes how much it holds, lets the disk go on when full."""

    def __init__(self, recorder: LedgerRecorder, gate: GatedStore) -> None:
        self.recorder = recorder
        self.gate = gate
        self.most = 0
        self.full = 0

    def add(self, result: CheckResult) -> None:
        """Note the recorder's backlog; a full recorder gets one commit through."""
        self.most = max(self.most, self.recorder.held)
        if not self.recorder.has_room():
            self.full += 1
            self.gate.permits.release()


async def test_a_slow_disk_bounds_what_the_recorder_holds_and_loses_nothing(
    tmp_path: Path,
) -> None:
    """500 results through a store that commits only when let: the recorder never holds
    more than its bound, the runner waits for room, and every result is recorded."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(500)
        gate = GatedStore(store)
        recorder = LedgerRecorder(gate, run, max_rows=5, max_queued=20)  # type: ignore[arg-type]
        probe = Probe(recorder, gate)
        report = await run_checks(
            offline_keys(500),
            http=HTTP,
            check=CheckOptions(),
            run=RunOptions(concurrency=8),
            sinks=[recorder, probe],
            keep_results=False,
        )
        gate.permits.release(10_000)  # the disk catches up
        recorder.finish("complete")
        assert report.complete
        assert probe.full > 0 and probe.most <= 20
        assert (recorder.recorded, recorder.dropped) == (500, 0)
        assert store.count_results() == 500


async def test_ctrl_c_ends_the_wait_for_a_stuck_disk(tmp_path: Path) -> None:
    """With the disk stuck and the recorder full, a stop ends the run instead of hanging it;
    what the recorder took is still recorded once the disk comes back."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(300)
        gate = GatedStore(store)
        recorder = LedgerRecorder(gate, run, max_rows=5, max_queued=20)  # type: ignore[arg-type]
        stop = asyncio.Event()

        class Stopper:
            def add(self, result: CheckResult) -> None:
                if not recorder.has_room():
                    stop.set()  # what the signal handler does on Ctrl-C

        report = await run_checks(
            offline_keys(300),
            http=HTTP,
            check=CheckOptions(),
            run=RunOptions(concurrency=4),
            sinks=[recorder, Stopper()],
            stop=stop,
            keep_results=False,
        )
        gate.permits.release(10_000)
        recorder.finish("interrupted")
        assert report.interrupted and 20 <= recorder.recorded < 300
        assert recorder.dropped == 0 and store.count_results() == recorder.recorded


class NeverRoom:
    """A paced sink that never has room."""

    def add(self, result: CheckResult) -> None:
        """Take one result."""

    def has_room(self) -> bool:
        """Never."""
        return False

    async def wait_room(self) -> None:
        """Wait for ever."""
        await asyncio.Event().wait()


async def test_the_wait_for_room_ends_at_the_deadline() -> None:
    """A sink that never makes room holds the runner only until the deadline."""
    now = [100.0]
    await wait_for_room(NeverRoom(), asyncio.Event(), until=100.0, clock=lambda: now[0])
    loop = asyncio.get_running_loop()
    await wait_for_room(NeverRoom(), asyncio.Event(), until=loop.time() + 0.01, clock=loop.time)


async def test_a_deadline_run_is_not_held_by_a_sink_without_room() -> None:
    """A run with a deadline finishes (placeholders for the rest) though a sink never has room."""
    report = await run_checks(
        offline_keys(50),
        http=HTTP,
        check=CheckOptions(),
        run=RunOptions(concurrency=2, deadline=0.05, grace=5.0),
        sinks=[NeverRoom()],
        keep_results=True,
    )
    assert len(report.results) == 50


def test_the_bound_leaves_room_for_a_full_batch() -> None:
    """A bound below two batches is raised, so the writer always has a batch to take."""
    recorder = LedgerRecorder(None, 1, max_rows=50, max_queued=10)  # type: ignore[arg-type]
    assert recorder.max_queued == 100
