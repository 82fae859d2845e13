"""``keyledger serve --demo``: the demo ledger, checked against the in-process simulator.

The demo keeps its own home (``<KEYLEDGER_HOME>/demo/``: its ledger and install secret), so
it never mixes with the user's ledger. The simulator runs on the server's event loop, and
"check now" checks the demo key set against it.
"""

from __future__ import annotations

import dataclasses
import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from keyledger.home import install_secret
from keyledger.keyset import build_keyset
from keyledger.ledger import DB_NAME, Store
from keyledger.models import CheckResult, Key, Status
from keyledger.providers import CheckOptions
from keyledger.runner import run_checks
from keyledger.secret import Fingerprinter
from keyledger.simulator import SimState, Simulator, closed_port
from keyledger.simulator.demo import demo_lines
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.sources import Entry, parse_text_line
from keyledger.web.checks import CheckConfig

DEMO_DIR = "demo"


def demo_keys(demo_home: Path, sim_url: str) -> list[Key]:
    """The demo key set, fingerprinted with the demo home's own install secret."""
    unreachable = f"http://127.0.0.1:{closed_port()}"
    entries = [
        item
        for n, line in enumerate(demo_lines(sim_url, unreachable), start=1)
        if isinstance(item := parse_text_line(line, f"<demo>:{n}"), Entry)
    ]
    return build_keyset(entries, Fingerprinter(install_secret(demo_home))).keys


class DemoBackend:
    """Starts the simulator and makes sure the demo ledger has a past."""

    def __init__(self, home: Path, now: datetime | None = None) -> None:
        self.home = home
        self.demo_home = home / DEMO_DIR
        self.ledger = self.demo_home / DB_NAME
        self.now = now
        self.simulator = Simulator(SimState(record=False))
        self.config: CheckConfig | None = None

    async def start(self) -> tuple[CheckConfig, Path]:
        """Start the simulator and fill the demo ledger if empty; the check config and ledger."""
        await self.simulator.start()
        url = self.simulator.url
        keys = demo_keys(self.demo_home, url)
        self.config = CheckConfig(
            keys=keys, check=lambda: CheckOptions(base_urls=provider_base_urls(url))
        )
        now = self.now or datetime.now(UTC)
        if not await self._ensure_core_history(now):
            await fallback_demo_history(self.ledger, self.config, now)
        return self.config, self.ledger

    async def _ensure_core_history(self, now: datetime) -> bool:
        """Use the core demo ledger builder when this keyledger has one."""
        try:
            module = importlib.import_module("keyledger.simulator.demo_history")
        except ImportError:
            return False
        made = module.ensure_demo_ledger(self.home, now=now)
        if isinstance(made, Path) and made.suffix == ".db":
            self.ledger = made
        return True

    async def stop(self) -> None:
        """Stop the simulator."""
        await self.simulator.stop()


# -- FALLBACK: to be replaced by keyledger.simulator.demo_history.ensure_demo_ledger ------

FALLBACK_DAYS = 14


async def fallback_demo_history(ledger: Path, config: CheckConfig, now: datetime) -> None:
    """Record a small demo history if the demo ledger has none (stand-in for the core one).

    One real check of the demo keys against the simulator, recorded as the latest run, and
    before it :data:`FALLBACK_DAYS` daily runs made from those results: balances a little
    higher each day back (so burn rate and runway have something to measure), and keys that
    are broken now were still ``ok`` a few days earlier (so the timeline shows changes).
    """
    with Store.open(ledger) as store:
        if store.count_results():
            return
        report = await run_checks(
            config.keys, http=config.http, check=config.check(), run=config.run
        )
        for days in range(FALLBACK_DAYS, 0, -1):
            at = now - timedelta(days=days)
            past = [_as_of(r, n, days, at) for n, r in enumerate(report.results)]
            run_id = store.begin_run(len(past), now=at)
            store.record(run_id, past)
            store.finish_run(run_id, "complete", now=at + timedelta(seconds=5))
        run_id = store.begin_run(len(report.results), now=now)
        store.record(run_id, report.results)
        store.finish_run(run_id, "complete", now=now)


def _as_of(result: CheckResult, n: int, days: int, at: datetime) -> CheckResult:
    """``result`` as it might have looked ``days`` earlier."""
    changes: dict[str, object] = {"checked_at": at}
    if result.status is not Status.OK and days > 2 + n % 6:
        changes.update(status=Status.OK, reason=None)
    balance = result.balance
    if balance is not None and balance.available is not None and not balance.token_uncapped:
        rate = (balance.granted or balance.available or Decimal(10)) * Decimal(n % 5 + 1) / 100
        spent = rate * days
        used = None if balance.used is None else max(Decimal(0), balance.used - spent)
        changes["balance"] = dataclasses.replace(
            balance, available=balance.available + spent, used=used, read_at=at
        )
    return dataclasses.replace(result, **changes)  # type: ignore[arg-type]
