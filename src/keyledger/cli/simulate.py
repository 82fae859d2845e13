"""``keyledger simulate``: serve the simulator for manual tries and benchmarks."""

from __future__ import annotations

import asyncio
import signal

import click

from keyledger.baseurl import is_loopback_host
from keyledger.cli.keys_input import UsageExit
from keyledger.simulator import SCENARIOS, RealClock, SimState, Simulator, make_key


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8787,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback address to bind (the simulator never listens beyond this machine).",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(0, 60000),
    default=0.0,
    show_default=True,
    help="Delay added to every answer.",
)
@click.option("--no-record", is_flag=True, help="Do not keep a log of requests (for benchmarks).")
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True, max=1e7),
    default=1.0,
    show_default=True,
    metavar="F",
    help="Simulated time runs F times faster (1440: a day per minute): spending accounts "
    "spend, grants expire and keys die sooner.",
)
def simulate(port: int, host: str, latency_ms: float, no_record: bool, time_scale: float) -> None:
    """Serve the built-in simulator of every API keyledger reads.

    A key picks its scenario with the marker KLSIM__<scenario>__ (sample keys are
    printed at start); unknown keys are answered as invalid. Point keyledger at it
    with base_url=http://HOST:PORT.

    \b
    Example:
      keyledger simulate --port 8787 &
      keyledger simulate --help
    """
    if not is_loopback_host(host):
        raise UsageExit("the simulator binds only loopback addresses (127.0.0.1, ::1)")
    state = SimState(record=not no_record, latency=latency_ms / 1000.0, clock=RealClock(time_scale))

    async def serve() -> None:
        async with Simulator(state, host=host, port=port) as sim:
            click.echo(f"keyledger simulator listening on {sim.url}  (Ctrl-C to stop)")
            if time_scale != 1.0:
                click.echo(f"simulated time runs {time_scale:g}x faster than real time")
            click.echo("sample keys (one per scenario):")
            for name, scenario in SCENARIOS.items():
                click.echo(f"  {make_key(name):<64} {scenario.description}")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        click.echo(f"served {state.total} requests")

    asyncio.run(serve())
