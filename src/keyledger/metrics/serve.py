"""``/metrics`` over HTTP: an aiohttp route any keyledger server can mount, and a runner.

Bound to a loopback address, the route answers only requests whose ``Host`` is a loopback
name or address (a page in a browser cannot read it through DNS rebinding). The scrape itself
runs in a worker thread, since it reads SQLite.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


def host_is_loopback(host: str) -> bool:
    """Whether a ``Host`` header (name or address, with or without a port) is loopback."""
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:9464
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def registry_for(collector: Collector) -> CollectorRegistry:
    """A registry of its own holding only ``collector`` (no process or platform metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def add_metrics_route(
    app: web.Application,
    collector: Collector,
    *,
    path: str = "/metrics",
    loopback_only: bool = True,
) -> None:
    """Serve ``collector``'s metrics at ``path`` on ``app`` (e.g. ``watch --metrics``)."""
    registry = registry_for(collector)

    async def handle(request: web.Request) -> web.Response:
        if loopback_only and not host_is_loopback(request.host):
            raise web.HTTPForbidden(text="keyledger metrics answer loopback hosts only\n")
        body = await asyncio.to_thread(generate_latest, registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        response.headers["Cache-Control"] = "no-store"
        return response

    app.router.add_get(path, handle)


def metrics_app(collector: Collector, *, loopback_only: bool = True) -> web.Application:
    """An aiohttp application serving only ``/metrics``."""
    app = web.Application()
    add_metrics_route(app, collector, loopback_only=loopback_only)
    return app


async def serve_metrics(
    collector: Collector,
    host: str,
    port: int,
    *,
    until: Callable[[], Awaitable[object]],
    started: Callable[[str], None] | None = None,
    loopback_only: bool = True,
) -> None:
    """Serve ``/metrics`` on ``host:port`` until ``until()`` returns; ``started(url)`` is
    called once it listens (with the real port when ``port`` is 0)."""
    runner = web.AppRunner(
        metrics_app(collector, loopback_only=loopback_only), access_log=None, handle_signals=False
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        addresses = runner.addresses  # the bound socket tells the real port
        bound = int(addresses[0][1]) if addresses else port
        shown = f"[{host}]" if ":" in host else host
        if started is not None:
            started(f"http://{shown}:{bound}/metrics")
        await until()
    finally:
        await runner.cleanup()
