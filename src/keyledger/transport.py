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
- No cookie is kept: a cookie one answer sets is never sent with a later request (so no
  key's request carries anything from another key's answer).

This module holds the values (options, requests, answers, faults) and imports no HTTP
library; the attempt itself, on aiohttp, is :mod:`keyledger.wire`, loaded only when a check
runs (a plain request goes out through :mod:`keyledger.direct`, aiohttp's own parts without
its general request path).
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

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
        return _split_url(self.url)[0]

    @property
    def path(self) -> str:
        """The URL's path, without query."""
        return _split_url(self.url)[1]


@functools.lru_cache(maxsize=1024)
def _split_url(url: str) -> tuple[str, str]:
    """(``host[:port]``, path without query) of ``url``; the same URL recurs for every key of
    a host and is asked for several times per request, so it is split once."""
    rest = url.split("://", 1)[-1]
    path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return rest.split("/", 1)[0], path.split("?", 1)[0]


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
