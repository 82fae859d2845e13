"""The per-host cap takes a free slot without waiting, and never jumps the queue."""

from __future__ import annotations

import asyncio

from keyledger.client import HostSlots


def test_take_uses_free_slots_then_refuses() -> None:
    """take() gives out the free slots one by one, then answers False."""

    async def scenario() -> list[bool]:
        slots = HostSlots(2)
        return [slots.take(), slots.take(), slots.take()]

    assert asyncio.run(scenario()) == [True, True, False]


def test_take_does_not_pass_a_waiting_acquire() -> None:
    """A slot released while someone waits goes to the waiter, not to a later take()."""

    async def scenario() -> tuple[bool, bool, bool]:
        slots = HostSlots(1)
        assert slots.take()
        waiter = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)  # the waiter is queued
        slots.release()
        taken_meanwhile = slots.take()
        await waiter
        slots.release()
        return taken_meanwhile, waiter.result(), slots.take()

    assert asyncio.run(scenario()) == (False, True, True)


def test_a_cancelled_waiter_leaves_its_slot() -> None:
    """A waiter cancelled after a release was meant for it leaves the slot free for take()."""

    async def scenario() -> bool:
        slots = HostSlots(1)
        assert slots.take()
        waiter = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        slots.release()
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        return slots.take()

    assert asyncio.run(scenario()) is True
