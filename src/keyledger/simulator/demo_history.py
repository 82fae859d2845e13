"""The demo's own ledger, with a past: weeks of daily runs against the clocked simulator.

``keyledger demo`` (and ``serve --demo``) use ``<KEYLEDGER_HOME>/demo/``: a home of its own
(ledger and install secret), never the user's ledger. :func:`ensure_demo_ledger` fills it,
when it is missing or stale, with :data:`HISTORY_DAYS` daily runs of the demo key set, each
checked and recorded at its simulated time, so history, plot, runway and burn rate have real
figures from the first try. The simulated accounts started spending at the first run
(:func:`demo_epoch`), so later runs continue the same story.

Core code: it never prints; it runs the simulator on loopback only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from keyledger.engine import RunOptions
from keyledger.home import ensure_private_dir, install_secret
from keyledger.keyset import build_keyset
from keyledger.ledger.store import DB_NAME, Store
from keyledger.models import Key
from keyledger.providers import CheckOptions
from keyledger.runner import run_checks
from keyledger.secret import Fingerprinter
from keyledger.simulator.clock import SimClock
from keyledger.simulator.demo import demo_lines
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.simulator.server import SimState, Simulator, closed_port
from keyledger.sources import Entry, parse_text_line
from keyledger.transport import HttpOptions

DEMO_DIR = "demo"
HISTORY_DAYS = 21
STALE_AFTER = timedelta(days=60)  # a demo story older than this is started afresh
DEMO_HTTP = HttpOptions(attempt_deadline=5.0, connect_timeout=2.0, backoff_base=0.01)
T = TypeVar("T")


def demo_home(home: Path) -> Path:
    """The demo's own home directory inside the keyledger home."""
    return home / DEMO_DIR


def demo_ledger_path(home: Path) -> Path:
    """The demo ledger's file."""
    return demo_home(home) / DB_NAME


def demo_keys(home: Path, sim_url: str, unreachable_url: str) -> list[Key]:
    """The demo key set, fingerprinted with the demo's own install secret."""
    entries = []
    for number, line in enumerate(demo_lines(sim_url, unreachable_url), start=1):
        item = parse_text_line(line, f"<demo>:{number}")
        if isinstance(item, Entry):
            entries.append(item)
    secret = install_secret(ensure_private_dir(demo_home(home)))
    return build_keyset(entries, Fingerprinter(secret)).keys


def demo_epoch(path: Path) -> datetime | None:
    """When the demo's simulated accounts started spending: its first run, if any."""
    if not path.exists():
        return None
    with Store.open(path, create=False) as store:
        runs = store.runs()
    return runs[0].started_at if runs else None


async def record_run(
    store: Store, state: SimState, clock: SimClock, home: Path, sim_url: str
) -> int:
    """Check the demo keys once at ``clock``'s time and record the run at that time."""
    at = clock.now()
    keys = demo_keys(home, sim_url, f"http://127.0.0.1:{closed_port()}")
    run_id = store.begin_run(len(keys), now=at)
    report = await run_checks(
        keys,
        http=DEMO_HTTP,
        check=CheckOptions(base_urls=provider_base_urls(sim_url), now=clock.now),
        run=RunOptions(concurrency=32),
    )
    store.record(run_id, report.results)
    store.finish_run(run_id, "interrupted" if report.interrupted else "complete", now=at)
    return run_id


async def _fill(home: Path, path: Path, epoch: datetime, days: list[datetime]) -> None:
    clock = SimClock(epoch)
    state = SimState(record=False, clock=clock, epoch=epoch)
    async with Simulator(state) as sim:
        with Store.open(path, create=True) as store:
            for moment in days:
                clock.set(moment)
                await record_run(store, state, clock, home, sim.url)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to the end, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="keyledger-demo") as pool:
        return pool.submit(asyncio.run, coro).result()


def ensure_demo_ledger(home: Path, *, now: datetime) -> Path:
    """The demo ledger under ``home``, with a daily run for each past day up to ``now``.

    A missing ledger (or one whose story began over :data:`STALE_AFTER` ago) gets
    :data:`HISTORY_DAYS` daily runs ending a day before ``now``; an existing one gets a run
    for each day it missed. Today's run is the caller's (``keyledger demo`` records it).

    Raises:
        StoreError: the demo ledger cannot be created or read.
    """
    ensure_private_dir(demo_home(home))
    path = demo_ledger_path(home)
    epoch = demo_epoch(path)
    if epoch is None or now - epoch > STALE_AFTER:
        _remove(path)
        epoch = now - timedelta(days=HISTORY_DAYS)
        days = [epoch + timedelta(days=n) for n in range(HISTORY_DAYS)]
    else:
        with Store.open(path, create=False) as store:
            last = store.runs()[-1].started_at
        days = []
        moment = last + timedelta(days=1)
        while moment <= now - timedelta(hours=12):
            days.append(moment)
            moment += timedelta(days=1)
    if days:
        run_sync(_fill(home, path, epoch, days))
    return path
