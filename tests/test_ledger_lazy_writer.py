"""The ledger's writer process starts with the first batch flushed while a run goes on, not
when the recorder is made; a run whose results all come at its end starts none."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyledger.ledger import recorder as recorder_module
from keyledger.ledger.child import WriterProcess
from keyledger.ledger.recorder import LedgerRecorder
from keyledger.ledger.store import Store

from .test_ledger_bulk import session_results
from .test_ledger_child import dump


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The ledger paths writer processes were started for (they are started for real)."""
    seen: list[Path] = []
    real = WriterProcess.start.__func__  # type: ignore[attr-defined]

    def start(cls: type[WriterProcess], path: Path) -> WriterProcess | None:
        seen.append(path)
        return real(cls, path)  # type: ignore[no-any-return]

    monkeypatch.setattr(recorder_module.WriterProcess, "start", classmethod(start))
    return seen


def test_no_writer_process_before_the_first_flush(tmp_path: Path, starts: list[Path]) -> None:
    """Making the recorder and buffering results starts nothing; the first flush starts the
    process, which commits that batch and the next ones."""
    with Store.open(tmp_path / "l.db") as store:
        recorder = LedgerRecorder(store, store.begin_run(60), max_rows=50, process=True)
        results = session_results(60)
        for item in results[:49]:
            recorder.add(item)
        recorder.drain()
        assert (starts, recorder._process, store.count_results()) == ([], None, 0)
        recorder.add(results[49])  # the batch is full: flushed
        recorder.drain()
        assert starts == [store.path] and recorder._process is not None
        for item in results[50:]:
            recorder.add(item)
        recorder.finish("complete")
        assert len(starts) == 1 and recorder._process is None
        assert (recorder.error, recorder.recorded, store.count_results()) == (None, 60, 60)


def test_a_run_with_no_result_starts_no_writer_process(tmp_path: Path, starts: list[Path]) -> None:
    """finish() with nothing recorded starts no process and closes the run, empty."""
    with Store.open(tmp_path / "l.db") as store:
        recorder = LedgerRecorder(store, store.begin_run(0), process=True)
        recorder.finish("complete")
        assert starts == [] and recorder.recorded == 0
        assert store.runs()[0].status == "complete" and store.count_results() == 0


def test_results_left_for_finish_are_committed_in_process(
    tmp_path: Path, starts: list[Path]
) -> None:
    """A run whose results were all buffered when it finished starts no process: they are
    committed in-process, the same rows the thread and the process write."""
    results = session_results(30)
    for name, process in (("lazy.db", True), ("thread.db", False)):
        with Store.open(tmp_path / name) as store:
            recorder = LedgerRecorder(store, store.begin_run(30), process=process)
            for item in results:
                recorder.add(item)
            recorder.finish("complete")
            assert (recorder.error, recorder.recorded) == (None, 30)
    assert starts == []
    with Store.open(tmp_path / "proc.db") as store:
        recorder = LedgerRecorder(store, store.begin_run(30), process=True)
        for item in results:
            recorder.add(item)
        recorder.flush()  # flushed while the run goes on: through the process
        recorder.finish("complete")
        assert recorder.recorded == 30
    assert starts == [tmp_path / "proc.db"]
    assert dump(tmp_path / "lazy.db") == dump(tmp_path / "thread.db") == dump(tmp_path / "proc.db")


def test_a_batch_past_the_cutoff_starts_no_writer_process(
    tmp_path: Path, starts: list[Path]
) -> None:
    """The deadline's grace over: the flushed batch is dropped, and no process is started."""
    with Store.open(tmp_path / "l.db") as store:
        recorder = LedgerRecorder(store, store.begin_run(10), clock=lambda: 5.0, process=True)
        recorder.cutoff = 1.0
        for item in session_results(10):
            recorder.add(item)
        recorder.flush()
        recorder.finish("complete")
        assert starts == [] and (recorder.cut_off, store.count_results()) == (10, 0)


def test_the_cutoff_is_asked_after_the_writer_process_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cutoff that passes while the writer process starts drops the first batch: recording
    never outlasts the deadline's grace, however slow that start-up is."""
    now = [0.0]
    real = WriterProcess.start.__func__  # type: ignore[attr-defined]

    def slow_start(cls: type[WriterProcess], path: Path) -> WriterProcess | None:
        now[0] = 10.0  # the interpreter took its time: the cutoff has passed meanwhile
        return real(cls, path)  # type: ignore[no-any-return]

    monkeypatch.setattr(recorder_module.WriterProcess, "start", classmethod(slow_start))
    with Store.open(tmp_path / "l.db") as store:
        recorder = LedgerRecorder(
            store, store.begin_run(50), max_rows=50, process=True, clock=lambda: now[0]
        )
        recorder.cutoff = 5.0
        for item in session_results(50):
            recorder.add(item)
        recorder.drain()
        recorder.finish("complete")
        assert (recorder.cut_off, recorder.recorded, store.count_results()) == (50, 0, 0)
        assert store.runs()[0].status == "interrupted"


def test_a_batch_the_ledger_cannot_take_closes_the_run_as_interrupted(tmp_path: Path) -> None:
    """A value SQLite refuses (a lone surrogate in a label) loses that batch, counted, and
    the run is not called complete."""
    import dataclasses

    results = session_results(60)
    odd = results[3]
    results[3] = dataclasses.replace(odd, key=dataclasses.replace(odd.key, label="bad\ud800"))
    with Store.open(tmp_path / "l.db") as store:
        recorder = LedgerRecorder(store, store.begin_run(60), max_rows=50, process=False)
        for item in results:
            recorder.add(item)
        recorder.finish("complete")
        assert (recorder.unwritten, recorder.recorded) == (50, 10)
        assert store.runs()[0].status == "interrupted"
