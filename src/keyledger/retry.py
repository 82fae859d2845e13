"""Retries: which outcomes are transient, how long to wait, and when to stop trying a host.

- Retry only transient faults (``reliability.md`` H3): connect errors, timeouts, resets,
  protocol errors, 408, 429 rate limits, 500/502/503/504/529, and a 2xx whose JSON is broken
  (once). Never 400/401/403/404, 501, redirects, TLS failures or spent quota.
- Backoff is full jitter, ``random() * min(cap, base * 2**n)``, with injectable randomness.
- ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP date) are honoured up to 120 s; a
  longer wait is not slept: the key is reported ``rate_limited`` with ``retry_at``.
- Each host has a retry budget (a token bucket, as botocore's) and a circuit breaker.
- A local shortage (``local_resources``: out of file handles) is retried with backoff but is
  never charged to the host: it neither counts toward the breaker nor spends retry budget.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from keyledger.classify import (
    DecodeError,
    Rules,
    classify,
    error_info,
    looks_like_html,
    parse_json,
)
from keyledger.transport import LOCAL_FAULT, Fault, HttpOptions, Outcome, Reply

_SECONDS = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_RETRY_FAULTS = frozenset({"connect", "timeout", "reset", "protocol", "network", LOCAL_FAULT})
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
_HOST_FAILURES = frozenset({"connect", "timeout", "reset", "protocol", "network", "dns"})


# Longest server-requested wait we take seriously; beyond it the header is garbage.
MAX_RETRY_AFTER = 7 * 86400.0
_DAY_NAME = re.compile(r"\s*([A-Za-z]+)\s*,")
_DAY_NAMES = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})


def _sane(seconds: float) -> float | None:
    """``seconds`` if it is a usable wait (finite, above 0, at most a week), else ``None``."""
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_RETRY_AFTER:
        return None
    return seconds


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After``; ``None`` if absent or bad.

    Accepted: ``retry-after-ms`` (milliseconds), ``Retry-After`` as integer or decimal seconds,
    or an HTTP date. Rejected (``None``, so the caller falls back to backoff): negative or zero
    values, dates in the past, ``nan``/``inf``, signs, non-ASCII digits such as ``"\xb2"``,
    unparseable dates (a bad day name, year 100000) and waits beyond a week.
    """
    raw_ms = headers.get("retry-after-ms", "").strip()
    if raw_ms and _SECONDS.fullmatch(raw_ms):
        value = _sane(float(raw_ms) / 1000.0)
        if value is not None:
            return value
    raw = headers.get("retry-after", "").strip()
    if not raw:
        return None
    if _SECONDS.fullmatch(raw):
        return _sane(float(raw))
    day = _DAY_NAME.match(raw)
    if day is not None and day.group(1).lower() not in _DAY_NAMES:
        return None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return _sane((when - now).total_seconds())


def full_jitter(attempt: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Backoff before retry number ``attempt`` (1-based): ``rand() * min(cap, base * 2**(n-1))``."""
    return float(rand()) * min(cap, base * (2.0 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to try again after an outcome, and after how long."""

    retry: bool
    delay: float = 0.0
    retry_at: datetime | None = None  # set when the server asked for a wait beyond the cap
    host_failure: bool = False  # counts toward the host's breaker
    local: bool = False  # this machine's shortage: neither the breaker nor the budget see it


# The decision after almost every outcome (a success, a refusal): one shared value, not a new
# one per request (a Decision is frozen, so sharing it is safe).
NO_RETRY = Decision(False)


def _reply_transient(reply: Reply, rules: Rules | None) -> tuple[bool, bool, bool]:
    """(transient, is_decode_error, host_failure) for an HTTP reply.

    ``rules`` is the calling provider's table: a 5xx that it recognises as a verdict on the
    key (MiniMax's empty wallet is a 500) is neither retried nor a failure of the host.
    """
    if 200 <= reply.status < 300:
        if looks_like_html(reply.body):
            return False, False, False
        try:
            parse_json(reply.body)
        except DecodeError:
            return True, True, False
        return False, False, False
    server = reply.status >= 500 and reply.status != 501
    if reply.status not in _RETRY_STATUSES:
        return False, False, server
    _, verdict = classify(error_info(reply.status, reply.body), rules)
    return verdict.retry, False, server and not verdict.status.determinate


def decide(
    outcome: Outcome,
    attempt: int,
    options: HttpOptions,
    rand: Callable[[], float],
    now: datetime,
    rules: Rules | None = None,
) -> Decision:
    """What to do after attempt number ``attempt`` (1-based) ended with ``outcome``.

    ``rules`` is the calling provider's classification table (shared head and tail only when
    ``None``).
    """
    if isinstance(outcome, Fault):
        host_failure = outcome.reason in _HOST_FAILURES
        local = outcome.reason == LOCAL_FAULT
        limit = 2 if outcome.reason == "dns" else options.max_attempts
        if (outcome.reason in _RETRY_FAULTS or outcome.reason == "dns") and attempt < limit:
            delay = full_jitter(attempt, options.backoff_base, options.backoff_cap, rand)
            return Decision(True, delay, host_failure=host_failure, local=local)
        if not host_failure and not local:
            return NO_RETRY
        return Decision(False, host_failure=host_failure, local=local)
    transient, decode_error, host_failure = _reply_transient(outcome, rules)
    limit = 2 if decode_error else options.max_attempts
    if not transient or attempt >= limit:
        retry_at = None
        if outcome.status == 429:
            wait = parse_retry_after(outcome.headers, now)
            if wait is not None and wait > options.retry_after_cap:
                retry_at = now + timedelta(seconds=wait)
        if retry_at is None and not host_failure:
            return NO_RETRY
        return Decision(False, retry_at=retry_at, host_failure=host_failure)
    wait = parse_retry_after(outcome.headers, now) if outcome.status in (429, 503) else None
    if wait is not None:
        if wait > options.retry_after_cap:
            return Decision(False, retry_at=now + timedelta(seconds=wait))
        jitter = rand() * min(1.0, options.backoff_base)
        return Decision(True, wait + jitter, host_failure=host_failure)
    delay = full_jitter(attempt, options.backoff_base, options.backoff_cap, rand)
    return Decision(True, delay, host_failure=host_failure)


class RetryBudget:
    """A host's token bucket: a retry costs tokens, a success gives some back (botocore)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.tokens = capacity

    def acquire(self, cost: int) -> bool:
        """Take ``cost`` tokens if there are enough."""
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True

    def release(self, amount: int) -> None:
        """Give back ``amount`` tokens, up to capacity."""
        self.tokens = min(self.capacity, self.tokens + amount)


class Breaker:
    """Opens after ``threshold`` consecutive host failures; one trial call after ``cooldown``."""

    def __init__(
        self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False

    @property
    def is_open(self) -> bool:
        """Whether calls to the host are being refused now."""
        return self.opened_at is not None

    def allow(self) -> bool:
        """Whether a call may go out now."""
        if self.opened_at is None:
            return True
        if self._trial_running or self._clock() - self.opened_at < self.cooldown:
            return False
        self._trial_running = True
        return True

    def abstain(self) -> None:
        """A call ended without telling anything about the host (a local shortage)."""
        self._trial_running = False

    def record(self, host_failure: bool) -> None:
        """Note how a call that went out ended."""
        self._trial_running = False
        if host_failure:
            self.failures += 1
            if self.failures >= self.threshold or self.opened_at is not None:
                self.opened_at = self._clock()
        else:
            self.failures = 0
            self.opened_at = None
