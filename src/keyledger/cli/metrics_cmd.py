"""``keyledger metrics``: serve the ledger's latest figures to Prometheus."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import click

from keyledger.baseurl import is_loopback_host
from keyledger.cli.keys_input import UsageExit
from keyledger.cli.ledger_cmds import DEMO_OPTION, chosen_ledger
from keyledger.metrics import LedgerCollector, serve_metrics

DEFAULT_LISTEN = "127.0.0.1:9464"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as a host and a port.

    Raises:
        ValueError: not of that form, or the port is out of range.
    """
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _listen_option(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int]:
    try:
        return parse_listen(value)
    except ValueError:
        raise click.BadParameter("expected HOST:PORT, such as 127.0.0.1:9464") from None


@click.command()
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default=DEFAULT_LISTEN,
    show_default=True,
    callback=_listen_option,
    help="Address to serve /metrics on (port 0 picks a free one).",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback address (anyone who reaches it sees labels and balances).",
)
@DEMO_OPTION
def metrics(listen: tuple[str, int], allow_remote: bool, demo: bool) -> None:
    """Serve /metrics for Prometheus from the ledger's latest results.

    Every scrape reads the ledger (SQLite); it never calls a provider, so run
    `keyledger check` (from cron) or `keyledger watch` to keep it fresh. Keys are
    named by label, provider, account and a 6-character fingerprint prefix;
    never by the key. See docs/metrics.md for every metric.

    \b
    Examples:
      keyledger metrics
      keyledger metrics --listen 127.0.0.1:9100
      keyledger metrics --demo
    """
    host, port = listen
    loopback = is_loopback_host(host)
    if not loopback and not allow_remote:
        raise UsageExit(
            "metrics bind loopback addresses only (127.0.0.1, ::1); "
            "add --allow-remote to serve other hosts"
        )
    path = chosen_ledger(demo)
    collector = LedgerCollector(path)
    err = click.get_text_stream("stderr")

    def started(url: str) -> None:
        click.echo(f"keyledger metrics on {url} from {path}  (Ctrl-C to stop)", err=True)
        if not path.exists():
            hint = "keyledger demo" if demo else "keyledger check FILE"
            click.echo(f"no ledger there yet: `{hint}` records one", err=True)
        if not loopback:
            click.echo(
                "warning: serving beyond this machine; key labels and balances are visible "
                "to anyone who can reach it",
                err=True,
            )
        err.flush()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await serve_metrics(
            collector, host, port, until=stop.wait, started=started, loopback_only=loopback
        )

    try:
        asyncio.run(run())
    except OSError as exc:
        raise UsageExit(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
