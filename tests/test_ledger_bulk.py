"""Multi-row ledger inserts: the same rows as one statement per row, in far fewer SQLite steps."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger.ledger import Store
from keyledger.ledger.bulk import CHUNK, BulkInsert
from keyledger.ledger.write import NEW_IDS as _NEW_IDS
from keyledger.ledger.write import new_ids as _new_ids
from keyledger.models import Evidence, Grant

from .test_ledger_store import NOW, make_key, result

COLUMNS = "k, a, b, c"
UPSERT = "ON CONFLICT (k) DO UPDATE SET a = excluded.a, c = max(t.c, excluded.c)"
value = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(),  # NUL, surrogate-free unicode, empty
    st.booleans(),
    st.floats(allow_nan=False),
)
row = st.tuples(st.integers(min_value=0, max_value=40), value, value, value)


def table(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every row with each value's storage class, in rowid order."""
    return conn.execute(
        "SELECT rowid, k, a, typeof(a), b, typeof(b), c, typeof(c) FROM t ORDER BY rowid"
    ).fetchall()


def fresh() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k INTEGER UNIQUE, a, b, c)")
    return conn


@settings(max_examples=60, deadline=None)
@given(st.lists(row, max_size=3 * CHUNK + 5))
def test_bulk_insert_stores_what_executemany_stores(rows: list[tuple[Any, ...]]) -> None:
    """Any rows (NUL, unicode, big ints, floats, duplicates that upsert) end up byte for byte
    and rowid for rowid as executemany leaves them."""
    bulk = BulkInsert("t", COLUMNS, UPSERT)
    one, many = fresh(), fresh()
    one.executemany(f"INSERT INTO t (k, a, b, c) VALUES (?, ?, ?, ?) {UPSERT}", rows)
    bulk.run(many, rows)
    assert table(many) == table(one)


def test_bulk_insert_takes_one_step_per_chunk() -> None:
    """130 rows are written by 3 statements (64 + 64 + 2), not 130."""
    conn = fresh()
    steps: list[str] = []
    conn.set_trace_callback(steps.append)
    BulkInsert("t", COLUMNS).run(conn, [(i, "x", i, None) for i in range(2 * CHUNK + 2)])
    assert len([s for s in steps if s.startswith("INSERT")]) == 3
    assert conn.execute("SELECT count(*), min(k), max(k) FROM t").fetchone() == (130, 0, 129)


def session_results(n: int) -> list[Any]:
    """Session-key-like results: a balance, three grants and one evidence row each."""
    grants = tuple(
        Grant(
            grant_id=f"g{i}",
            amount=Decimal("10"),
            used=Decimal("1.5"),
            effective_at=NOW,
            expires_at=NOW + timedelta(days=30),
            expired=False,
        )
        for i in range(3)
    )
    evidence = (Evidence(endpoint="/v1/dashboard/billing/credit_grants", http_status=200),)
    return [
        dataclasses.replace(result(make_key(f"k{i}", i), grants=grants), evidence=evidence)
        for i in range(n)
    ]


def test_recording_a_batch_takes_few_statements(tmp_path: Path) -> None:
    """Recording 200 results with 7 rows each runs a few dozen statements, not 1,400."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(200)
        steps: list[str] = []
        store.conn.set_trace_callback(steps.append)
        assert store.record(run, session_results(200)) == 200
        store.conn.set_trace_callback(None)
        inserts = [s for s in steps if s.lstrip().upper().startswith("INSERT")]
        # keys, results, balances, evidence: 4 chunks each; grants (600 rows): 10
        assert len(inserts) == 4 * 4 + 10
        counts = [
            store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("keys", "results", "balances", "evidence", "grants")
        ]
        assert counts == [200, 200, 200, 200, 600]


def test_a_key_twice_in_one_chunk_is_recorded_once(tmp_path: Path) -> None:
    """Two results for one key in the same statement: the first is kept, as before."""
    first, *_ = session_results(1)
    second = dataclasses.replace(first, reason="later", duration_ms=99)
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(1)
        assert store.record(run, [first, second]) == 1
        rows = store.conn.execute("SELECT duration_ms, reason FROM results").fetchall()
        assert [tuple(r) for r in rows] == [(first.duration_ms, first.reason)]
        assert store.conn.execute("SELECT count(*) FROM grants").fetchone()[0] == 3


def test_new_result_ids_are_read_in_one_row(tmp_path: Path) -> None:
    """The ids of a batch's new results come back as one row (one SQLite step, not one per
    result), and they are exactly each new result's fingerprint and id."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(300)
        store.record(run, session_results(100))
        before = store.conn.execute("SELECT max(id) FROM results").fetchone()[0]
        store.record(run, session_results(300))  # 100 already recorded, 200 new
        assert len(store.conn.execute(_NEW_IDS, (before, run)).fetchall()) == 1
        rows = store.conn.execute("SELECT fingerprint, id FROM results WHERE id > ?", (before,))
        expected = dict(rows.fetchall())
        assert _new_ids(store.conn, before, run) == expected
        assert len(expected) == 200


def test_an_old_sqlite_variable_limit_gives_smaller_statements() -> None:
    """With SQLite's old limit of 999 variables, 25-column rows go 39 a statement, and every
    row still arrives."""
    conn = sqlite3.connect(":memory:")
    names = ", ".join(f"c{i}" for i in range(25))
    conn.execute(f"CREATE TABLE w ({names})")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    bulk = BulkInsert("w", names)
    assert bulk.chunk(conn) == 39
    steps: list[str] = []
    conn.set_trace_callback(steps.append)
    bulk.run(conn, [tuple(range(i, i + 25)) for i in range(100)])
    assert len([s for s in steps if s.startswith("INSERT")]) == 3  # 39 + 39 + 22
    assert conn.execute("SELECT count(*), sum(c0), sum(c24) FROM w").fetchone() == (
        100,
        sum(range(100)),
        sum(range(24, 124)),
    )
