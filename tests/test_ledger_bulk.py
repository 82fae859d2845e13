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
from keyledger.ledger.bulk import CHUNK, STEP, BulkInsert
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


def test_batches_of_every_size_share_a_few_statement_texts() -> None:
    """Batches of 1 to 300 rows use at most 15 distinct statements (SQLite compiles each
    text once and the sqlite3 module keeps 128), and every row arrives in order."""
    conn = fresh()
    sizes: set[int] = set()  # one text per row count (the trace shows the values bound)
    conn.set_trace_callback(lambda s: sizes.add(s.count("), (") + 1) if "INSERT" in s else None)
    bulk = BulkInsert("t", COLUMNS)
    for size in range(1, 301):
        conn.execute("DELETE FROM t")
        bulk.run(conn, [(i, size, None, "x") for i in range(size)])
        assert conn.execute("SELECT count(*), sum(k) FROM t").fetchone() == (
            size,
            sum(range(size)),
        )
    assert len(sizes) == CHUNK // STEP + STEP - 1 == 15


def test_bulk_insert_returns_the_last_rowid() -> None:
    """run() answers the rowid of the last row it inserted, None when given no rows."""
    conn = fresh()
    bulk = BulkInsert("t", COLUMNS)
    assert bulk.run(conn, []) is None
    assert bulk.run(conn, [(i, i, i, i) for i in range(77)]) == 77


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
    row still arrives (the 22 after the full chunks as 16 + 6)."""
    conn = sqlite3.connect(":memory:")
    names = ", ".join(f"c{i}" for i in range(25))
    conn.execute(f"CREATE TABLE w ({names})")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    bulk = BulkInsert("w", names)
    assert bulk.chunk(conn) == 39
    steps: list[str] = []
    conn.set_trace_callback(steps.append)
    bulk.run(conn, [tuple(range(i, i + 25)) for i in range(100)])
    assert len([s for s in steps if s.startswith("INSERT")]) == 4  # 39 + 39 + 16 + 6
    assert conn.execute("SELECT count(*), sum(c0), sum(c24) FROM w").fetchone() == (
        100,
        sum(range(100)),
        sum(range(24, 124)),
    )


def tagged(key_no: int, tag: str) -> Any:
    """A session-like result for key ``key_no`` whose grant and evidence carry ``tag``."""
    grant = Grant(Decimal(1), Decimal(0), NOW, None, False, f"g-{tag}")
    base = result(make_key("pool", key_no), available=None if key_no % 3 == 0 else "1.00")
    grants = (grant,) if key_no % 2 else ()
    return dataclasses.replace(
        base,
        reason=tag,
        balance=dataclasses.replace(base.balance, grants=grants) if base.balance else None,
        evidence=tuple(Evidence(endpoint=f"/e/{tag}/{i}", http_status=200) for i in range(2)),
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=7), max_size=12), max_size=6))
def test_every_result_gets_its_own_rows_whichever_way_its_id_is_found(
    tmp_path_factory: Any, batches: list[list[int]]
) -> None:
    """Batches of keys from a small pool (repeats within a batch and across batches of a
    run): each stored result is the key's first in the run, and its balance, evidence and
    grants are its own, whether the ids were counted or read back."""
    path = tmp_path_factory.mktemp("l") / "l.db"
    with Store.open(path) as store:
        run = store.begin_run(8)
        first: dict[int, str] = {}
        for b, keys in enumerate(batches):
            items = [tagged(k, f"{b}.{i}") for i, k in enumerate(keys)]
            fresh_keys = {k for k in keys if k not in first}
            for i, k in enumerate(keys):
                first.setdefault(k, f"{b}.{i}")
            assert store.record(run, items) == len(fresh_keys)
        conn = store.conn
        rows = conn.execute("SELECT id, reason, available FROM results ORDER BY id").fetchall()
        assert sorted(r[1] for r in rows) == sorted(first.values())
        for result_id, tag, available in rows:
            ends = conn.execute(
                "SELECT endpoint FROM evidence WHERE result_id = ? ORDER BY position",
                (result_id,),
            ).fetchall()
            assert [e[0] for e in ends] == [f"/e/{tag}/0", f"/e/{tag}/1"]
            grants = conn.execute("SELECT grant_id FROM grants WHERE result_id = ?", (result_id,))
            balances = conn.execute(
                "SELECT available FROM balances WHERE result_id = ?", (result_id,)
            ).fetchall()
            assert [tuple(r) for r in balances] == ([] if available is None else [(available,)])
            assert {g[0] for g in grants} <= {f"g-{tag}"}


def test_a_batch_of_new_results_reads_no_ids_back(tmp_path: Path) -> None:
    """When every result of a batch is new, their ids are counted, not queried; a batch with
    a repeated key reads them back, and each result still gets its own rows."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(300)
        steps: list[str] = []
        store.conn.set_trace_callback(steps.append)
        assert store.record(run, session_results(100)) == 100
        assert not [s for s in steps if "json_group_object" in s]
        assert store.record(run, session_results(120)) == 20
        assert len([s for s in steps if "json_group_object" in s]) == 1
        store.conn.set_trace_callback(None)
        orphans = store.conn.execute(
            "SELECT count(*) FROM grants JOIN results ON results.id = result_id "
            "WHERE grant_id NOT LIKE 'g%' OR results.run_id != ?",
            (run,),
        ).fetchone()[0]
        assert orphans == 0
        per_result = store.conn.execute(
            "SELECT count(*) FROM results WHERE (SELECT count(*) FROM grants "
            "WHERE result_id = results.id) != 3 OR (SELECT count(*) FROM evidence "
            "WHERE result_id = results.id) != 1"
        ).fetchone()[0]
        assert per_result == 0
