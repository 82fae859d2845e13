"""``keyledger serve --demo``: the demo ledger, checked against the in-process simulator.

The ledger is the one ``keyledger demo`` keeps (``<KEYLEDGER_HOME>/demo/``: its own ledger and
install secret, never the user's), filled by the core's
:func:`~keyledger.simulator.demo_history.ensure_demo_ledger`. The simulator runs on the
server's event loop with the demo's epoch, so the simulated accounts go on spending where the
history left them; "check now" checks the same demo key set (same labels, same install secret,
so the same fingerprints) against it, and its results land on the keys of the history.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from keyledger.engine import RunOptions
from keyledger.providers import CheckOptions
from keyledger.simulator import Clock, RealClock, SimClock, SimState, Simulator, closed_port
from keyledger.simulator.demo_history import (
    DEMO_HTTP,
    demo_epoch,
    demo_keys,
    demo_ledger_path,
    ensure_demo_ledger,
)
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.web.checks import CheckConfig


class DemoBackend:
    """Fills the demo ledger's past, then runs the simulator that "check now" checks.

    ``now`` pins the demo's time (tests); by default it is the real time.
    """

    def __init__(self, home: Path, now: datetime | None = None) -> None:
        self.home = home
        self.ledger = demo_ledger_path(home)
        self.now = now
        self.simulator: Simulator | None = None
        self.config: CheckConfig | None = None

    async def start(self) -> tuple[CheckConfig, Path]:
        """Bring the demo ledger up to date, start the simulator; the check config and ledger.

        Raises:
            StoreError: the demo ledger cannot be created or read.
        """
        clock: Clock = SimClock(self.now) if self.now is not None else RealClock()
        self.ledger = await asyncio.to_thread(ensure_demo_ledger, self.home, now=clock.now())
        epoch = await asyncio.to_thread(demo_epoch, self.ledger)
        self.simulator = Simulator(SimState(record=False, clock=clock, epoch=epoch))
        await self.simulator.start()
        url = self.simulator.url
        keys = demo_keys(self.home, url, f"http://127.0.0.1:{closed_port()}")
        self.config = CheckConfig(
            keys=keys,
            http=DEMO_HTTP,
            check=lambda: CheckOptions(base_urls=provider_base_urls(url), now=clock.now),
            run=RunOptions(concurrency=32),
        )
        return self.config, self.ledger

    async def stop(self) -> None:
        """Stop the simulator."""
        if self.simulator is not None:
            await self.simulator.stop()
