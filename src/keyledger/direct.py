"""One request sent on aiohttp's own parts, without ``ClientSession._request``'s general path.

``ClientSession._request`` serves every use of aiohttp: trace configs, middlewares, redirects,
default headers and auth, a base URL, proxies from the environment and ``.netrc``, a cookie
jar, a total timeout, ``raise_for_status``, request bodies and upload trackers. A check uses
none of these on most requests (a GET with its headers, no redirect, no body, no proxy, a
session that keeps no cookies), yet pays for each of them on every request: about a fifth of
the instructions aiohttp spends on one. :func:`send` does what ``_request`` does for exactly
that case and nothing else: the same :class:`~aiohttp.ClientRequest`, the same connector
call, the same response parser settings, the same exceptions for the same failures, so the
same bytes go out and the same answer comes back.

It reads private parts of aiohttp, so it is used only under the aiohttp releases it was
checked against (:data:`SUPPORTED`; ``tests/test_direct_send.py`` pins each one's ``_request``
source; a new release sends every request through ``session.request`` until this module is
read against it and the release added) and only for a
session and a request it stands in for (:func:`settings`, :func:`plain`); anything else goes
through ``session.request`` as before.
"""

from __future__ import annotations

import weakref

import aiohttp
import yarl
from aiohttp.client_exceptions import ConnectionTimeoutError
from aiohttp.client_reqrep import ClientRequest, ClientResponse
from aiohttp.helpers import EMPTY_BODY_METHODS, TimerNoop
from multidict import CIMultiDict

# The aiohttp releases whose ``ClientSession._request`` this module was checked against.
SUPPORTED = frozenset({"3.14.5"})

# ``_request`` builds a timer per request; with no total timeout (the attempt's own deadline
# bounds a request) it is this no-op one, which holds no state.
_NO_TIMER = TimerNoop()

Settings = tuple[object, ...]

# Per session: ``None`` when :func:`send` cannot stand in for its ``_request``, else the
# response parser's settings ``_request`` would pass. The last session asked is remembered
# apart (a run has one), so most requests ask no weak mapping.
_SETTINGS: weakref.WeakKeyDictionary[aiohttp.ClientSession, Settings | None] = (
    weakref.WeakKeyDictionary()
)
_last: tuple[weakref.ref[aiohttp.ClientSession], Settings | None] | None = None


def _read(session: aiohttp.ClientSession) -> Settings | None:
    """What :func:`settings` answers, worked out from the session's own settings."""
    if aiohttp.__version__ not in SUPPORTED or type(session) is not aiohttp.ClientSession:
        return None
    connector = session.connector
    if (
        connector is None
        or session._trace_configs
        or session._middlewares
        or session._default_headers
        or session._default_auth is not None
        or session._base_url is not None
        or session._default_proxy is not None
        or session._default_proxy_auth is not None
        or session._trust_env
        or session._retry_connection
        or session._skip_auto_headers
        or session._raise_for_status is not False
        or session._request_class is not ClientRequest
        or session._response_class is not ClientResponse
        or type(session.cookie_jar) is not aiohttp.DummyCookieJar
    ):
        return None
    return (
        session._version,
        session._auto_decompress,
        session._read_bufsize,
        connector._timeout_ceil_threshold,
        session._max_line_size,
        session._max_field_size,
        session._max_headers,
    )


def settings(session: aiohttp.ClientSession) -> Settings | None:
    """``None`` when :func:`send` does not stand in for this session's ``_request``, else
    what :func:`send` needs of the session (worked out once a session)."""
    global _last
    last = _last
    if last is not None and last[0]() is session:
        return last[1]
    try:
        found = _SETTINGS[session]
    except KeyError:
        found = _SETTINGS[session] = _read(session)
    _last = (weakref.ref(session), found)
    return found


def plain(url: yarl.URL, proxy: str | None, body: object) -> bool:
    """Whether a request is one :func:`send` takes: no proxy, no body, no credentials in the
    URL, a host, and a scheme the session's connector speaks as ``http``/``https``."""
    return (
        proxy is None
        and body is None
        and url.raw_user is None
        and url.raw_password is None
        and bool(url.raw_host)
        and url.scheme in _HTTP
    )


_HTTP = frozenset({"http", "https"})


async def send(
    session: aiohttp.ClientSession,
    settings: Settings,
    method: str,
    url: yarl.URL,
    headers: CIMultiDict[str],
    timeout: aiohttp.ClientTimeout,
) -> ClientResponse:
    """``await session.request(method, url, headers=headers, allow_redirects=False,
    timeout=timeout)`` for a session whose :func:`settings` are ``settings`` and a
    :func:`plain` request with headers of distinct names, whose ``timeout`` has no total: the
    same request, answer and exceptions."""
    if session.closed:
        raise RuntimeError("Session is closed")
    method = method.upper()  # as ``_request``: ``skip_payload`` below compares upper case
    version, decompress, bufsize, ceil, line, field, count = settings
    connector = session._connector
    assert connector is not None
    request = ClientRequest(
        method,
        url,
        headers=headers,
        version=version,  # type: ignore[arg-type]
        loop=session._loop,
        response_class=ClientResponse,
        timer=_NO_TIMER,
        session=session,
        traces=[],
    )
    try:
        try:
            connection = await connector.connect(request, traces=[], timeout=timeout)
        except TimeoutError as exc:
            raise ConnectionTimeoutError(f"Connection timeout to host {request.url}") from exc
        protocol = connection.protocol
        assert protocol is not None
        protocol.set_response_params(
            timer=_NO_TIMER,
            skip_payload=method in EMPTY_BODY_METHODS,
            read_until_eof=True,
            auto_decompress=decompress,  # type: ignore[arg-type]
            read_timeout=timeout.sock_read,
            read_bufsize=bufsize,  # type: ignore[arg-type]
            timeout_ceil_threshold=ceil,  # type: ignore[arg-type]
            max_line_size=line,  # type: ignore[arg-type]
            max_field_size=field,  # type: ignore[arg-type]
            max_headers=count,  # type: ignore[arg-type]
        )
        try:
            response = await request.send(connection)
            try:
                await response.start(connection)
            except BaseException:
                response.close()
                raise
        except BaseException:
            connection.close()
            raise
    except aiohttp.ClientError:
        raise
    except OSError as exc:  # as ``_request``: a plain OS error becomes aiohttp's
        if exc.errno is None and isinstance(exc, TimeoutError):
            raise
        raise aiohttp.ClientOSError(*exc.args) from exc
    return response


__all__ = ["SUPPORTED", "Settings", "plain", "send", "settings"]
