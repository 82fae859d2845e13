"""`keyledger watch`, `check --alerts` and `keyledger alerts` end to end: real subprocesses,
a real SQLite ledger and the simulator on loopback, whose keys change scenario between runs."""

from __future__ import annotations

import http.server
import json
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from keyledger.cli.demo import simulator_thread
from keyledger.simulator import SimState, make_key
from keyledger.simulator.server import fingerprint

RunCli = Callable[..., Any]
SALT = secrets.token_hex(8)
CONFIG = """\
[[rules]]
name = "key-dead"
when = "status_not_ok"
label = "dying"
channels = ["ops"]

[[rules]]
name = "unreachable"
when = "unreachable"
runs = 2
channels = ["ops"]
"""


def key(scenario: str, n: int) -> str:
    return make_key(scenario, n) + SALT


@pytest.fixture
def state() -> SimState:
    return SimState()


@pytest.fixture
def sim_url(state: SimState) -> Iterator[str]:
    with simulator_thread(state) as sim:
        yield sim.url


class _Hook(http.server.BaseHTTPRequestHandler):
    """A webhook receiver on loopback: records each JSON body it is sent."""

    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP webhook receiver in a thread: its URL and what arrived."""
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def setup(
    tmp_path: Path, state: SimState, sim_url: str, hook: tuple[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """Two keys in a key file (one dies at its 2nd check and recovers at its 5th) and a config
    whose channel is a real webhook receiver on loopback."""
    dying, steady = key("ok", 1), key("ok", 2)
    state.phases[fingerprint(dying)] = ["ok", "invalid", "invalid", "invalid", "ok", "ok"]
    keys = tmp_path / "keys.csv"
    keys.write_text(f"label,key,provider,base_url\ndying,{dying},,{sim_url}\n"
                    f"steady,{steady},,{sim_url}\n")  # fmt: skip
    keys.chmod(0o600)
    config = tmp_path / "alerts.toml"
    config.write_text(CONFIG + f'\n[channels.ops]\ntype = "webhook"\nurl = "{hook[0]}"\n')
    return {"keys": keys, "config": config, "secrets": [dying, steady], "hook": hook[1]}


def events(home: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(home / "ledger.db") as conn:
        rows = conn.execute("SELECT rule, kind, run_id FROM alert_events ORDER BY at, rowid")
        return [tuple(r) for r in rows]  # type: ignore[misc]


def assert_no_secret(blob: str | bytes, keys: list[str]) -> None:
    data = blob.encode() if isinstance(blob, str) else blob
    for k in keys:
        body = k.split("__", 2)[-1]
        assert k.encode() not in data
        assert not [
            body[i : i + 8] for i in range(len(body) - 7) if body[i : i + 8].encode() in data
        ]


def watch(run_cli: RunCli, setup: dict[str, Any], *extra: str) -> Any:
    return run_cli(
        "watch", str(setup["keys"]), "--every", "1s", "--config", str(setup["config"]), *extra,
        timeout=120,
    )  # fmt: skip


def test_a_dying_key_alerts_once_and_recovers_once_across_a_restart(
    run_cli: RunCli, setup: dict[str, Any], isolated_env: Path, tmp_path: Path
) -> None:
    """Run 2 fires, runs 3-4 (after a restart) repeat nothing, two ok runs give one recovery."""
    home = tmp_path / "klhome"
    first = watch(run_cli, setup, "--max-runs", "3")
    assert first.code == 0, first.stderr
    assert events(home) == [("key-dead", "fired", 2)]
    assert first.stderr.count("alert fired") == 1 and "dying" in first.stderr
    second = watch(run_cli, setup, "--max-runs", "3")  # a new process: runs 4, 5, 6
    assert second.code == 0, second.stderr
    assert events(home) == [("key-dead", "fired", 2), ("key-dead", "recovered", 6)]
    assert "alert fired" not in second.stderr and second.stderr.count("alert recovered") == 1
    listed = run_cli("alerts", "-f", "json")
    document = json.loads(listed.stdout)
    assert document["active"] == []
    assert [e["kind"] for e in document["recent"]] == ["recovered", "fired"]
    assert (
        document["recent"][1]["label"] == "dying" and document["recent"][1]["status"] == "invalid"
    )
    table = run_cli("alerts")
    assert table.code == 0 and "key-dead" in table.stdout
    delivered = [(e["event"]["kind"], e["event"]["rule"]) for e in setup["hook"]]
    assert delivered == [("fired", "key-dead"), ("recovered", "key-dead")]  # exactly once each
    for blob in (first.stderr, second.stderr, listed.stdout, table.stdout, repr(setup["hook"])):
        assert_no_secret(blob, setup["secrets"])
    assert_no_secret(b"".join(p.read_bytes() for p in home.glob("ledger.db*")), setup["secrets"])


def test_an_unreadable_key_file_is_reported_and_the_others_go_on(
    run_cli: RunCli, setup: dict[str, Any], isolated_env: Path, tmp_path: Path
) -> None:
    """A missing key file is logged each run; the readable file's keys are still recorded."""
    result = run_cli(
        "watch", str(setup["keys"]), str(tmp_path / "gone.txt"), "--every", "1s",
        "--max-runs", "2", "--no-alerts", timeout=120,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert result.stderr.count("gone.txt") >= 2 and "other files go on" in result.stderr
    with sqlite3.connect(tmp_path / "klhome" / "ledger.db") as conn:
        counts = conn.execute("SELECT COUNT(*) FROM results GROUP BY run_id").fetchall()
    assert counts == [(2,), (2,)]


def test_max_runs_that_never_read_a_key_exit_2(
    run_cli: RunCli, isolated_env: Path, tmp_path: Path
) -> None:
    """--max-runs ending with no key file readable in any run is exit 2 (nothing checked)."""
    result = run_cli(
        "watch", str(tmp_path / "gone.txt"), "--every", "1s", "--max-runs", "2", "--no-alerts",
        timeout=120,
    )  # fmt: skip
    assert result.code == 2, result.stderr
    assert result.stderr.count("nothing checked") == 2


def test_check_alerts_evaluates_once_per_cron_run(
    run_cli: RunCli, setup: dict[str, Any], isolated_env: Path, tmp_path: Path
) -> None:
    """check --alerts, as from cron: the crossing fires on the 2nd run and not on the 3rd."""
    args = ("check", str(setup["keys"]), "--alerts", "--config", str(setup["config"]), "-q",
            "--format", "json")  # fmt: skip
    codes = [run_cli(*args).code for _ in range(3)]
    assert codes == [0, 3, 3]
    assert events(tmp_path / "klhome") == [("key-dead", "fired", 2)]


def test_check_alerts_reports_a_bad_rule_with_file_and_line(
    run_cli: RunCli, setup: dict[str, Any], isolated_env: Path
) -> None:
    """A config mistake stops check --alerts with exit 2 and file:line."""
    text = setup["config"].read_text()
    setup["config"].write_text(text.replace("runs = 2", "runs = 0"))
    result = run_cli("check", str(setup["keys"]), "--alerts", "--config", str(setup["config"]))
    assert result.code == 2 and f"{setup['config']}:10:" in result.stderr


def wait_for_runs(db: Path, at_least: int) -> None:
    for _ in range(600):
        try:
            with sqlite3.connect(db) as conn:
                done = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except sqlite3.Error:
            done = 0
        if done >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("watch never started a run")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_finishes_the_runs_writes_and_exits_cleanly(
    setup: dict[str, Any], isolated_env: Path, tmp_path: Path, state: SimState, sig: int,
    code: int,
) -> None:  # fmt: skip
    """SIGTERM exits 0 and Ctrl-C 130; no run is left 'running', and nothing leaks."""
    state.latency = 0.3
    db = tmp_path / "klhome" / "ledger.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyledger", "watch", str(setup["keys"]), "--every", "1s",
         "--config", str(setup["config"])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_runs(db, 1)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert b"stopping" in err and b"Traceback" not in err
    with sqlite3.connect(db) as conn:
        statuses = {r[0] for r in conn.execute("SELECT status FROM runs")}
    assert statuses <= {"complete", "interrupted"}
    assert_no_secret(err + out, setup["secrets"])
