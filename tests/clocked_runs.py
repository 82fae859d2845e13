"""Daily runs at simulated times: the clocked simulator, a real SQLite ledger, the config's
rules and its channels' outbox, wired the way ``watch`` wires them (one run = record, evaluate,
deliver), with the checker's clock being the simulator's.

Importable by tests, and runnable as a separate process (a restart) with
``python tests/clocked_runs.py LEDGER CONFIG FIRST_DAY LAST_DAY``; the fingerprint secret and
the keys' salt come from ``$CLOCKED_SECRET`` and ``$CLOCKED_SALT``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from keyledger.alerts.dispatch import channel_names, make_sink, open_outbox
from keyledger.alerts.evaluator import RuleEvaluator
from keyledger.alerts.rules import load_rules
from keyledger.config import load_config
from keyledger.engine import RunOptions
from keyledger.keyset import build_keyset
from keyledger.ledger.session import RunLedger
from keyledger.ledger.store import Store
from keyledger.models import Key
from keyledger.providers import CheckOptions
from keyledger.runner import FinishingSink, finish_sinks, run_checks
from keyledger.secret import Fingerprinter
from keyledger.simulator import SCENARIOS, SimClock, SimState, Simulator, make_key
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.sources import Entry
from keyledger.transport import HttpOptions

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # the simulated accounts start spending here
HTTP = HttpOptions(attempt_deadline=5.0, connect_timeout=2.0, backoff_base=0.01, backoff_cap=0.05)
# label -> scenario: $100 relay at $1.50/day ($74.66 left at T0); grants worth $110 at T0
# spent at $2.50/day; a $92.60 grant spent at $2.00/day that expires on day 24.
ACCOUNTS = {"relay": "relay_spending", "team": "grants_spending", "trial": "grant_lapses_day_24"}


def key_value(scenario: str, salt: str) -> str:
    """The key of ``scenario`` (the same in every process given the same salt)."""
    return make_key(scenario) + salt


def keys_for(sim_url: str, secret: bytes, salt: str) -> list[Key]:
    """The three accounts' keys, fingerprinted with ``secret``."""
    entries = []
    for number, (label, scenario) in enumerate(ACCOUNTS.items(), start=1):
        base = f"{sim_url}/v1" if SCENARIOS[scenario].relay else None
        entries.append(
            Entry(key_value(scenario, salt), f"keys:{number}", label=label, base_url=base)
        )
    keyset = build_keyset(entries, Fingerprinter(secret))
    assert len(keyset.keys) == len(ACCOUNTS), keyset.issues
    return keyset.keys


async def run_days(
    db: Path,
    config_path: Path,
    days: Iterable[int],
    *,
    secret: bytes,
    salt: str,
    env: Mapping[str, str],
    skip_rules: Iterable[int] = (),
) -> None:
    """One run per day in ``days`` (days since :data:`T0`), each in the ledger ``db`` opened
    afresh, evaluated with ``config_path``'s rules and delivered through its channels.

    A day in ``skip_rules`` is recorded but not evaluated, as when a process dies between
    committing its run and evaluating the rules.
    """
    skipped = set(skip_rules)
    clock = SimClock(T0)
    async with Simulator(SimState(record=False, clock=clock, epoch=T0)) as sim:
        keys = keys_for(sim.url, secret, salt)
        check = CheckOptions(base_urls=provider_base_urls(sim.url), now=clock.now)
        for day in days:
            clock.set(T0 + timedelta(days=day))
            with Store.open(db) as store:
                config = load_config(config_path, required=True)
                outbox = open_outbox(store, config, env)
                rules = load_rules(config, channel_names(config))
                ledger = RunLedger(
                    store, store.begin_run(len(keys), now=clock.now()), now=clock.now
                )
                evaluator = RuleEvaluator(ledger, rules, make_sink(outbox, rules), now=clock.now)
                sinks: list[FinishingSink] = [ledger]
                if day not in skipped:
                    sinks.append(evaluator)
                report = await run_checks(
                    keys, http=HTTP, check=check, run=RunOptions(), sinks=sinks
                )
                finish_sinks(sinks, report)
                assert ledger.recorded_ok and evaluator.error is None, evaluator.error
                async with aiohttp.ClientSession() as session:
                    delivered = await outbox.deliver_due(session)
                assert delivered.error is None and not delivered.failing, delivered


def main(argv: list[str]) -> int:
    """Run days FIRST..LAST (inclusive) in this process."""
    db, config, first, last = argv
    asyncio.run(
        run_days(
            Path(db),
            Path(config),
            range(int(first), int(last) + 1),
            secret=bytes.fromhex(os.environ["CLOCKED_SECRET"]),
            salt=os.environ["CLOCKED_SALT"],
            env=os.environ,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
