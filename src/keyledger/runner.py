"""One check run: keys through the engine into sinks (writers, the ledger, the table).

The runner owns neither the terminal nor the process: sinks are passed in, and so is the
event that stops the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from keyledger.client import Client, make_session
from keyledger.engine import Engine, RunOptions
from keyledger.models import CheckResult, Key
from keyledger.providers import CheckOptions
from keyledger.transport import HttpOptions


class Sink(Protocol):
    """Receives each result as it completes."""

    def add(self, result: CheckResult) -> None:
        """Take one result."""
        ...


@runtime_checkable
class PacedSink(Sink, Protocol):
    """A sink that can fall behind (the ledger's writer): the runner takes no further result
    while it has no room, so the checks slow down instead of results piling up."""

    def has_room(self) -> bool:
        """Whether the next result may come now."""
        ...

    async def wait_room(self) -> None:
        """Wait until the next result may come."""
        ...


async def wait_for_room(
    sink: PacedSink, stop: asyncio.Event, until: float | None, clock: Callable[[], float]
) -> None:
    """Wait until ``sink`` has room, ``stop`` is set or the monotonic time ``until`` passes
    (Ctrl-C and the deadline are never held up by a slow sink)."""
    if stop.is_set() or (until is not None and clock() >= until):
        return
    room = asyncio.ensure_future(sink.wait_room())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        timeout = None if until is None else max(0.0, until - clock())
        await asyncio.wait({room, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (room, stopped):
            task.cancel()
        await asyncio.gather(room, stopped, return_exceptions=True)


class FinishingSink(Sink, Protocol):
    """A sink with work to do once the run is over (close a ledger run, evaluate rules)."""

    def finish(self, report: RunReport) -> None:
        """The run ended as ``report`` says; must not raise for a key's outcome."""
        ...


def finish_sinks(sinks: Iterable[FinishingSink], report: RunReport) -> None:
    """Call ``finish(report)`` on each sink, in order (a ledger before the rules reading it)."""
    for sink in sinks:
        sink.finish(report)


@dataclass
class RunReport:
    """How a run ended."""

    results: list[CheckResult] = field(default_factory=list)
    interrupted: bool = False
    deadline_hit: bool = False
    truncated: bool = False  # some keys got no result: the deadline's grace ran out
    requests: int = 0

    @property
    def complete(self) -> bool:
        """Whether every key got a result (a check, or an ``unknown``/``deadline`` one)."""
        return not self.interrupted and not self.truncated


async def run_checks(
    keys: Iterable[Key],
    *,
    http: HttpOptions,
    check: CheckOptions,
    run: RunOptions,
    sinks: Sequence[Sink] = (),
    stop: asyncio.Event | None = None,
    keep_results: bool = True,
) -> RunReport:
    """Check ``keys`` over one shared session, feeding every result to ``sinks``."""
    report = RunReport()
    paced = [sink for sink in sinks if isinstance(sink, PacedSink)]
    bounds = run.bounds(time.monotonic())
    deadline_at = None if bounds is None else bounds[0]
    async with make_session(http, run.concurrency) as session:
        engine = Engine(Client(session, http), check, run, stop)
        results = engine.run(keys)
        try:
            async for result in results:
                if keep_results:
                    report.results.append(result)
                for sink in sinks:
                    sink.add(result)
                for sink in paced:
                    if not sink.has_room():
                        await wait_for_room(sink, engine.stop, deadline_at, time.monotonic)
        finally:  # a sink that fails must not leave checks running on a closed session
            await results.aclose()
        report.interrupted = engine.interrupted
        report.deadline_hit = engine.deadline_hit
        report.truncated = engine.truncated
        report.requests = engine.client.requests_sent
    return report
