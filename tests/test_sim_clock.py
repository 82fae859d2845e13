"""The clocked simulator: accounts that spend, grants that expire and keys that die, exactly."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from keyledger.client import Client
from keyledger.engine import Engine, RunOptions
from keyledger.keyset import build_keyset
from keyledger.models import CheckResult, Status
from keyledger.providers import CheckOptions
from keyledger.secret import Fingerprinter
from keyledger.simulator import SCENARIOS, RealClock, SimClock, SimState, Simulator, make_key
from keyledger.simulator.clock import spent
from keyledger.sources import Entry

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FP = Fingerprinter(os.urandom(32))


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
async def clocked(clock: SimClock) -> AsyncIterator[Simulator]:
    """The simulator on loopback, its accounts spending from T0 on the hand-set clock."""
    async with Simulator(SimState(clock=clock)) as simulator:
        yield simulator


async def check(client: Client, sim: Simulator, clock: SimClock, scenario: str) -> CheckResult:
    """One check of a ``scenario`` key, the checker's clock being the simulator's."""
    relay = SCENARIOS[scenario].relay
    base = f"{sim.url}/v1" if relay else None
    keyset = build_keyset(
        [Entry(make_key(scenario), "t:1", label=scenario.upper(), base_url=base)], FP
    )
    options = CheckOptions(base_urls={"openai": sim.url}, now=clock.now)
    engine = Engine(client, options, RunOptions())
    (result,) = [r async for r in engine.run(keyset.keys)]
    return result


def test_real_clock_runs_faster_by_its_scale() -> None:
    """A 1440x clock moves a simulated day for each real minute."""
    ticks = iter([100.0, 160.0, 190.0])
    fast = RealClock(1440, start=T0, monotonic=lambda: next(ticks))

    assert fast.now() == T0 + timedelta(days=1)
    assert fast.now() == T0 + timedelta(days=1, hours=12)
    with pytest.raises(ValueError):
        RealClock(0)


def test_simulate_refuses_a_time_scale_of_zero(run_cli: Any) -> None:
    """`--time-scale` must be above 0."""
    assert run_cli("simulate", "--time-scale", "0", "--port", "0").code == 2


def test_spend_is_exact_decimal() -> None:
    """Spend is rate × exact days, with no float in between."""
    assert spent(Decimal("2.50"), T0, T0 + timedelta(hours=36)) == Decimal("3.750000")
    assert spent(Decimal("1"), T0, T0 + timedelta(seconds=1)) == Decimal("0.000012")
    assert spent(Decimal("5"), T0, T0 - timedelta(days=1)) == 0


async def test_session_balance_falls_by_the_spend_rate(
    client: Client, clocked: Simulator, clock: SimClock
) -> None:
    """$2.50/day drawn from the grant expiring first: 110.00 at T0, 102.50 three days on."""
    start = await check(client, clocked, clock, "grants_spending")
    clock.advance(timedelta(days=3))
    later = await check(client, clocked, clock, "grants_spending")

    assert start.balance is not None and later.balance is not None
    assert start.balance.available == Decimal("110.00")
    assert later.balance.available == Decimal("102.500000")
    assert later.balance.grants[0].used == Decimal("12.500000")


async def test_a_grant_expires_on_the_clock(
    client: Client, clocked: Simulator, clock: SimClock
) -> None:
    """Day 11: the $25 grant, filled before it expired on day 10, no longer counts; spend that
    it could not cover came from the second grant."""
    clock.advance(timedelta(days=11))
    result = await check(client, clocked, clock, "grants_spending")

    balance = result.balance
    assert balance is not None
    first, second = balance.grants
    assert first.expired and first.used == Decimal("25.000000")
    # 10 days x 2.50 = 25: 20 fill the first grant, 5 spill over; then 1 day x 2.50 more
    assert second.used == Decimal("17.500000") and not second.expired
    assert balance.available == Decimal("82.500000")


async def test_relay_usage_grows_and_stops_at_its_limit(
    client: Client, clocked: Simulator, clock: SimClock
) -> None:
    """$1.50/day on a $100 relay token with $25.34 used: 74.66, then 59.66, then nothing."""
    assert (await check(client, clocked, clock, "relay_spending")).balance.available == Decimal(  # type: ignore[union-attr]
        "74.66"
    )
    clock.advance(timedelta(days=10))
    ten = await check(client, clocked, clock, "relay_spending")
    clock.advance(timedelta(days=60))
    spent_up = await check(client, clocked, clock, "relay_spending")

    assert ten.balance is not None and ten.balance.available == Decimal("59.66")
    assert spent_up.status is Status.NO_QUOTA


async def test_admin_costs_grow_with_the_clock(
    client: Client, clocked: Simulator, clock: SimClock
) -> None:
    """Month-to-date costs gain $4.00 per simulated day on top of the fixed pages."""
    before = await check(client, clocked, clock, "admin_spending")
    clock.advance(timedelta(days=2, hours=6))
    after = await check(client, clocked, clock, "admin_spending")

    assert before.spend is not None and after.spend is not None
    assert after.spend.amount - before.spend.amount == Decimal("9.000000")


async def test_a_key_dies_mid_run_and_one_revives(
    client: Client, clocked: Simulator, clock: SimClock
) -> None:
    """dies_midrun is ok until day 3, deactivated after; dies_and_revives is out of quota
    only from day 2 to day 4."""
    seen: list[tuple[Status, Status]] = []
    for _ in range(6):
        died = await check(client, clocked, clock, "dies_midrun")
        flaky = await check(client, clocked, clock, "dies_and_revives")
        seen.append((died.status, flaky.status))
        clock.advance(timedelta(days=1))

    ok, dead, broke = Status.OK, Status.DEACTIVATED, Status.NO_QUOTA
    assert seen == [(ok, ok), (ok, ok), (ok, broke), (dead, broke), (dead, ok), (dead, ok)]
