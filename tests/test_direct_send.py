"""A request sent by keyledger.direct is the one ``ClientSession.request`` sends, answered alike."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import yarl
from multidict import CIMultiDict

from keyledger import direct, wire
from keyledger.client import make_session
from keyledger.secret import Secret
from keyledger.transport import HttpOptions, Request

KEY = "sk-proj-directsendAAAAAAAAAAAAAAAAAAAAAAA"
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5)

# Under another aiohttp release keyledger.direct stands aside (every request takes the public
# path, which the rest of the suite covers): the tests of the direct path itself need a release
# it was checked against.
checked_release = pytest.mark.skipif(
    aiohttp.__version__ not in direct.SUPPORTED,
    reason="keyledger.direct is used only under the aiohttp releases it was checked against",
)

# sha256 of ``ClientSession._request``'s source for each release in ``direct.SUPPORTED``:
# keyledger.direct mirrors that function, so a new release must be read against it first.
_REQUEST_SOURCES = {
    "3.14.5": "32986b8105faf5f829c07924811d1697c23685e86e68fa9148869d5369557615",
}


@checked_release
def test_the_installed_aiohttp_request_path_is_the_one_mirrored() -> None:
    """Fails when a supported release's ``_request`` is not the source keyledger.direct mirrors."""
    source = inspect.getsource(aiohttp.ClientSession._request)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert _REQUEST_SOURCES[aiohttp.__version__] == digest
    assert set(_REQUEST_SOURCES) == set(direct.SUPPORTED)


async def test_another_aiohttp_release_takes_the_public_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a release keyledger.direct was not checked against, no session uses it."""
    monkeypatch.setattr(aiohttp, "__version__", "99.0.0")
    async with make_session(HttpOptions(), 1) as session:
        assert direct.settings(session) is None


Handler = Callable[[bytes], bytes | None]


async def _server(answer: Handler) -> tuple[asyncio.Server, int, list[bytes]]:
    """A TCP server that records each request's bytes and writes ``answer``'s (``None``:
    closes the connection without a word)."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        reply = answer(head)
        if reply is not None:
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


def _reply(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", "Connection: close", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _both(
    answer: Handler, method: str = "GET", auth: str = "bearer"
) -> tuple[list[Any], list[bytes]]:
    """Each path's outcome (status, headers, body; or the exception's type) and the request
    bytes each put on the wire."""
    server, port, seen = await _server(answer)
    outcomes: list[Any] = []
    url = yarl.URL(f"http://127.0.0.1:{port}/v1/dashboard/billing/credit_grants?x=1")
    headers = wire.request_headers(Request(method, str(url), Secret(KEY), auth))
    async with server, make_session(HttpOptions(), 4) as session:
        settings = direct.settings(session)
        assert settings is not None
        for lean in (True, False):
            try:
                if lean:
                    response = await direct.send(
                        session, settings, method, url, headers.copy(), TIMEOUT
                    )
                else:
                    response = await session.request(
                        method, url, headers=headers.copy(), allow_redirects=False, timeout=TIMEOUT
                    )
                async with response:
                    body = await response.read()
                    outcomes.append(
                        (response.status, response.reason, dict(response.headers), body)
                    )
            except Exception as exc:
                outcomes.append(type(exc))
    return outcomes, seen


@checked_release
@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
@pytest.mark.parametrize("auth", ["bearer", "x-api-key", "none"])
async def test_the_same_bytes_go_out_and_the_same_answer_comes_back(method: str, auth: str) -> None:
    """Request line and headers are byte for byte the same; the answer reads the same."""
    body = b"" if method == "HEAD" else b'{"ok": true}'
    outcomes, seen = await _both(lambda _: _reply(body), method, auth)
    assert len(seen) == 2 and seen[0] == seen[1]
    assert outcomes[0] == outcomes[1] and outcomes[0][0] == 200


@checked_release
@pytest.mark.parametrize("method", ["head", "Head"])
async def test_a_method_in_lower_case_is_sent_and_read_as_the_public_path_does(method: str) -> None:
    """A HEAD named in any case goes out as HEAD and its answer is read without a body."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"  # no body
    outcomes, seen = await _both(lambda _: head, method)
    assert len(seen) == 2 and seen[0] == seen[1] and seen[0].startswith(b"HEAD ")
    assert outcomes[0] == outcomes[1] and outcomes[0][3] == b""


@checked_release
async def test_a_compressed_answer_is_decompressed_alike() -> None:
    """A gzip body comes back decompressed on both paths."""
    body = gzip.compress(b'{"data": [' + b'"x", ' * 5000 + b'"y"]}')
    outcomes, _ = await _both(lambda _: _reply(body, "Content-Encoding: gzip"))
    assert outcomes[0] == outcomes[1] and outcomes[0][3].startswith(b'{"data"')


@checked_release
@pytest.mark.parametrize(
    "answer",
    [
        lambda _: None,  # closed without an answer
        lambda _: b"NOT HTTP AT ALL\r\n\r\n",
        lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
        lambda _: b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n",
    ],
)
async def test_a_broken_answer_raises_the_same_exception(answer: Handler) -> None:
    """Disconnects, garbage and short bodies fail with the same exception class."""
    outcomes, _ = await _both(answer)
    assert outcomes[0] == outcomes[1]


@checked_release
async def test_a_refused_connection_raises_the_same_exception() -> None:
    """Nobody listening: the same connector error on both paths."""
    server, port, _ = await _server(lambda _: None)
    server.close()
    await server.wait_closed()
    url = yarl.URL(f"http://127.0.0.1:{port}/v1")
    found: list[type[BaseException]] = []
    async with make_session(HttpOptions(), 1) as session:
        settings = direct.settings(session)
        assert settings is not None
        with pytest.raises(aiohttp.ClientConnectorError) as lean:
            await direct.send(session, settings, "GET", url, CIMultiDict(), TIMEOUT)
        found.append(type(lean.value))
        with pytest.raises(aiohttp.ClientConnectorError) as general:
            await session.request("GET", url, allow_redirects=False, timeout=TIMEOUT)
        found.append(type(general.value))
    assert found[0] is found[1]


@checked_release
async def test_a_session_it_cannot_stand_in_for_goes_the_general_way() -> None:
    """Trace configs, cookies, default headers, another aiohttp release: ``_request`` is used."""

    async def trace(*_: Any) -> None:
        return None

    config = aiohttp.TraceConfig()
    config.on_request_start.append(trace)
    sessions = [
        aiohttp.ClientSession(),  # keeps cookies and retries on its own
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), trace_configs=[config]),
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), headers={"X-A": "1"}),
    ]
    try:
        for session in sessions:
            assert direct.settings(session) is None
        async with make_session(HttpOptions(), 1) as ours:
            assert direct.settings(ours) is not None
            original = direct.SUPPORTED
            try:
                direct.SUPPORTED = frozenset({"0.0.0"})  # type: ignore[misc]
                assert direct._read(ours) is None
            finally:
                direct.SUPPORTED = original  # type: ignore[misc]
    finally:
        for session in sessions:
            await session.close()


def test_only_a_plain_request_is_taken() -> None:
    """A proxy, a body, credentials in the URL or another scheme keep the general path."""
    url = yarl.URL("http://127.0.0.1:9/v1")
    assert direct.plain(url, None, None)
    assert direct.plain(yarl.URL("https://api.example/v1"), None, None)
    assert not direct.plain(url, "http://proxy:3128", None)
    assert not direct.plain(url, None, {"a": 1})
    assert not direct.plain(yarl.URL("http://u:p@127.0.0.1:9/v1"), None, None)
    assert not direct.plain(yarl.URL("ws://127.0.0.1:9/v1"), None, None)


@checked_release
async def test_an_attempt_on_a_checks_session_goes_the_direct_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A check's session sends its requests through keyledger.direct, not ``_request``."""
    server, port, seen = await _server(lambda _: _reply(b"{}"))
    sent: list[str] = []
    real = direct.send

    async def counted(*args: Any) -> aiohttp.ClientResponse:
        sent.append(args[2])
        return await real(*args)

    monkeypatch.setattr(direct, "send", counted)
    request = Request("GET", f"http://127.0.0.1:{port}/v1/x", Secret(KEY))
    async with server, make_session(HttpOptions(), 1) as session:
        outcome = await wire.attempt(session, request, HttpOptions())
    assert sent == ["GET"] and len(seen) == 1
    assert outcome == wire.Reply(200, outcome.headers, b"{}")  # type: ignore[union-attr]


def test_a_url_is_judged_plain_once_and_as_plain_judges_it() -> None:
    """The per-URL answer the attempt asks is ``plain``'s for that URL, cached."""
    for text in ("http://127.0.0.1:9/v1", "https://u:p@h/v1", "ws://h/v1", "https://h/v1"):
        assert wire._plain_url(text) is direct.plain(yarl.URL(text), None, None)
    before = wire._plain_url.cache_info().hits
    wire._plain_url("http://127.0.0.1:9/v1")
    assert wire._plain_url.cache_info().hits == before + 1
