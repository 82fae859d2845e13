"""Standard output that cannot be written (`> /dev/full`: ENOSPC) ends every command with one
clean line naming standard output, what the ledger kept, and exit 1; a result the ledger cannot
store is said and ends `check` with exit 1.

Real `python -m keyledger` subprocesses whose stdout is /dev/full, against the simulator.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyledger.exitcodes import ExitCode
from keyledger.ledger import DB_NAME, Store
from keyledger.simulator import Simulator, make_key

from .test_ledger_bulk import session_results

pytestmark = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")

FORMATS = ["table", "json", "jsonl", "csv"]
FULL = "keyledger: error: cannot write standard output: No space left on device"


def to_full(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m keyledger ARGS`` with /dev/full as its stdout."""
    with open("/dev/full", "w") as full:
        return subprocess.run(
            [sys.executable, "-m", "keyledger", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=120,
            env={**os.environ, **(env or {})},
        )


def clean(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """Assert no traceback and exit 1; return its "cannot write" lines."""
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert "None" not in proc.stderr, proc.stderr
    assert proc.returncode == ExitCode.ERROR, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "cannot write" in line]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(FULL), proc.stderr
    return lines


def key_file(tmp_path: Path, sim: Simulator, count: int = 3) -> Path:
    """A 0600 key file of ``count`` ok simulator keys."""
    path = tmp_path / "keys.txt"
    lines = [f"k{n} {make_key('ok', n)} base_url={sim.url}/v1\n" for n in range(count)]
    path.write_text("".join(lines))
    path.chmod(0o600)
    return path


def statuses(db: Path) -> list[tuple[str, int]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT status, results_recorded FROM runs ORDER BY id").fetchall()
        return [(str(s), int(n)) for s, n in rows]
    finally:
        conn.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_check_to_a_full_stdout_says_so_and_what_the_ledger_kept(
    isolated_env: Path, live_sim: Simulator, tmp_path: Path, fmt: str
) -> None:
    """`check -f FMT > /dev/full`: one line naming standard output and the run recorded, exit 1."""
    proc = to_full("check", str(key_file(tmp_path, live_sim)), "--no-progress", "-f", fmt)
    (line,) = clean(proc)
    assert line.endswith("(the results were recorded in the ledger as run #1)")
    assert statuses(isolated_env / DB_NAME) == [("complete", 3)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_check_no_record_to_a_full_stdout_says_nothing_of_the_ledger(
    isolated_env: Path, live_sim: Simulator, tmp_path: Path, fmt: str
) -> None:
    """`check --no-record -f FMT > /dev/full`: one line, no word of a ledger, exit 1."""
    keys = key_file(tmp_path, live_sim)
    proc = to_full("check", str(keys), "--no-record", "--no-progress", "-f", fmt)
    (line,) = clean(proc)
    assert line == FULL
    assert " ledger" not in proc.stderr and "recorded" not in proc.stderr
    assert not (isolated_env / DB_NAME).exists()


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One KEYLEDGER_HOME for the demo tests: its history is built once."""
    return tmp_path_factory.mktemp("demo-home")


@pytest.mark.parametrize("fmt", FORMATS)
def test_demo_to_a_full_stdout_says_so(isolated_env: Path, demo_home: Path, fmt: str) -> None:
    """`demo -f FMT > /dev/full`: one line naming standard output and the demo's run, exit 1."""
    proc = to_full("demo", "--no-progress", "-f", fmt, env={"KEYLEDGER_HOME": str(demo_home)})
    (line,) = clean(proc)
    assert "were recorded in the ledger as run #" in line


@pytest.fixture
def ledger_home(isolated_env: Path) -> Path:
    """A ledger with one recorded run of one result."""
    with Store.open(isolated_env / DB_NAME) as store:
        run = store.begin_run(1, now=datetime(2026, 1, 1, tzinfo=UTC))
        store.record(run, session_results(1))
        store.finish_run(run, "complete")
    return isolated_env


@pytest.mark.parametrize(
    "args",
    [
        ["history"],
        ["history", "-f", "json"],
        ["history", "-f", "csv"],
        ["export"],
        ["export", "-f", "csv"],
        ["alerts"],
        ["alerts", "-f", "json"],
        ["providers"],
        ["providers", "-f", "json"],
        ["providers", "-f", "markdown"],
    ],
    ids=" ".join,
)
def test_reading_commands_to_a_full_stdout_say_so(ledger_home: Path, args: list[str]) -> None:
    """history, export, alerts and providers to /dev/full: one line, exit 1, no traceback."""
    (line,) = clean(to_full(*args))
    assert line == FULL


def test_pool_to_a_full_stdout_says_so(
    isolated_env: Path, live_sim: Simulator, tmp_path: Path
) -> None:
    """`pool FILE > /dev/full`: the keys it would write are lost, said in one line, exit 1."""
    keys = key_file(tmp_path, live_sim)
    checked = subprocess.run(
        [sys.executable, "-m", "keyledger", "check", str(keys), "-q", "-f", "json"],
        capture_output=True,
        timeout=120,
    )
    assert checked.returncode == 0
    (line,) = clean(to_full("pool", str(keys)))
    assert line == FULL


def test_a_result_the_ledger_cannot_store_is_said_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch SQLite refuses (a lone surrogate in a label) is counted on stderr, the run is
    `interrupted`, and `check` exits 1: a write of the ledger failed."""
    from keyledger.cli.check_ledger import CheckLedger
    from keyledger.ledger.session import RunLedger

    results = session_results(60)
    odd = results[3]
    results[3] = dataclasses.replace(odd, key=dataclasses.replace(odd.key, label="bad\ud800"))
    store = Store.open(tmp_path / DB_NAME)
    ledger = RunLedger.begin(store, 60, insights=False, process=False)
    view = CheckLedger(store, ledger, 7)
    ledger.recorder.max_rows = 50
    for item in results:
        ledger.add(item)

    code = view.close(ExitCode.OK)

    err = capsys.readouterr().err
    assert code is ExitCode.ERROR
    assert "50 result(s) could not be recorded" in err
    assert f"run #{view.run_id} is marked interrupted" in err
    assert view.kept() == "only 10 result(s) were recorded in the ledger"
    assert statuses(tmp_path / DB_NAME) == [("interrupted", 10)]


def test_a_stopped_run_keeps_its_code_when_the_ledger_cannot_store_a_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C's 130 is kept when some results could not be stored (the message is still said)."""
    from keyledger.cli.check_ledger import CheckLedger
    from keyledger.ledger.session import RunLedger

    results = session_results(2)
    odd = results[0]
    results[0] = dataclasses.replace(odd, key=dataclasses.replace(odd.key, label="bad\ud800"))
    store = Store.open(tmp_path / DB_NAME)
    ledger = RunLedger.begin(store, 2, insights=False, process=False)
    view = CheckLedger(store, ledger, 7)
    for item in results:
        ledger.add(item)

    assert view.close(ExitCode.INTERRUPTED) is ExitCode.INTERRUPTED
    assert "2 result(s) could not be recorded" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["check", "--help"], ["history", "--help"]]
)
def test_help_and_version_that_cannot_be_written_end_in_one_line(args: list[str]) -> None:
    """Text Click prints itself (help, version) to a full stdout: one line and exit 1."""
    assert clean(to_full(*args)) == [FULL]


def test_help_still_reaches_a_stdout_that_takes_it() -> None:
    """With a stdout that works, help is printed and the command exits 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "keyledger", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith("Usage: keyledger"), proc.stderr
