"""Engine guarantees: bounded concurrency, streaming, flat memory, singleflight, deadline, stop."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

from keyledger.client import Client, make_session
from keyledger.engine import DEFAULT_CONCURRENCY, Engine, RunOptions
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers import CheckOptions, Provider
from keyledger.providers.base import ResultBuilder
from keyledger.secret import Secret
from keyledger.simulator import Simulator, make_key
from keyledger.simulator.faults import fault_key
from keyledger.transport import HttpOptions

OPTS = HttpOptions(attempt_deadline=2.0, connect_timeout=1.0, backoff_base=0.01, backoff_cap=0.05)


def _key(value: str, provider: str = "openai") -> Key:
    fp = hashlib.sha256(value.encode()).hexdigest()[:16]
    kind = Kind.SESSION if value.startswith("sess-") else Kind.SECRET
    return Key(Secret(value), fp, fp[:6], provider=provider, kind=kind)


async def _run(
    keys: object, base: str, options: HttpOptions = OPTS, **run: object
) -> tuple[list[CheckResult], Engine]:
    async with make_session(options, 100) as session:
        engine = Engine(
            Client(session, options),
            CheckOptions(base_urls={"openai": base}),
            RunOptions(**run),  # type: ignore[arg-type]
        )
        return [r async for r in engine.run(keys)], engine  # type: ignore[arg-type]


def test_documented_defaults() -> None:
    """H2: the defaults are 200 keys at once and 200 requests per host (shown in --help)."""
    assert DEFAULT_CONCURRENCY == 200
    assert HttpOptions().per_host == 200
    assert HttpOptions().attempt_deadline == 15.0 and HttpOptions().connect_timeout == 5.0


async def test_h2_per_host_cap(sim: Simulator) -> None:
    """H2: with 300 keys and 100 at once, the server never sees more than --per-host requests."""
    sim.state.latency = 0.01
    options = HttpOptions(attempt_deadline=5.0, per_host=8, backoff_base=0.01)
    keys = [_key(make_key("grants", n)) for n in range(300)]
    results, _ = await _run(keys, sim.url, options, concurrency=100)
    assert len(results) == 300 and {r.status for r in results} == {Status.OK}
    assert 1 < sim.state.peak_in_flight <= 8


async def test_h2_global_cap(sim: Simulator) -> None:
    """H2: --concurrency bounds keys in flight even when the per-host cap is higher."""
    sim.state.latency = 0.01
    keys = [_key(make_key("grants", n)) for n in range(100)]
    results, _ = await _run(keys, sim.url, concurrency=5)
    assert len(results) == 100
    assert 1 < sim.state.peak_in_flight <= 5


async def test_results_stream_and_keys_are_pulled_lazily(sim: Simulator) -> None:
    """Results arrive while keys are still being read; the input is pulled only as slots free."""
    pulled = 0

    def keys() -> Iterator[Key]:
        nonlocal pulled
        for n in range(200):
            pulled += 1
            yield _key(make_key("grants", n))

    seen_at_first: int | None = None
    async with make_session(OPTS, 10) as session:
        engine = Engine(
            Client(session, OPTS), CheckOptions(base_urls={"openai": sim.url}), RunOptions(10)
        )
        count = 0
        async for _ in engine.run(keys()):
            if seen_at_first is None:
                seen_at_first = pulled
            count += 1
    assert count == 200
    assert seen_at_first is not None and seen_at_first <= 10 + 2


class _InstantProvider(Provider):
    """A provider that answers at once, to measure the engine alone."""

    name: ClassVar[str] = "instant"
    default_base_url: ClassVar[str] = "http://unused"

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        await asyncio.sleep(0)
        return ResultBuilder(key, options).finish(Status.OK, None)


class _BrokenProvider(Provider):
    """A provider with a bug."""

    name: ClassVar[str] = "broken"
    default_base_url: ClassVar[str] = "http://unused"

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        raise ZeroDivisionError("bug while holding " + key.secret.reveal())


async def _peak_for(count: int) -> int:
    def keys() -> Iterator[Key]:
        for n in range(count):
            yield _key(f"sk-proj-memtest{n:012d}abcdefghijklmnop", provider="instant")

    async with make_session(OPTS, 50) as session:
        engine = Engine(Client(session, OPTS), CheckOptions(), RunOptions(50))
        tracemalloc.start()
        try:
            seen = 0
            async for _ in engine.run(keys()):
                seen += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert seen == count
    return peak


async def test_memory_does_not_grow_with_key_count(register: Callable[[Provider], None]) -> None:
    """Memory is flat in the number of keys when results are not kept (x10 keys, < 2x peak)."""
    register(_InstantProvider())
    small = await _peak_for(500)
    large = await _peak_for(5000)
    assert large < 2 * small + 256 * 1024, f"{small=} {large=}"


async def test_provider_bug_is_a_result(register: Callable[[Provider], None]) -> None:
    """A provider exception becomes unknown/internal_error for that key; the log has no key."""
    register(_BrokenProvider())
    register(_InstantProvider())
    keys = [
        _key("sk-proj-brokenAAAAAAAAAAAAAAAAAAAA", "broken"),
        _key("sk-proj-fineBBBBBBBBBBBBBBBBBBBB", "instant"),
    ]
    results, _ = await _run(keys, "http://unused")
    got = {r.key.provider: (r.status, r.reason) for r in results}
    assert got == {"broken": (Status.UNKNOWN, "internal_error"), "instant": (Status.OK, None)}


async def test_h11_in_flight_duplicates_are_merged(sim: Simulator) -> None:
    """H11: 10 identical keys in flight at once lead to 1 request and 10 results."""
    sim.state.latency = 0.2
    value = make_key("grants", 77)
    keys = [_key(value) for _ in range(10)]
    results, _ = await _run(keys, sim.url, concurrency=10)
    assert len(results) == 10 and {r.status for r in results} == {Status.OK}
    assert sim.state.count(scenario="grants") == 1


async def test_run_deadline_marks_unfinished_keys(sim: Simulator) -> None:
    """--deadline: keys unfinished (in flight or never started) become unknown/deadline."""
    options = HttpOptions(attempt_deadline=30.0, backoff_base=0.01)
    keys = [_key(fault_key("f3_silence", n)) for n in range(20)]
    keys += [_key(make_key("grants", 1))]
    started = time.monotonic()
    results, engine = await _run(keys, sim.url, options, concurrency=5, deadline=0.5)
    elapsed = time.monotonic() - started
    assert len(results) == 21 and engine.deadline_hit
    assert {(r.status, r.reason) for r in results} == {(Status.UNKNOWN, "deadline")}
    assert elapsed < 5


async def test_stop_keeps_finished_results(sim: Simulator) -> None:
    """Setting stop ends the run: finished results are yielded, the rest get none."""
    sim.state.latency = 0.05
    keys = [_key(make_key("grants", n)) for n in range(100)]
    async with make_session(OPTS, 10) as session:
        stop = asyncio.Event()
        engine = Engine(
            Client(session, OPTS), CheckOptions(base_urls={"openai": sim.url}), RunOptions(5), stop
        )
        results = []
        async for result in engine.run(keys):
            results.append(result)
            if len(results) == 3:
                stop.set()
    assert engine.interrupted
    assert 3 <= len(results) < 100
    assert all(r.status is Status.OK for r in results)


def _key_file(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "keys.txt"
    path.write_text("".join(make_key("grants", n) + "\n" for n in range(count)))
    path.chmod(0o600)
    return path


async def test_progress_never_reaches_json_stdout(sim: Simulator, tmp_path: Path) -> None:
    """The progress bar goes to stderr only: with --progress, stdout is still pure JSON."""
    import sys

    keys = _key_file(tmp_path, 5)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "keyledger",
        "check",
        str(keys),
        "--base-url",
        sim.url,
        "--progress",
        "-f",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    document = json.loads(out)
    assert len(document["results"]) == 5 and document["complete"] is True
    assert b"\x1b" not in out


async def test_no_progress_when_stderr_is_not_a_terminal(sim: Simulator, tmp_path: Path) -> None:
    """Without a terminal on stderr there is no progress bar (nothing but the summary)."""
    import sys

    keys = _key_file(tmp_path, 3)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "keyledger",
        "check",
        str(keys),
        "--base-url",
        sim.url,
        "-f",
        "jsonl",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert len(out.splitlines()) == 3
    assert b"checking" not in err and b"\x1b[" not in err
