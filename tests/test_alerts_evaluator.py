"""Rules over a real SQLite ledger: state survives a restart, events are queued exactly once,
and the schedule never runs twice at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyledger.alerts import book
from keyledger.alerts.evaluator import RuleEvaluator
from keyledger.alerts.events import AlertEvent
from keyledger.alerts.rules import Rule, When
from keyledger.errors import KeyledgerError
from keyledger.ledger.session import RunLedger
from keyledger.ledger.store import Store
from keyledger.models import CheckResult, Key, Status
from keyledger.runner import RunReport, finish_sinks
from keyledger.schedule import parse_interval, run_every
from keyledger.secret import Secret

SECRET = "sk-proj-" + "Zq8" * 16
KEY = Key(Secret(SECRET), "fp-aaaa", "prod")
RULES = [Rule("dead", When.STATUS_NOT_OK, ("ops",))]
START = datetime(2026, 3, 1, tzinfo=UTC)


class Recording:
    """An alert sink that records what it is given (and can be made to fail)."""

    def __init__(self) -> None:
        self.events: list[AlertEvent] = []
        self.failing = False

    def submit(self, events: Sequence[AlertEvent]) -> None:
        if self.failing:
            raise KeyledgerError("outbox unavailable")
        self.events.extend(events)


def one_run(db: Path, status: Status, n: int, sink: Recording) -> RuleEvaluator:
    """Open the ledger (as a fresh process would), record one result, evaluate the rules."""
    with Store.open(db) as store:
        at = START + timedelta(hours=n)
        ledger = RunLedger.begin(store, 1, now=lambda: at)
        evaluator = RuleEvaluator(ledger, RULES, sink, now=lambda: at)
        result = CheckResult(KEY, status, None if status is Status.OK else "bad", at)
        ledger.add(result)
        evaluator.add(result)
        finish_sinks([ledger, evaluator], RunReport(results=[result]))
        return evaluator


def test_restart_neither_repeats_nor_forgets(tmp_path: Path) -> None:
    """Each run in a new process: one fired, held across restarts, then one recovery."""
    db, sink = tmp_path / "ledger.db", Recording()
    sequence = [Status.OK, Status.INVALID, Status.INVALID, Status.OK, Status.INVALID]
    sequence += [Status.OK, Status.OK, Status.OK]
    for n, status in enumerate(sequence):
        one_run(db, status, n, sink)
    assert [e.kind for e in sink.events] == ["fired", "recovered"]
    assert len({e.event_id for e in sink.events}) == 2
    assert sink.events[0].masked_key == KEY.masked and sink.events[0].subject == "prod"
    with Store.open(db) as store:
        assert book.active_alerts(store) == []
        assert [s.event.kind for s in book.recent_events(store)] == ["recovered", "fired"]


def test_events_a_failed_queue_kept_are_submitted_on_the_next_run(tmp_path: Path) -> None:
    """An event the sink refused stays in the ledger and is handed over once, next run."""
    db, sink = tmp_path / "ledger.db", Recording()
    sink.failing = True
    failed = one_run(db, Status.INVALID, 0, sink)
    assert failed.error is not None and "kept in the ledger" in failed.error
    sink.failing = False
    one_run(db, Status.INVALID, 1, sink)
    one_run(db, Status.INVALID, 2, sink)
    assert [e.kind for e in sink.events] == ["fired"]
    with Store.open(db) as store:
        (active,) = book.active_alerts(store)
        assert active.submitted and active.event == sink.events[0]


def test_no_key_bytes_in_the_ledger_or_events(tmp_path: Path) -> None:
    """The full key is in neither the database file nor any event field."""
    db, sink = tmp_path / "ledger.db", Recording()
    for n, status in enumerate([Status.INVALID, Status.OK, Status.OK]):
        one_run(db, status, n, sink)
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*"))
    assert SECRET.encode() not in blob and SECRET[8:20].encode() not in blob
    assert all(SECRET not in repr(e) for e in sink.events)


def test_unrecorded_run_evaluates_nothing(tmp_path: Path) -> None:
    """If the run could not be read back, no rule runs and the reason is kept."""
    with Store.open(tmp_path / "l.db") as store:
        ledger = RunLedger.begin(store, 1)
        evaluator = RuleEvaluator(ledger, RULES, Recording())
        evaluator.finish(RunReport())  # the ledger was never finished: no insights
        assert evaluator.error is not None and "not recorded" in evaluator.error


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("2d", 172800), ("90", 90)]
)
def test_intervals_parse(text: str, seconds: float) -> None:
    """--every takes s, m, h, d suffixes or plain seconds."""
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "fast", "0.5s", "-1m", "5y"])
def test_bad_intervals_are_refused(text: str) -> None:
    """Anything else, and intervals under a second, are refused."""
    with pytest.raises(ValueError):
        parse_interval(text)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_run_longer_than_the_interval_skips_ticks_and_never_overlaps() -> None:
    """A run lasting 2.5 intervals skips the 2 ticks it overran; runs never overlap."""
    clock = FakeClock()
    active: list[int] = []
    starts: list[float] = []
    skips: list[int] = []

    async def run(n: int) -> None:
        assert not active  # never two at once
        active.append(n)
        starts.append(clock.now)
        await asyncio.sleep(0)
        clock.now += 2500 if n == 1 else 10
        active.pop()

    def on_skip(missed: int, took: float) -> None:
        skips.append(missed)
        clock.now = 3000  # time passes until the next tick that is still ahead

    async def main() -> None:
        stop = asyncio.Event()
        report = await run_every(1000, run, stop=stop, max_runs=2, on_skip=on_skip, clock=clock)
        assert (report.runs, report.skipped, report.stopped) == (2, 2, False)

    asyncio.run(main())
    assert starts == [0, 3000] and skips == [2]


def test_stop_ends_the_wait_at_once() -> None:
    """Setting stop while waiting for the next tick ends the schedule without a new run."""
    calls: list[int] = []

    async def main() -> None:
        stop = asyncio.Event()

        async def run(n: int) -> None:
            calls.append(n)
            asyncio.get_running_loop().call_soon(stop.set)

        report = await run_every(3600, run, stop=stop)
        assert report.stopped and report.runs == 1

    asyncio.run(main())
    assert calls == [1]
