"""The ledger's schema history: append-only, named migration functions.

Each function is one step of the schema; :func:`migrate` applies the ones a database has not
seen yet, in order, each in its own transaction together with the ``PRAGMA user_version``
bump, so a database is always at exactly one version (llm's ``migrations.py``, keyed on
``user_version`` as reliability D5 asks). Never edit, rename or reorder a migration that has
shipped: add ``m00N_verb_noun`` at the end instead.

Money columns are ``TEXT`` holding a ``Decimal``'s exact string; a value that could not be
read is ``NULL``, never ``0``. Times are UTC ISO 8601 text of fixed width, so they sort.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from keyledger.errors import StoreError

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = []


def migration(function: Migration) -> Migration:
    """Register ``function`` as the next migration."""
    MIGRATIONS.append(function)
    return function


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    """Runs, keys (fingerprint and masked form only) and one row per key per run."""
    conn.execute(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted')),
            keys_total INTEGER NOT NULL,
            results_recorded INTEGER,
            pid INTEGER,
            tool_version TEXT
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE keys (
            fingerprint TEXT PRIMARY KEY,
            masked TEXT NOT NULL,
            provider TEXT NOT NULL,
            kind TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE results (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL REFERENCES keys (fingerprint),
            label TEXT NOT NULL,
            base_url TEXT,
            checked_at TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            currency TEXT,
            granted TEXT,
            used TEXT,
            available TEXT,
            unlimited INTEGER,
            balance_source TEXT,
            balance_reason TEXT,
            balance_expires_at TEXT,
            next_expiry TEXT,
            spend TEXT,
            spend_currency TEXT,
            spend_start TEXT,
            spend_end TEXT,
            organization TEXT,
            UNIQUE (run_id, fingerprint)
        )
        """
    )
    conn.execute("CREATE INDEX results_by_key ON results (fingerprint, checked_at)")


@migration
def m002_create_grants(conn: sqlite3.Connection) -> None:
    """Credit grants of session keys, for grant-expiry warnings."""
    conn.execute(
        """
        CREATE TABLE grants (
            id INTEGER PRIMARY KEY,
            result_id INTEGER NOT NULL REFERENCES results (id) ON DELETE CASCADE,
            grant_id TEXT,
            amount TEXT NOT NULL,
            used TEXT NOT NULL,
            effective_at TEXT,
            expires_at TEXT,
            expired INTEGER NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX grants_by_result ON grants (result_id)")


@migration
def m003_add_result_timing(conn: sqlite3.Connection) -> None:
    """How many HTTP attempts a check took and how long, for export and tuning."""
    conn.execute("ALTER TABLE results ADD COLUMN attempts INTEGER")
    conn.execute("ALTER TABLE results ADD COLUMN duration_ms INTEGER")


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's ``PRAGMA user_version``."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


@migration
def m004_add_result_calls(conn: sqlite3.Connection) -> None:
    """How many endpoint calls each check made (``attempts - calls`` are its retries)."""
    conn.execute("ALTER TABLE results ADD COLUMN calls INTEGER")


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every pending migration; returns the names applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each step runs inside
    ``BEGIN IMMEDIATE`` and re-reads the version, so two processes opening a new ledger at
    once apply each step exactly once.

    Raises:
        StoreError: the database was written by a newer keyledger.
    """
    applied: list[str] = []
    latest = len(MIGRATIONS)
    if schema_version(conn) > latest:
        raise StoreError(
            f"the ledger has schema version {schema_version(conn)}, newer than this "
            f"keyledger knows ({latest}); upgrade keyledger"
        )
    for index, step in enumerate(MIGRATIONS):
        if schema_version(conn) > index:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) == index:  # nobody else applied it meanwhile
                step(conn)
                conn.execute(f"PRAGMA user_version = {index + 1:d}")
                applied.append(step.__name__)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied
