"""The ledger keeps its promises under file-system faults, and `check` ends cleanly on them.

Real SQLite files and real `python -m keyledger` subprocesses against the simulator. The suite
runs as root too, which bypasses permissions: read-only homes here are made by mode bits, which
keyledger honours even for root, and the tests look at mode bits and bytes, not access denial.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keyledger.errors import StoreError
from keyledger.home import SECRET_FILE, ensure_private_dir
from keyledger.ledger import DB_NAME, Store
from keyledger.ledger.rows import result_from_db
from keyledger.simulator import Simulator, make_key

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def key_file(tmp_path: Path, sim: Simulator, count: int = 2) -> Path:
    """A 0600 text key file of ``count`` ok simulator keys routed to ``sim``."""
    lines = [f"k{n} {make_key('ok', n)} base_url={sim.url}/v1" for n in range(count)]
    path = tmp_path / "keys.txt"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def check(run_cli: Any, keys: Path, *args: str) -> Any:
    return run_cli("check", str(keys), "--no-progress", "--timeout", "5", *args)


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), stat.S_IMODE(path.stat().st_mode)


def no_traceback(proc: Any) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


def count_results(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
    finally:
        conn.close()


# -- item 9: the ledger checks before it changes anything -----------------------------------


@posix_only
def test_another_programs_sqlite_file_keeps_its_bytes_and_mode(tmp_path: Path) -> None:
    """A foreign SQLite file is refused with its header (journal mode) and mode unchanged."""
    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.execute("INSERT INTO photos VALUES (1)")
    conn.commit()
    conn.close()
    path.chmod(0o644)
    before = snapshot(path)
    with pytest.raises(StoreError, match="not a keyledger ledger; it was left untouched"):
        Store.open(path)
    assert snapshot(path) == before
    assert before[0][18:20] == b"\x01\x01"  # still a rollback-journal database, not WAL
    assert not Path(f"{path}-wal").exists()


@pytest.mark.parametrize("version", [-1, -7, 2])
def test_an_impossible_schema_version_is_refused_untouched(tmp_path: Path, version: int) -> None:
    """A user_version keyledger never wrote (negative, or claiming missing tables) is refused."""
    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("CREATE TABLE runs (id INTEGER)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=f"schema version {version}, which no keyledger wrote"):
        Store.open(path)
    assert path.read_bytes() == before


@posix_only
def test_tightening_a_read_only_home_never_adds_write_permission(tmp_path: Path) -> None:
    """A 0555 home loses its group/other bits (0500) and never gains the owner's write bit."""
    home = tmp_path / "ro-home"
    home.mkdir()
    home.chmod(0o555)
    ensure_private_dir(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o500
    with pytest.raises(StoreError, match="read-only"):
        Store.open(home / DB_NAME)
    assert not (home / DB_NAME).exists()


@posix_only
def test_a_looser_ledger_file_only_loses_bits(tmp_path: Path) -> None:
    """A 0444 ledger becomes 0400, not 0600: tightening adds no write permission."""
    path = tmp_path / DB_NAME
    Store.open(path).close()
    path.chmod(0o444)
    with Store.open(path) as store:
        assert store.read_only
    assert stat.S_IMODE(path.stat().st_mode) == 0o400


def test_damaged_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    """Garbage in any column never raises: optional columns read as None, unusable rows skip."""
    path = tmp_path / DB_NAME
    damage_ledger(path)
    with Store.open(path) as store:
        rows = list(store.iter_results())
        assert [r.label for r in rows] == ["good", "odd"]
        odd = rows[1]
        assert (odd.available, odd.spend_start, odd.attempts) == (None, None, None)
        assert store.damaged == 2
        assert store.latest().keys() == {"fp-good", "fp-odd"}
        assert store.damaged == 4
        assert len(store.runs()) == 1 and store.damaged == 6


def test_the_row_converter_takes_any_column_garbage() -> None:
    """result_from_db returns None (never raises) when a needed column holds garbage."""
    good = {
        "id": 1, "run_id": 1, "fingerprint": "f", "masked": "m", "provider": "openai",
        "kind": "secret", "label": "l", "base_url": None, "checked_at": "2026-01-01T00:00:00Z",
        "status": "ok", "reason": None, "currency": None, "granted": None, "used": None,
        "available": None, "unlimited": None, "balance_source": None, "balance_reason": None,
        "balance_expires_at": None, "next_expiry": None, "spend": None, "spend_currency": None,
        "spend_start": None, "spend_end": None, "organization": None, "attempts": None,
        "duration_ms": None,
    }  # fmt: skip
    assert result_from_db(good) is not None
    for column in good:
        for junk in (b"\xff\x00", "not-a-date", 3.5, "0001-01-01T00:00:00-23:59", None):
            row = result_from_db({**good, column: junk})
            assert row is None or isinstance(row.checked_at, datetime)


def damage_ledger(path: Path) -> None:
    """A ledger holding one good result, one with garbage in optional columns, and two broken."""
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO runs (id, started_at, status, keys_total) "
        "VALUES (1, '2026-01-01T00:00:00.000000Z', 'complete', 4), "
        "(2, 'not-a-date', 'complete', 0), (3, X'00ff', 'complete', 0)"
    )
    for fp in ("fp-good", "fp-odd", "fp-date", "fp-blob"):
        conn.execute("INSERT INTO keys VALUES (?, 'sk-…abcd', 'openai', 'secret', 'x', 'x')", (fp,))
    conn.execute(
        "INSERT INTO results (run_id, fingerprint, label, checked_at, status, currency, "
        "available) VALUES (1, 'fp-good', 'good', '2026-01-01T00:00:01.000000Z', 'ok', 'USD', "
        "'5.00')"
    )
    conn.execute(
        "INSERT INTO results (run_id, fingerprint, label, checked_at, status, currency, "
        "available, spend_start, attempts) VALUES (1, 'fp-odd', 'odd', "
        "'2026-01-01T00:00:02.000000Z', 'ok', 'USD', 'lots', 'yesterday', 'three')"
    )
    conn.execute(
        "INSERT INTO results (run_id, fingerprint, label, checked_at, status) "
        "VALUES (1, 'fp-date', 'date', 'not-a-date', 'ok')"
    )
    conn.execute(
        "INSERT INTO results (run_id, fingerprint, label, checked_at, status) "
        "VALUES (1, 'fp-blob', X'ff00', '2026-01-01T00:00:03.000000Z', 'ok')"
    )
    conn.commit()
    conn.close()


def test_history_export_and_check_survive_damaged_rows(
    run_cli: Any, isolated_env: Path, live_sim: Simulator, tmp_path: Path
) -> None:
    """history, export and check print the readable rows and warn about the skipped ones."""
    isolated_env.mkdir(mode=0o700)
    damage_ledger(isolated_env / DB_NAME)
    (isolated_env / SECRET_FILE).write_bytes(os.urandom(32))
    for args in (("history",), ("history", "-f", "json"), ("export",), ("export", "-f", "csv")):
        proc = run_cli(*args)
        no_traceback(proc)
        assert proc.code == 0, (args, proc.stderr)
        assert "damaged row(s)" in proc.stderr and "skipped" in proc.stderr
        assert "good" in proc.stdout and "odd" in proc.stdout
    assert json.loads(run_cli("history", "-f", "json").stdout)["rows"][1]["label"] == "odd"
    proc = check(run_cli, key_file(tmp_path, live_sim))
    no_traceback(proc)
    assert proc.code == 0, proc.stderr
    assert "k0" in proc.stdout


# -- item 9: a lost install secret is detected -----------------------------------------------


def test_a_deleted_install_secret_is_not_silently_recreated(
    run_cli: Any, isolated_env: Path, live_sim: Simulator, tmp_path: Path
) -> None:
    """With the secret gone, check refuses (exit 1, says how to recover) and creates nothing."""
    keys = key_file(tmp_path, live_sim)
    assert check(run_cli, keys).code == 0
    (isolated_env / SECRET_FILE).unlink()
    proc = check(run_cli, keys)
    no_traceback(proc)
    assert proc.code == 1
    assert "install-secret" in proc.stderr and "is missing" in proc.stderr
    assert "Restore install-secret from a backup" in proc.stderr
    assert "--new-identity" in proc.stderr
    assert not (isolated_env / SECRET_FILE).exists()
    assert count_results(isolated_env / DB_NAME) == 2
    # --no-record still checks, with a throwaway secret it mentions
    quiet = check(run_cli, keys, "--no-record")
    assert quiet.code == 0 and "throwaway secret" in quiet.stderr
    assert not (isolated_env / SECRET_FILE).exists()
    # starting a new identity on purpose works, and then sticks
    assert check(run_cli, keys, "--new-identity").code == 0
    assert check(run_cli, keys).code == 0
    assert count_results(isolated_env / DB_NAME) == 6


def test_a_replaced_install_secret_is_refused(
    run_cli: Any, isolated_env: Path, live_sim: Simulator, tmp_path: Path
) -> None:
    """A different secret than the ledger was recorded with is refused, not used."""
    keys = key_file(tmp_path, live_sim)
    assert check(run_cli, keys).code == 0
    (isolated_env / SECRET_FILE).write_bytes(os.urandom(32))
    proc = check(run_cli, keys)
    no_traceback(proc)
    assert proc.code == 1
    assert "not the one its checks were fingerprinted with" in proc.stderr
    assert count_results(isolated_env / DB_NAME) == 2


# -- item 9 and 5: read-only homes ----------------------------------------------------------


@posix_only
def test_a_read_only_home_with_a_healthy_ledger_still_prints_results(
    run_cli: Any, isolated_env: Path, live_sim: Simulator, tmp_path: Path
) -> None:
    """In a 0500 home, check prints every result, warns, records nothing, and exits 1."""
    keys = key_file(tmp_path, live_sim)
    assert check(run_cli, keys).code == 0
    db = isolated_env / DB_NAME
    isolated_env.chmod(0o500)
    before = snapshot(db)
    proc = check(run_cli, keys, "-f", "json")
    no_traceback(proc)
    assert proc.code == 1
    assert len(json.loads(proc.stdout)["results"]) == 2
    assert "is read-only; results are printed but not recorded" in proc.stderr
    assert "Move it away" not in proc.stderr
    assert snapshot(db) == before
    assert stat.S_IMODE(isolated_env.stat().st_mode) == 0o500
    history = run_cli("history", "-f", "json")
    assert history.code == 0 and len(json.loads(history.stdout)["rows"]) == 2


@posix_only
def test_a_read_only_home_without_a_secret(
    run_cli: Any, isolated_env: Path, live_sim: Simulator, tmp_path: Path
) -> None:
    """A 0500 home with no secret: --no-record checks with a throwaway secret; recording
    fails cleanly with exit 1."""
    isolated_env.mkdir(mode=0o500)
    keys = key_file(tmp_path, live_sim)
    quiet = check(run_cli, keys, "--no-record")
    no_traceback(quiet)
    assert quiet.code == 0 and "throwaway secret" in quiet.stderr and "k1" in quiet.stdout
    proc = check(run_cli, keys)
    no_traceback(proc)
    assert proc.code == 1
    assert "install-secret" in proc.stderr and "read-only" in proc.stderr
    assert "--no-record" in proc.stderr
    assert list(isolated_env.iterdir()) == []


# -- item 5: the output file ------------------------------------------------------------------


def test_an_output_path_in_a_missing_directory_is_a_usage_error(
    run_cli: Any, isolated_env: Path, live_sim: Simulator, tmp_path: Path
) -> None:
    """`-o /nonexistent/x.json` exits 2 with one clean line, before anything is checked."""
    proc = check(run_cli, key_file(tmp_path, live_sim), "-o", str(tmp_path / "nope" / "x.json"))
    no_traceback(proc)
    assert proc.code == 2
    assert "cannot write" in proc.stderr and "No such file or directory" in proc.stderr
    assert not (isolated_env / DB_NAME).exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_output_that_fails_while_writing_still_records_the_results(
    run_cli: Any, isolated_env: Path, live_sim: Simulator, tmp_path: Path
) -> None:
    """`-o /dev/full` fails at write time: exit 1, a clean message, the ledger has every result."""
    proc = check(run_cli, key_file(tmp_path, live_sim, 3), "-f", "json", "-o", "/dev/full")
    no_traceback(proc)
    assert "Exception ignored" not in proc.stderr
    assert proc.code == 1
    assert "cannot write /dev/full: No space left on device" in proc.stderr
    assert "recorded in the ledger" in proc.stderr
    assert count_results(isolated_env / DB_NAME) == 3
    conn = sqlite3.connect(isolated_env / DB_NAME)
    assert conn.execute("SELECT status FROM runs").fetchall() == [("complete",)]
    conn.close()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_history_to_a_full_device_fails_cleanly(
    run_cli: Any, isolated_env: Path, tmp_path: Path
) -> None:
    """history -o /dev/full exits 1 with a clean message, not a traceback."""
    with Store.open(isolated_env / DB_NAME) as store:
        store.finish_run(store.begin_run(0, now=datetime(2026, 1, 1, tzinfo=UTC)), "complete")
    proc = run_cli("export", "-o", "/dev/full")
    no_traceback(proc)
    assert proc.code == 1 and "cannot write /dev/full" in proc.stderr
