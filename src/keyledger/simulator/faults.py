"""Fault mode for the simulator: one scenario per row of ``reliability.md`` §3 (F1–F26).

A key selects a fault exactly as it selects any scenario, with the marker
``KLSIM__<fault>__`` (``fault_key("f3_silence")``, or ``make_key("f3_silence")``). Fault keys
are session keys by default, so a check makes exactly one request (``credit_grants``) plus
its retries and the attempt count is exact. Every fault answers on every endpoint.

Socket-level behaviours (silence, RST, a cut connection, trickling bytes, huge headers) write
to ``request.transport`` directly from an aiohttp handler. What cannot live inside an HTTP
server has its own tiny loopback server here: a TCP listener that never answers (a TLS
handshake stall) and a proxy that answers ``407`` to every ``CONNECT``. Connection refused
(F1) uses :func:`~keyledger.simulator.server.closed_port` and DNS failure (F2) a ``.invalid``
host name, which fails locally.

:data:`FAULT_SPECS` also says what keyledger must conclude for each fault (status, reason,
attempts with the default three attempts), so tests and the mixed-chaos run share one table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
import weakref
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from keyledger.models import Kind, Status
from keyledger.simulator.responses import (
    Ctx,
    Responder,
    dynamic,
    json_reply,
    openai_error,
    raw_reply,
    sequence,
)
from keyledger.simulator.scenarios import SCENARIOS, Scenario, make_key
from keyledger.simulator.sim_openai import CAPTIVE_PORTAL, HTML_502, INVALID, NO_QUOTA

# How long a socket-level fault keeps a connection busy before giving up on its own.
HOLD_LIMIT = 60.0
TRICKLE_INTERVAL = 2.0  # seconds between bytes (F14), as in the specification

GRANTS_OK = SCENARIOS["grants"].endpoints["credit_grants"]
CREDIT_SUMMARY = {
    "object": "credit_summary",
    "total_granted": 18.0,
    "total_used": 6.25,
    "total_available": 11.75,
    "grants": {"object": "list", "data": []},
}
CF_503 = raw_reply(
    "<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><center><h1>503 Service Temporarily Unavailable</h1></center><hr>"
    "<center>cloudflare</center></body></html>",
    status=503,
)
RATE_TEXT = "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1."
HOSTILE_TEXT = (
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\x1b[2J\x1b[31m[bold]red[/bold]\u202e"
    "txt.exe\u2066<script>alert(1)</script>\x9b31m"
)


def _rate_limited(headers: dict[str, str] | None = None) -> Responder:
    return openai_error(
        429, RATE_TEXT, type_="requests", code="rate_limit_exceeded", headers=headers
    )


def _closing(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _hold(request: web.Request) -> None:
    """Wait until the client goes away (or :data:`HOLD_LIMIT` passes)."""
    end = time.monotonic() + HOLD_LIMIT
    while not _closing(request) and time.monotonic() < end:
        await asyncio.sleep(0.02)


def _dummy() -> web.Response:
    """What a raw handler returns after it wrote to (or closed) the socket itself."""
    return web.Response(status=204)


async def silence(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """F3/F22: read the request, then say nothing until the client gives up."""
    await _hold(request)
    return _dummy()


async def reset(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """F4: answer the request with a TCP RST (SO_LINGER 0, then close)."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return _dummy()


def _raw_then_close(data: bytes) -> Responder:
    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.write(data)
            transport.close()
        return _dummy()

    return respond


def _raw_then_hold(data: bytes) -> Responder:
    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.write(data)
        await _hold(request)
        return _dummy()

    return respond


CUT_HEADERS = _raw_then_close(b"HTTP/1.1 200 OK\r\nContent-Type: applic")
CUT_BODY = _raw_then_close(
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"object":'
)


def _trickle(head: bytes, unit: bytes) -> Responder:
    """Send ``head`` at once, then ``unit`` every :data:`TRICKLE_INTERVAL` seconds."""

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        transport = request.transport
        end = time.monotonic() + HOLD_LIMIT
        if transport is not None:
            transport.write(head)
            while not _closing(request) and time.monotonic() < end:
                await asyncio.sleep(TRICKLE_INTERVAL)
                if not _closing(request):
                    transport.write(unit)
        return _dummy()

    return respond


TRICKLE_BODY = _trickle(
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", b" "
)
TRICKLE_HEADERS = _trickle(b"HTTP/1.1 200 OK\r\n", b"X-Slow: 1\r\n")


def _stream(
    total: int | None, chunk: bytes, headers: dict[str, str], encode: Callable[[bytes], bytes]
) -> Responder:
    """A chunked (or sized) body of ``chunk`` repeated up to ``total`` bytes, or forever."""

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers=headers)
        if "Content-Length" not in headers:
            response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        end = time.monotonic() + HOLD_LIMIT
        try:
            while (total is None or sent < total) and time.monotonic() < end:
                if _closing(request):
                    break
                await response.write(encode(chunk))
                sent += len(chunk)
                await asyncio.sleep(0)  # let the client (often in the same loop) run
        except (ConnectionError, RuntimeError):
            pass
        return response

    return respond


MIB = 1 << 20
BODY_100MB = _stream(
    100 * MIB, b"[" + b"0," * (MIB // 2 - 1) + b"0", {"Content-Type": "application/json"}, bytes
)
BODY_ENDLESS = _stream(None, b" " * 65536, {"Content-Type": "application/json"}, bytes)
HUGE_LENGTH = _raw_then_hold(
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n"
    + b" " * 65536
)


def gzip_bomb(decoded_total: int = 10 << 30) -> Responder:
    """F16: a gzip stream of zeros, about 1 KiB on the wire per MiB decoded."""

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = bytes(MIB)
        # Once the window is all zeros, every further MiB of zeros compresses to the same
        # bytes: compute the first two blocks, then repeat the second one.
        blocks = [compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)]
        blocks.append(compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH))
        sent = [0]

        def encode(block: bytes) -> bytes:
            sent[0] += 1
            return blocks[0] if sent[0] == 1 else blocks[1]

        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return await _stream(decoded_total, zeros, headers, encode)(request, ctx)

    return respond


MANY_HEADERS = _raw_then_close(
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + b"".join(b"X-H%d: v\r\n" % n for n in range(10_000))
    + b"Content-Length: 2\r\n\r\n{}"
)
HUGE_HEADER = _raw_then_close(
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Huge: "
    + b"a" * MIB
    + b"\r\nContent-Length: 2\r\n\r\n{}"
)


def _redirect(status: int, where: Callable[[web.Request, Ctx], str]) -> Responder:
    """A redirect whose ``Location`` also carries the key (as a hostile server might)."""

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": where(request, ctx)})

    return respond


def redirect_target(request: web.Request) -> str:
    """Where cross-host redirects point: ``SimState.redirect_target``."""
    from keyledger.simulator.server import STATE_KEY

    return request.app[STATE_KEY].redirect_target


REDIRECT_OTHER = _redirect(
    302, lambda r, c: f"{redirect_target(r)}/dashboard/billing/credit_grants?key={c.key}"
)
REDIRECT_SAME = _redirect(301, lambda r, c: f"{c.base}/v1/dashboard/billing/credit_grants")
REDIRECT_HTTP = _redirect(
    307, lambda r, c: f"http://{c.key}@{r.host}/dashboard/billing/credit_grants"
)
REDIRECT_PERMANENT = _redirect(308, lambda r, c: f"{redirect_target(r)}/{c.key}")


async def echo_key(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """F20: a 401 whose message echoes the full key and the Authorization header."""
    auth = request.headers.get("Authorization", "")
    message = f"Incorrect API key provided: {ctx.key}. You sent {auth!r}; x-api-key={ctx.key}"
    body = {
        "error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    return web.json_response(body, status=401, headers={"X-Echo": ctx.key})


async def echo_key_500(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """F20: a 500 whose plain-text body is every request header, the key included."""
    lines = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
    return web.Response(status=500, text=f"upstream failed for request:\n{lines}\n")


HOSTILE_MESSAGE = openai_error(403, HOSTILE_TEXT, type_="permission_error", code=HOSTILE_TEXT[:40])

# One stale-socket failure per key: a pooled connection that already served a request is
# closed without an answer the first time this key arrives on it.
_served: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


async def stale_pool(request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """F23: behave like a keep-alive connection the server dropped between requests."""
    transport = request.transport
    if transport is None:
        return _dummy()
    served = _served.get(transport, 0)
    _served[transport] = served + 1
    if served >= 1 and ctx.calls == 1:
        transport.close()
        return _dummy()
    return await GRANTS_OK(request, ctx)


def _counted(responder: Responder) -> Responder:
    """``responder``, counting every request on its connection (so F23 can see reuse)."""

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            _served[transport] = _served.get(transport, 0) + 1
        return await responder(request, ctx)

    return respond


def _http_date_in(seconds: int) -> Responder:
    def build(request: web.Request, ctx: Ctx) -> Responder:
        when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
        return _rate_limited({"Retry-After": format_datetime(when, usegmt=True)})

    return dynamic(build)


@dataclass(frozen=True)
class FaultSpec:
    """One fault, and what keyledger must conclude from it (with three attempts allowed)."""

    name: str
    row: str  # the row of reliability.md §3
    description: str
    responder: Responder | None  # None: the fault is not the simulator's (F1, F2, F18, F24)
    status: Status
    reason: str | None
    attempts: int
    extra: dict[str, Any] = field(default_factory=dict)


_JSON = "application/json"

FAULT_SPECS: tuple[FaultSpec, ...] = (
    FaultSpec("f1_refused", "F1", "connection refused", None, Status.UNREACHABLE, "connect", 3),
    FaultSpec("f2_dns", "F2", "DNS NXDOMAIN", None, Status.UNREACHABLE, "dns", 2),
    FaultSpec(
        "f3_silence", "F3", "accepts, then silence", silence, Status.UNREACHABLE, "timeout", 3
    ),
    FaultSpec(
        "f4_reset_once",
        "F4",
        "RST once, then 200",
        sequence([reset, GRANTS_OK]),
        Status.OK,
        None,
        2,
    ),
    FaultSpec("f4_reset", "F4", "RST after every request", reset, Status.UNREACHABLE, "reset", 3),
    FaultSpec(
        "f5_cut_headers", "F5", "closes mid-headers", CUT_HEADERS, Status.UNREACHABLE, "protocol", 3
    ),
    FaultSpec(
        "f5_cut_body",
        "F5",
        "Content-Length 1000, 10 bytes sent",
        CUT_BODY,
        Status.UNREACHABLE,
        "protocol",
        3,
    ),
    FaultSpec(
        "f6_503_503_200",
        "F6",
        "503, 503, then 200",
        sequence([openai_error(503, "overloaded", "server_error")] * 2 + [GRANTS_OK]),
        Status.OK,
        None,
        3,
    ),
    FaultSpec(
        "f6_500",
        "F6",
        "500 forever",
        openai_error(500, "internal", "server_error"),
        Status.UNKNOWN,
        "server_error",
        3,
    ),
    FaultSpec(
        "f6_501",
        "F6",
        "501",
        openai_error(501, "not implemented", "server_error"),
        Status.UNKNOWN,
        "server_error",
        1,
    ),
    FaultSpec(
        "f6_529",
        "F6",
        "Anthropic 529 overloaded forever",
        json_reply(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, 529
        ),
        Status.UNKNOWN,
        "overloaded",
        3,
    ),
    FaultSpec(
        "f7_retry_after",
        "F7",
        "429 with Retry-After: 2, then 200",
        sequence([_rate_limited({"Retry-After": "2"}), GRANTS_OK]),
        Status.OK,
        None,
        2,
        {"wait": 2.0},
    ),
    FaultSpec(
        "f7_retry_after_date",
        "F7",
        "429 with an HTTP-date 3 s ahead, then 200",
        sequence([_http_date_in(3), GRANTS_OK]),
        Status.OK,
        None,
        2,
        {"wait": 3.0},
    ),
    FaultSpec(
        "f7_retry_after_ms",
        "F7",
        "429 with retry-after-ms: 1500, then 200",
        sequence([_rate_limited({"retry-after-ms": "1500"}), GRANTS_OK]),
        Status.OK,
        None,
        2,
        {"wait": 1.5},
    ),
    FaultSpec(
        "f7_retry_after_3600",
        "F7",
        "429 with Retry-After: 3600",
        _rate_limited({"Retry-After": "3600"}),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        1,
    ),
    FaultSpec(
        "f7_retry_after_invalid",
        "F7",
        "429 with Retry-After: soon",
        _rate_limited({"Retry-After": "soon"}),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        3,
    ),
    FaultSpec(
        "f7_retry_after_negative",
        "F7",
        "429 with Retry-After: -5",
        _rate_limited({"Retry-After": "-5"}),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        3,
    ),
    FaultSpec(
        "f8_insufficient_quota",
        "F8",
        "429 insufficient_quota",
        NO_QUOTA,
        Status.NO_QUOTA,
        "insufficient_quota",
        1,
    ),
    FaultSpec(
        "f9_401_json",
        "F9",
        "401 in the provider's JSON envelope",
        INVALID,
        Status.INVALID,
        "invalid_api_key",
        1,
    ),
    FaultSpec(
        "f9_401_html",
        "F9",
        "401 HTML page (captive portal)",
        raw_reply("<html><body>Authentication required</body></html>", status=401),
        Status.UNKNOWN,
        "proxy",
        1,
    ),
    FaultSpec(
        "f9_407_html",
        "F9",
        "407 HTML page (proxy)",
        raw_reply("<html><body>Proxy Authentication Required</body></html>", status=407),
        Status.UNKNOWN,
        "proxy_auth",
        1,
    ),
    FaultSpec(
        "f10_200_html",
        "F10",
        "200 with a Wi-Fi login page",
        CAPTIVE_PORTAL,
        Status.UNKNOWN,
        "unexpected_body",
        1,
    ),
    FaultSpec(
        "f11_502_html", "F11", "Cloudflare 502 page", HTML_502, Status.UNKNOWN, "server_error", 3
    ),
    FaultSpec(
        "f11_503_html", "F11", "Cloudflare 503 page", CF_503, Status.UNKNOWN, "server_error", 3
    ),
    FaultSpec(
        "f12_truncated",
        "F12",
        "200 with truncated JSON",
        raw_reply('{"data":[', content_type=_JSON),
        Status.UNKNOWN,
        "decode",
        2,
    ),
    FaultSpec(
        "f12_nan",
        "F12",
        "200 with NaN",
        raw_reply('{"total_granted": NaN}', content_type=_JSON),
        Status.UNKNOWN,
        "decode",
        2,
    ),
    FaultSpec(
        "f12_deep",
        "F12",
        "200 with 100k nested [",
        raw_reply("[" * 100_000, content_type=_JSON),
        Status.UNKNOWN,
        "decode",
        2,
    ),
    FaultSpec(
        "f13_json_as_html",
        "F13",
        "valid JSON labelled text/html",
        raw_reply(json.dumps(CREDIT_SUMMARY), content_type="text/html"),
        Status.OK,
        None,
        1,
    ),
    FaultSpec(
        "f13_html_as_json",
        "F13",
        "HTML labelled application/json",
        raw_reply("<html><body>hello</body></html>", content_type=_JSON),
        Status.UNKNOWN,
        "decode",
        1,
    ),
    FaultSpec(
        "f14_trickle_body",
        "F14",
        "headers, then 1 body byte every 2 s",
        TRICKLE_BODY,
        Status.UNREACHABLE,
        "timeout",
        3,
    ),
    FaultSpec(
        "f14_trickle_headers",
        "F14",
        "one header line every 2 s",
        TRICKLE_HEADERS,
        Status.UNREACHABLE,
        "timeout",
        3,
    ),
    FaultSpec(
        "f15_100mb", "F15", "a 100 MB chunked body", BODY_100MB, Status.UNKNOWN, "body_too_large", 1
    ),
    FaultSpec(
        "f15_10gb_length",
        "F15",
        "Content-Length: 10 GB",
        HUGE_LENGTH,
        Status.UNKNOWN,
        "body_too_large",
        1,
    ),
    FaultSpec(
        "f15_endless",
        "F15",
        "an endless chunked body",
        BODY_ENDLESS,
        Status.UNKNOWN,
        "body_too_large",
        1,
    ),
    FaultSpec(
        "f16_gzip_bomb",
        "F16",
        "gzip stream expanding to 10 GB",
        gzip_bomb(),
        Status.UNKNOWN,
        "body_too_large",
        1,
    ),
    FaultSpec(
        "f17_many_headers",
        "F17",
        "10k response headers",
        MANY_HEADERS,
        Status.UNREACHABLE,
        "protocol",
        3,
    ),
    FaultSpec(
        "f17_huge_header", "F17", "one 1 MB header", HUGE_HEADER, Status.UNREACHABLE, "protocol", 3
    ),
    FaultSpec(
        "f18_tls",
        "F18",
        "bad certificate (separate TLS server)",
        None,
        Status.UNREACHABLE,
        "tls",
        1,
    ),
    FaultSpec(
        "f19_redirect_other",
        "F19",
        "302 to another host",
        REDIRECT_OTHER,
        Status.UNKNOWN,
        "redirect",
        1,
    ),
    FaultSpec(
        "f19_redirect_same",
        "F19",
        "301 to the same host",
        REDIRECT_SAME,
        Status.UNKNOWN,
        "redirect",
        1,
    ),
    FaultSpec(
        "f19_redirect_http", "F19", "307 to http://", REDIRECT_HTTP, Status.UNKNOWN, "redirect", 1
    ),
    FaultSpec(
        "f19_redirect_308",
        "F19",
        "308 to another host",
        REDIRECT_PERMANENT,
        Status.UNKNOWN,
        "redirect",
        1,
    ),
    FaultSpec(
        "f20_echo_key", "F20", "401 echoing the key", echo_key, Status.INVALID, "invalid_api_key", 1
    ),
    FaultSpec(
        "f20_echo_key_500",
        "F20",
        "500 echoing every header",
        echo_key_500,
        Status.UNKNOWN,
        "server_error",
        3,
    ),
    FaultSpec(
        "f21_hostile_text",
        "F21",
        "ANSI/OSC/bidi/<script> in a message",
        HOSTILE_MESSAGE,
        Status.RESTRICTED,
        "permission_denied",
        1,
    ),
    FaultSpec(
        "f22_pool_hold",
        "F22",
        "holds every connection open",
        silence,
        Status.UNREACHABLE,
        "timeout",
        3,
    ),
    FaultSpec(
        "f23_stale", "F23", "drops a reused keep-alive connection", stale_pool, Status.OK, None, 1
    ),
    FaultSpec(
        "f24_proxy_407",
        "F24",
        "proxy answering 407 (separate server)",
        None,
        Status.UNKNOWN,
        "proxy_auth",
        1,
    ),
)

FAULTS: dict[str, Scenario] = {
    spec.name: Scenario(
        spec.name,
        Kind.SESSION,
        f"{spec.row}: {spec.description}",
        spec.status,
        spec.reason,
        {"*": _counted(spec.responder) if spec.name != "f23_stale" else spec.responder},
    )
    for spec in FAULT_SPECS
    if spec.responder is not None
}
SPECS: dict[str, FaultSpec] = {spec.name: spec for spec in FAULT_SPECS}


def fault_key(name: str, n: int = 0, kind: Kind = Kind.SESSION) -> str:
    """A key selecting fault ``name`` (a session key unless ``kind`` says otherwise)."""
    return make_key(name, n, kind=kind)


class SilentServer:
    """A loopback TCP listener that accepts and never sends a byte (a TLS handshake stall)."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self.connections = 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.read(), HOLD_LIMIT)
        writer.close()

    async def __aenter__(self) -> SilentServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


class Proxy407:
    """An HTTP proxy on loopback that answers ``407`` to everything and logs what it saw."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.port = 0
        self.seen: list[bytes] = []  # every byte any client sent

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            self.seen.append(head)
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n'
                b"Connection: close\r\n\r\n"
            )
            await writer.drain()
        except (
            TimeoutError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass
        writer.close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Proxy407:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


__all__ = [
    "FAULTS",
    "FAULT_SPECS",
    "SPECS",
    "FaultSpec",
    "Proxy407",
    "SilentServer",
    "fault_key",
]
