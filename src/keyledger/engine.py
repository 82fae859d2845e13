"""Check many keys concurrently and stream each result as soon as it is known.

- At most ``concurrency`` keys are in flight or finished-but-not-yet-taken (requests per
  host are capped by the client); keys are pulled from the input lazily, so memory holds
  only what is in flight, however many keys there are. At most ``concurrency`` worker tasks
  check them, one key after another, in input order (not one task per key).
- Checks of the same key in flight at once are merged (singleflight by fingerprint).
- A bug in a provider (or elsewhere in a key's check) becomes an ``unknown``/``internal_error``
  result, never a crash.
- An input that raises ends the run with its error, after the results of the keys it gave.
- ``deadline`` bounds the whole run, counted from ``started`` (the CLI passes the moment the
  command began, so reading keys counts too): keys unfinished by then are
  ``unknown``/``deadline``. Producing those placeholders is itself bounded by ``grace``
  (default :func:`deadline_grace`); keys still without a result when it runs out get none,
  and :attr:`Engine.truncated` says so.
- Setting ``stop`` stops scheduling and cancels what is in flight; unfinished keys get no
  result, and :attr:`Engine.interrupted` tells the caller.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Any

from keyledger.client import Client, HostSlots
from keyledger.detect import detect
from keyledger.limits import DEFAULT_CONCURRENCY
from keyledger.models import CheckResult, Key, Status
from keyledger.providers import CheckOptions, Provider, default_registry
from keyledger.providers.base import ResultBuilder

log = logging.getLogger("keyledger.engine")

MIN_GRACE = 2.0  # seconds after the deadline for writing what finished, at least
GRACE_SHARE = 0.1  # ... or this share of the deadline, when larger


def deadline_grace(deadline: float) -> float:
    """Time after ``deadline`` allowed for placeholders, recording and output: max(2 s, 10 %)."""
    return max(MIN_GRACE, deadline * GRACE_SHARE)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run is scheduled.

    ``started`` is the monotonic time the deadline counts from (``None``: when the run
    starts); ``grace`` the time after the deadline allowed for writing what finished
    (``None``: :func:`deadline_grace`); ``detect_provider`` turns on provider detection for
    keys whose shape does not say their provider.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    deadline: float | None = None
    started: float | None = None
    grace: float | None = None
    # Offer ``ambiguous_provider`` keys to the providers their shape allows, one at a time
    # (:mod:`keyledger.detect`); off by default: such keys are sent nowhere.
    detect_provider: bool = False

    def bounds(self, now: float) -> tuple[float, float] | None:
        """(when the deadline falls, when its grace ends) as monotonic times, or ``None``."""
        if self.deadline is None:
            return None
        origin = now if self.started is None else self.started
        grace = deadline_grace(self.deadline) if self.grace is None else self.grace
        return origin + self.deadline, origin + self.deadline + grace


def placeholder_result(key: Key, options: CheckOptions, reason: str) -> CheckResult:
    """An ``unknown`` result for a key that was not (or not fully) checked."""
    return ResultBuilder(key, options).finish(Status.UNKNOWN, reason)


class Engine:
    """Runs checks; iterate :meth:`run` for results in completion order."""

    def __init__(
        self,
        client: Client,
        check_options: CheckOptions | None = None,
        run_options: RunOptions | None = None,
        stop: asyncio.Event | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.clock = clock
        self.check_options = check_options or CheckOptions()
        self.run_options = run_options or RunOptions()
        self.stop = stop or asyncio.Event()
        self.interrupted = False
        self.deadline_hit = False
        self.truncated = False  # the grace ran out: some keys got no result at all
        self._flights: dict[str, asyncio.Future[CheckResult] | None] = {}

    async def check_one(self, key: Key) -> CheckResult:
        """Check one key; merged with an identical check already in flight."""
        if key.problem is not None and not self._detects(key):
            return placeholder_result(key, self.check_options, key.problem)
        fingerprint = key.fingerprint
        flights = self._flights
        if fingerprint in flights:
            flight = flights[fingerprint]
            if flight is None:  # the first twin: the check in flight will share its result
                flight = flights[fingerprint] = asyncio.get_running_loop().create_future()
            result = await asyncio.shield(flight)
            return replace(result, key=key)
        flights[fingerprint] = None  # no future until a twin asks for one (most keys have none)
        try:
            provider = None if self._detects(key) else default_registry().find(key.provider)
            if provider is None:
                result = await self._check(key)
            else:  # as _check_with, awaited here: one coroutine fewer a key
                try:
                    result = await provider.check(self.client, key, self.check_options)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug: one key must not crash the run
                    result = self._internal_error(key, exc)
        except BaseException as exc:
            future = flights.pop(fingerprint)
            if future is not None:
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
                with contextlib.suppress(BaseException):
                    future.exception()
            raise
        future = flights.pop(fingerprint)
        if future is not None:
            future.set_result(result)
        return result

    def _detects(self, key: Key) -> bool:
        return self.run_options.detect_provider and key.problem == "ambiguous_provider"

    def _check(self, key: Key) -> Coroutine[Any, Any, CheckResult]:
        """The check of ``key`` (a coroutine, so that the common path adds no await level)."""
        if self._detects(key):
            return detect(default_registry(), key, self.check_options, self._check_with)
        provider = default_registry().find(key.provider)
        if provider is None:
            return self._placeholder(key, "unsupported_provider")
        return self._check_with(provider, key)

    async def _placeholder(self, key: Key, reason: str) -> CheckResult:
        return placeholder_result(key, self.check_options, reason)

    async def _check_with(self, provider: Provider, key: Key) -> CheckResult:
        try:
            return await provider.check(self.client, key, self.check_options)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: one key must not crash the run
            return self._internal_error(key, exc)

    def _internal_error(self, key: Key, exc: Exception) -> CheckResult:
        """The result of a check that raised: logged by type only, ``internal_error``."""
        log.error("internal error checking %s: %s", key.masked, type(exc).__name__)
        return placeholder_result(key, self.check_options, "internal_error")

    async def run(self, keys: Iterable[Key]) -> AsyncGenerator[CheckResult, None]:
        """Results for ``keys`` in completion order."""
        limit = max(1, self.run_options.concurrency)
        slots = HostSlots(limit)
        # Finished results wait here until taken; ``wake`` resolves the consumer's waiter. No
        # task per result: the consumer only waits when nothing is ready.
        ready: collections.deque[CheckResult] = collections.deque()
        waiter: list[asyncio.Future[None] | None] = [None]
        # Keys being checked, in the order they were taken from the input (for placeholders).
        in_flight: dict[int, Key] = {}
        # At most ``limit`` worker tasks, each checking one key after another: no task per
        # key. A worker starts the next one when it takes a key, so a run of a few keys
        # starts only a few, and the first request goes out before any other worker exists.
        workers: set[asyncio.Task[None]] = set()
        failure: list[BaseException] = []  # what reading the input raised
        taken = itertools.count()
        clock = self.clock
        loop = asyncio.get_running_loop()
        bounds = self.run_options.bounds(clock())
        deadline_at, grace_ends = bounds if bounds is not None else (None, None)
        stop = self.stop
        check_one = self.check_one

        def wake(_: object = None) -> None:
            future = waiter[0]
            if future is not None and not future.done():
                future.set_result(None)

        def worker_done(task: asyncio.Task[None]) -> None:
            workers.discard(task)
            if not workers:
                wake()

        def spawn() -> None:
            task = loop.create_task(work())
            workers.add(task)
            task.add_done_callback(worker_done)

        iterator = iter(keys)

        async def work() -> None:
            # A slot is taken before a key: the slot is given back when the caller *takes*
            # the result, not when the check ends, so a slow consumer slows the checks
            # instead of piling up results.
            while True:
                if not slots.take():  # a free slot is taken without a coroutine
                    await slots.acquire()
                if stop.is_set() or failure:  # after a read error, nothing more is read
                    slots.release()
                    return
                try:
                    key = next(iterator)
                except StopIteration:
                    slots.release()
                    return
                except BaseException as exc:
                    slots.release()
                    failure.append(exc)
                    wake()
                    return
                if len(workers) < limit:
                    spawn()
                number = next(taken)
                in_flight[number] = key
                try:
                    result = await check_one(key)
                except Exception as exc:  # a bug outside any provider: as one inside one
                    result = self._internal_error(key, exc)
                except BaseException:
                    slots.release()
                    raise
                del in_flight[number]
                ready.append(result)
                wake()

        async def wait_for_news() -> None:
            """Sleep until a result is ready, the workers end, stop is set or the deadline."""
            timeout = None if deadline_at is None else max(0.0, deadline_at - clock())
            if timeout == 0.0:
                return
            future: asyncio.Future[None] = loop.create_future()
            waiter[0] = future
            timer = None if timeout is None else loop.call_later(timeout, wake)
            try:
                await future
            finally:
                waiter[0] = None
                if timer is not None:
                    timer.cancel()

        spawn()
        stopper = asyncio.create_task(stop.wait())
        stopper.add_done_callback(wake)
        pending_keys: list[Key] = []
        try:
            while True:
                if ready:
                    slots.release()
                    yield ready.popleft()
                elif workers and not stop.is_set():
                    await wait_for_news()
                expired = deadline_at is not None and clock() >= deadline_at
                # Stop and deadline are checked on every turn: a steady flow of results must
                # not hide them.
                if stop.is_set():
                    self.interrupted = True
                elif not workers and not ready:  # the keys read before a read error are done
                    if failure:
                        raise failure[0]
                    return
                elif not expired:
                    continue
                else:
                    self.deadline_hit = True
                    pending_keys = list(in_flight.values())
                running = list(workers)
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                finished_now: set[int] = set()
                while ready:
                    result = ready.popleft()
                    finished_now.add(id(result.key))
                    yield result
                if self.deadline_hit:
                    unfinished = (k for k in pending_keys if id(k) not in finished_now)
                    rest = () if failure else iterator  # a failed input is not read again
                    for key in itertools.chain(unfinished, rest):
                        if grace_ends is not None and clock() >= grace_ends:
                            self.truncated = True  # writing must end too: the rest get nothing
                            break
                        yield placeholder_result(key, self.check_options, "deadline")
                if failure:
                    raise failure[0]
                return
        finally:
            stopper.cancel()
            for task in list(workers):
                task.cancel()
