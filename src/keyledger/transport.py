"""One HTTP attempt, bounded in every dimension, whose outcome is a value.

- A wall-clock deadline covers connect, TLS, headers and the whole body (a per-chunk read
  timeout never fires on a trickling body); connecting has its own shorter timeout.
- Redirects are never followed, so a redirect target never receives the key.
- Bodies are capped counting decompressed bytes: 1 MiB for a success body (beyond it the
  answer is ``body_too_large``) and 4 KiB kept of an error body.
- The key goes only in a header; a transport exception becomes a :class:`Fault` that names
  a category and the host, and the exception (whose text could hold the URL) is dropped.
- A local shortage (out of file handles or buffers before the connection exists) is the
  ``local_resources`` fault: it says nothing about the host.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import http_exceptions

from keyledger.secret import Secret

USER_AGENT = "keyledger/0.1 (+https://github.com/keyledger)"


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Limits for every request; the documented defaults are the class defaults."""

    attempt_deadline: float = 15.0
    connect_timeout: float = 5.0
    max_body: int = 1 << 20
    max_error_body: int = 4096
    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_after_cap: float = 120.0
    per_host: int = 200  # requests in flight per host; the CLI ties it to --concurrency
    retry_budget: int = 500
    retry_cost: int = 5
    timeout_retry_cost: int = 10
    breaker_threshold: int = 25
    breaker_cooldown: float = 30.0
    max_headers: int = 100  # more response headers than this is a protocol fault
    stale_retries: int = 2  # transparent re-sends when a reused pooled connection was dead


@dataclass(frozen=True, slots=True)
class Request:
    """What a provider wants sent; ``auth`` says which header carries the secret."""

    method: str
    url: str
    secret: Secret
    auth: str = "bearer"  # bearer | x-api-key | x-goog-api-key | none (a public endpoint)
    json_body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # The calling provider's classification table (the retry policy reads it) and the
    # response headers it wants kept besides the common ones.
    rules: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    keep_headers: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @property
    def host(self) -> str:
        """``host[:port]`` of the URL."""
        rest = self.url.split("://", 1)[-1]
        return rest.split("/", 1)[0]

    @property
    def path(self) -> str:
        """The URL's path, without query."""
        rest = self.url.split("://", 1)[-1]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        return path.split("?", 1)[0]


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, lower-cased headers, and the (capped) body.

    Its ``repr`` shows the status and the body's size only: a server may echo the key into
    an error body or a header, and a traceback rendered with locals must not show it.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False

    def __repr__(self) -> str:
        return f"Reply(status={self.status}, body=<{len(self.body)} bytes>)"


@dataclass(frozen=True, slots=True)
class Fault:
    """No usable HTTP answer; ``reason`` is a category such as ``timeout`` or ``tls``."""

    reason: str
    detail: str = ""


Outcome = Reply | Fault

# errno values meaning this machine ran short (file handles, buffers, memory): not the host.
LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
LOCAL_FAULT = "local_resources"


def _local_errno(exc: BaseException) -> bool:
    """Whether ``exc`` (or the OS error it wraps) is a local shortage such as ``EMFILE``."""
    inner = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    return isinstance(inner, OSError) and inner.errno in LOCAL_ERRNOS


# Headers kept from every answer; a provider adds its own (``Provider.kept_headers``).
COMMON_HEADERS = frozenset(
    ("content-type", "content-length", "retry-after", "retry-after-ms", "location", "x-request-id")
)


class SecretHeaders(Mapping[str, str]):
    """Headers that may carry a secret; every printable form hides the values.

    Used for request headers (the key) and kept response headers (a hostile server may echo
    the key into ``Location``).

    It is a plain :class:`~collections.abc.Mapping` (not a ``dict``), so pretty printers such
    as ``rich`` show its ``repr`` in tracebacks rendered with locals instead of its items.
    """

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items

    def __getitem__(self, name: str) -> str:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"SecretHeaders({sorted(self._items)!r})"

    __str__ = __repr__


def auth_headers(request: Request) -> SecretHeaders:
    """The request's headers with the secret in the header its provider expects."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **request.headers}
    if request.auth == "x-api-key":
        headers["x-api-key"] = request.secret.reveal()
    elif request.auth == "x-goog-api-key":
        headers["x-goog-api-key"] = request.secret.reveal()
    elif request.auth == "none":  # a public endpoint: the key is never sent
        pass
    else:
        headers["Authorization"] = "Bearer " + request.secret.reveal()
    return SecretHeaders(headers)


def reuse_tracer() -> aiohttp.TraceConfig:
    """A trace config noting when a request goes out on a pooled (reused) connection.

    :func:`attempt` passes a dict as ``trace_request_ctx``; this sets its ``"reused"``.
    """

    async def on_reuse(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceConnectionReuseconnParams,
    ) -> None:
        holder = getattr(ctx, "trace_request_ctx", None)
        if isinstance(holder, dict):
            holder["reused"] = True

    tracer = aiohttp.TraceConfig()
    tracer.on_connection_reuseconn.append(on_reuse)
    return tracer


def _fault_for(exc: BaseException, host: str) -> Fault:
    """Map a transport exception to a category by class, never by its text."""
    if _local_errno(exc):
        return Fault(LOCAL_FAULT, host)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return Fault("timeout", host)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return Fault("proxy_auth" if exc.status == 407 else "proxy", host)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return Fault("proxy", host)
    if isinstance(
        exc,
        (
            aiohttp.ClientConnectorCertificateError,
            aiohttp.ClientConnectorSSLError,
            aiohttp.ClientSSLError,
            ssl.SSLError,
        ),
    ):
        return Fault("tls", host)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return Fault("dns", host)
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, socket.gaierror):
            return Fault("dns", host)
        if isinstance(os_error, ssl.SSLError):
            return Fault("tls", host)
        return Fault("connect", host)
    if isinstance(exc, http_exceptions.DecompressSizeError):
        return Fault("body_too_large", host)
    if isinstance(exc, (aiohttp.ClientConnectionResetError, ConnectionResetError)):
        return Fault("reset", host)
    if isinstance(exc, aiohttp.ClientOSError):
        if exc.errno in (errno.ECONNRESET, errno.EPIPE):
            return Fault("reset", host)
        return Fault("network", host)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return Fault("protocol", host)
    if isinstance(exc, (aiohttp.ClientResponseError, http_exceptions.HttpProcessingError)):
        return Fault("protocol", host)
    if isinstance(exc, aiohttp.InvalidURL):
        return Fault("invalid_url", host)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return Fault("network", host)
    return Fault("network", host)


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    """Up to ``cap`` decompressed bytes; ``True`` when the body went beyond it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await response.content.readany()
        if not chunk:
            return b"".join(chunks), False
        size += len(chunk)
        if size > cap:
            chunks.append(chunk[: cap - (size - len(chunk))])
            return b"".join(chunks), True
        chunks.append(chunk)


class _StaleConnection(Exception):
    """A reused pooled connection turned out dead before any answer arrived."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__("stale pooled connection")
        self.cause = cause


_STALE_ERRORS = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


async def _exchange(
    session: aiohttp.ClientSession,
    request: Request,
    options: HttpOptions,
    host: str,
    proxy: str | None,
) -> Outcome:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=options.connect_timeout)
    trace: dict[str, bool] = {"reused": False}
    try:
        response_cm = session.request(
            request.method,
            request.url,
            headers=auth_headers(request),
            json=request.json_body,
            allow_redirects=False,
            timeout=timeout,
            proxy=proxy,
            trace_request_ctx=trace,
        )
        response = await response_cm.__aenter__()
    except _STALE_ERRORS as exc:
        stale = trace["reused"] and (
            isinstance(exc, aiohttp.ServerDisconnectedError)
            or exc.errno in (errno.ECONNRESET, errno.EPIPE)
        )
        if stale:
            raise _StaleConnection(exc) from None
        raise
    try:
        if len(response.raw_headers) > options.max_headers:
            return Fault("protocol", host)
        headers = SecretHeaders(
            {
                name: value
                for name in (COMMON_HEADERS | request.keep_headers)
                if (value := response.headers.get(name)) is not None
            }
        )
        success = 200 <= response.status < 300
        cap = options.max_body if success else options.max_error_body
        length = response.content_length
        if success and length is not None and length > cap:
            response.close()
            return Fault("body_too_large", host)
        body, over = await _read_capped(response, cap)
        if over:
            response.close()
            if success:
                return Fault("body_too_large", host)
        return Reply(response.status, headers, body, truncated=over)
    finally:
        response.release()


async def attempt(
    session: aiohttp.ClientSession,
    request: Request,
    options: HttpOptions,
    proxy: str | None = None,
) -> Outcome:
    """Send ``request`` once; every failure comes back as a :class:`Fault`.

    One deadline covers the whole exchange (connect, TLS, headers, body). If a pooled
    connection turns out to have been closed by the server before it answered (a stale
    keep-alive socket), the request is re-sent on a fresh connection within the same
    attempt: that is the pool's failure, not the server's answer.
    """
    host = request.host
    try:
        async with asyncio.timeout(options.attempt_deadline):
            for _ in range(options.stale_retries):
                try:
                    return await _exchange(session, request, options, host, proxy)
                except _StaleConnection:
                    continue
            try:
                return await _exchange(session, request, options, host, proxy)
            except _StaleConnection as stale:  # dead every time: classify the real error
                return _fault_for(stale.cause, host)
    except (
        aiohttp.ClientError,
        http_exceptions.HttpProcessingError,
        OSError,
        TimeoutError,
        ValueError,  # aiohttp raises it for some malformed answers (e.g. bad header values)
    ) as exc:
        return _fault_for(exc, host)
