"""The writer process's fast path: values built once with their ids (flat_rows), inserted from
one list (run_flat), orjson frames and a C-level None adapter; the same rows as the slow path."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import types
from datetime import datetime
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger.ledger import Store
from keyledger.ledger import child as child_module
from keyledger.ledger.bulk import CHUNK, BulkInsert
from keyledger.ledger.recorder import encode
from keyledger.ledger.records import flat_rows, rows_of
from keyledger.ledger.store import record_of
from keyledger.ledger.write import configure, transaction, write_rows
from keyledger.models import BalancePart, Grant, Spend

from .test_ledger_bulk import COLUMNS, UPSERT, fresh, row, table, tagged
from .test_ledger_child import dump, varied_results
from .test_ledger_records import AMOUNTS, TIMES
from .test_ledger_store import make_key, result


def slow_values(run_id: int, records: list[Any], first_id: int) -> tuple[list[Any], ...]:
    """What write_rows binds for rows_of's rows when result i gets id first_id + i."""
    _, keys, results, _, dependents = rows_of(run_id, records)
    tables: tuple[list[Any], ...] = ([], [], [])
    for result_id, its in enumerate(dependents, first_id):
        for rows, out in zip(its, tables, strict=True):
            for r in rows:
                out.extend((result_id, *r))
    return (list(chain.from_iterable(keys)), list(chain.from_iterable(results)), *tables)


def via_frame(run_id: int, items: list[Any]) -> list[Any]:
    """The records as the writer process decodes them from the recorder's frame."""
    decoded: list[Any] = child_module._loads(encode(run_id, [record_of(r) for r in items]))[1]
    return decoded


def test_flat_rows_are_the_values_of_rows_of() -> None:
    """Spend, several currencies, odd text, no balance, duplicates: the same values."""
    records = via_frame(4, varied_results(30))
    assert flat_rows(4, records, 17) == slow_values(4, records, 17)


@settings(max_examples=150, deadline=None)
@given(
    at=TIMES,
    amount=AMOUNTS,
    grant_at=st.none() | TIMES,
    part=AMOUNTS,
    spent=st.booleans(),
    parts=st.booleans(),
    first=st.integers(min_value=1, max_value=2**40),
)
def test_any_time_and_amount_gives_the_values_of_rows_of(
    at: datetime,
    amount: Decimal,
    grant_at: datetime | None,
    part: Decimal,
    spent: bool,
    parts: bool,
    first: int,
) -> None:
    """Naive and offset times, years before 1000, exponents and signs, with and without
    spend and parts: flat_rows gives rows_of's values, each dependent led by its id."""
    grant = Grant(amount=amount, used=part, effective_at=grant_at, expires_at=at, expired=True)
    base = result(make_key("h"), at=at)
    assert base.balance is not None
    balance = dataclasses.replace(
        base.balance,
        granted=amount,
        expires_at=grant_at,
        grants=(grant, grant),
        parts=(BalancePart("gift", part),) if parts else (),
    )
    spend = Spend(amount, "USD", at, at, source="/costs", read_at=at) if spent else None
    item = dataclasses.replace(base, balance=balance, balances=(balance,), spend=spend)
    records = via_frame(3, [item, base])
    assert flat_rows(3, records, first) == slow_values(3, records, first)


@settings(max_examples=60, deadline=None)
@given(st.lists(row, max_size=3 * CHUNK + 5))
def test_run_flat_stores_what_run_stores(rows: list[tuple[Any, ...]]) -> None:
    """Any rows given as one list of values end up byte for byte and rowid for rowid as
    the same rows given one tuple each."""
    bulk = BulkInsert("t", COLUMNS, UPSERT)
    by_rows, flat = fresh(), fresh()
    last = bulk.run(by_rows, rows)
    assert bulk.run_flat(flat, list(chain.from_iterable(rows))) == last
    assert table(flat) == table(by_rows)


def commit_all(path: Path, batches: list[list[Any]], *, fast: bool) -> dict[str, Any]:
    """Commit ``batches`` of results as one run, by the writer process's commit or in-process."""
    with Store.open(path) as store:
        run = store.begin_run(8)
    conn = child_module.sqlite3.connect(path, isolation_level=None)
    configure(conn, path)
    try:
        for items in batches:
            records = via_frame(run, items)
            if fast:
                child_module.commit(conn, str(path), run, records)
            else:
                with transaction(conn, path):
                    write_rows(conn, rows_of(run, records))
    finally:
        conn.close()
    return dump(path)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=7), max_size=12), max_size=5))
def test_commit_stores_what_write_rows_stores(
    tmp_path_factory: Any, batches: list[list[int]]
) -> None:
    """Batches of keys from a small pool (repeats within a batch and across batches, where
    the fast path rolls back and the slow one runs): the same rows as write_rows."""
    where = tmp_path_factory.mktemp("c")
    items = [[tagged(k, f"{b}.{i}") for i, k in enumerate(keys)] for b, keys in enumerate(batches)]
    assert commit_all(where / "fast.db", items, fast=True) == commit_all(
        where / "slow.db", items, fast=False
    )


def test_the_writer_process_reads_frames_with_the_parents_orjson(tmp_path: Path) -> None:
    """Started as the parent starts it (-S -P, the orjson directory passed on), the writer
    process decodes frames with orjson, to the values json would give."""
    assert child_module._loads is orjson.loads
    code = "import orjson; from keyledger.ledger import child; print(child._loads is orjson.loads)"
    boot = child_module._BOOT.split("from keyledger")[0] + code
    root = str(Path(child_module.__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-S", "-P", "-c", boot, root, "db", *child_module._orjson_dir()],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"
    payload = encode(2, [record_of(r) for r in varied_results(10)])
    assert orjson.loads(payload) == json.loads(payload)


def test_a_module_beside_keyledger_does_not_stand_in_for_the_standard_librarys(
    tmp_path: Path,
) -> None:
    """In a plain install keyledger's folder is site-packages: a ``sqlite3.py`` or ``json.py``
    there is not what the writer process imports for the standard library's."""
    root = tmp_path / "site-packages"
    root.mkdir()
    (root / "keyledger").symlink_to(Path(child_module.__file__).resolve().parents[1])
    for name in ("sqlite3", "json"):
        (root / f"{name}.py").write_text("raise SystemExit('shadowed')\n")
    code = "import sqlite3, json; from keyledger.ledger import child; print(sqlite3.__file__)"
    boot = child_module._BOOT.split("from keyledger")[0] + code
    out = subprocess.run(
        [sys.executable, "-S", "-P", "-c", boot, str(root), "db", *child_module._orjson_dir()],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert not out.stdout.strip().startswith(str(root))


def test_none_is_adapted_by_a_builtin_that_makes_no_python_frame() -> None:
    """The None adapter is a C-level callable answering None (SQL NULL) for None."""
    assert isinstance(child_module._null, types.BuiltinFunctionType)
    assert child_module._null(None) is None
