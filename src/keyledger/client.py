"""The shared client: one aiohttp session, per-host limits, retries, budget and breaker.

Providers receive a :class:`Client` and call :meth:`Client.call`; they never build sessions.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

# first, before aiohttp: it imports aiohttp without the CA store read that is of no use
from keyledger.tls import session_tls  # isort: split

import aiohttp

from keyledger.retry import Breaker, Decision, RetryBudget, decide
from keyledger.transport import Fault, HttpOptions, Outcome, Reply, Request
from keyledger.wire import AttemptDeadlines, PoolConnector, attempt

if TYPE_CHECKING:
    from tenacity import RetryCallState

_UNSEEN = object()
# ``decide`` reads the clock only for a 429/503 answer's ``Retry-After``; other outcomes get this.
_NOT_READ = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Exchange:
    """The final outcome of a request after retries."""

    outcome: Outcome
    attempts: int
    endpoint: str
    retry_at: datetime | None = None


# One attempt's outcome and what the retry policy decided about it.
_Step = tuple[Outcome, Decision]


class HostSlots(asyncio.Semaphore):
    """The per-host cap: asyncio's FIFO semaphore, plus :meth:`take` for the common case."""

    def take(self) -> bool:
        """Take a slot now if one is free and nobody waits for one; ``False`` otherwise.

        What :meth:`acquire` does when it need not wait, without a coroutine, a context
        manager or the generator ``locked()`` builds per call; when it answers ``False`` the
        caller awaits :meth:`acquire` (FIFO, cancellation-safe) as before.
        """
        if self._value > 0 and not self._waiters:
            self._value -= 1
            return True
        return False


class _Host:
    """Per-host state: concurrency cap, retry budget, breaker, and a pause for retries."""

    def __init__(self, options: HttpOptions, clock: Callable[[], float]) -> None:
        self.semaphore = HostSlots(options.per_host)
        self.budget = RetryBudget(options.retry_budget)
        self.breaker = Breaker(options.breaker_threshold, options.breaker_cooldown, clock)
        self.retry_not_before = 0.0
        self.in_flight = 0
        self.peak_in_flight = 0


def make_session(
    options: HttpOptions, concurrency: int, *, ssl_context: ssl.SSLContext | None = None
) -> aiohttp.ClientSession:
    """An aiohttp session with limits matching ``options`` (TLS verified).

    TLS is always verified. The default context honours ``SSL_CERT_FILE``/``SSL_CERT_DIR``
    as they are now (e.g. a corporate proxy's CA): see :func:`keyledger.tls.session_tls`;
    there is no switch that turns verification off.
    """
    connector = PoolConnector(
        limit=max(concurrency, options.per_host),
        limit_per_host=options.per_host,
        ttl_dns_cache=300,
        ssl=session_tls(ssl_context),
    )
    # trust_env stays off: aiohttp would then re-read proxy settings and ~/.netrc (in a thread)
    # on every request, and a netrc entry for a host turns each request into an error. The
    # Client resolves HTTP(S)_PROXY / NO_PROXY once per host instead.
    # No cookie jar: a cookie one key's answer set (a CDN's bot cookie) must not ride along
    # with the next key's request, and an empty jar is still asked per request.
    session = aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=True,
        raise_for_status=False,
        max_line_size=8190,
        max_field_size=8190,
    )
    disable_hidden_retry(session)
    return session


def disable_hidden_retry(session: aiohttp.ClientSession) -> None:
    """Stop aiohttp from silently re-sending an idempotent request after a disconnect.

    aiohttp (3.10+) retries a GET once on ``ServerDisconnectedError``/``ClientOSError``
    whether or not the connection was a reused one, which hides a real reset from our retry
    policy and makes attempt counts wrong. The transport re-sends only on a *reused* pooled
    connection (a stale keep-alive socket), and our policy handles the rest. The switch is
    private (aiohttp's own test client flips it), hence the guard.
    """
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False


class Client:
    """Sends provider requests with retries; outcomes are values, never exceptions."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        options: HttpOptions | None = None,
        *,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.session = session
        disable_hidden_retry(session)
        self.options = options or HttpOptions()
        self._rand = rand
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._hosts: dict[str, _Host] = {}
        self._proxies = urllib.request.getproxies_environment()
        self._proxy_for: dict[tuple[str, str], str | None] = {}
        self._proxy_by_origin: dict[tuple[str, str], str | None] = {}
        self.requests_sent = 0
        self._deadlines = AttemptDeadlines(self.options.attempt_deadline)
        # Answers of public endpoints that are the same for every key of a host (a relay's
        # /api/status), shared by the checks of one run: asked once per host, not once per key.
        self.public_answers: dict[str, asyncio.Future[Any]] = {}

    def proxy_for(self, url: str) -> str | None:
        """The proxy for ``url`` from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (cached)."""
        # Keyed by the URL up to its path: that prefix decides scheme and netloc.
        scheme, _, rest = url.partition("://")
        origin = (scheme, rest.partition("/")[0])
        found = self._proxy_by_origin.get(origin, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxy_for:
            proxy = self._proxies.get(parts.scheme) or self._proxies.get("all")
            # The stdlib's NO_PROXY matcher; public at run time, missing from typeshed.
            bypass = proxy and urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
                parts.hostname or "", self._proxies
            )
            self._proxy_for[key] = None if not proxy or bypass else proxy
        self._proxy_by_origin[origin] = self._proxy_for[key]
        return self._proxy_for[key]

    def host_state(self, host: str) -> _Host:
        """The state kept for ``host`` (created on first use)."""
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(self.options, self._clock)
        return state

    async def _once(self, request: Request, number: int) -> _Step:
        host = self.host_state(request.host)
        if number > 1:
            pause = host.retry_not_before - self._clock()
            if pause > 0:
                await self._sleep(pause)
        if not host.breaker.allow():
            return Fault("upstream_unavailable", request.host), Decision(False)
        slots = host.semaphore
        if not slots.take():
            await slots.acquire()
        try:
            host.in_flight += 1
            host.peak_in_flight = max(host.peak_in_flight, host.in_flight)
            self.requests_sent += 1
            try:
                outcome = await attempt(
                    self.session,
                    request,
                    self.options,
                    self.proxy_for(request.url),
                    self._deadlines,
                )
            finally:
                host.in_flight -= 1
        finally:
            slots.release()
        now = (
            self._now()
            if isinstance(outcome, Reply) and outcome.status in (429, 503)
            else _NOT_READ
        )
        decision = decide(outcome, number, self.options, self._rand, now, request.rules)
        if decision.local:  # this machine ran short: not the host's fault, not its budget
            host.breaker.abstain()
            return outcome, decision
        host.breaker.record(decision.host_failure)
        if decision.retry:
            cost = (
                self.options.timeout_retry_cost
                if isinstance(outcome, Fault) and outcome.reason == "timeout"
                else self.options.retry_cost
            )
            if not host.budget.acquire(cost):
                decision = Decision(False, host_failure=decision.host_failure)
            elif isinstance(outcome, Reply) and outcome.status in (429, 503):
                host.retry_not_before = max(host.retry_not_before, self._clock() + decision.delay)
        elif not decision.host_failure:
            host.budget.release(self.options.retry_cost if number > 1 else 1)
        return outcome, decision

    async def call(self, request: Request) -> Exchange:
        """Send ``request``, retrying transient outcomes; never raises for network trouble.

        The first attempt goes out directly (almost every request ends there); when its
        outcome is transient, tenacity drives the retries, waiting as :func:`decide` says.
        """
        outcome, decision = await self._once(request, 1)
        if not decision.retry or self.options.max_attempts <= 1:
            return Exchange(outcome, 1, request.path, decision.retry_at)
        # tenacity is loaded on the first retry only: most runs never need it (start-up cost)
        from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt

        number = 1

        async def one() -> _Step:
            nonlocal number
            number += 1
            return await self._once(request, number)

        def wait(state: RetryCallState) -> float:
            assert state.outcome is not None
            step: _Step = state.outcome.result()
            return step[1].delay

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.options.max_attempts - 1),
            wait=wait,
            retry=retry_if_result(lambda step: step[1].retry),
            sleep=self._sleep,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
            reraise=True,
        )
        await self._sleep(decision.delay)  # tenacity waits only between its own tries
        outcome, decision = await retrying(one)
        return Exchange(outcome, number, request.path, decision.retry_at)
