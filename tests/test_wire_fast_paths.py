"""The per-request shortcuts between a check and aiohttp send and read the same as before."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any, ClassVar
from unittest import mock

import aiohttp
import pytest
import yarl
from aiohttp import web
from aiohttp.client_reqrep import ClientRequest
from aiohttp.streams import StreamReader
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from keyledger import wire
from keyledger.client import Client, HostSlots, make_session
from keyledger.engine import Engine, RunOptions
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers import CheckOptions, Provider, default_registry
from keyledger.providers.base import ResultBuilder
from keyledger.providers.openai import OpenAIProvider
from keyledger.secret import Secret
from keyledger.transport import Fault, HttpOptions, Reply, Request, auth_headers

KEY = "sk-proj-wirefastpathsAAAAAAAAAAAAAAAAAAAA"
_NAMES = st.sampled_from(
    ["User-Agent", "user-agent", "Accept", "ACCEPT", "Authorization", "authorization",
     "x-api-key", "X-Api-Key", "x-goog-api-key", "Cookie", "X-Extra", "x-extra"]
)  # fmt: skip
_VALUES = st.text(alphabet="abcXYZ019-_ ./", min_size=1, max_size=12).map(str.strip).filter(bool)
_AUTHS = st.sampled_from(["bearer", "x-api-key", "x-goog-api-key", "none", "other"])


def _sent(headers: Any, url: str = "http://127.0.0.1:9/v1/models") -> list[tuple[str, str]]:
    """The header lines aiohttp would write for ``headers`` (its merge, then its request)."""
    loop = asyncio.new_event_loop()
    try:
        session = aiohttp.ClientSession(loop=loop)
        prepared = session._prepare_headers(headers)
        request = ClientRequest("GET", yarl.URL(url), headers=prepared, loop=loop)
        lines = list(request.headers.items())
        loop.run_until_complete(session.close())
        return lines
    finally:
        loop.close()


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=5), _AUTHS)
def test_request_headers_go_out_as_the_plain_mapping_did(
    extra: list[tuple[str, str]], auth: str
) -> None:
    """aiohttp's multidict built directly writes the same header lines as the old mapping."""
    request = Request("GET", "http://127.0.0.1:9/v1/models", Secret(KEY), auth, headers=dict(extra))
    built = wire.request_headers(request)
    assert isinstance(built, CIMultiDict)
    assert _sent(built) == _sent(auth_headers(request))


def test_the_key_goes_only_in_its_header() -> None:
    """Bearer keys ride in Authorization, vendor schemes in their header, public calls in none."""
    for auth, name in (("bearer", "Authorization"), ("x-api-key", "x-api-key"), ("none", None)):
        headers = wire.request_headers(Request("GET", "http://h/v1", Secret(KEY), auth))
        holding = [n for n, v in headers.items() if KEY in v]
        assert holding == ([] if name is None else [name])


def test_a_url_is_parsed_once_per_address() -> None:
    """The same URL text gives the same parsed URL; another host gets its own."""
    first = wire._url("http://127.0.0.1:9/v1/dashboard/billing/credit_grants")
    assert first is wire._url("http://127.0.0.1:9/v1/dashboard/billing/credit_grants")
    assert first == yarl.URL("http://127.0.0.1:9/v1/dashboard/billing/credit_grants")
    other = wire._url("http://127.0.0.2:9/v1/dashboard/billing/credit_grants")
    assert other.host == "127.0.0.2" and first.host == "127.0.0.1"


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/v1/models", "http://[::1/v1/models"])
async def test_a_url_that_does_not_parse_is_an_invalid_url_fault(url: str) -> None:
    """A malformed URL is ``invalid_url`` (as when aiohttp parsed it), not a network fault."""
    async with aiohttp.ClientSession() as session:
        outcome = await wire.attempt(session, Request("GET", url, Secret(KEY)), HttpOptions())
    assert isinstance(outcome, Fault) and outcome.reason == "invalid_url"


async def test_the_session_gets_a_parsed_url_and_a_multidict() -> None:
    """What aiohttp is handed needs no parsing or conversion of its own."""
    seen: dict[str, Any] = {}

    def request(method: str, url: Any, **kwargs: Any) -> Any:
        seen.update(url=url, headers=kwargs["headers"], redirects=kwargs["allow_redirects"])
        raise aiohttp.ClientConnectionError

    session = mock.Mock(spec=aiohttp.ClientSession)
    session.request = request
    outcome = await wire.attempt(
        session, Request("GET", "http://h:1/v1", Secret(KEY)), HttpOptions()
    )
    assert type(seen["url"]) is yarl.URL and isinstance(seen["headers"], CIMultiDict)
    assert seen["redirects"] is False and outcome == wire.Fault("network", "h:1")


def _stream(chunks: list[bytes], eof: bool) -> StreamReader:
    protocol = mock.Mock(_reading_paused=False)
    stream = StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    for chunk in chunks:
        stream.feed_data(chunk)
    if eof:
        stream.feed_eof()
    return stream


@pytest.mark.parametrize("cap", [0, 3, 5, 6, 100])
async def test_a_body_that_has_arrived_is_read_as_the_reading_loop_reads_it(cap: int) -> None:
    """Without waiting: the same bytes and the same over-the-cap answer as reading chunks."""
    now = wire._read_capped(mock.Mock(content=_stream([b"ab", b"cde"], True)), cap)
    looped = await wire._read_rest(mock.Mock(content=_stream([b"ab", b"cde"], True)), cap)
    assert now == looped
    assert wire._read_capped(mock.Mock(content=_stream([b"ab"], False)), cap) is None


async def test_an_attempt_past_its_deadline_is_a_timeout_and_leaves_no_cancel() -> None:
    """Opened without ``async with``, the deadline still ends a stalled answer as a timeout."""

    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/", stall)
    options = HttpOptions(attempt_deadline=0.2, connect_timeout=0.2)
    async with TestServer(app) as server, make_session(options, 2) as session:
        request = Request("GET", str(server.make_url("/")), Secret(KEY))
        shared = wire.AttemptDeadlines(options.attempt_deadline)
        for deadlines in (shared, None):
            outcome = await wire.attempt(session, request, options, None, deadlines)
            assert outcome == wire.Fault("timeout", request.host)
            assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_cancelled_attempt_stays_cancelled() -> None:
    """Ctrl-C during an attempt goes on as cancellation, not as a timeout fault."""

    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/", stall)
    options = HttpOptions(attempt_deadline=10.0)
    async with TestServer(app) as server, make_session(options, 2) as session:
        request = Request("GET", str(server.make_url("/")), Secret(KEY))
        deadlines = wire.AttemptDeadlines(options.attempt_deadline)
        task = asyncio.create_task(wire.attempt(session, request, options, None, deadlines))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_cookie_one_answer_sets_is_not_sent_with_the_next_request() -> None:
    """The session keeps no cookie jar: no key's request carries another answer's cookie."""
    cookies: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        cookies.append(request.headers.get("Cookie"))
        response = web.json_response({})
        response.set_cookie("__cf_bm", "bot", domain=request.host.split(":")[0])
        return response

    app = web.Application()
    app.router.add_get("/", answer)
    async with TestServer(app, host="localhost") as server, make_session(HttpOptions(), 2) as s:
        assert isinstance(s.cookie_jar, aiohttp.DummyCookieJar)
        client = Client(s, HttpOptions())
        for _ in range(2):
            exchange = await client.call(Request("GET", str(server.make_url("/")), Secret(KEY)))
            assert isinstance(exchange.outcome, Reply) and exchange.outcome.status == 200
    assert cookies == [None, None]


def test_the_openai_check_is_its_kinds_check_itself() -> None:
    """No coroutine of the provider's own between the engine and the session-key check."""
    key = Key(Secret("sess-" + "A" * 40), "f" * 16, "ffffff", provider="openai", kind=Kind.SESSION)
    check = OpenAIProvider().check(mock.Mock(), key, CheckOptions())
    assert check.cr_code.co_name == "check_session"  # type: ignore[attr-defined]
    check.close()


class _Caller(Provider):
    """Notes which function awaits its check."""

    name: ClassVar[str] = "caller"
    default_base_url: ClassVar[str] = "http://unused"
    callers: ClassVar[list[str]] = []

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        frame: FrameType | None = sys._getframe(1)
        assert frame is not None
        self.callers.append(frame.f_code.co_name)
        return ResultBuilder(key, options).finish(Status.OK, None)


@pytest.fixture
def caller() -> Iterator[type[_Caller]]:
    """The note-taking provider, registered for one test."""
    default_registry().register(_Caller())
    _Caller.callers.clear()
    yield _Caller
    default_registry().unregister("caller")


async def test_the_engine_awaits_the_check_itself_and_takes_free_slots_at_once(
    caller: type[_Caller],
) -> None:
    """check_one awaits the provider; a free run slot is taken without awaiting acquire."""
    keys = [
        Key(Secret(f"sk-caller-{n:030d}"), f"{n:016x}", f"{n:06x}", provider="caller")
        for n in range(3)
    ]
    waits = 0
    acquire = HostSlots.acquire

    async def counted(self: HostSlots) -> bool:
        nonlocal waits
        waits += 1
        return await acquire(self)

    async with make_session(HttpOptions(), 10) as session:
        engine = Engine(Client(session, HttpOptions()), CheckOptions(), RunOptions(10))
        with mock.patch.object(HostSlots, "acquire", counted):
            results = [r async for r in engine.run(keys)]
    assert [r.status for r in results] == [Status.OK] * 3
    assert caller.callers == ["check_one"] * 3
    assert waits == 0  # every slot was free when taken; the end of the run waits for none
