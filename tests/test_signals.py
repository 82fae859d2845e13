"""SIGTERM, SIGHUP and Ctrl-C at any moment end like Ctrl-C mid-run (issue 7, items 8 and 11).

Real subprocesses, real signals, the simulator on loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from keyledger.ledger import ledger_path
from keyledger.simulator import Simulator, make_key

KEYS = 40


def _key_file(tmp_path: Path, count: int = KEYS, mode: int = 0o600) -> Path:
    path = tmp_path / "keys.txt"
    path.write_text("".join(make_key("grants", n) + "\n" for n in range(count)))
    path.chmod(mode)
    return path


def _runs() -> list[tuple[str, int | None]]:
    with sqlite3.connect(ledger_path(os.environ)) as conn:
        return list(conn.execute("SELECT status, results_recorded FROM runs"))


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
async def test_stop_signal_mid_run_keeps_the_output_and_marks_the_run(
    sim: Simulator, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """SIGTERM/SIGHUP mid-run: -o file written (complete: false), run interrupted, no tmp."""
    sim.state.latency = 0.2
    keys = _key_file(tmp_path)
    out = tmp_path / "out.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "keyledger", "check", str(keys), "-o", str(out), "--base-url", sim.url),
        *("--concurrency", "2"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    while sim.state.total < 6:
        await asyncio.sleep(0.05)
    proc.send_signal(sig)
    _, err = await asyncio.wait_for(proc.communicate(), 20)

    assert proc.returncode == code
    text = err.decode()
    assert "Traceback" not in text and "interrupted" in text
    document = json.loads(out.read_text())
    assert document["complete"] is False and 1 <= len(document["results"]) < KEYS
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert _runs() == [("interrupted", len(document["results"]))]


def _wait_for_loading(proc: subprocess.Popen[bytes]) -> None:
    """Block until the CLI has warned about the key file, i.e. it is now reading keys."""
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert b"group or others may read it" in line, line


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_while_keys_load_exits_with_its_code(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """Ctrl-C (or SIGTERM) while keys are read: exit 130 (143), no "Aborted!", no traceback."""
    keys = _key_file(tmp_path, 3, mode=0o644)  # readable by others: a warning before loading
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyledger", "check", str(keys), "-", "--no-record"],
        stdin=subprocess.PIPE,  # kept open: reading "-" waits here
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for_loading(proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)

    assert proc.returncode == code
    text = err.decode()
    assert "Aborted" not in text and "Traceback" not in text


def test_ctrl_c_while_the_table_is_drawn_exits_130(live_sim: Simulator, tmp_path: Path) -> None:
    """Ctrl-C while the table is being written (stdout full): exit 130, quietly."""
    keys = _key_file(tmp_path, 1000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyledger", "check", str(keys), "--base-url", live_sim.url],
        stdout=subprocess.PIPE,  # not read beyond the first bytes: the table's write blocks
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = os.read(proc.stdout.fileno(), 64)  # the table has started; it is far over 64 KiB
    assert first
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)

    assert proc.returncode == 130
    text = err.decode()
    assert "Aborted" not in text and "Traceback" not in text
    assert _runs()[0][0] == "complete"  # the run had finished before the table
