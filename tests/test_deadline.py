"""--deadline covers the whole run, reading keys and writing included (issue 7, item 7)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import time
from pathlib import Path

from rich.console import Console

from keyledger.cli.execute import TABLE_CHUNK, _draw_table
from keyledger.client import Client, make_session
from keyledger.engine import Engine, RunOptions, deadline_grace, placeholder_result
from keyledger.keyset import build_keyset
from keyledger.ledger import LedgerRecorder, Store, ledger_path
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers import CheckOptions
from keyledger.render.table import results_table
from keyledger.secret import Fingerprinter, Secret
from keyledger.simulator import Simulator, make_key
from keyledger.sources import Entry
from keyledger.transport import HttpOptions

OPTS = HttpOptions(attempt_deadline=2.0, connect_timeout=1.0)


def _key(n: int) -> Key:
    value = make_key("ok", n)
    fp = hashlib.sha256(value.encode()).hexdigest()[:16]
    return Key(Secret(value), fp, f"k{n:05d}", kind=Kind.SECRET)


def test_grace_is_two_seconds_or_a_tenth() -> None:
    """The grace after the deadline is max(2 s, 10 % of the deadline)."""
    assert deadline_grace(3) == 2.0 and deadline_grace(600) == 60.0


def test_reading_keys_stops_when_the_deadline_passes() -> None:
    """Once `expired` says so, no further entry is read and cut_short names where it stopped."""
    read: list[int] = []

    def entries():  # type: ignore[no-untyped-def]
        for n in range(100):
            read.append(n)
            yield Entry(make_key("ok", n), f"keys.txt:{n + 1}")

    keyset = build_keyset(entries(), Fingerprinter(b"s" * 32), expired=lambda: len(read) > 3)
    assert len(keyset.keys) == 3 and keyset.cut_short == "keys.txt:4"
    assert len(read) == 4


async def _run(
    keys: list[Key], sim: Simulator, run: RunOptions
) -> tuple[list[CheckResult], Engine]:
    async with make_session(OPTS, 10) as session:
        engine = Engine(Client(session, OPTS), CheckOptions(base_urls={"openai": sim.url}), run)
        return [r async for r in engine.run(keys)], engine


async def test_a_deadline_past_before_the_run_gives_placeholders(sim: Simulator) -> None:
    """A deadline counted from an earlier start that already passed: every key a placeholder."""
    keys = [_key(n) for n in range(300)]
    run = RunOptions(concurrency=10, deadline=1.0, started=time.monotonic() - 2.0, grace=3600)
    results, engine = await _run(keys, sim, run)
    assert len(results) == 300 and engine.deadline_hit and not engine.truncated
    assert {(r.status, r.reason) for r in results} == {(Status.UNKNOWN, "deadline")}


async def test_placeholders_stop_when_the_grace_is_over(sim: Simulator) -> None:
    """Past the deadline's grace, no more placeholders are produced, and the run says so."""
    keys = [_key(n) for n in range(300)]
    run = RunOptions(concurrency=10, deadline=1.0, started=time.monotonic() - 100.0, grace=1.0)
    results, engine = await _run(keys, sim, run)
    assert engine.deadline_hit and engine.truncated
    assert results == [] or {r.reason for r in results} == {"deadline"}
    assert len(results) < 300


def test_recording_stops_at_the_cutoff(tmp_path: Path) -> None:
    """Batches reaching the writer after the cutoff are dropped and counted; run interrupted."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(120)
        recorder = LedgerRecorder(store, run, clock=lambda: 10.0)
        recorder.cutoff = 5.0
        for n in range(120):
            recorder.add(placeholder_result(_key(n), CheckOptions(), "deadline"))
        recorder.finish("complete")
        assert store.count_results() == 0 and recorder.cut_off == 120
        assert store.runs()[0].status == "interrupted"


def test_the_table_stops_drawing_when_the_grace_is_over() -> None:
    """Past the grace, the table draws its first chunk of rows, then one line for the rest."""
    results = [placeholder_result(_key(n), CheckOptions(), "deadline") for n in range(350)]
    out = io.StringIO()
    console = Console(file=out, width=200)
    _draw_table(
        console,
        results,
        lambda rows, first: results_table(rows, now=results[0].checked_at, show_header=first),
        until=time.monotonic() - 1,
    )
    text = out.getvalue()
    assert text.count("k0") == TABLE_CHUNK  # labels k00000…k00099 only
    assert f"{350 - TABLE_CHUNK} more row(s) not drawn" in text


def test_deadline_during_key_loading_stops_reading(
    run_cli: object, live_sim: Simulator, tmp_path: Path
) -> None:
    """--deadline shorter than reading 20,000 keys: reading stops, the rest is never loaded,
    the keys read are unknown (deadline) in the -o file, and the ledger run is interrupted."""
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(f"{make_key('ok', n)}\n" for n in range(20_000)))
    keys.chmod(0o600)
    out = tmp_path / "out.json"

    proc = run_cli(  # type: ignore[operator]
        "check", str(keys), "--base-url", live_sim.url, "--deadline", "0.3", "-o", str(out)
    )

    assert proc.code == 4, proc.stderr
    assert "stopped at " in proc.stderr and "Traceback" not in proc.stderr
    document = json.loads(out.read_text())
    assert document["complete"] is False
    assert len(document["results"]) < 20_000
    assert {(r["status"], r["reason"]) for r in document["results"]} <= {("unknown", "deadline")}
    with sqlite3.connect(ledger_path(os.environ)) as conn:
        assert [row[0] for row in conn.execute("SELECT status FROM runs")] == ["interrupted"]
