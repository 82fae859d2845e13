"""Compact records: the rows built from them (in-process or from the writer process's JSON) are
the rows the ledger always wrote, value for value; a batch JSON cannot carry is still recorded."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger.ledger import child as child_module
from keyledger.ledger.recorder import LedgerRecorder, encode
from keyledger.ledger.records import rows_of
from keyledger.ledger.rows import money_text, to_text
from keyledger.ledger.store import Store, batch_rows, record_of
from keyledger.models import Balance, BalancePart, CheckResult, Evidence, Grant, Spend
from keyledger.render.serialize import balances_of, shown_url

from .test_ledger_child import dump, varied_results
from .test_ledger_store import make_key, result


def reference_rows(run_id: int, results: list[CheckResult]) -> tuple[Any, ...]:
    """The rows as the ledger built them before records existed (straight from results)."""

    def balance_row(b: Balance) -> tuple[Any, ...]:
        parts = json.dumps([[p.name, money_text(p.amount)] for p in b.parts]) if b.parts else "[]"
        granted, used, available = (money_text(v) for v in (b.granted, b.used, b.available))
        return (
            b.currency,
            granted,
            used,
            available,
            int(b.token_uncapped),
            b.reading,
            b.source,
            parts,
        )

    keys, rows, fps, deps = [], [], [], []
    for r in results:
        k, b, s, t = r.key, r.balance, r.spend, to_text(r.checked_at)
        keys.append((k.fingerprint, k.masked, k.provider, k.kind.value, t, t))
        money = (
            (
                b.currency,
                *(money_text(v) for v in (b.granted, b.used, b.available)),
                int(b.token_uncapped),
                b.source,
            )
            if b
            else (None,) * 6
        )
        times = (to_text(b.expires_at), to_text(b.next_expiry)) if b else (None, None)
        spent = (
            (money_text(s.amount), s.currency, to_text(s.period_start), to_text(s.period_end))
            if s
            else (None,) * 4
        )
        url = shown_url(k.base_url) if k.base_url else None
        rows.append(
            (
                run_id,
                k.fingerprint,
                k.label,
                url,
                t,
                r.status.value,
                r.reason,
                *money,
                r.balance_reason,
                *times,
                *spent,
                r.account.organization if r.account else None,
                r.attempts,
                r.duration_ms,
                len(r.evidence),
                r.tier,
            )
        )
        fps.append(k.fingerprint)
        evidence = [
            (
                i,
                e.endpoint,
                e.http_status,
                e.error_type,
                e.error_code,
                e.message,
                e.attempts,
                e.outcome,
            )
            for i, e in enumerate(r.evidence)
        ]
        grants = [
            (
                g.grant_id,
                money_text(g.amount),
                money_text(g.used),
                to_text(g.effective_at),
                to_text(g.expires_at),
                int(g.expired),
            )
            for g in (b.grants if b else ())
        ]
        deps.append(([balance_row(x) for x in balances_of(r)], evidence, grants))
    return (run_id, keys, rows, fps, deps)


def via_json(run_id: int, results: list[CheckResult]) -> tuple[Any, ...]:
    """The rows the writer process builds from the frame the recorder sends."""
    return rows_of(*json.loads(encode(run_id, [record_of(r) for r in results])))


def test_records_make_the_rows_the_ledger_always_wrote() -> None:
    """Spend, several currencies, odd text, no balance, duplicates: same rows both ways."""
    results = varied_results(30)
    expected = reference_rows(7, results)
    assert batch_rows(7, results) == expected
    assert via_json(7, results) == expected


ZONES = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
) | st.builds(  # any offset, seconds and microseconds included (orjson writes whole minutes)
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
)
TIMES = st.builds(
    lambda at, zone: at.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    ZONES,
)
AMOUNTS = st.decimals(allow_nan=False, allow_infinity=False) | st.builds(
    Decimal, st.sampled_from(["1E+3", "-0.00", "1.5E-9", "0E-7", "123456789012345678901.5"])
)


@settings(max_examples=150, deadline=None)
@given(at=TIMES, amount=AMOUNTS, grant_at=st.none() | TIMES, part=AMOUNTS)
def test_any_time_and_amount_gives_the_rows_the_ledger_always_wrote(
    at: datetime, amount: Decimal, grant_at: datetime | None, part: Decimal
) -> None:
    """Naive and offset times, years before 1000, exponents and signs: rows are unchanged."""
    grant = Grant(amount=amount, used=part, effective_at=grant_at, expires_at=at, expired=True)
    base = result(make_key("h"), at=at)
    assert base.balance is not None
    balance = dataclasses.replace(
        base.balance,
        granted=amount,
        expires_at=grant_at,
        grants=(grant,),
        parts=(BalancePart("gift", part),),
    )
    spend = Spend(amount, "USD", at, at, source="/costs", read_at=at)
    item = dataclasses.replace(base, balance=balance, balances=(balance,), spend=spend)
    expected = reference_rows(3, [item])
    assert batch_rows(3, [item]) == expected
    assert via_json(3, [item]) == expected


class FakeTime(datetime):
    """A datetime subclass, as a test clock (freezegun's, say) hands out."""


def record_both_ways(tmp_path: Path, results: list[CheckResult]) -> list[Any]:
    """Record ``results`` through the writer process and on the thread; both ledgers' rows."""
    dumps = []
    for name, process in (("proc.db", True), ("thread.db", False)):
        with Store.open(tmp_path / name) as store:
            recorder = LedgerRecorder(store, store.begin_run(len(results)), process=process)
            for item in results:
                recorder.add(item)
            recorder.flush()  # before finish(): the writer process takes the batch
            recorder.finish("complete")
            assert (recorder.recorded, recorder.error) == (len(results), None)
        dumps.append(dump(tmp_path / name))
    return dumps


def test_a_time_orjson_does_not_know_crosses_the_pipe_as_its_isoformat(tmp_path: Path) -> None:
    """A datetime subclass (orjson writes none) reaches the writer process as ISO text: the
    rows are the thread's."""
    at = FakeTime(2026, 3, 10, 12, 0, 0, 5, tzinfo=UTC)
    items = [result(make_key("f", i), at=at) for i in range(5)]
    assert orjson_refuses(at)
    proc, thread = record_both_ways(tmp_path, items)
    assert proc == thread and proc["results"][0][5] == "2026-03-10T12:00:00.000005Z"


def orjson_refuses(value: object) -> bool:
    """Whether orjson cannot write ``value`` by itself."""
    import orjson

    try:
        orjson.dumps(value)
    except TypeError:
        return True
    return False


def test_a_batch_json_cannot_carry_is_recorded_in_process(tmp_path: Path) -> None:
    """A value JSON has no form for (bytes where text belongs) does not lose the batch: it is
    recorded in-process, as the thread records it."""
    odd = [
        dataclasses.replace(r, evidence=(Evidence("/v1/models", 500, message=b"raw"),))  # type: ignore[arg-type]
        for r in varied_results(5)[:5]
    ]
    assert orjson_refuses(b"raw")
    proc, thread = record_both_ways(tmp_path, odd)
    assert proc == thread and proc["evidence"][0][6] == b"raw"


def test_a_burst_of_batches_while_the_writer_is_busy_wakes_it_once(tmp_path: Path) -> None:
    """Batches flushed while a commit is under way join the writer's queue: one task is
    handed to the writer thread, not one a batch, and every result is still committed."""
    with Store.open(tmp_path / "l.db") as store:
        gate = threading.Event()
        real = store.write_rows

        def slow(batch: Any) -> int:
            gate.wait()
            return real(batch)

        recorder = LedgerRecorder(store, store.begin_run(50), max_rows=5)
        store.write_rows = slow  # type: ignore[method-assign]
        submitted: list[object] = []
        submit = recorder._writer.submit

        def counting(fn: Any, *args: Any) -> Any:
            submitted.append(fn)
            return submit(fn, *args)

        recorder._writer.submit = counting  # type: ignore[method-assign]
        for i in range(50):  # ten batches of five
            recorder.add(result(make_key("w", i)))
        gate.set()
        recorder.drain()
        assert [f for f in submitted if f == recorder._write] == [recorder._write]
        recorder.finish("complete")
        assert recorder.recorded == 50 and store.count_results() == 50


def test_a_reply_is_read_and_a_frame_written_in_one_call_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The checking process waits once for the writer's answer and writes a frame at once:
    each call is a hand-over of the interpreter lock."""
    reads: list[int] = []
    writes: list[int] = []
    real_read, real_write = os.read, os.write
    read_fd, write_fd = os.pipe()
    try:
        monkeypatch.setattr(
            child_module.os, "write", lambda fd, b: writes.append(fd) or real_write(fd, b)
        )
        child_module.write_frame(write_fd, b"answer")
        monkeypatch.setattr(
            child_module.os, "read", lambda fd, n: reads.append(fd) or real_read(fd, n)
        )
        assert child_module.read_reply(read_fd) == b"answer"
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert (len(writes), len(reads)) == (1, 1)


def test_a_reply_cut_short_is_the_end_of_input() -> None:
    """An answer whose writer died mid-frame reads as ``None`` (the writer is gone)."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, child_module._HEADER.pack(10) + b"abc")
    os.close(write_fd)
    try:
        assert child_module.read_reply(read_fd) is None
    finally:
        os.close(read_fd)
