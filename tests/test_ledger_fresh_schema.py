"""A brand-new ledger's schema goes in with one commit; an older one still step by step."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from keyledger.ledger.migrations import MIGRATIONS, migrate, schema_version


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def _commits(conn: sqlite3.Connection) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def _step_by_step(path: Path) -> sqlite3.Connection:
    """The schema as each migration in its own transaction builds it."""
    conn = _connect(path)
    for index, step in enumerate(MIGRATIONS):
        conn.execute("BEGIN IMMEDIATE")
        step(conn)
        conn.execute(f"PRAGMA user_version = {index + 1:d}")
        conn.execute("COMMIT")
    return conn


def test_a_new_ledger_gets_its_whole_schema_in_one_commit(tmp_path: Path) -> None:
    """Every migration of a new ledger is applied in one transaction (one WAL sync), and the
    schema is exactly the one the steps build one transaction at a time."""
    conn = _connect(tmp_path / "new.db")
    commits = _commits(conn)
    applied = migrate(conn)
    assert applied == [step.__name__ for step in MIGRATIONS]
    assert commits == ["COMMIT"]
    assert schema_version(conn) == len(MIGRATIONS)
    reference = _step_by_step(tmp_path / "ref.db")
    assert _schema(conn) == _schema(reference)
    conn.close()
    reference.close()


@pytest.mark.parametrize("version", [1, len(MIGRATIONS) - 1])
def test_an_older_ledger_is_migrated_one_step_a_transaction(tmp_path: Path, version: int) -> None:
    """A ledger at version N > 0 gets each pending step in its own transaction."""
    conn = _connect(tmp_path / "old.db")
    for index, step in enumerate(MIGRATIONS[:version]):
        step(conn)
        conn.execute(f"PRAGMA user_version = {index + 1:d}")
    commits = _commits(conn)
    applied = migrate(conn)
    assert applied == [step.__name__ for step in MIGRATIONS[version:]]
    assert len(commits) == len(MIGRATIONS) - version
    assert schema_version(conn) == len(MIGRATIONS)
    conn.close()


def test_a_new_ledger_whose_migration_fails_stays_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing step in a new ledger's one transaction leaves it at version 0 with no table
    (never part-way)."""

    def m999_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        raise sqlite3.OperationalError("boom")

    monkeypatch.setattr("keyledger.ledger.migrations.MIGRATIONS", [*MIGRATIONS, m999_broken])
    conn = _connect(tmp_path / "new.db")
    with pytest.raises(sqlite3.OperationalError, match="boom"):
        migrate(conn)
    assert schema_version(conn) == 0
    assert _schema(conn) == []
    conn.close()


def _fill_the_disk(conn: sqlite3.Connection) -> None:
    """A step that meets a full disk: SQLite then rolls the transaction back by itself."""
    conn.execute("CREATE TABLE big (x)")
    conn.execute("PRAGMA max_page_count = 3")
    conn.execute("INSERT INTO big VALUES (randomblob(100000))")


def test_a_full_disk_during_a_new_ledgers_schema_is_the_error_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the schema goes in raises SQLite's own error, not a failed ROLLBACK
    of the transaction SQLite already ended."""
    monkeypatch.setattr("keyledger.ledger.migrations.MIGRATIONS", [*MIGRATIONS, _fill_the_disk])
    conn = _connect(tmp_path / "new.db")
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        migrate(conn)
    assert not conn.in_transaction
    assert schema_version(conn) == 0
    assert _schema(conn) == []
    conn.close()


def test_a_ledger_that_cannot_be_created_on_a_full_disk_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Store.open on a full disk says the ledger cannot be written (disk full), not that the
    file is unusable and should be moved away."""
    from keyledger.errors import StoreError
    from keyledger.ledger.store import Store

    monkeypatch.setattr("keyledger.ledger.migrations.MIGRATIONS", [*MIGRATIONS, _fill_the_disk])
    path = tmp_path / "ledger.db"
    with pytest.raises(StoreError) as raised:
        Store.open(path, create=True)
    message = str(raised.value)
    assert message == f"cannot write the ledger {path}: database or disk is full"
