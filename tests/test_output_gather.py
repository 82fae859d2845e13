"""Machine-format output gathers results into large writes without changing a byte, and
never keeps a finished result from the reader: timer, close, a failing run, a closed pipe."""

from __future__ import annotations

import asyncio
import io
import re
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from keyledger.cli.output import ResultOutput, opened
from keyledger.models import Balance, CheckResult, Grant, Key, Kind, RateLimits, Status
from keyledger.render.writers import GATHER, Format
from keyledger.secret import Fingerprinter, Secret

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class CountingRaw(io.RawIOBase):
    """A raw byte stream that keeps what it is given and counts the write calls."""

    def __init__(self, broken: bool = False) -> None:
        self.data = bytearray()
        self.writes = 0
        self.broken = broken

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer) -> int:
        if self.broken:
            raise BrokenPipeError(32, "Broken pipe")
        self.writes += 1
        view = memoryview(b)
        self.data += view
        return view.nbytes


def _stream(raw: CountingRaw) -> io.TextIOWrapper:
    """A stdout-like stream: UTF-8 text over an 8 KiB byte buffer over ``raw``."""
    return io.TextIOWrapper(io.BufferedWriter(raw, 8192), encoding="utf-8", newline="")


def _results(n: int) -> list[CheckResult]:
    """``n`` results with grants; every 50th has an integer orjson refuses (text fallback)."""
    fp = Fingerprinter(b"g" * 32)
    grants = tuple(
        Grant(Decimal(f"{g}.50"), Decimal("1.25"), AT, AT, False, f"grant_{g}_中文")
        for g in range(6)
    )
    balance = Balance("USD", "/grants", AT, available=Decimal("4.25"), grants=grants)
    out = []
    for i in range(n):
        value = f"sess-GATHER{i:06d}Zq8Wm3Xr7Tb2Lp"
        key = Key(Secret(value), fp(value), f"k{i}é", provider="openai", kind=Kind.SESSION)
        limits = RateLimits(2**70) if i % 50 == 7 else RateLimits(500)
        out.append(
            CheckResult(
                key, Status.OK, None, AT, balance=balance, balances=(balance,), rate_limits=limits
            )
        )
    return out


def _undated(document: bytes) -> bytes:
    return re.sub(rb'"generated_at": "[^"]*"', b"", document)


def _as_text(fmt: Format, results: list[CheckResult]) -> bytes:
    """What the writer gives a plain text stream (no byte buffer: nothing gathered)."""
    text = io.StringIO()
    writer = fmt.writer(text)
    assert writer is not None
    for result in results:
        writer.write(result)
    writer.close(True, {"total": len(results)})
    return text.getvalue().encode()


@pytest.mark.parametrize("fmt", [Format.JSON, Format.JSONL])
def test_many_results_go_out_in_few_writes_with_the_same_bytes(fmt: Format) -> None:
    """Hundreds of results reach the file in a handful of writes (not one per 8 KiB or per
    line), byte for byte what a text stream gets, fallback results in their place."""
    results = _results(300)
    raw = CountingRaw()
    stream = _stream(raw)
    stream.write("before\n")
    writer = fmt.writer(stream)
    assert writer is not None
    for result in results:
        writer.write(result)
    writer.close(True, {"total": len(results)})
    stream.flush()
    assert _undated(bytes(raw.data)) == _undated(b"before\n" + _as_text(fmt, results))
    assert len(raw.data) > 3 * GATHER
    # every fallback result forces the gathered bytes out before its text: 6 of them here
    assert raw.writes <= len(raw.data) // GATHER + 2 * 6 + 3 < len(results) // 10


def test_a_flush_pushes_gathered_lines_to_the_file() -> None:
    """JSON Lines written but not yet flushed are gathered; ``flush`` hands them all over."""
    raw = CountingRaw()
    writer = Format.JSONL.writer(_stream(raw))
    assert writer is not None
    results = [r for r in _results(8) if r.rate_limits and r.rate_limits.requests_limit == 500]
    for result in results:
        writer.write(result)
    assert raw.writes == 0
    writer.flush()
    assert raw.writes == 1
    assert bytes(raw.data) == _as_text(Format.JSONL, results)


def _stdout(monkeypatch: pytest.MonkeyPatch) -> CountingRaw:
    """sys.stdout replaced by a stream over a counting raw file (in the test's body: pytest's
    capture sets sys.stdout again after fixtures)."""
    raw = CountingRaw()
    monkeypatch.setattr(sys, "stdout", _stream(raw))
    return raw


def test_stdout_lines_reach_the_reader_during_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On stdout, lines written during a run are flushed by a timer on the run's loop,
    before the run ends or writes anything else."""
    stdout = _stdout(monkeypatch)
    results = _results(3)

    async def run() -> None:
        out = ResultOutput(Format.JSONL, None)
        for result in results:
            out.add(result)
        while stdout.data.count(b"\n") < 3:  # bounded by the test's wait_for
            await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(run(), 10))
    assert bytes(stdout.data) == _as_text(Format.JSONL, results)


@pytest.mark.parametrize("fmt", [Format.JSON, Format.JSONL])
def test_closing_an_interrupted_run_writes_every_result(
    monkeypatch: pytest.MonkeyPatch, fmt: Format
) -> None:
    """A run stopped early (Ctrl-C, deadline) closes its output: every result is written."""
    stdout = _stdout(monkeypatch)
    results = _results(5)

    async def run() -> ResultOutput:
        out = ResultOutput(fmt, None)
        for result in results:
            out.add(result)
        return out

    out = asyncio.run(run())  # the loop ends before its flush timer fires
    out.close(False, {"total": len(results)})
    written = _undated(bytes(stdout.data))
    assert written.count(b'"label": "k' if fmt is Format.JSON else b'"label":"k') == 5
    if fmt is Format.JSONL:
        assert written == _as_text(fmt, results)


def test_a_failed_run_still_hands_its_results_to_stdout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An exception escaping the run leaves every result it wrote on stdout."""
    stdout = _stdout(monkeypatch)
    results = _results(4)

    async def run(out: ResultOutput) -> None:
        for result in results:
            out.add(result)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError), opened(Format.JSONL, None) as out:
        asyncio.run(run(out))
    sys.stdout.flush()
    assert bytes(stdout.data) == _as_text(Format.JSONL, results)


def test_a_closed_pipe_found_by_the_timer_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that went away is noticed when the gathered lines are flushed: the output is
    broken, the run is told to stop, and nothing is written again."""
    raw = _stdout(monkeypatch)
    raw.broken = True
    stopped: list[bool] = []
    results = _results(3)

    async def run() -> ResultOutput:
        out = ResultOutput(Format.JSONL, None, on_broken=lambda: stopped.append(True))
        out.add(results[0])
        while not out.broken:  # bounded by the test's wait_for
            await asyncio.sleep(0.01)
        out.add(results[1])
        return out

    out = asyncio.run(asyncio.wait_for(run(), 10))
    out.close(True, {})
    assert stopped == [True] and out.broken and out.failed is None
    assert raw.writes == 0


_LEAVE_SCRIPT = """
import asyncio, signal, sys
from tests.test_output_gather import _results
from keyledger.cli.execute import leave_now
from keyledger.cli.output import ResultOutput
from keyledger.render.writers import Format

async def main() -> None:
    out = ResultOutput(Format.JSONL, None)
    for result in _results(int(sys.argv[1])):
        out.add(result)
    await asyncio.sleep(0.01)  # a second Ctrl-C arrives before the flush timer fires
    leave_now([out], signal.SIGINT)

asyncio.run(main())
"""


def _leave(count: int, read: bool) -> tuple[int, bytes]:
    """Run the script above in a child; its exit code and what it wrote to stdout."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    child = subprocess.Popen(
        [sys.executable, "-c", _LEAVE_SCRIPT, str(count)],
        stdout=subprocess.PIPE,
        env=env,
        cwd=root,
    )
    assert child.stdout is not None
    if read:
        data = child.stdout.read()
        return child.wait(timeout=60), data
    code = child.wait(timeout=60)  # nobody reads: the pipe fills, the exit must not wait on it
    child.stdout.close()
    return code, b""


def test_an_immediate_exit_still_hands_gathered_results_to_stdout() -> None:
    """A second Ctrl-C leaves at once, but the results written so far reach the reader."""
    code, data = _leave(5, read=True)
    assert code == 130
    assert data.count(b"\n") == 5


def test_an_immediate_exit_does_not_wait_for_a_reader_that_never_reads() -> None:
    """With stdout's pipe full and unread, the immediate exit still happens."""
    count = 30  # gathered (under GATHER), but more than a pipe holds (64 KiB on Linux)
    assert 65536 < len(_as_text(Format.JSONL, _results(count))) < GATHER
    code, _ = _leave(count, read=False)
    assert code == 130
