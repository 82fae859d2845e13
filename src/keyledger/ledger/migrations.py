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


@migration
def m004_create_meta(conn: sqlite3.Connection) -> None:
    """Facts about the ledger itself, such as which install secret its fingerprints use."""
    conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migration
def m005_alert_state(conn: sqlite3.Connection) -> None:
    """Alert rules' state per (rule, key), and every alert and recovery they produced."""
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS alert_state (
            rule TEXT NOT NULL,
            subject TEXT NOT NULL,
            active INTEGER NOT NULL,
            streak INTEGER NOT NULL,
            crossings INTEGER NOT NULL,
            changed_at TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (rule, subject)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS alert_events (
            event_id TEXT PRIMARY KEY,
            run_id INTEGER,
            rule TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            masked_key TEXT,
            provider TEXT NOT NULL,
            account TEXT,
            status TEXT,
            reason TEXT,
            summary TEXT NOT NULL,
            at TEXT NOT NULL,
            figures TEXT NOT NULL,
            submitted INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    conn.execute("CREATE INDEX IF NOT EXISTS alert_events_by_time ON alert_events (at)")


@migration
def m006_alert_outbox(conn: sqlite3.Connection) -> None:
    """Alert deliveries waiting for (or done by) a channel: the event as JSON, never a secret."""
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS alert_outbox (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            event_json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            delivered_at TEXT,
            last_error TEXT,
            UNIQUE (event_id, channel)
        )
        """
    )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS alert_outbox_pending "
        "ON alert_outbox (delivered_at, next_attempt_at)"
    )


@migration
def m007_add_result_calls(conn: sqlite3.Connection) -> None:
    """How many endpoint calls each check made (``attempts - calls`` are its retries)."""
    conn.execute("ALTER TABLE results ADD COLUMN calls INTEGER")


@migration
def m008_create_balances(conn: sqlite3.Connection) -> None:
    """Every balance of a result, one row per currency, and the result's usage tier.

    ``results`` keeps its balance columns for the primary balance, so older readers still
    work; the balances of earlier rows are copied here so every reader sees one shape.
    ``parts`` is a JSON array of ``[name, amount-text]`` pairs.
    """
    conn.execute(
        """
        CREATE TABLE balances (
            id INTEGER PRIMARY KEY,
            result_id INTEGER NOT NULL REFERENCES results (id) ON DELETE CASCADE,
            currency TEXT NOT NULL,
            granted TEXT,
            used TEXT,
            available TEXT,
            token_uncapped INTEGER NOT NULL DEFAULT 0,
            reading TEXT,
            source TEXT,
            parts TEXT,
            UNIQUE (result_id, currency)
        )
        """
    )
    conn.execute(
        """
        INSERT INTO balances (result_id, currency, granted, used, available, token_uncapped,
                              source, parts)
        SELECT id, currency, granted, used, available, coalesce(unlimited, 0), balance_source,
               '[]'
        FROM results WHERE currency IS NOT NULL
        """
    )
    conn.execute("ALTER TABLE results ADD COLUMN tier TEXT")


@migration
def m009_create_evidence(conn: sqlite3.Connection) -> None:
    """What each endpoint of a check answered (sanitised by the provider), in call order.

    Rows recorded before this table have no evidence: readers show the outcome alone.
    """
    conn.execute(
        """
        CREATE TABLE evidence (
            result_id INTEGER NOT NULL REFERENCES results (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            endpoint TEXT NOT NULL,
            http_status INTEGER,
            error_type TEXT,
            error_code TEXT,
            message TEXT,
            attempts INTEGER NOT NULL,
            outcome TEXT,
            PRIMARY KEY (result_id, position)
        )
        """
    )


# The tables each schema version must have: a version without them is impossible.
_TABLES_AT = {
    1: {"runs", "keys", "results"},
    2: {"grants"},
    4: {"meta"},
    5: {"alert_state", "alert_events"},
    6: {"alert_outbox"},
    8: {"balances"},
    9: {"evidence"},
}


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's ``PRAGMA user_version``."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection, where: object) -> None:
    """Refuse a database whose ``user_version`` keyledger never wrote (read-only check).

    Raises:
        StoreError: the version is negative, newer than this keyledger, or claims tables
            the database does not have.
    """
    version = schema_version(conn)
    latest = len(MIGRATIONS)
    if version > latest:
        raise StoreError(
            f"the ledger has schema version {version}, newer than this "
            f"keyledger knows ({latest}); upgrade keyledger"
        )
    names = {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master")}
    needed = set().union(*(t for v, t in _TABLES_AT.items() if v <= version))
    if version < 0 or needed - names:
        raise StoreError(
            f"{where} has schema version {version}, which no keyledger wrote "
            f"(expected 0 to {latest} with its tables); it was left untouched. "
            "Move it away (or set KEYLEDGER_HOME) to start a new ledger."
        )


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every pending migration; returns the names applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``). A brand-new database
    (version 0) gets every step in one ``BEGIN IMMEDIATE`` transaction that ends at the latest
    version: one commit (one WAL sync under ``synchronous=FULL``) instead of one a step, and
    the database is still only ever at version 0 or the latest. An older ledger is brought up
    one step a transaction. Each transaction re-reads the version, so two processes opening a
    new ledger at once apply each step exactly once.

    Raises:
        StoreError: the database was written by a newer keyledger, or has a version
            keyledger never wrote.
    """
    check_version(conn, "the ledger")
    if schema_version(conn) == 0 and MIGRATIONS:
        applied = _apply(conn, 0, len(MIGRATIONS))
        if applied:
            return applied
    applied = []
    for index in range(len(MIGRATIONS)):
        if schema_version(conn) > index:
            continue
        applied += _apply(conn, index, index + 1)
    return applied


def _apply(conn: sqlite3.Connection, start: int, stop: int) -> list[str]:
    """Steps ``start`` to ``stop - 1`` and the version bump to ``stop``, in one transaction,
    if the database is still at version ``start`` inside it (else nothing changes)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        applied: list[str] = []
        if schema_version(conn) == start:  # nobody else applied it meanwhile
            for step in MIGRATIONS[start:stop]:
                step(conn)
                applied.append(step.__name__)
            conn.execute(f"PRAGMA user_version = {stop:d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled it back already (a full disk)
            conn.execute("ROLLBACK")
        raise
    return applied
