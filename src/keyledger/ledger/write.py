"""The ledger's write side: a batch of results as plain rows, and the SQL that commits them.

:func:`keyledger.ledger.records.rows_of` builds a :data:`BatchRows` from a batch's records
(:func:`keyledger.ledger.store.batch_rows` from results) and :func:`write_rows` commits it,
in-process or in the ledger's writer process (:mod:`keyledger.ledger.child`), which imports
only this module, :mod:`keyledger.ledger.records`, :mod:`keyledger.ledger.bulk` and
:mod:`sqlite3`. A :data:`BatchRows` holds only strings, numbers and ``None`` (a key as its
fingerprint and masked form, never its secret).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Final

from keyledger.errors import StoreError
from keyledger.ledger.bulk import BulkInsert

BUSY_TIMEOUT_MS: Final = 5000

Row = tuple[Any, ...]
# One result's dependent rows, each without its result id (known only once it is inserted):
# (balances, evidence, grants).
Dependents = tuple[list[Row], list[Row], list[Row]]
# (run_id, key upserts, result rows, each result's fingerprint, each result's dependents)
BatchRows = tuple[int, list[Row], list[Row], list[str], list[Dependents]]

INSERT_RESULT = BulkInsert(
    "results",
    "run_id, fingerprint, label, base_url, checked_at, status, reason, currency, granted, used, "
    "available, unlimited, balance_source, balance_reason, balance_expires_at, next_expiry, "
    "spend, spend_currency, spend_start, spend_end, organization, attempts, duration_ms, calls, "
    "tier",
    "ON CONFLICT (run_id, fingerprint) DO NOTHING",
)
UPSERT_KEY = BulkInsert(
    "keys",
    "fingerprint, masked, provider, kind, first_seen, last_seen",
    """ON CONFLICT (fingerprint) DO UPDATE SET
        masked = excluded.masked, provider = excluded.provider, kind = excluded.kind,
        last_seen = max(keys.last_seen, excluded.last_seen)""",
)
INSERT_BALANCE = BulkInsert(
    "balances",
    "result_id, currency, granted, used, available, token_uncapped, reading, source, parts",
    "ON CONFLICT (result_id, currency) DO NOTHING",
)
INSERT_EVIDENCE = BulkInsert(
    "evidence",
    "result_id, position, endpoint, http_status, error_type, error_code, message, attempts, "
    "outcome",
)
INSERT_GRANT = BulkInsert(
    "grants", "result_id, grant_id, amount, used, effective_at, expires_at, expired"
)

# One row for all of a batch's new results: fetching row by row would let go of the
# interpreter lock, and take it back, once per result (see keyledger.ledger.bulk).
NEW_IDS = """
    SELECT json_group_object(fingerprint, id) FROM results WHERE id > ? AND run_id = ?
"""


MAX_ID = "SELECT coalesce(max(id), 0) FROM results"


def new_ids(conn: sqlite3.Connection, before: int, run_id: int) -> dict[str, int]:
    """Fingerprint to id of run ``run_id``'s results inserted after rowid ``before``."""
    found: dict[str, int] = json.loads(conn.execute(NEW_IDS, (before, run_id)).fetchone()[0])
    return found


def configure(conn: sqlite3.Connection, path: object) -> None:
    """WAL, ``synchronous=FULL``, busy timeout and foreign keys (reliability D2)."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
    mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
    if mode != "wal":
        raise StoreError(f"cannot switch {path} to WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, path: object) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any error (a :class:`StoreError`
    naming ``path`` for an SQLite one)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write the ledger {path}: {exc}") from None
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"cannot write the ledger {path}: {exc}") from None
        raise


def _with_id(result_id: int, rows: Sequence[Row], out: list[Row]) -> None:
    out.extend((result_id, *row) for row in rows)


def write_rows(conn: sqlite3.Connection, batch: BatchRows) -> int:
    """Insert ``batch`` (inside the caller's transaction); returns results added.

    Table by table (keys, results, balances, evidence, grants) with multi-row ``INSERT``
    statements. When every result went in (the usual case), their ids are the rowids after
    the largest one before the batch, in order (SQLite gives a new row the largest rowid plus
    one; checked: the changes count and the last rowid must both agree); else each new
    result's id is read back in one query. A key already recorded in this run (or twice in
    the batch) is recorded once: the first result wins.
    """
    run_id, keys, results, fingerprints, dependents = batch
    if not results:
        return 0
    UPSERT_KEY.run(conn, keys)
    before = conn.execute(MAX_ID).fetchone()[0]
    changes = conn.total_changes
    last = INSERT_RESULT.run(conn, results)
    added = len(results)
    balances: list[Row] = []
    evidence: list[Row] = []
    grants: list[Row] = []
    if conn.total_changes - changes == added and last == before + added:
        for result_id, (its_balances, its_evidence, its_grants) in enumerate(
            dependents, before + 1
        ):
            if its_balances:
                _with_id(result_id, its_balances, balances)
            if its_evidence:
                _with_id(result_id, its_evidence, evidence)
            if its_grants:
                _with_id(result_id, its_grants, grants)
    else:
        ids = new_ids(conn, before, run_id)
        added = 0
        for fingerprint, (its_balances, its_evidence, its_grants) in zip(
            fingerprints, dependents, strict=True
        ):
            # pop: a second result for the same key in this batch was not inserted
            found = ids.pop(fingerprint, None)
            if found is None:
                continue
            added += 1
            _with_id(found, its_balances, balances)
            _with_id(found, its_evidence, evidence)
            _with_id(found, its_grants, grants)
    INSERT_BALANCE.run(conn, balances)
    INSERT_EVIDENCE.run(conn, evidence)
    INSERT_GRANT.run(conn, grants)
    return added


__all__ = [
    "BUSY_TIMEOUT_MS",
    "BatchRows",
    "configure",
    "new_ids",
    "transaction",
    "write_rows",
]
