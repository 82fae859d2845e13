"""The dashboard's guards (reliability W1-W5): Host allowlist, token, Origin, CSRF, headers.

- **Host:** exactly ``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT`` or the bound
  address; anything else (DNS rebinding) is 403. A wildcard bind (``0.0.0.0``) skips this,
  since it must answer to names it cannot know; it always needs the token.
- **Token** (any bind other than loopback): ``Authorization: Bearer TOKEN``, or a session
  cookie set by the one-time link ``/login?token=TOKEN`` (HttpOnly, SameSite=Strict). The
  link works once; the cookie holds a fresh session value, not the token. Compared with
  :func:`hmac.compare_digest`. Missing or wrong: 401.
- **State-changing requests** (POST) need a same-origin ``Origin`` (when sent), no
  cross-site ``Sec-Fetch-Site``, and a CSRF token (double submit: the ``kl_csrf`` cookie
  equals the ``X-CSRF-Token`` header or the ``csrf`` form field); a request authenticated
  by the Bearer header needs no CSRF token (a browser never adds that header by itself).
- **Headers** on every answer: a strict CSP without inline script or style, nosniff,
  no referrer, no framing, no caching. No CORS headers.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

SESSION_COOKIE = "kl_session"
CSRF_COOKIE = "kl_csrf"
CSRF_HEADER = "X-CSRF-Token"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback_bind(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine's default loopback."""
    return host in LOOPBACK_NAMES


def _host_port(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


@dataclass
class Guard:
    """The security settings of one server."""

    host: str
    port: int
    token: str | None = None
    sessions: set[str] = field(default_factory=set)
    login_used: bool = False

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """Host header values accepted (exact, with the port)."""
        names = {_host_port(n, self.port) for n in LOOPBACK_NAMES}
        names.add(_host_port(self.host, self.port))
        return frozenset(names)

    def host_ok(self, value: str | None) -> bool:
        """Whether a Host header is on the allowlist."""
        if self.host in WILDCARDS:
            return bool(value)
        return value is not None and value.lower() in self.allowed_hosts

    def token_ok(self, candidate: str | None) -> bool:
        """Constant-time check of a presented token."""
        if self.token is None or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def session_ok(self, value: str | None) -> bool:
        """Whether a session cookie is one this server issued."""
        if not value:
            return False
        return any(hmac.compare_digest(value.encode(), s.encode()) for s in self.sessions)

    def bearer(self, request: web.Request) -> str | None:
        """The token of an ``Authorization: Bearer`` header, if any."""
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None

    def login(self, candidate: str | None) -> str | None:
        """Trade the one-time link's token for a new session value (``None`` if refused)."""
        if self.login_used or not self.token_ok(candidate):
            return None
        self.login_used = True
        session = secrets.token_urlsafe(32)
        self.sessions.add(session)
        return session

    def origin_ok(self, request: web.Request) -> bool:
        """Same-origin check for state-changing requests (W3)."""
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return False
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        host = request.headers.get("Host", "")
        return origin in (f"http://{host}", f"https://{host}") and self.host_ok(host)


def _forbid(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text + "\n", content_type="text/plain")
    response.headers.update(HEADERS)
    return response


# The CSRF token a page hands out, per request (each request runs in its own task).
_PAGE_CSRF: ContextVar[tuple[str, bool] | None] = ContextVar("page_csrf", default=None)


def _csrf_for(request: web.Request) -> tuple[str, bool]:
    """This browser's CSRF token (the cookie's) or a new one; ``True`` when new."""
    current = request.cookies.get(CSRF_COOKIE)
    if current and 20 <= len(current) <= 100 and current.isascii():
        return current, False
    return secrets.token_urlsafe(32), True


def csrf_token(request: web.Request) -> str:
    """The CSRF token to put in a page (a new one is set as a cookie on the response)."""
    found = _PAGE_CSRF.get()
    if found is None:
        found = _csrf_for(request)
        _PAGE_CSRF.set(found)
    return found[0]


async def csrf_ok(request: web.Request) -> bool:
    """Double submit: the cookie equals the header (or the form field)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        field_value = form.get("csrf")
        sent = field_value if isinstance(field_value, str) else None
    if not cookie or not sent:
        return False
    return hmac.compare_digest(cookie.encode(), sent.encode())


def guard_middleware(guard: Guard) -> Middleware:
    """The middleware enforcing ``guard`` on every request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not guard.host_ok(request.headers.get("Host")):
            return _forbid(403, "forbidden: unexpected Host header")
        bearer = guard.bearer(request)
        by_header = guard.token_ok(bearer)
        if guard.token is not None and request.path != "/login":
            session = request.cookies.get(SESSION_COOKIE)
            if not by_header and not guard.session_ok(session):
                return _forbid(401, "unauthorised: a token is needed (see `keyledger serve`)")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if not guard.origin_ok(request):
                return _forbid(403, "forbidden: cross-origin request")
            if not by_header and not await csrf_ok(request):
                return _forbid(403, "forbidden: missing or wrong CSRF token")
        _PAGE_CSRF.set(None)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(HEADERS)
            raise
        response.headers.update(HEADERS)
        page_csrf = _PAGE_CSRF.get()
        if page_csrf is not None and page_csrf[1]:
            response.set_cookie(
                CSRF_COOKIE, page_csrf[0], httponly=True, samesite="Strict", path="/"
            )
        return response

    return middleware
