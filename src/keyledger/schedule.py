"""Runs on a fixed schedule in one process (``keyledger watch``): never two at once.

Ticks fall every ``every`` seconds from the start. A run that outlasts its tick is never
joined by a second one: the ticks it overran are skipped (and reported through
``on_skip``), and the next run starts on the next tick still ahead. ``stop`` ends the wait
at once; a run in progress is left to finish its writes by its own stop handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """``30s``, ``15m``, ``1h``, ``1d`` or plain seconds, as seconds (at least one second).

    Raises:
        ValueError: not an interval.
    """
    match = _INTERVAL.match(text)
    if match is None:
        raise ValueError(f"not an interval: {text!r} (try 30s, 15m, 1h)")
    seconds = float(match.group(1)) * _SECONDS[match.group(2) or "s"]
    if seconds < 1:
        raise ValueError("the interval must be at least 1s")
    return seconds


@dataclass
class ScheduleReport:
    """What a schedule did."""

    runs: int = 0
    skipped: int = 0
    stopped: bool = False


async def run_every(
    every: float,
    run: Callable[[int], Awaitable[None]],
    *,
    stop: asyncio.Event,
    max_runs: int | None = None,
    on_skip: Callable[[int, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ScheduleReport:
    """Call ``run(n)`` (n = 1, 2, …) on every tick until ``stop`` is set or ``max_runs``."""
    report = ScheduleReport()
    next_tick = clock()
    while not stop.is_set() and (max_runs is None or report.runs < max_runs):
        delay = next_tick - clock()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                break
        report.runs += 1
        started = clock()
        await run(report.runs)
        next_tick += every
        missed = 0
        while next_tick < clock():
            next_tick += every
            missed += 1
        if missed:
            report.skipped += missed
            if on_skip is not None:
                on_skip(missed, clock() - started)
    report.stopped = stop.is_set()
    return report
