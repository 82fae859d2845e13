"""Helpers for the dashboard tests: ledgers built from keys, and the app served in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from aiohttp import web

from keyledger.home import install_secret
from keyledger.ledger import Store
from keyledger.models import Balance, CheckResult, Evidence, Key, Kind, Status
from keyledger.secret import Fingerprinter, Secret
from keyledger.web import Guard, create_app
from keyledger.web.app import GUARD

BODY = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wYz4cBe7gDi0kFm3oHq6sJu9w"
XSS_LABEL = "<script>alert('label')</script>"
XSS_REASON = "<b onmouseover=alert(1)>bold</b>"
XSS_MESSAGE = "<img src=x onerror=alert('msg')>"
# What the last check of the ``<script>``-labelled key recorded: a provider message with HTML.
XSS_EVIDENCE = (
    Evidence("/v1/models", 401, "invalid_request", None, XSS_MESSAGE, 2, "invalid"),
    Evidence("/v1/dashboard/billing/subscription", None, outcome="not reached"),
)


def make_key(home: Path, n: int, label: str) -> Key:
    """A key of the ``sk-proj-`` shape, fingerprinted with the home's install secret."""
    raw = f"sk-proj-{n:04d}{BODY}T3BlbkFJGh4jK7mN0pQ3"
    fingerprint = Fingerprinter(install_secret(home))(raw)
    return Key(Secret(raw), fingerprint, label, kind=Kind.SECRET)


def seed_ledger(home: Path, now: datetime) -> tuple[Path, list[Key]]:
    """A ledger with three keys over five daily runs, one labelled with a ``<script>``."""
    keys = [make_key(home, 1, "team-a"), make_key(home, 2, XSS_LABEL), make_key(home, 3, "spent")]
    path = home / "ledger.db"
    with Store.open(path) as store:
        for day in range(4, -1, -1):
            at = now - timedelta(days=day)
            results = [
                CheckResult(
                    keys[0],
                    Status.OK,
                    None,
                    at,
                    balance=Balance(
                        "USD",
                        "test",
                        at,
                        granted=Decimal(100),
                        used=Decimal(50 - 5 * day),
                        available=Decimal(50 + 5 * day),
                    ),
                    tier="tier-2 <b>",
                ),
                CheckResult(
                    keys[1],
                    Status.INVALID if day == 0 else Status.OK,
                    XSS_REASON,
                    at,
                    evidence=XSS_EVIDENCE if day == 0 else (),
                ),
                CheckResult(
                    keys[2],
                    Status.NO_QUOTA,
                    "insufficient_quota",
                    at,
                    balance=Balance("CNY", "test", at, available=Decimal(day)),
                ),
            ]
            run_id = store.begin_run(len(results), now=at)
            store.record(run_id, results)
            store.finish_run(run_id, "complete", now=at)
    return path, keys


@dataclass
class Served:
    """An app running on a real loopback port."""

    app: web.Application
    host: str
    port: int

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://{self.host}:{self.port}"


@contextmanager
def serve_in_thread(
    make: Callable[[], web.Application],
    host: str = "127.0.0.1",
    before: Callable[[], Awaitable[None]] | None = None,
) -> Iterator[Served]:
    """Run the app built by ``make`` on a free port of ``host`` in a background thread."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    async def setup() -> None:
        if before is not None:
            await before()
        app = make()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        app[GUARD].port = port
        box.update(app=app, runner=runner, port=port)

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(setup())
        except BaseException as exc:  # reported to the test thread
            box["error"] = exc
        started.set()
        if "error" in box:
            return
        loop.run_forever()
        runner = box["runner"]
        assert isinstance(runner, web.AppRunner)
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(60)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    app = box["app"]
    assert isinstance(app, web.Application)
    port = box["port"]
    assert isinstance(port, int)
    try:
        yield Served(app, host, port)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


def guarded_app(ledger: Path, host: str = "127.0.0.1", token: str | None = None) -> web.Application:
    """The dashboard of ``ledger`` with the guard for ``host`` (port 0: set once bound)."""
    return create_app(ledger, Guard(host=host, port=0, token=token))


def now_utc() -> datetime:
    """The current time (ledger rows are read relative to it)."""
    return datetime.now(UTC)
