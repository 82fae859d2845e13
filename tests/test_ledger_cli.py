"""The ledger end to end: `check` records and shows it; history, plot, pool, export, backup.

Every test runs `python -m keyledger` in a subprocess with an isolated KEYLEDGER_HOME, against
the real simulator serving on loopback from a background thread.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from keyledger.cli.demo import simulator_thread
from keyledger.models import Kind, Status
from keyledger.simulator import Scenario, SimState, make_key
from keyledger.simulator.responses import Ctx, Responder, dynamic, json_reply

RunCli = Callable[..., Any]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
INJECTION = "'); DROP TABLE results;--"
RUN_SALT = secrets.token_hex(8)  # makes every key body unique to this test session


class Burning:
    """A session account whose balance the test moves between runs."""

    def __init__(self) -> None:
        self.used = Decimal("0.00")

    def scenario(self) -> Scenario:
        def build(request: web.Request, ctx: Ctx) -> Responder:
            now = int(time.time())
            grant = {
                "object": "credit_grant",
                "id": "burning-grant",
                "grant_amount": "100.00",
                "used_amount": str(self.used),
                "effective_at": now - 86400,
                "expires_at": now + 60 * 86400,
            }
            return json_reply(
                {
                    "object": "credit_summary",
                    "total_granted": "100.00",
                    "total_used": str(self.used),
                    "total_available": str(Decimal(100) - self.used),
                    "grants": {"object": "list", "data": [grant]},
                }
            )

        return Scenario(
            "burning", Kind.SESSION, "a balance the test spends", Status.OK, None,
            {"credit_grants": dynamic(build)},
        )  # fmt: skip


def serve(state: SimState) -> Iterator[str]:
    """Run the simulator with ``state`` in a background thread; yields its URL."""
    with simulator_thread(state) as sim:
        yield sim.url


@pytest.fixture
def burning() -> Burning:
    return Burning()


@pytest.fixture
def sim_url(burning: Burning) -> Iterator[str]:
    """The simulator (with the 'burning' scenario) on a loopback port."""
    yield from serve(SimState(extra_scenarios={"burning": burning.scenario()}))


@pytest.fixture
def slow_sim_url() -> Iterator[str]:
    """A simulator that waits 0.4 s before every answer."""
    yield from serve(SimState(latency=0.4))


LABELS = {
    "grants": "grants",
    "grant_expiring": "soon",
    "relay": "relay",
    "relay_unlimited": "unltd",
    "ok": "ok-key",
    "no_quota": "broke",
    "invalid": INJECTION,
    "admin": "admin",
}


def key_value(scenario: str, n: int = 0) -> str:
    """A simulator key with a body unique to this test run's scenario."""
    kind = Kind.SESSION if scenario == "burning" else None
    return make_key(scenario, n, kind=kind) + RUN_SALT


def write_keys(path: Path, url: str, scenarios: dict[str, str]) -> dict[str, str]:
    """A 0600 CSV key file (label,key,provider,base_url); returns label -> key."""
    keys: dict[str, str] = {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", "key", "provider", "base_url"])
    for n, (scenario, label) in enumerate(scenarios.items()):
        keys[label] = key_value(scenario, n)
        writer.writerow([label, keys[label], "", url])
    path.write_text(buffer.getvalue())
    path.chmod(0o600)
    return keys


def db_path(home: Path) -> Path:
    return home / "ledger.db"


def check(run_cli: RunCli, keyfile: Path, *args: str) -> Any:
    return run_cli("check", str(keyfile), "--no-progress", "--timeout", "5", *args)


def secret_windows(key: str) -> set[str]:
    """Every 8-character window of a key's secret body: what follows the simulator's public
    ``KLSIM__<scenario>__`` marker (which, like reason codes, is not secret)."""
    body = key.split("__", 2)[-1]
    return {body[i : i + 8] for i in range(len(body) - 7)}


def assert_no_key_material(blob: bytes | str, keys: dict[str, str]) -> None:
    data = blob.encode() if isinstance(blob, str) else blob
    for key in keys.values():
        assert key.encode() not in data
        leaked = [w for w in secret_windows(key) if w.encode() in data]
        assert not leaked, leaked


def test_check_records_each_run_and_shows_changes_burn_runway_and_warnings(
    run_cli: RunCli, isolated_env: Path, tmp_path: Path, sim_url: str, burning: Burning
) -> None:
    """The second check shows the balance delta, burn rate, runway, sparkline and expiring grant."""
    keyfile = tmp_path / "keys.csv"
    write_keys(keyfile, sim_url, {"burning": "burner", "grant_expiring": "soon", "ok": "ok-key"})
    first = check(run_cli, keyfile)
    assert first.code == 0, first.stderr
    assert "run #1 recorded" in first.stdout
    burning.used = Decimal("10.00")
    second = check(run_cli, keyfile)
    assert second.code == 0, second.stderr
    out = second.stdout
    assert "Since run #1" in out and "1 balance(s) moved" in out
    assert "-10.00" in out  # the change since last run
    assert "/d ·" in out  # burn rate and runway
    assert "█" in out or "▁" in out  # the sparkline
    assert "Warning: soon: grant expires" in out
    conn = sqlite3.connect(db_path(isolated_env))
    runs = conn.execute("SELECT id, status, results_recorded FROM runs ORDER BY id").fetchall()
    assert runs == [(1, "complete", 3), (2, "complete", 3)]
    conn.close()


def test_no_record_leaves_the_ledger_untouched(
    run_cli: RunCli, isolated_env: Path, tmp_path: Path, sim_url: str
) -> None:
    """`check --no-record` creates no ledger and shows no ledger columns."""
    keyfile = tmp_path / "keys.csv"
    write_keys(keyfile, sim_url, {"ok": "ok-key"})
    done = check(run_cli, keyfile, "--no-record")
    assert done.code == 0, done.stderr
    assert not db_path(isolated_env).exists()
    assert "Since last" not in done.stdout


def test_history_table_json_and_csv(
    run_cli: RunCli, tmp_path: Path, sim_url: str, burning: Burning
) -> None:
    """history lists each check per key or per account, with exact money, in three formats."""
    keyfile = tmp_path / "keys.csv"
    keys = write_keys(keyfile, sim_url, {"burning": "burner", "invalid": INJECTION})
    check(run_cli, keyfile)
    burning.used = Decimal("2.50")
    check(run_cli, keyfile)

    done = run_cli("history", "burner", "--format", "json")
    assert done.code == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["schema"] == "keyledger/history/v2"
    rows = document["rows"]
    assert [r["balance"]["available"] for r in rows] == ["100.00", "97.50"]
    for field in ("label", "fingerprint", "checked_at", "status", "reason", "balance", "spend"):
        assert all(field in r for r in rows)
    fingerprint = rows[0]["fingerprint"]
    assert {r["fingerprint"] for r in rows} == {fingerprint} and rows[0]["spend"] is None

    by_fp = json.loads(run_cli("history", fingerprint[:8], "-f", "json").stdout)["rows"]
    assert len(by_fp) == 2
    account = rows[0]["account"]
    assert (
        account and len(json.loads(run_cli("history", account, "-f", "json").stdout)["rows"]) == 2
    )

    injected = json.loads(run_cli("history", INJECTION, "-f", "json").stdout)["rows"]
    assert [r["label"] for r in injected] == [INJECTION, INJECTION]
    assert injected[0]["status"] == "invalid"

    table = run_cli("history", "--since", "1d")
    assert table.code == 0 and "burner" in table.stdout and "97.50 USD" in table.stdout
    assert run_cli("history", "--since", "2999-01-01", "-f", "json").stdout.count('"label"') == 0

    text = run_cli("history", "-f", "csv").stdout
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == 4
    assert {r["label"] for r in parsed} == {"burner", INJECTION}
    for output in (done.stdout, text, table.stdout):
        assert_no_key_material(output, keys)


def test_plot_writes_a_png(run_cli: RunCli, tmp_path: Path, sim_url: str) -> None:
    """plot draws the recorded balances and spend into a non-empty PNG file."""
    keyfile = tmp_path / "keys.csv"
    write_keys(keyfile, sim_url, {"grants": "grants", "relay": "relay", "admin": "admin"})
    check(run_cli, keyfile)
    check(run_cli, keyfile)
    target = tmp_path / "chart.png"
    done = run_cli("plot", "--output", str(target))
    assert done.code == 0, done.stderr
    data = target.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert "3 key(s)" in done.stderr


def test_plot_without_a_ledger_fails_clearly(run_cli: RunCli, tmp_path: Path) -> None:
    """plot before any check says there is no ledger yet and writes nothing."""
    done = run_cli("plot", "-o", str(tmp_path / "x.png"))
    assert done.code == 1 and "no ledger" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_pool_writes_usable_keys_best_first_with_a_warning(
    run_cli: RunCli, tmp_path: Path, sim_url: str
) -> None:
    """pool re-reads the key file and prints only usable keys, best first, warning on stderr."""
    keyfile = tmp_path / "keys.csv"
    keys = write_keys(
        keyfile,
        sim_url,
        {
            "grants": "grants",
            "relay": "relay",
            "relay_unlimited": "unltd",
            "no_quota": "broke",
            "ok": "ok-key",
        },
    )
    check(run_cli, keyfile)
    more = tmp_path / "more.csv"
    extra = write_keys(more, sim_url, {"grant_expiring": "never-checked"})
    keyfile.write_text(keyfile.read_text() + more.read_text().split("\n", 1)[1])

    done = run_cli("pool", str(keyfile))
    assert done.code == 0, done.stderr
    chosen = done.stdout.split()  # known money first; a token without a cap is unknown money
    assert chosen[:2] == [keys["relay"], keys["grants"]]
    assert set(chosen[2:]) == {keys["unltd"], keys["ok-key"]}
    assert "warning" in done.stderr and "full key" in done.stderr
    assert "1 never checked" in done.stderr
    assert extra["never-checked"] not in done.stdout
    assert_no_key_material(done.stderr, {**keys, **extra})

    target = tmp_path / "out" / "pool.txt"
    target.parent.mkdir()
    rich = run_cli("pool", str(keyfile), "--min-available", "50", "-o", str(target))
    assert rich.code == 0 and rich.stdout == ""
    assert target.read_text().split() == [keys["relay"]]
    if os.name == "posix":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600

    too_much = run_cli("pool", str(keyfile), "--min-available", "1000000")
    assert too_much.code == 3 and too_much.stdout == ""  # an uncapped token is not "enough"
    none = run_cli("pool", str(keyfile), "--status", "invalid")
    assert none.code == 3 and none.stdout == ""
    both = run_cli("pool", str(keyfile), "--status", "ok", "--status", "no_quota")
    assert both.stdout.split()[-1] == keys["broke"]


def test_export_and_backup(
    run_cli: RunCli, isolated_env: Path, tmp_path: Path, sim_url: str
) -> None:
    """export gives every run and result (JSON and CSV); backup writes a sound copy."""
    keyfile = tmp_path / "keys.csv"
    keys = write_keys(keyfile, sim_url, {"grants": "grants", "admin": "admin"})
    check(run_cli, keyfile)
    exported = run_cli("export")
    assert exported.code == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["schema"] == "keyledger/export/v2" and len(document["runs"]) == 1
    by_label = {r["label"]: r for r in document["results"]}
    assert by_label["grants"]["balance"]["available"] == "49.25"
    assert len(by_label["grants"]["balance"]["grants"]) == 3
    assert by_label["admin"]["balance"] is None and by_label["admin"]["spend"]["amount"] == "31.00"
    rows = list(csv.DictReader(io.StringIO(run_cli("export", "--format", "csv").stdout)))
    assert len(rows) == 2
    assert_no_key_material(exported.stdout, keys)

    target = tmp_path / "backup.db"
    done = run_cli("backup", str(target))
    assert done.code == 0, done.stderr
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM results").fetchone()[0] == 2
    conn.close()
    again = run_cli("backup", str(target))
    assert again.code == 1 and "already exists" in again.stderr


def test_no_key_bytes_anywhere_under_keyledger_home(
    run_cli: RunCli, isolated_env: Path, tmp_path: Path, sim_url: str
) -> None:
    """After checks and every reading command, no file under KEYLEDGER_HOME holds key material."""
    keyfile = tmp_path / "keys.csv"
    keys = write_keys(keyfile, sim_url, dict(LABELS))
    check(run_cli, keyfile)
    check(run_cli, keyfile)
    for args in (
        ("history",),
        ("export",),
        ("pool", str(keyfile)),
        ("plot", "-o", str(tmp_path / "p.png")),
    ):
        run_cli(*args)
    files = [p for p in isolated_env.rglob("*") if p.is_file()]
    assert db_path(isolated_env) in files
    for path in files:
        assert_no_key_material(path.read_bytes(), keys)
        if os.name == "posix":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def start_slow_check(tmp_path: Path, url: str) -> subprocess.Popen[bytes]:
    """A check of 40 keys against the slow simulator, two at a time, in the background."""
    keyfile = tmp_path / "keys.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", "key", "provider", "base_url"])
    for n in range(40):
        writer.writerow([f"k{n}", key_value("ok", n), "", url])
    keyfile.write_text(buffer.getvalue())
    keyfile.chmod(0o600)
    return subprocess.Popen(
        [sys.executable, "-m", "keyledger", "check", str(keyfile), "-c", "2", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_results(db: Path, at_least: int) -> int:
    """Poll the ledger from another connection until it holds ``at_least`` results (max 20 s)."""
    committed = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and committed < at_least:
        time.sleep(0.1)
        if db.exists():
            with contextlib.closing(sqlite3.connect(db)) as conn:
                try:
                    committed = conn.execute("SELECT count(*) FROM results").fetchone()[0]
                except sqlite3.OperationalError:  # tables not created yet
                    committed = 0
    return committed


def test_ctrl_c_midway_marks_the_run_interrupted_and_keeps_results(
    isolated_env: Path, tmp_path: Path, slow_sim_url: str
) -> None:
    """SIGINT during a check exits 130, keeps finished results and marks the run interrupted."""
    proc = start_slow_check(tmp_path, slow_sim_url)
    try:
        committed = wait_for_results(db_path(isolated_env), 2)
        assert committed >= 2 and proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 130, stderr
    with contextlib.closing(sqlite3.connect(db_path(isolated_env))) as conn:
        ((status, recorded),) = conn.execute("SELECT status, results_recorded FROM runs").fetchall()
        total = conn.execute("SELECT count(*) FROM results").fetchone()[0]
    assert status == "interrupted" and committed <= recorded == total < 40


def test_sigkill_midway_keeps_committed_results(
    isolated_env: Path, tmp_path: Path, slow_sim_url: str
) -> None:
    """A check killed with SIGKILL keeps what it committed; the ledger stays sound (D3)."""
    proc = start_slow_check(tmp_path, slow_sim_url)
    db = db_path(isolated_env)
    try:
        committed = wait_for_results(db, 3)
        assert committed >= 3
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    # The ledger's writer process sees its parent go and closes the ledger on its own, which
    # may remove the -wal and -shm files at any moment: each file is judged if it is there.
    for suffix in ("", "-wal", "-shm"):
        try:
            mode = Path(f"{db}{suffix}").stat().st_mode
        except FileNotFoundError:
            continue
        if os.name == "posix":
            assert stat.S_IMODE(mode) == 0o600
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total = conn.execute("SELECT count(*) FROM results").fetchone()[0]
        assert committed <= total < 40
        orphans = conn.execute(
            "SELECT count(*) FROM results WHERE run_id NOT IN (SELECT id FROM runs)"
        ).fetchone()[0]
        assert orphans == 0
        assert conn.execute("SELECT status, finished_at FROM runs").fetchall() == [
            ("running", None)
        ]
    finally:
        conn.close()
