"""The dashboard over real HTTP: guards (W1-W5), escaping, the JSON API and the secret scan."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from keyledger.ledger import Store
from keyledger.models import Key
from keyledger.providers import CheckOptions
from keyledger.simulator import Simulator
from keyledger.simulator.demo import DEMO_ACCOUNTS
from keyledger.simulator.demo_history import demo_ledger_path
from keyledger.web import CheckConfig, CheckManager, Guard, create_app
from keyledger.web.app import GUARD
from keyledger.web.data import ID_LENGTH, key_id
from keyledger.web.demo import DemoBackend

from .webutil import XSS_LABEL, XSS_MESSAGE, XSS_REASON, now_utc, seed_ledger

TOKEN = "t0ken-" + "x" * 40
PAGES = ("/", "/api/v1/overview", "/api/v1/keys", "/api/v1/runs", "/api/v1/check")


class Site:
    """A dashboard on a real socket, and the keys of its ledger."""

    def __init__(self, server: TestServer, keys: list[Key]) -> None:
        self.server = server
        self.keys = keys

    @property
    def origin(self) -> str:
        return f"http://{self.server.host}:{self.server.port}"

    @property
    def host(self) -> str:
        return f"{self.server.host}:{self.server.port}"


async def _site(
    home: Path, host: str = "127.0.0.1", token: str | None = None, **kw: object
) -> AsyncIterator[Site]:
    ledger, keys = seed_ledger(home, now_utc())
    app = create_app(ledger, Guard(host=host, port=0, token=token), **kw)  # type: ignore[arg-type]
    server = TestServer(app, host=host, port=0)
    await server.start_server()
    app[GUARD].port = server.port or 0
    try:
        yield Site(server, keys)
    finally:
        await server.close()


@pytest.fixture
async def site(isolated_env: Path) -> AsyncIterator[Site]:
    """A loopback dashboard without key files."""
    async for s in _site(isolated_env):
        yield s


@pytest.fixture
async def remote(isolated_env: Path) -> AsyncIterator[Site]:
    """A dashboard bound to 127.0.0.2 ("not localhost"), so it needs the token."""
    async for s in _site(isolated_env, host="127.0.0.2", token=TOKEN):
        yield s


async def _get(
    site: Site, path: str, headers: dict[str, str] | None = None, **kw: object
) -> tuple[int, str, aiohttp.ClientResponse]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(site.origin + path, headers=headers or {}, allow_redirects=False, **kw) as resp,  # type: ignore[arg-type]
    ):
        return resp.status, await resp.text(), resp


def _session() -> aiohttp.ClientSession:
    """A client that keeps cookies set by an IP-address host, as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _csrf(session: aiohttp.ClientSession, site: Site) -> str:
    async with session.get(site.origin + "/") as resp:
        html = await resp.text()
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def test_binds_loopback_and_serves_headers(site: Site) -> None:
    """The default bind is 127.0.0.1, and every answer carries CSP, nosniff and no-referrer."""
    status, html, resp = await _get(site, "/")
    assert status == 200
    assert site.server.host == "127.0.0.1"
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script found"
    assert " style=" not in html and "<style" not in html


@pytest.mark.parametrize(
    "host",
    ["evil.test:{port}", "localhost.evil.test:{port}", "127.0.0.1:1", "127.0.0.1.nip.io:{port}"],
)
async def test_wrong_host_is_403(site: Site, host: str) -> None:
    """A Host outside the allowlist (DNS rebinding) is refused with 403."""
    status, _, _ = await _get(site, "/api/v1/keys", {"Host": host.format(port=site.server.port)})
    assert status == 403


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]"])
async def test_loopback_names_are_allowed(site: Site, name: str) -> None:
    """127.0.0.1, localhost and [::1] with the port are accepted."""
    status, _, _ = await _get(site, "/api/v1/keys", {"Host": f"{name}:{site.server.port}"})
    assert status == 200


async def test_missing_host_is_403(site: Site) -> None:
    """A request without a Host header is refused with 403."""
    reader, writer = await asyncio.open_connection("127.0.0.1", site.server.port)
    writer.write(b"GET /api/v1/keys HTTP/1.0\r\n\r\n")
    await writer.drain()
    head = await reader.readline()
    writer.close()
    assert head.split()[1] == b"403"


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.test",
        "http://127.0.0.1:{port}.evil.test",
        "http://127.0.0.1:{port}0",
        "http://127.0.0.1",
        "null",
    ],
)
async def test_foreign_origin_post_is_403(site: Site, origin: str) -> None:
    """A POST from another origin (including Jupyter's bypass shapes) is refused with 403."""
    async with _session() as session:
        csrf = await _csrf(session, site)
        headers = {"Origin": origin.format(port=site.server.port), "X-CSRF-Token": csrf}
        async with session.post(site.origin + "/api/v1/check", headers=headers) as resp:
            assert resp.status == 403
            assert "cross-origin" in await resp.text()


async def test_cross_site_fetch_is_403(site: Site) -> None:
    """``Sec-Fetch-Site: cross-site`` on a POST is refused with 403."""
    async with _session() as session:
        csrf = await _csrf(session, site)
        headers = {"Sec-Fetch-Site": "cross-site", "X-CSRF-Token": csrf}
        async with session.post(site.origin + "/api/v1/check", headers=headers) as resp:
            assert resp.status == 403


async def test_missing_or_wrong_csrf_is_403(site: Site) -> None:
    """A same-origin POST without the CSRF token, or with a wrong one, is refused with 403."""
    async with _session() as session:
        await _csrf(session, site)
        same = {"Origin": site.origin, "Sec-Fetch-Site": "same-origin"}
        async with session.post(site.origin + "/api/v1/check", headers=same) as resp:
            assert resp.status == 403
            assert "CSRF" in await resp.text()
        wrong = {**same, "X-CSRF-Token": "w" * 43}
        async with session.post(site.origin + "/api/v1/check", headers=wrong) as resp:
            assert resp.status == 403
        async with session.post(site.origin + "/check", data={"csrf": "w" * 43}) as resp:
            assert resp.status == 403


async def test_right_csrf_passes_the_guard(site: Site) -> None:
    """With the CSRF token the POST reaches the handler (400: no key files configured)."""
    async with _session() as session:
        csrf = await _csrf(session, site)
        headers = {"Origin": site.origin, "X-CSRF-Token": csrf}
        async with session.post(site.origin + "/api/v1/check", headers=headers) as resp:
            assert resp.status == 400
            assert "no key files" in (await resp.json())["error"]


@pytest.mark.parametrize(
    "path", [*PAGES, "/key/0123456789", "/api/v1/key/0123456789/history", "/static/app.js"]
)
async def test_remote_bind_needs_token_on_every_route(remote: Site, path: str) -> None:
    """Bound beyond loopback, every route answers 401 without the token or with a wrong one."""
    assert (await _get(remote, path))[0] == 401
    assert (await _get(remote, path, {"Authorization": "Bearer " + "y" * 46}))[0] == 401
    assert (await _get(remote, path, {"Authorization": f"Basic {TOKEN}"}))[0] == 401
    status, _, _ = await _get(remote, path, {"Authorization": f"Bearer {TOKEN}"})
    assert status in (200, 404)


async def test_remote_bind_host_allowlist(remote: Site) -> None:
    """The bound address is allowed as Host; another is still 403 even with the token."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert (await _get(remote, "/api/v1/keys", {**auth, "Host": remote.host}))[0] == 200
    assert (await _get(remote, "/api/v1/keys", {**auth, "Host": "evil.test"}))[0] == 403


async def test_login_link_is_one_time_and_sets_a_strict_cookie(remote: Site) -> None:
    """/login?token= sets an HttpOnly SameSite=Strict session cookie once; reuse is 403."""
    assert (await _get(remote, "/login?token=wrong"))[0] == 403
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(
            remote.origin + f"/login?token={TOKEN}", allow_redirects=False
        ) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == "/"
            cookie = resp.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert TOKEN not in cookie
        async with session.get(remote.origin + "/api/v1/keys") as resp:
            assert resp.status == 200
    assert (await _get(remote, f"/login?token={TOKEN}"))[0] == 403


async def test_bearer_post_needs_no_csrf(remote: Site) -> None:
    """A script with the Bearer token may POST without a CSRF token (400: nothing to check)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            remote.origin + "/api/v1/check", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as resp,
    ):
        assert resp.status == 400


async def test_label_and_messages_are_escaped(site: Site) -> None:
    """A ``<script>`` label, an HTML reason and an HTML provider message come out escaped."""
    xss = key_id(site.keys[1].fingerprint)
    _, overview, _ = await _get(site, "/")
    status, page, _ = await _get(site, f"/key/{xss}")
    assert status == 200
    for html in (overview, page):
        assert XSS_LABEL not in html
        assert "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;" in html
        assert XSS_REASON not in html and "&lt;b onmouseover" in html
    assert XSS_MESSAGE not in page
    assert "&lt;img src=x onerror=alert(&#39;msg&#39;)&gt;" in page
    _, _, resp = await _get(site, f"/api/v1/key/{xss}/history")
    assert resp.content_type == "application/json"  # data, never rendered as HTML


async def test_last_checks_evidence_comes_from_the_ledger(site: Site) -> None:
    """The key page and its history show what each endpoint answered, as the ledger recorded
    it with the last check (in call order); a check recorded without any shows none."""
    xss = key_id(site.keys[1].fingerprint)
    _, body, _ = await _get(site, f"/api/v1/key/{xss}/history")
    assert json.loads(body)["evidence"] == [
        {
            "endpoint": "/v1/models",
            "http_status": 401,
            "error_type": "invalid_request",
            "error_code": None,
            "message": XSS_MESSAGE,
            "attempts": 2,
            "outcome": "invalid",
        },
        {
            "endpoint": "/v1/dashboard/billing/subscription",
            "http_status": None,
            "error_type": None,
            "error_code": None,
            "message": None,
            "attempts": 1,
            "outcome": "not reached",
        },
    ]
    _, page, _ = await _get(site, f"/key/{xss}")
    assert page.count('<td class="mono">/v1/') == 2
    first = key_id(site.keys[0].fingerprint)
    _, body, _ = await _get(site, f"/api/v1/key/{first}/history")
    assert json.loads(body)["evidence"] == []
    _, page, _ = await _get(site, f"/key/{first}")
    assert 'id="evidence"' not in page and "No endpoint answers were recorded" in page
    assert '<span id="tier">tier-2 &lt;b&gt;</span>' in page  # the tier, escaped


async def test_api_matches_the_ledger(site: Site, isolated_env: Path) -> None:
    """The API gives the ledger's figures: counts by status, per-currency totals, history."""
    async with aiohttp.ClientSession() as session:
        async with session.get(site.origin + "/api/v1/overview") as resp:
            overview = await resp.json()
        async with session.get(site.origin + "/api/v1/keys") as resp:
            keys = (await resp.json())["keys"]
        first = key_id(site.keys[0].fingerprint)
        async with session.get(site.origin + f"/api/v1/key/{first}/history") as resp:
            history = await resp.json()
        async with session.get(site.origin + "/api/v1/key/zzzzzzzzzz/history") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]
    assert overview["keys"] == 3
    assert overview["counts"]["ok"] == 1 and overview["counts"]["invalid"] == 1
    assert overview["counts"]["no_quota"] == 1
    assert {t["currency"]: t["available"] for t in overview["totals"]} == {"CNY": "0", "USD": "50"}
    cny = next(t for t in overview["totals"] if t["currency"] == "CNY")
    assert (cny["granted"], cny["used"]) == (None, None)  # never reported: unknown, not 0
    assert [k["status"] for k in keys] == ["invalid", "no_quota", "ok"]
    assert all(len(k["id"]) == ID_LENGTH for k in keys)
    (usd,) = history["series"]
    assert usd["currency"] == "USD"
    assert [p["available"] for p in usd["points"]] == ["70", "65", "60", "55", "50"]
    team = next(k for k in keys if k["label"] == "team-a")
    assert team["burn_per_day"]["amount"] == "5.0000"
    assert team["runway_days"] == "10.0"
    assert overview["running_dry"][0]["label"] == "spent"  # nothing left: runway 0
    _, body, _ = await _get(site, "/api/v1/runs")
    with Store.open(isolated_env / "ledger.db") as store:
        assert [r["id"] for r in json.loads(body)["runs"]] == [r.id for r in store.runs()][::-1]


async def test_timeline_shows_status_changes(site: Site) -> None:
    """The history's timeline lists each status change once, oldest first."""
    xss = key_id(site.keys[1].fingerprint)
    _, body, _ = await _get(site, f"/api/v1/key/{xss}/history")
    timeline = json.loads(body)["timeline"]
    assert [t["status"] for t in timeline] == ["ok", "invalid"]


async def test_no_key_or_fingerprint_in_any_response(site: Site) -> None:
    """The secret scan: no page or API answer holds a key, or a whole fingerprint."""
    bodies: list[str] = []
    paths = [*PAGES]
    for key in site.keys:
        ident = key_id(key.fingerprint)
        paths += [f"/key/{ident}", f"/api/v1/key/{ident}/history"]
    for path in paths:
        status, body, resp = await _get(site, path)
        assert status == 200, path
        bodies.append(body + str(dict(resp.headers)))
    for key in site.keys:
        raw = key.secret.reveal()
        for body in bodies:
            assert raw not in body
            assert raw[8:24] not in body
            assert key.fingerprint not in body


async def test_one_check_at_a_time(isolated_env: Path, sim: Simulator) -> None:
    """A second "check now" while one runs gets 409; the run is recorded in the ledger."""
    sim.state.latency = 0.3
    ledger, keys = seed_ledger(isolated_env, now_utc())
    config = CheckConfig(keys=keys, check=lambda: CheckOptions(base_urls={"openai": sim.url}))
    app = create_app(ledger, Guard(host="127.0.0.1", port=0), config=config)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    app[GUARD].port = server.port or 0
    site = Site(server, keys)
    try:
        async with _session() as session:
            csrf = await _csrf(session, site)
            headers = {"Origin": site.origin, "X-CSRF-Token": csrf}
            async with session.post(site.origin + "/api/v1/check", headers=headers) as resp:
                assert resp.status == 202
            async with session.post(site.origin + "/api/v1/check", headers=headers) as resp:
                assert resp.status == 409
            for _ in range(200):
                async with session.get(site.origin + "/api/v1/check") as resp:
                    state = await resp.json()
                if state["state"] != "running":
                    break
                await asyncio.sleep(0.05)
        assert state["state"] == "done" and state["done"] == 3
        with Store.open(ledger) as store:
            runs = store.runs()
            assert runs[-1].status == "complete" and runs[-1].results_recorded == 3
    finally:
        await server.close()


def test_free_port_helper_is_loopback() -> None:
    """Sanity: 127.0.0.2 is a loopback address this machine can bind (used as "remote")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        assert sock.getsockname()[0] == "127.0.0.2"


async def test_stopping_the_server_closes_a_running_check(
    isolated_env: Path, sim: Simulator
) -> None:
    """A check cancelled by shutdown leaves its run ``interrupted``, not ``running``."""
    sim.state.latency = 5.0
    ledger, keys = seed_ledger(isolated_env, now_utc())
    config = CheckConfig(keys=keys, check=lambda: CheckOptions(base_urls={"openai": sim.url}))
    manager = CheckManager(ledger, config)
    manager.start()
    for _ in range(100):
        if manager.run_id is not None:
            break
        await asyncio.sleep(0.02)
    await manager.stop()
    with Store.open(ledger) as store:
        assert store.runs()[-1].status == "interrupted"
    assert manager.status()["state"] == "failed"


async def test_demo_check_now_checks_the_demo_keys_of_the_history(isolated_env: Path) -> None:
    """``serve --demo``: "check now" checks the demo ledger's own keys (no key appears beside
    them), records a result for every demo key, and the spending accounts go on from where the
    history left them."""
    backend = DemoBackend(isolated_env)
    app = create_app(
        backend.ledger, Guard(host="127.0.0.1", port=0), start=backend.start, stop=backend.stop
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    app[GUARD].port = server.port or 0
    site = Site(server, [])
    try:
        assert backend.ledger == demo_ledger_path(isolated_env)
        with Store.open(backend.ledger) as store:
            keys_before = {r[0] for r in store.conn.execute("SELECT fingerprint FROM keys")}
            history_runs = len(store.runs())
            before = {r.label: r for r in store.latest().values()}
        async with _session() as session:
            csrf = await _csrf(session, site)
            headers = {"Origin": site.origin, "X-CSRF-Token": csrf}
            async with session.post(site.origin + "/api/v1/check", headers=headers) as resp:
                assert resp.status == 202
            for _ in range(600):
                async with session.get(site.origin + "/api/v1/check") as resp:
                    state = await resp.json()
                if state["state"] != "running":
                    break
                await asyncio.sleep(0.05)
        demo_keys = len(DEMO_ACCOUNTS) + 1  # and a self-hosted one that is down
        assert state["state"] == "done" and state["done"] == demo_keys
        with Store.open(backend.ledger) as store:
            keys_after = {r[0] for r in store.conn.execute("SELECT fingerprint FROM keys")}
            runs = store.runs()
            newest = store.results_of_run(runs[-1].id)
    finally:
        await server.close()
    assert len(keys_before) == demo_keys and keys_after == keys_before
    assert len(runs) == history_runs + 1
    assert {r.fingerprint for r in newest} == keys_before and len(newest) == demo_keys
    now = {r.label: r for r in newest}
    for label in ("relay-metered", "team-credits (session)"):  # accounts that spend daily
        earlier, later = before[label].available, now[label].available
        assert earlier is not None and later is not None and later < earlier
