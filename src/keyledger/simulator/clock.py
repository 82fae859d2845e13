"""The simulator's clock: real time (optionally running faster), or a clock tests set by hand.

Every time-dependent answer (grant expiries, balances that shrink as an account spends, keys
that die mid-run) reads one injected clock, so a test that sets a :class:`SimClock` gets exact
figures, and ``keyledger simulate --time-scale 1440`` lives a simulated day per real minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

MICROS_PER_DAY = 86_400 * 1_000_000
SPEND_QUANTUM = Decimal("0.000001")  # simulated spend is exact to a millionth of a unit


class Clock(Protocol):
    """Anything that tells the simulated time (aware, UTC)."""

    def now(self) -> datetime:
        """The current simulated time."""
        ...


class RealClock:
    """Real time, running ``scale`` times faster from the moment the clock was made."""

    def __init__(
        self,
        scale: float = 1.0,
        *,
        start: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not scale > 0:
            raise ValueError("the time scale must be above 0")
        self.scale = scale
        self._start = _aware(start) if start is not None else datetime.now(UTC)
        self._monotonic = monotonic
        self._mono = monotonic()

    def now(self) -> datetime:
        """The start time plus ``scale`` × the real time elapsed since."""
        if self.scale == 1.0 and self._monotonic is time.monotonic:
            return datetime.now(UTC)
        elapsed = (self._monotonic() - self._mono) * self.scale
        return self._start + timedelta(seconds=elapsed)


class SimClock:
    """A clock that moves only when told to (for exact tests and the demo's history)."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        """The time last set."""
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (forwards or backwards)."""
        self._now = _aware(moment)

    def advance(self, delta: timedelta) -> datetime:
        """Move by ``delta``; returns the new time."""
        self._now += delta
        return self._now


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def days_since(start: datetime, end: datetime) -> Decimal:
    """Exact days from ``start`` to ``end`` (to the microsecond), never below zero."""
    delta = end - start
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return max(Decimal(0), Decimal(micros) / Decimal(MICROS_PER_DAY))


def spent(per_day: Decimal, start: datetime, end: datetime) -> Decimal:
    """Money spent at ``per_day`` from ``start`` to ``end``, rounded to :data:`SPEND_QUANTUM`."""
    if not per_day:
        return Decimal(0)
    return (per_day * days_since(start, end)).quantize(SPEND_QUANTUM, rounding=ROUND_HALF_EVEN)
