"""The dashboard application: pages, the JSON API and static files, behind :mod:`.security`.

:func:`create_app` builds a fresh :class:`aiohttp.web.Application`; the CLI (or a test) runs
it. Pages and the API render the same dicts from :mod:`keyledger.web.data`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from keyledger import __version__
from keyledger.errors import StoreError
from keyledger.ledger import Store
from keyledger.models import STATUS_ORDER
from keyledger.money import fmt_money
from keyledger.web import data
from keyledger.web.checks import Busy, CheckConfig, CheckManager
from keyledger.web.security import (
    HEADERS,
    SESSION_COOKIE,
    Guard,
    csrf_token,
    guard_middleware,
)

HERE = Path(__file__).parent
STATIC = HERE / "static"
API = "/api/v1"

# The terminal table's colours (render/table.py STATUS_STYLE), as CSS classes.
STATUS_CLASS = {
    "ok": "st-green",
    "no_quota": "st-red",
    "billing_inactive": "st-red",
    "deactivated": "st-boldred",
    "invalid": "st-boldred",
    "restricted": "st-magenta",
    "rate_limited": "st-yellow",
    "unreachable": "st-yellow",
    "unknown": "st-yellow",
}

STORE = web.AppKey("store", Store)
CHECKS = web.AppKey("checks", CheckManager)
GUARD = web.AppKey("guard", Guard)
ENV = web.AppKey("env", jinja2.Environment)
TITLE = web.AppKey("title", str)


def _money(value: str | None, currency: str = "") -> str:
    if value is None:
        return "-"
    try:
        return fmt_money(Decimal(value), currency)
    except InvalidOperation:
        return "-"


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")


def templates() -> jinja2.Environment:
    """The page templates; autoescaping is on for every template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("keyledger.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["money"] = _money
    env.filters["when"] = _when
    env.globals["status_class"] = lambda s: STATUS_CLASS.get(s, "st-yellow")
    env.globals["statuses"] = [s.value for s in STATUS_ORDER]
    env.globals["version"] = __version__
    return env


def _now() -> datetime:
    return datetime.now(UTC)


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=lambda o: json.dumps(o, indent=1))


def _render(request: web.Request, name: str, **context: Any) -> web.Response:
    app = request.app
    html = (
        app[ENV]
        .get_template(name)
        .render(
            title=app[TITLE],
            csrf=csrf_token(request),
            check=app[CHECKS].status(),
            **context,
        )
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def _snapshot(request: web.Request) -> data.Snapshot:
    try:
        return data.snapshot(request.app[STORE], _now())
    except StoreError as exc:
        raise web.HTTPServiceUnavailable(text=f"ledger: {exc}") from None


def _history(request: web.Request) -> data.Json:
    snap = _snapshot(request)
    row = data.find(snap, request.match_info["id"])
    if row is None:
        raise web.HTTPNotFound(text="no such key")
    return data.history(request.app[STORE], row)


async def overview_page(request: web.Request) -> web.Response:
    """The overview and the keys table."""
    snap = _snapshot(request)
    store = request.app[STORE]
    keys = data.keys(snap)
    return _render(
        request,
        "overview.html",
        overview=data.overview(store, snap),
        keys=keys,
        providers=sorted({k["provider"] for k in keys}),
    )


async def key_page(request: web.Request) -> web.Response:
    """One key: chart, timeline, evidence."""
    return _render(request, "key.html", detail=_history(request))


async def login(request: web.Request) -> web.StreamResponse:
    """The one-time link: trade the token for a session cookie, then go to ``/``."""
    guard = request.app[GUARD]
    if guard.token is None:
        raise web.HTTPFound("/")
    session = guard.login(request.query.get("token"))
    if session is None:
        return web.Response(status=403, text="this login link is wrong or was used already\n")
    response = web.HTTPSeeOther("/")
    response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Strict", path="/")
    raise response


def _start_check(request: web.Request) -> tuple[int, data.Json]:
    checks = request.app[CHECKS]
    if not checks.enabled:
        return 400, {"error": "no key files to check: start `keyledger serve KEYFILE…`"}
    try:
        checks.start()
    except Busy:
        return 409, {"error": "a check is already running", **checks.status()}
    return 202, checks.status()


async def check_form(request: web.Request) -> web.Response:
    """``Check now`` without JavaScript: start, then back to the overview."""
    status, payload = _start_check(request)
    if status == 202:
        raise web.HTTPSeeOther("/")
    return web.Response(status=status, text=payload["error"] + "\n")


async def api_check_start(request: web.Request) -> web.Response:
    """POST: start a check (202), or 409 while one runs."""
    status, payload = _start_check(request)
    return _json(payload, status)


async def api_check_status(request: web.Request) -> web.Response:
    """Progress of the current (or last) check."""
    return _json(request.app[CHECKS].status())


async def api_overview(request: web.Request) -> web.Response:
    """The overview figures."""
    return _json(data.overview(request.app[STORE], _snapshot(request)))


async def api_keys(request: web.Request) -> web.Response:
    """Every key's latest state."""
    return _json({"keys": data.keys(_snapshot(request))})


async def api_history(request: web.Request) -> web.Response:
    """One key's history."""
    return _json(_history(request))


async def api_runs(request: web.Request) -> web.Response:
    """The latest runs."""
    return _json({"runs": data.runs(request.app[STORE])})


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """API errors as JSON with the right status."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith(API + "/") or exc.status < 400:
            raise
        return _json({"error": exc.text or exc.reason}, exc.status)


def create_app(
    ledger: Path,
    guard: Guard,
    *,
    config: CheckConfig | None = None,
    start: Callable[[], Awaitable[tuple[CheckConfig, Path]]] | None = None,
    stop: Callable[[], Awaitable[None]] | None = None,
    title: str = "keyledger",
) -> web.Application:
    """The dashboard for the ledger at ``ledger``.

    ``config`` is what "check now" checks; ``start`` (run at startup, before the ledger is
    opened) may provide it and the ledger instead, e.g. once the demo's simulator is up.
    """
    app = web.Application(middlewares=[guard_middleware(guard), api_errors])
    app[GUARD] = guard
    app[ENV] = templates()
    app[TITLE] = title
    app[CHECKS] = CheckManager(ledger, config)

    async def on_startup(app: web.Application) -> None:
        checks = app[CHECKS]
        if start is not None:
            checks.config, checks.ledger = await start()
        app[STORE] = Store.open(checks.ledger)

    async def on_cleanup(app: web.Application) -> None:
        await app[CHECKS].stop()
        if STORE in app:
            app[STORE].close()
        if stop is not None:
            await stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get("/", overview_page)
    app.router.add_get("/key/{id}", key_page)
    app.router.add_get("/login", login)
    app.router.add_post("/check", check_form)
    app.router.add_get(f"{API}/overview", api_overview)
    app.router.add_get(f"{API}/keys", api_keys)
    app.router.add_get(f"{API}/key/{{id}}/history", api_history)
    app.router.add_get(f"{API}/runs", api_runs)
    app.router.add_get(f"{API}/check", api_check_status)
    app.router.add_post(f"{API}/check", api_check_start)
    app.router.add_static("/static/", STATIC, follow_symlinks=False, append_version=False)
    return app


__all__ = ["CHECKS", "GUARD", "HEADERS", "STATUS_CLASS", "STORE", "create_app", "templates"]
