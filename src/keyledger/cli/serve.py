"""``keyledger serve``: the local dashboard (parsing, printing and the event loop only)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import webbrowser
from pathlib import Path

import click
from aiohttp import web

from keyledger.cli.keys_input import UsageExit, load_keys
from keyledger.cli.user_providers import providers_option, register_user_definitions
from keyledger.home import home_dir
from keyledger.keyset import DEFAULT_MAX_KEYS
from keyledger.ledger import ledger_path
from keyledger.logs import setup_logging
from keyledger.web import CheckConfig, Guard, create_app, is_loopback_bind
from keyledger.web.app import GUARD
from keyledger.web.demo import DemoBackend

TOKEN_ENV = "KEYLEDGER_SERVE_TOKEN"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _serve(
    app: web.Application, host: str, port: int, ready: list[str], browse: str | None
) -> None:
    runner = web.AppRunner(app, access_log=None)  # an access log would hold /login?token=…
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        addresses = runner.addresses
        bound = str(addresses[0][1]) if addresses else str(port)
        app[GUARD].port = int(bound)  # --port 0: the Host allowlist needs the real port
        for line in ready:
            click.echo(line.replace("{port}", bound))
        if browse is not None:
            webbrowser.open(browse.replace("{port}", bound))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--demo", is_flag=True, help="Serve the demo ledger, checked against the simulator.")
@click.option(
    "--open/--no-open",
    "open_browser",
    default=None,
    help="Open the page in a browser (default: when run from a terminal).",
)
@providers_option
def serve(
    files: tuple[str, ...],
    host: str,
    port: int,
    demo: bool,
    open_browser: bool | None,
    provider_files: tuple[Path, ...],
) -> None:
    """Serve a dashboard of the ledger at http://127.0.0.1:8765/.

    \b
    With KEYFILE arguments, "Check now" checks those keys in the background and records
    the run. Binding any address other than 127.0.0.1/localhost/::1 needs a token: set
    KEYLEDGER_SERVE_TOKEN, or one is generated and a one-time login link is printed.
    Scripts send it as "Authorization: Bearer TOKEN" to /api/v1/….
    """
    setup_logging(sys.stderr)
    if demo and files:
        raise UsageExit("--demo checks the demo keys; give either --demo or key files")
    token: str | None = None
    if not is_loopback_bind(host):
        token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)
        if len(token) < 16:
            raise UsageExit(f"{TOKEN_ENV} is too short (16 characters at least)")
    register_user_definitions(provider_files)
    guard = Guard(host=host, port=port, token=token)
    if demo:
        backend = DemoBackend(home_dir(os.environ))
        app = create_app(
            backend.ledger,
            guard,
            start=backend.start,
            stop=backend.stop,
            title="keyledger demo",
        )
    else:
        config = None
        if files:
            keyset = load_keys(
                files,
                environ=os.environ,
                provider=None,
                base_url=None,
                max_keys=DEFAULT_MAX_KEYS,
                strict=False,
            )
            config = CheckConfig(keys=keyset.keys)
        app = create_app(ledger_path(os.environ), guard, config=config)
    shown = _url_host("127.0.0.1" if host in ("0.0.0.0", "::", "") else host)
    url = f"http://{shown}:{{port}}/"
    ready = [f"keyledger: serving {'the demo ledger' if demo else 'the ledger'} at {url}"]
    if token is not None:
        ready.append(
            f"keyledger: warning: bound to {host}, reachable beyond this machine; "
            "a token is required."
        )
        if not os.environ.get(TOKEN_ENV):
            ready.append(f"keyledger: one-time login link: {url}login?token={token}")
            ready.append(
                "keyledger: scripts send the token in that link as 'Authorization: Bearer …'"
            )
    ready.append("keyledger: press Ctrl-C to stop")
    if open_browser is None:
        open_browser = sys.stdout.isatty() and token is None
    browse = url if open_browser else None
    try:
        asyncio.run(_serve(app, host, port, ready, browse))
    except OSError as exc:
        raise UsageExit(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
