"""``keyledger demo``: the whole tool against the built-in simulator, no real key needed."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click

from keyledger.cli.execute import CheckJob, execute
from keyledger.cli.keys_input import identity
from keyledger.engine import RunOptions
from keyledger.keyset import build_keyset
from keyledger.providers import CheckOptions
from keyledger.render.writers import Format
from keyledger.simulator import SimState, Simulator, closed_port
from keyledger.simulator.demo import demo_lines
from keyledger.sources import Entry, parse_text_line
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
    admin spend, an unreachable host, …) and prints what `keyledger check` prints.
    Nothing leaves this machine.
    """
    with simulator_thread() as sim:
        url = sim.url
        unreachable = f"http://127.0.0.1:{closed_port()}"
        entries = []
        for number, line in enumerate(demo_lines(url, unreachable), start=1):
            item = parse_text_line(line, f"<demo>:{number}")
            if isinstance(item, Entry):
                entries.append(item)
        keyset = build_keyset(entries, identity(os.environ, record=False).fingerprinter)
        job = CheckJob(
            keys=keyset.keys,
            http=HttpOptions(attempt_deadline=5.0, connect_timeout=2.0, backoff_base=0.05),
            check=CheckOptions(base_urls={"openai": url}),
            run=RunOptions(concurrency=32),
            fmt=Format(fmt),
            progress=progress,
            notes=[
                "This was the demo: every key above was answered by the built-in simulator "
                f"at {url}.",
                "Check your own keys with: keyledger check keys.txt",
            ]
            if fmt == "table"
            else [],
        )
        code = execute(job)
    # The demo succeeds when it ran; its keys are meant to cover every status.
    raise SystemExit(0 if code != 130 else code)
