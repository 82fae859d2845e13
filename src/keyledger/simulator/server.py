"""The simulator: a real HTTP server emulating every endpoint keyledger calls.

It records each request (method, path, header *names*, a fingerprint of the credential,
never the credential) and the high-water mark of concurrent requests, and can add latency.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import socket
import ssl
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from aiohttp import web

from keyledger.simulator.clock import Clock, RealClock
from keyledger.simulator.faults import FAULTS
from keyledger.simulator.responses import Ctx, Responder, openai_error
from keyledger.simulator.scenarios import (
    DECORATORS,
    ROUTES,
    SCENARIOS,
    Scenario,
    scenario_of,
    site_id,
    site_of,
)
from keyledger.simulator.sim_openai import INVALID

NOT_FOUND = openai_error(404, "Invalid URL", code=None)


@dataclass(frozen=True, slots=True)
class Record:
    """One request as the simulator saw it; the credential only as a fingerprint."""

    method: str
    path: str
    url: str
    header_names: tuple[str, ...]
    credential_fp: str | None
    scenario: str | None


@dataclass
class SimState:
    """What the simulator has seen; tests read it."""

    record: bool = True
    latency: float = 0.0
    requests: deque[Record] = field(default_factory=lambda: deque(maxlen=200_000))
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    total: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    extra_scenarios: dict[str, Scenario] = field(default_factory=dict)
    # A key's life over successive checks: credential fingerprint -> the scenario its 1st,
    # 2nd, … check sees (a check is counted by its /v1/models request; the last one stays).
    phases: dict[str, list[str]] = field(default_factory=dict)
    # Where the fault scenarios' cross-host redirects point (another simulator in tests).
    redirect_target: str = "https://redirect-target.invalid"
    # The simulated time, and when the simulated accounts started spending (default: now).
    clock: Clock = field(default_factory=RealClock)
    epoch: datetime | None = None

    def __post_init__(self) -> None:
        if self.epoch is None:
            self.epoch = self.clock.now()

    def lookup(self, name: str) -> Scenario | None:
        """The scenario called ``name``: the state's own, the built-in ones, then faults."""
        return self.extra_scenarios.get(name) or SCENARIOS.get(name) or FAULTS.get(name)

    def site_scenario(self, site: str | None) -> str | None:
        """The scenario whose relay site is ``site`` (see :func:`site_id`)."""
        if site is None:
            return None
        names = itertools.chain(self.extra_scenarios, SCENARIOS, FAULTS)
        return next((n for n in names if site_id(n) == site), None)

    def count(self, scenario: str | None = None, endpoint: str | None = None) -> int:
        """Requests seen, optionally for one scenario and/or endpoint path."""
        return sum(
            1
            for r in self.requests
            if (scenario is None or r.scenario == scenario)
            and (endpoint is None or r.path == endpoint)
        )


def fingerprint(credential: str) -> str:
    """How the simulator refers to a credential in its records."""
    return hashlib.sha256(credential.encode()).hexdigest()[:16]


def credential_of(request: web.Request) -> str | None:
    """The key a request carries, in whichever header its provider uses.

    ``Authorization: Bearer`` (OpenAI and most), ``x-api-key`` (Anthropic) or
    ``x-goog-api-key`` (Gemini).
    """
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[len("Bearer ") :].strip()
    return request.headers.get("x-api-key") or request.headers.get("x-goog-api-key")


def endpoint_for(method: str, path: str, scenario: Scenario | None) -> str | None:
    """The endpoint name of ``method path`` for the scenario's provider (routes may overlap)."""
    names = ROUTES.get((method, path))
    if not names:
        return None
    if scenario is not None:
        for name in names:
            if name in scenario.endpoints:
                return name
    return names[0]


STATE_KEY = web.AppKey("state", SimState)


def build_app(state: SimState | None = None) -> web.Application:
    """The simulator as an aiohttp application; ``app[STATE_KEY]`` is its :class:`SimState`."""
    state = state or SimState()
    app = web.Application()
    app[STATE_KEY] = state

    async def handle(request: web.Request) -> web.StreamResponse:
        state.total += 1
        state.in_flight += 1
        state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        try:
            return await _dispatch(request, state)
        finally:
            state.in_flight -= 1

    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _dispatch(request: web.Request, state: SimState) -> web.StreamResponse:
    key = credential_of(request)
    # A relay "site" lives under /klsite-<id>/: its public endpoints (a relay's /api/status)
    # carry no key, so the path names the scenario they answer for.
    site, path = site_of(request.path)
    name = scenario_of(key) if key else state.site_scenario(site)
    if state.record:
        state.requests.append(
            Record(
                request.method,
                path,
                str(request.rel_url),
                tuple(sorted(h.lower() for h in request.headers)),
                fingerprint(key) if key else None,
                name,
            )
        )
    if request.method == "POST":
        await request.read()
    if state.latency:
        await asyncio.sleep(state.latency)
    plan = state.phases.get(fingerprint(key)) if key and state.phases else None
    if plan and key:  # a key whose scenario changes from one check to the next
        first_call = "models" in ROUTES.get((request.method, path), ())
        checks = state.calls[(key, "models")] + (1 if first_call else 0)
        name = plan[min(max(checks, 1), len(plan)) - 1]
    scenario = state.lookup(name) if name else None
    now = state.clock.now()
    epoch = state.epoch or now
    spend_rate = scenario.spend_per_day if scenario is not None else Decimal(0)
    if scenario is not None and scenario.dies_as and not scenario.alive_at(now - epoch):
        scenario = state.lookup(scenario.dies_as)
    endpoint = endpoint_for(request.method, path, scenario)
    if key is None:
        if scenario is None:
            return await openai_error(401, "You didn't provide an API key.", code=None)(
                request, Ctx("", "", 1, "")
            )
        if endpoint not in scenario.endpoints:  # a relay site's path it does not serve
            return await NOT_FOUND(request, Ctx("", "", 1, ""))
    calls_key = (key or "", endpoint or path)
    state.calls[calls_key] += 1
    ctx = Ctx(
        key or "",
        name or "",
        state.calls[calls_key],
        f"{request.scheme}://{request.host}",
        now=now,
        epoch=epoch,
        spend_per_day=spend_rate,
    )
    responder: Responder
    if scenario is None:
        responder = INVALID if endpoint else NOT_FOUND
    elif endpoint is None:
        responder = scenario.endpoints.get("*", NOT_FOUND)
    else:
        responder = scenario.endpoints.get(endpoint) or scenario.endpoints.get("*", NOT_FOUND)
    response = await responder(request, ctx)
    decorate = DECORATORS.get(scenario.provider) if scenario is not None else None
    if decorate is not None and scenario is not None and key and not response.prepared:
        decorate(response, scenario, key)
    return response


class Simulator:
    """Runs the simulator on a loopback port inside the current event loop."""

    def __init__(
        self,
        state: SimState | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        shutdown_timeout: float = 1.0,
    ) -> None:
        self.state = state or SimState()
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """``http(s)://host:port`` of the running simulator."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self) -> Simulator:
        """Bind and start serving."""
        self._runner = web.AppRunner(
            build_app(self.state),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self.shutdown_timeout,
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock, ssl_context=self.ssl_context, backlog=4096)
        await site.start()
        return self

    async def stop(self) -> None:
        """Stop serving and release the port."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def closed_port(host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on (for ``unreachable`` demos and tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
