"""The ledger's writer process: same rows as the thread, no secret in the pipe, and a run that
survives the process dying, Ctrl-C, and its own parent being killed."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keyledger.ledger import child as child_module
from keyledger.ledger.child import WriterProcess, serve, write_frame
from keyledger.ledger.recorder import LedgerRecorder, encode
from keyledger.ledger.session import RunLedger
from keyledger.ledger.store import Store, record_of
from keyledger.ledger.write import configure
from keyledger.models import Balance, CheckResult, Evidence, Spend

from .test_ledger_bulk import session_results
from .test_ledger_store import NOW, make_key, result

TABLES = {
    "keys": "fingerprint",
    "results": "id",
    "balances": "result_id, currency",
    "evidence": "result_id, position",
    "grants": "id",
}


def varied_results(n: int) -> list[CheckResult]:
    """Session-like results, plus spend, a second currency, odd text, no balance, duplicates."""
    out: list[CheckResult] = list(session_results(n))
    for i in range(n, n + 40):
        base = result(make_key(f"v{i}", i), available=None if i % 3 == 0 else "7.25")
        extra = Balance(currency="CNY", source="/user/balance", read_at=NOW, available=Decimal(i))
        out.append(
            dataclasses.replace(
                base,
                spend=Spend(
                    amount=Decimal("1.000001"),
                    currency="USD",
                    period_start=NOW - timedelta(days=30),
                    period_end=NOW,
                    source="/v1/organization/costs",
                    read_at=NOW,
                ),
                balances=(extra,) if i % 2 else (),
                evidence=(
                    Evidence(endpoint="/v1/models", http_status=401, message="ünïcode \x00 ok"),
                    Evidence(endpoint="/v1/usage", http_status=None, error_type="timeout"),
                ),
                tier=f"tier-{i % 4}",
            )
        )
    out.append(dataclasses.replace(out[0], reason="a second result for the same key"))
    return out


def frame(run: int, results: list[CheckResult]) -> bytes:
    """The payload the recorder sends the writer process for ``results``."""
    return encode(run, [record_of(r) for r in results])


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a run writes, in a fixed order."""
    conn = sqlite3.connect(path)
    try:
        return {
            table: [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]
            for table, order in TABLES.items()
        }
    finally:
        conn.close()


def record(path: Path, results: list[CheckResult], *, process: bool) -> LedgerRecorder:
    """Record ``results`` as one run at ``path``, in batches of 25."""
    with Store.open(path) as store:
        run = store.begin_run(len(results))
        recorder = LedgerRecorder(store, run, max_rows=25, clock=lambda: 0.0, process=process)
        for item in results:
            recorder.add(item)
        recorder.drain()  # the first batch started the writer process (if wanted)
        assert (recorder._process is not None) is process
        recorder.finish("complete")
    return recorder


def test_the_writer_process_stores_exactly_the_rows_the_thread_stores(tmp_path: Path) -> None:
    """Keys, results, balances, evidence and grants come out identical either way."""
    results = varied_results(120)
    threaded = record(tmp_path / "thread.db", results, process=False)
    proc = record(tmp_path / "proc.db", results, process=True)
    assert threaded.error is None and proc.error is None
    assert proc.recorded == threaded.recorded == len(results)
    assert dump(tmp_path / "proc.db") == dump(tmp_path / "thread.db")
    assert len(dump(tmp_path / "proc.db")["grants"]) == 360


def test_no_secret_nor_any_8_char_window_of_it_crosses_the_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every byte sent to the writer process is free of each key's secret (S1)."""
    sent: list[bytes] = []
    real = child_module.write_all

    def spy(fd: int, data: bytes) -> None:
        sent.append(bytes(data))
        real(fd, data)

    monkeypatch.setattr(child_module, "write_all", spy)
    results = varied_results(60)
    assert record(tmp_path / "l.db", results, process=True).recorded == len(results)
    blob = b"".join(sent)
    assert len(blob) > 10_000
    for item in results:
        secret = item.key.secret.reveal()
        body = secret[len("sk-proj-") :]
        assert secret.encode() not in blob
        windows = {body[i : i + 8].encode() for i in range(len(body) - 7)}
        assert not [w for w in windows if w in blob]


def test_a_writer_process_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL to the writer process: the thread writes the rest, every result is recorded."""
    results = session_results(300)
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(len(results))
        recorder = LedgerRecorder(store, run, max_rows=20, clock=lambda: 0.0, process=True)
        for item in results[:100]:
            recorder.add(item)
        recorder.drain()
        process = recorder._process
        assert process is not None
        assert store.count_results() == 100
        process.proc.kill()
        process.proc.wait()
        for item in results[100:]:
            recorder.add(item)
        recorder.finish("complete")
        assert recorder._process is None
        assert (recorder.error, recorder.recorded, recorder.dropped) == (None, 300, 0)
        assert store.count_results() == 300 and store.runs()[0].status == "complete"
        assert store.runs()[0].results_recorded == 300 and store.integrity() == "ok"


def test_a_writer_process_that_cannot_start_leaves_the_thread_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No interpreter to start: the recorder writes in-process and the run is recorded."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    recorder = record(tmp_path / "l.db", session_results(60), process=False)
    with Store.open(tmp_path / "l2.db") as store:
        assert WriterProcess.start(store.path) is None
        run = store.begin_run(60)
        recorder = LedgerRecorder(store, run, process=True)
        assert recorder._process is None
        for item in session_results(60):
            recorder.add(item)
        recorder.finish("complete")
        assert (recorder.error, store.count_results()) == (None, 60)


def test_a_writer_process_that_dies_at_start_leaves_the_thread_writing(tmp_path: Path) -> None:
    """A process that exits before its first batch (its ledger is gone): the batch is written
    in-process, nothing is lost."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(60)
        recorder = LedgerRecorder(store, run, max_rows=20, clock=lambda: 0.0, process=False)
        recorder._process = WriterProcess.start(tmp_path / "missing.db")  # mode=rw: cannot open
        for item in session_results(60):
            recorder.add(item)
        recorder.finish("complete")
        assert (recorder.error, recorder.recorded, store.count_results()) == (None, 60, 60)
    assert not (tmp_path / "missing.db").exists()


def test_a_store_error_in_the_writer_process_is_the_recorders_error(tmp_path: Path) -> None:
    """A batch the ledger refuses becomes recorder.error, the same text as in-process."""
    errors = []
    for process in (False, True):
        with Store.open(tmp_path / "l.db") as store:
            recorder = LedgerRecorder(store, 999, clock=lambda: 0.0, process=process)  # no run
            for item in session_results(120):
                recorder.add(item)
            recorder.finish("complete")
            assert recorder.error is not None and recorder.dropped == 120
            assert recorder.recorded == 0 and store.count_results() == 0
            errors.append(str(recorder.error))
    assert errors[0] == errors[1] and "FOREIGN KEY" in errors[1]


def test_the_writer_process_ignores_ctrl_c(tmp_path: Path) -> None:
    """SIGINT to the writer process changes nothing: it keeps committing the run."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(100)
        recorder = LedgerRecorder(store, run, max_rows=10, clock=lambda: 0.0, process=True)
        recorder.add(result(make_key("first")))
        recorder.flush()
        recorder.drain()  # it has started and answered
        process = recorder._process
        assert process is not None
        process.proc.send_signal(signal.SIGINT)
        for i in range(99):
            recorder.add(result(make_key("k", i)))
        recorder.drain()
        assert recorder._process is process and process.proc.poll() is None
        recorder.finish("complete")
        assert (recorder.recorded, store.count_results(), process.proc.returncode) == (100, 100, 0)


def test_an_incomplete_frame_is_dropped_and_complete_ones_are_committed(tmp_path: Path) -> None:
    """Input ending mid-frame (a parent killed while sending): the complete batches are
    committed, the partial one is not, and the process ends."""
    results = session_results(30)
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(30)
    frames = [frame(run, results[i : i + 10]) for i in (0, 10, 20)]
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    write_frame(write_in, frames[0])
    write_frame(write_in, frames[1])
    os.write(write_in, child_module._HEADER.pack(len(frames[2])) + frames[2][:-5])
    os.close(write_in)
    os.close(read_out)  # nobody reads the answers (the parent is gone)
    conn = sqlite3.connect(tmp_path / "l.db", isolation_level=None)
    configure(conn, tmp_path / "l.db")
    try:
        serve(conn, str(tmp_path / "l.db"), read_in, write_out)
    finally:
        conn.close()
        os.close(read_in)
        os.close(write_out)
    with Store.open(tmp_path / "l.db") as store:
        assert store.count_results() == 20 and store.integrity() == "ok"


PARENT = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tests.test_ledger_bulk import session_results
from keyledger.ledger.recorder import LedgerRecorder, encode
from keyledger.ledger.store import Store

store = Store.open(Path(sys.argv[1]))
run = store.begin_run(400)
recorder = LedgerRecorder(store, run, max_rows=50, clock=lambda: 0.0, process=True)
for item in session_results(400):
    recorder.add(item)
recorder.drain()
print(recorder._process.proc.pid, flush=True)
sys.stdin.read()  # until killed
"""


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie not yet reaped counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_sigkilled_parent_leaves_no_writer_and_keeps_every_committed_batch(
    tmp_path: Path,
) -> None:
    """SIGKILL to the checking process: its writer process exits on its own, and the ledger
    holds every batch it had committed and passes integrity_check (D2)."""
    path = tmp_path / "l.db"
    root = Path(__file__).resolve().parents[1]
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PARENT), str(path), str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    writer = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    for _ in range(600):  # up to a minute on a loaded machine; it normally takes milliseconds
        if _gone(writer):
            break
        time.sleep(0.1)
    assert _gone(writer)
    with Store.open(path) as store:
        assert store.count_results() == 400 and store.integrity() == "ok"


def test_a_run_ledger_commits_through_a_writer_process(tmp_path: Path) -> None:
    """RunLedger (check, watch) uses the writer process; process=False keeps the thread."""
    with Store.open(tmp_path / "l.db") as store:
        ledger = RunLedger.begin(store, 1, insights=False)
        ledger.add(result(make_key("one")))
        ledger.recorder.flush()
        ledger.recorder.drain()
        assert ledger.recorder._process is not None
        ledger.abort()
        assert RunLedger.begin(store, 1, process=False).recorder._process is None


def test_the_writer_process_serves_where_some_signals_do_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SIGHUP (Windows) the writer ignores the signals there are and still commits."""
    results = session_results(10)
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(10)
    ignored: list[int] = []
    monkeypatch.delattr(signal, "SIGHUP")
    monkeypatch.setattr(signal, "signal", lambda sig, _handler: ignored.append(sig))
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    write_frame(write_in, frame(run, results))
    os.close(write_in)
    with os.fdopen(read_in, "rb") as stdin, os.fdopen(write_out, "wb") as stdout:
        monkeypatch.setattr(sys, "stdin", stdin)
        monkeypatch.setattr(sys, "stdout", stdout)
        child_module.main(str(tmp_path / "l.db"))
    os.close(read_out)
    assert ignored == [signal.SIGINT, signal.SIGTERM]
    with Store.open(tmp_path / "l.db") as store:
        assert store.count_results() == 10


def test_a_frozen_app_starts_no_writer_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a frozen build (sys.frozen), sys.executable is the app: no process is started and
    the thread records the run."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with Store.open(tmp_path / "l.db") as store:
        assert WriterProcess.start(store.path) is None
        run = store.begin_run(30)
        recorder = LedgerRecorder(store, run, max_rows=10, clock=lambda: 0.0, process=True)
        assert recorder._process is None
        for item in session_results(30):
            recorder.add(item)
        recorder.finish("complete")
        assert (recorder.error, store.count_results()) == (None, 30)


def test_the_writer_process_binds_none_through_its_own_adapter_as_null(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """main() registers the cheap adapter for None, and a batch full of None values stores
    the very rows (SQL NULL, never text) the thread stores without it."""
    key = (type(None), sqlite3.PrepareProtocol)
    results = varied_results(20)
    threaded = record(tmp_path / "thread.db", results, process=False)
    assert threaded.error is None
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(len(results))
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    write_frame(write_in, frame(run, results))
    os.close(write_in)
    try:
        with os.fdopen(read_in, "rb") as stdin, os.fdopen(write_out, "wb") as stdout:
            monkeypatch.setattr(sys, "stdin", stdin)
            monkeypatch.setattr(sys, "stdout", stdout)
            monkeypatch.setattr(signal, "signal", lambda _sig, _handler: None)
            child_module.main(str(tmp_path / "l.db"))
        assert sqlite3.adapters.get(key) is child_module._null
    finally:
        sqlite3.adapters.pop(key, None)
        os.close(read_out)
    assert dump(tmp_path / "l.db") == dump(tmp_path / "thread.db")
    conn = sqlite3.connect(tmp_path / "l.db")
    try:
        kinds = conn.execute("SELECT DISTINCT typeof(spend), typeof(tier) FROM results").fetchall()
    finally:
        conn.close()
    assert ("null", "null") in kinds
