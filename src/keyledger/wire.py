"""One HTTP attempt on aiohttp (see :mod:`keyledger.transport` for what it promises).

Kept apart from the values in :mod:`keyledger.transport` so that reading and routing keys
(and every command that runs no check) never loads aiohttp.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import errno
import functools
import socket
import ssl
import weakref
from typing import Any

import aiohttp
import yarl
from aiohttp import http_exceptions
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from multidict import CIMultiDict

from keyledger import direct
from keyledger.transport import (
    COMMON_HEADERS,
    LOCAL_ERRNOS,
    LOCAL_FAULT,
    USER_AGENT,
    Fault,
    HttpOptions,
    Outcome,
    Reply,
    Request,
    SecretHeaders,
    auth_headers,
)


def _local_errno(exc: BaseException) -> bool:
    """Whether ``exc`` (or the OS error it wraps) is a local shortage such as ``EMFILE``."""
    inner = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    return isinstance(inner, OSError) and inner.errno in LOCAL_ERRNOS


# Whether the request running in this task went out on a pooled (reused) connection; set by
# :class:`PoolConnector` (a coroutine awaited by the task shares the task's context).
_REUSED: contextvars.ContextVar[bool] = contextvars.ContextVar("keyledger_reused", default=False)


class PoolConnector(aiohttp.TCPConnector):
    """A TCP connector that notes whether each request's connection came from the pool.

    A connection is reused when its protocol already served a request; the answer is kept for
    the running task (read by :func:`attempt` when the request fails). This replaces a trace
    config, which makes aiohttp build a trace and send a signal at every step of every request.
    A protocol that served is marked in its own ``__dict__`` (a dict look-up a request, where a
    weak set costs two Python calls and a weak reference); one without a ``__dict__`` is noted
    in a weak set.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._served: weakref.WeakSet[object] = weakref.WeakSet()

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        """A connection from the pool or a new one, noting which for the running request."""
        connection = await super().connect(req, traces, timeout)
        protocol = connection.protocol
        marks = getattr(protocol, "__dict__", None)
        if marks is not None:
            if _SERVED in marks:
                _REUSED.set(True)
            else:
                marks[_SERVED] = True
        elif protocol in self._served:
            _REUSED.set(True)
        elif protocol is not None:
            self._served.add(protocol)
        return connection


# The mark a protocol that served a request carries (see :class:`PoolConnector`).
_SERVED = "keyledger_served"


@functools.lru_cache(maxsize=16)
def _timeout(connect: float) -> aiohttp.ClientTimeout:
    """The per-request aiohttp timeout (the attempt's own deadline bounds the rest); shared."""
    return aiohttp.ClientTimeout(total=None, sock_connect=connect)


@functools.lru_cache(maxsize=64)
def _kept(keep_headers: frozenset[str]) -> frozenset[str]:
    """The response headers kept for a provider: the common ones and its own."""
    return COMMON_HEADERS | keep_headers


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


def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool] | None:
    """Up to ``cap`` decompressed bytes and whether the body went beyond it, when the whole
    body has arrived already (the common case: a small answer comes with its headers);
    ``None`` when more is to come (then :func:`_read_rest` reads it)."""
    content = response.content
    if not content.is_eof():
        return None
    body = content.read_nowait(-1)
    if len(body) > cap:
        return body[:cap], True
    return body, False


async def _read_rest(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
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


class _Expiry:
    """One attempt's deadline in :class:`AttemptDeadlines`: :meth:`AttemptDeadlines.open`
    starts it and :meth:`leave` ends it; ``async with`` does both."""

    __slots__ = ("cancelling", "deadlines", "expired", "task", "when")

    def __init__(self, deadlines: AttemptDeadlines) -> None:
        self.deadlines = deadlines
        self.task: asyncio.Task[Any] | None = None  # while the attempt runs
        self.when = 0.0
        self.cancelling = 0
        self.expired = False

    def leave(self, exc: BaseException | None) -> bool:
        """End the attempt, which ended with ``exc``; ``True``: it ends as ``TimeoutError``.

        As asyncio.timeout's exit: the cancel that expiry sent is taken back, and the
        cancellation becomes ``TimeoutError`` unless the task was also cancelled by someone
        else.
        """
        task, self.task = self.task, None
        return (
            self.expired
            and task is not None
            and task.uncancel() <= self.cancelling
            and type(exc) is asyncio.CancelledError
        )

    async def __aenter__(self) -> None:
        self.deadlines.start(self)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if self.leave(exc):
            raise TimeoutError from exc


class AttemptDeadlines:
    """The deadlines of one client's attempts, all of the same length, behind one timer.

    Every attempt lasts at most ``seconds``, so attempts expire in the order they began: a
    FIFO ordered by deadline, whose head alone has a timer, stands for one ``asyncio.timeout``
    per attempt (a timer handle, a heap push and a cancelled handle each). :meth:`scope`
    behaves as ``asyncio.timeout(seconds)``: at its deadline the task is cancelled, and that
    leaves the scope as ``TimeoutError`` unless someone else cancelled the task too (Ctrl-C,
    the run's deadline), whose cancellation then goes on.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._queue: collections.deque[_Expiry] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def scope(self) -> _Expiry:
        """An ``async with`` bound of ``seconds`` from entry (``TimeoutError`` beyond it)."""
        return _Expiry(self)

    def open(self) -> _Expiry:
        """The same bound started now, without ``async with`` (two coroutines fewer an
        attempt): end it with :meth:`_Expiry.leave` whatever happens."""
        entry = _Expiry(self)
        self.start(entry)
        return entry

    def start(self, entry: _Expiry) -> None:
        """Queue ``entry`` for the running task with its deadline; arm the timer if none is."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("an attempt's deadline must be used inside a task")
        entry.task = task
        entry.cancelling = task.cancelling()
        queue = self._queue
        if loop is not self._loop:  # another loop: what was queued on the old one is moot
            queue.clear()
            self._loop, self._timer = loop, None
        while queue and queue[0].task is None:  # attempts that ended, at the head
            queue.popleft()
        entry.when = loop.time() + self.seconds
        queue.append(entry)
        if self._timer is None:
            self._timer = loop.call_at(entry.when, self._expire)

    def _expire(self) -> None:
        """Cancel every attempt whose deadline has come; arm the timer for the next one."""
        self._timer = None
        loop = self._loop
        assert loop is not None
        now = loop.time()
        queue = self._queue
        while queue and (queue[0].task is None or queue[0].when <= now):
            entry = queue.popleft()
            if entry.task is not None:
                entry.expired = True
                entry.task.cancel()
        if queue:
            self._timer = loop.call_at(queue[0].when, self._expire)


class _StaleConnection(Exception):
    """A reused pooled connection turned out dead before any answer arrived."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__("stale pooled connection")
        self.cause = cause


_STALE_ERRORS = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


@functools.lru_cache(maxsize=1024)
def _url(url: str) -> yarl.URL:
    """``url`` parsed once: the same URL recurs for every key of a host. A URL that does not
    parse raises what aiohttp raises for it (an ``invalid_url`` fault, not a network one)."""
    try:
        return yarl.URL(url)
    except ValueError as exc:
        raise aiohttp.InvalidUrlClientError(url) from exc


@functools.lru_cache(maxsize=1024)
def _plain_url(url: str) -> bool:
    """Whether :mod:`keyledger.direct` may send to ``url`` (asked once per URL text)."""
    return direct.plain(_url(url), None, None)


_COMMON_REQUEST_HEADERS: CIMultiDict[str] = CIMultiDict(
    {"User-Agent": USER_AGENT, "Accept": "application/json"}
)


def request_headers(request: Request) -> CIMultiDict[str]:
    """The request's headers as aiohttp keeps them, the secret in the header its provider
    expects; the same headers, in the same order, as :func:`keyledger.transport.auth_headers`
    gives, but built as aiohttp's own multidict (a plain mapping costs aiohttp a conversion
    through Python calls per header)."""
    if request.headers:  # a provider's own headers (rare): merged exactly as before
        return CIMultiDict(auth_headers(request))
    headers = _COMMON_REQUEST_HEADERS.copy()
    auth = request.auth
    if auth == "x-api-key" or auth == "x-goog-api-key":
        headers[auth] = request.secret.reveal()
    elif auth != "none":  # a public endpoint gets no key; any other scheme is a bearer token
        headers["Authorization"] = "Bearer " + request.secret.reveal()
    return headers


async def _exchange(
    session: aiohttp.ClientSession,
    request: Request,
    options: HttpOptions,
    host: str,
    proxy: str | None,
) -> Outcome:
    _REUSED.set(False)
    url = _url(request.url)
    timeout = _timeout(options.connect_timeout)
    try:
        settings = direct.settings(session)
        if (
            settings is not None
            and proxy is None
            and request.json_body is None
            and not request.headers
            and _plain_url(request.url)
        ):  # the common request: sent without _request's general path
            response = await direct.send(
                session, settings, request.method, url, request_headers(request), timeout
            )
        else:  # awaited as it is, not entered as a context manager: two coroutines fewer
            response = await session.request(
                request.method,
                url,
                headers=request_headers(request),
                json=request.json_body,
                allow_redirects=False,
                timeout=timeout,
                proxy=proxy,
            )
    except _STALE_ERRORS as exc:
        stale = _REUSED.get() and (
            isinstance(exc, aiohttp.ServerDisconnectedError)
            or exc.errno in (errno.ECONNRESET, errno.EPIPE)
        )
        if stale:
            raise _StaleConnection(exc) from None
        raise
    try:
        if len(response.raw_headers) > options.max_headers:
            return Fault("protocol", host)
        response_headers = response.headers
        headers = SecretHeaders(
            {
                name: value
                for name in _kept(request.keep_headers)
                if (value := response_headers.get(name)) is not None
            }
        )
        status = response.status
        success = 200 <= status < 300
        cap = options.max_body if success else options.max_error_body
        if success:
            length = response.content_length
            if length is not None and length > cap:
                response.close()
                return Fault("body_too_large", host)
        read = _read_capped(response, cap)
        body, over = read if read is not None else await _read_rest(response, cap)
        if over:
            response.close()
            if success:
                return Fault("body_too_large", host)
        return Reply(status, headers, body, truncated=over)
    finally:
        response.release()


_ATTEMPT_ERRORS = (
    aiohttp.ClientError,
    http_exceptions.HttpProcessingError,
    OSError,
    TimeoutError,
    ValueError,  # aiohttp raises it for some malformed answers (e.g. bad header values)
)


async def attempt(
    session: aiohttp.ClientSession,
    request: Request,
    options: HttpOptions,
    proxy: str | None = None,
    deadlines: AttemptDeadlines | None = None,
) -> Outcome:
    """Send ``request`` once; every failure comes back as a :class:`Fault`.

    One deadline covers the whole exchange (connect, TLS, headers, body): ``deadlines``'s
    shared timer when given (a client's), else one of its own. If a pooled connection turns
    out to have been closed by the server before it answered (a stale keep-alive socket),
    the request is re-sent on a fresh connection within the same attempt: that is the
    pool's failure, not the server's answer.
    """
    host = request.host
    if deadlines is None or deadlines.seconds != options.attempt_deadline:
        deadlines = AttemptDeadlines(options.attempt_deadline)
    bound = deadlines.open()  # ended by ``leave`` on every way out, as ``async with`` would
    try:
        tries = options.stale_retries
        while True:
            try:
                outcome = await _exchange(session, request, options, host, proxy)
                break
            except _StaleConnection as stale:
                if tries <= 0:  # dead every time: classify the real error
                    outcome = _fault_for(stale.cause, host)
                    break
                tries -= 1
    except _ATTEMPT_ERRORS as exc:
        bound.leave(exc)
        return _fault_for(exc, host)
    except BaseException as exc:
        if bound.leave(exc):  # the deadline's own cancellation: a timeout
            return _fault_for(TimeoutError(), host)
        raise
    bound.leave(None)
    return outcome
