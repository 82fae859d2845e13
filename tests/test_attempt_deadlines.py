"""One shared timer bounds a client's attempts as one ``asyncio.timeout`` per attempt would."""

from __future__ import annotations

import asyncio

import pytest

from keyledger.wire import AttemptDeadlines

SHORT = 0.05  # an attempt's deadline here; the bodies that overrun sleep far longer
LONG = 30.0


async def _bounded(deadlines: AttemptDeadlines, body: float) -> str:
    try:
        async with deadlines.scope():
            await asyncio.sleep(body)
    except TimeoutError:
        return "timeout"
    return "done"


def test_an_attempt_that_runs_over_ends_in_timeout_error() -> None:
    """A body sleeping past the deadline leaves the scope as TimeoutError."""
    assert asyncio.run(_bounded(AttemptDeadlines(SHORT), LONG)) == "timeout"


def test_every_overrunning_attempt_expires_and_the_others_do_not() -> None:
    """Attempts begun one after another all expire when they overrun, and only those."""

    async def scenario() -> list[str]:
        deadlines = AttemptDeadlines(SHORT)
        first = await _bounded(deadlines, 0)  # ends at once: its deadline must not fire later
        rest = await asyncio.gather(*(_bounded(deadlines, b) for b in (LONG, 0, LONG, 0)))
        later = await _bounded(deadlines, LONG)  # after the timer fired: armed again
        return [first, *rest, later]

    assert asyncio.run(scenario()) == ["done", "timeout", "done", "timeout", "done", "timeout"]


def test_an_ended_attempt_is_not_cancelled_afterwards() -> None:
    """Work done after a scope ended is not cut at that scope's deadline."""

    async def scenario() -> str:
        deadlines = AttemptDeadlines(SHORT)
        await _bounded(deadlines, 0)
        await asyncio.sleep(SHORT * 4)  # past the ended attempt's deadline: no cancellation
        return "lived"

    assert asyncio.run(scenario()) == "lived"


def test_a_cancellation_from_outside_goes_on_as_cancellation() -> None:
    """A task cancelled by someone else (Ctrl-C, the run's deadline) is not a timeout."""

    async def scenario() -> None:
        deadlines = AttemptDeadlines(LONG)
        task = asyncio.create_task(_bounded(deadlines, LONG))
        await asyncio.sleep(0)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(scenario())


def test_outside_cancellation_at_expiry_still_goes_on_as_cancellation() -> None:
    """Cancelled from outside just as its deadline passes, the task still sees cancellation."""

    async def scenario() -> None:
        deadlines = AttemptDeadlines(SHORT)

        async def body() -> None:
            async with deadlines.scope():
                try:
                    await asyncio.sleep(LONG)
                except asyncio.CancelledError:
                    asyncio.current_task().cancel()  # type: ignore[union-attr]
                    raise

        await body()

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(scenario())
