"""``keyledger demo``: the whole tool against the built-in simulator, no real key needed."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from keyledger.cli.check_ledger import CheckLedger
from keyledger.cli.execute import CheckJob, execute, stderr_console
from keyledger.cli.keys_input import LedgerExit
from keyledger.engine import RunOptions
from keyledger.errors import StoreError
from keyledger.exitcodes import ExitCode
from keyledger.home import home_dir
from keyledger.providers import CheckOptions
from keyledger.render.writers import Format
from keyledger.simulator import SimClock, SimState, Simulator, closed_port
from keyledger.simulator.demo_history import (
    HISTORY_DAYS,
    demo_epoch,
    demo_keys,
    demo_ledger_path,
    ensure_demo_ledger,
)
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.transport import HttpOptions


@contextmanager
def simulator_thread(state: SimState | None = None) -> Iterator[Simulator]:
    """Run the simulator on a free loopback port in a background thread."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    sim = Simulator(state)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(sim.start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(sim.stop())
        loop.close()

    thread = threading.Thread(target=serve, name="keyledger-simulator", daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield sim
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


DEMO_TRIES = (
    "keyledger history --demo",
    "keyledger history 'team-credits (session)' --demo",
    "keyledger plot --demo -o demo.png",
    "keyledger metrics --demo",
)


@click.command()
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice([f.value for f in Format]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.")
def demo(fmt: str, progress: bool | None) -> None:
    """Check a built-in set of demo keys against the built-in simulator.

    Starts the simulator on a free loopback port, checks one key per situation
    (working, out of quota, banned, invalid, restricted, rate limited, relays,
    admin spend, accounts that spend, a key that died, an unreachable host, …)
    and prints what `keyledger check` prints. Nothing leaves this machine.

    The demo keeps its own ledger in <KEYLEDGER_HOME>/demo/, never yours: the
    first time, it fills it with three weeks of simulated daily runs, so the
    ledger commands have a past to show. Try them with --demo afterwards.
    """
    home = home_dir(os.environ)
    now = datetime.now(UTC)
    err = stderr_console()
    try:
        if demo_epoch(demo_ledger_path(home)) is None:
            err.print(
                f"building the demo ledger: {HISTORY_DAYS} days of simulated history…",
                markup=False,
            )
        path = ensure_demo_ledger(home, now=now)
        epoch = demo_epoch(path)
    except StoreError as exc:
        raise LedgerExit(f"demo ledger: {exc}") from None
    clock = SimClock(now)
    with simulator_thread(SimState(clock=clock, epoch=epoch)) as sim:
        url = sim.url
        unreachable = f"http://127.0.0.1:{closed_port()}"
        job = CheckJob(
            keys=demo_keys(home, url, unreachable),
            http=HttpOptions(attempt_deadline=5.0, connect_timeout=2.0, backoff_base=0.05),
            check=CheckOptions(base_urls=provider_base_urls(url), now=clock.now),
            run=RunOptions(concurrency=32),
            fmt=Format(fmt),
            progress=progress,
        )
        ledger = CheckLedger.attach(job, None, path=path)
        if fmt == "table":
            job.notes.extend(
                [
                    "This was the demo: every key above was answered by the built-in "
                    f"simulator at {url}.",
                    f"The demo keeps its own ledger ({path}), with {HISTORY_DAYS} days of "
                    "simulated history. Try:",
                    *(f"  {line}" for line in DEMO_TRIES),
                    "Check your own keys with: keyledger check keys.txt",
                ]
            )
        try:
            code = execute(job)
        except BaseException:
            ledger.abort()
            raise
        code = ledger.close(code)
    if job.output_error is not None:
        from keyledger.cli.write_errors import write_failure

        raise write_failure(None, job.output_error, ledger.kept(), code)
    # The demo succeeds when it ran; its keys are meant to cover every status.
    raise SystemExit(code if code in (ExitCode.ERROR, ExitCode.INTERRUPTED) else 0)
