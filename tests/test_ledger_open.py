"""Opening the ledger on a worker thread: the store or the error reaches the caller intact."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from keyledger.cli.keys_input import LedgerExit
from keyledger.cli.ledger_open import LedgerOpening
from keyledger.errors import StoreError
from keyledger.ledger.store import Store


def test_result_is_the_store_opened_on_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger is created by a thread other than the caller's, and result() hands it over."""
    threads: list[threading.Thread] = []
    real = Store.open.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Store], *args: object, **kwargs: object) -> Store:
        threads.append(threading.current_thread())
        return real(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Store, "open", classmethod(spy))
    store = LedgerOpening.start(None, path=tmp_path / "ledger.db").result()
    try:
        assert threads and threads[0] is not threading.current_thread()
        assert store.conn.execute("SELECT 1").fetchone()[0] == 1
        assert (tmp_path / "ledger.db").is_file()
    finally:
        store.close()


def test_an_unusable_ledger_is_a_ledger_exit_on_the_caller(tmp_path: Path) -> None:
    """A file that is not a ledger ends in LedgerExit raised by result(), not lost in the thread."""
    bogus = tmp_path / "ledger.db"
    bogus.write_bytes(b"not a database at all" * 100)
    bogus.chmod(0o600)
    opening = LedgerOpening.start(None, path=bogus)
    with pytest.raises(LedgerExit, match="ledger: "):
        opening.result()
    opening.discard()  # nothing left to close


def test_discard_closes_a_store_never_taken(tmp_path: Path) -> None:
    """A run stopped before taking the store closes it (no connection outlives the command)."""
    opened: list[Store] = []
    opening = LedgerOpening.start(None, path=tmp_path / "ledger.db")
    opening._thread.join()
    opened.append(opening._store)  # type: ignore[arg-type]
    opening.discard()
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].conn.execute("SELECT 1")


def test_a_bad_provider_switch_exits_before_the_ledger_is_created(tmp_path: Path) -> None:
    """`--xai-management-key-env UNSET` is a usage error (exit 2) that creates no ledger."""
    keys = tmp_path / "keys.txt"
    keys.write_text("xai-" + "A1b2C3d4" * 8 + "\n")
    keys.chmod(0o600)
    home = tmp_path / "home"
    env = {**os.environ, "KEYLEDGER_HOME": str(home)}
    env.pop("KEYLEDGER_TEST_UNSET", None)
    command = [sys.executable, "-m", "keyledger", "check", str(keys), "-f", "json", "-q"]
    done = subprocess.run(
        [*command, "--xai-management-key-env", "KEYLEDGER_TEST_UNSET"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert "KEYLEDGER_TEST_UNSET is not set" in done.stderr
    assert not (home / "ledger.db").exists()


def test_the_run_is_begun_on_the_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the number of keys, the worker also commits the run's `running` row (its fsync
    off the caller's thread) and hands over its id with the store."""
    threads: list[threading.Thread] = []
    real = Store.begin_run

    def spy(self: Store, keys_total: int, **kwargs: object) -> int:
        threads.append(threading.current_thread())
        return real(self, keys_total, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "begin_run", spy)
    opening = LedgerOpening.start(None, path=tmp_path / "ledger.db", keys_total=3)
    store = opening.result()
    try:
        assert threads and threads[0] is not threading.current_thread()
        (run,) = store.runs()
        assert (run.id, run.status, run.keys_total) == (opening.run_id, "running", 3)
    finally:
        store.close()


def test_discard_marks_a_run_begun_on_the_worker_interrupted(tmp_path: Path) -> None:
    """A run stopped before taking the store leaves its begun run `interrupted`, not `running`."""
    opening = LedgerOpening.start(None, path=tmp_path / "ledger.db", keys_total=2)
    opening._thread.join()
    opening.discard()
    with Store.open(tmp_path / "ledger.db", create=False) as store:
        (run,) = store.runs()
        assert run.status == "interrupted"


def test_a_run_the_ledger_refuses_is_a_ledger_exit_on_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger that does not take the new run ends in LedgerExit (exit 1) from result()."""

    def refuse(self: Store, keys_total: int, **kwargs: object) -> int:
        raise StoreError("cannot write the ledger: disk I/O error")

    monkeypatch.setattr(Store, "begin_run", refuse)
    opening = LedgerOpening.start(None, path=tmp_path / "ledger.db", keys_total=1)
    with pytest.raises(LedgerExit, match=r"disk I/O error \(use --no-record") as caught:
        opening.result()
    assert caught.value.exit_code == 1
    opening.discard()
