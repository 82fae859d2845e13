"""Retry policy: H3 matrix, full-jitter backoff (H4), Retry-After (H5), budget and breaker (H6)."""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from keyledger.client import Client, make_session
from keyledger.engine import Engine, RunOptions
from keyledger.models import Key, Kind, Status
from keyledger.providers import CheckOptions
from keyledger.retry import (
    NO_RETRY,
    Breaker,
    Decision,
    RetryBudget,
    decide,
    full_jitter,
    parse_retry_after,
)
from keyledger.secret import Secret
from keyledger.simulator import Simulator
from keyledger.simulator.faults import fault_key
from keyledger.transport import Fault, HttpOptions, Reply

NOW = datetime(2023, 9, 29, 16, 26, 37, tzinfo=UTC)  # openai-python's frozen time
OPTS = HttpOptions(attempt_deadline=2.0, connect_timeout=1.0, backoff_base=0.01, backoff_cap=0.05)


def _json(status: int, type_: str | None = None, code: str | None = None) -> Reply:
    body = json.dumps({"error": {"message": "m", "type": type_, "code": code}}).encode()
    return Reply(status, {"content-type": "application/json"}, body)


RETRIED = [
    Fault("connect"),
    Fault("timeout"),
    Fault("reset"),
    Fault("protocol"),
    Fault("network"),
    Fault("dns"),
    _json(408),
    _json(429, "requests", "rate_limit_exceeded"),
    _json(500, "server_error"),
    _json(502),
    _json(503),
    _json(504),
    _json(529, "overloaded_error"),
    Reply(200, {}, b'{"data":['),
]
NOT_RETRIED = [
    Fault("tls"),
    Fault("body_too_large"),
    Fault("proxy_auth"),
    Fault("upstream_unavailable"),
    _json(400),
    _json(401, "invalid_request_error", "invalid_api_key"),
    _json(403, "permission_error"),
    _json(404),
    _json(501),
    Reply(301, {"location": "https://elsewhere/"}, b""),
    Reply(302, {"location": "https://elsewhere/"}, b""),
    _json(429, "insufficient_quota", "insufficient_quota"),
    Reply(200, {}, b"<html><body>login</body></html>"),
    Reply(200, {}, b'{"object": "list"}'),
]


@pytest.mark.parametrize("outcome", RETRIED, ids=repr)
def test_h3_transient_outcomes_are_retried(outcome: Reply | Fault) -> None:
    """H3: connect errors, timeouts, resets, 408, 429 rate limits and 5xx are retried."""
    assert decide(outcome, 1, OPTS, lambda: 0.5, NOW).retry


@pytest.mark.parametrize("outcome", NOT_RETRIED, ids=repr)
def test_h3_determinate_outcomes_are_not_retried(outcome: Reply | Fault) -> None:
    """H3: 4xx, 501, redirects, TLS failures, spent quota and answers are never retried."""
    assert not decide(outcome, 1, OPTS, lambda: 0.5, NOW).retry


@pytest.mark.parametrize("outcome", RETRIED + NOT_RETRIED, ids=repr)
@pytest.mark.parametrize("number", [1, 2, 3])
def test_a_plain_no_retry_is_the_one_shared_decision(outcome: Reply | Fault, number: int) -> None:
    """Every decision that is a bare "do not retry" (no wait, no host failure, not local) is
    the shared NO_RETRY value; every other decision keeps its own fields."""
    decision = decide(outcome, number, OPTS, lambda: 0.5, NOW)
    if decision == Decision(False):
        assert decision is NO_RETRY
    else:
        assert decision is not NO_RETRY


def test_a_success_gets_the_shared_no_retry_decision() -> None:
    """A 2xx JSON answer (nearly every request) is decided without a new Decision."""
    assert decide(Reply(200, {}, b'{"object": "list"}'), 1, OPTS, lambda: 0.5, NOW) is NO_RETRY
    assert Decision(False) == NO_RETRY


@pytest.mark.parametrize("outcome", RETRIED, ids=repr)
def test_h3_at_most_three_attempts(outcome: Reply | Fault) -> None:
    """H3: nothing is retried after the third attempt (DNS and bad JSON after the second)."""
    assert not decide(outcome, 3, OPTS, lambda: 0.5, NOW).retry
    once = (isinstance(outcome, Fault) and outcome.reason == "dns") or (
        isinstance(outcome, Reply) and outcome.status == 200
    )
    assert decide(outcome, 2, OPTS, lambda: 0.5, NOW).retry is not once


def test_h4_backoff_exact_sequence_with_random_one() -> None:
    """H4: with random=lambda: 1 the backoff is exactly 1, 2, 4, 8, 16, 20, 20 (botocore)."""
    delays = [full_jitter(n, 1.0, 20.0, lambda: 1.0) for n in range(1, 8)]
    assert delays == [1, 2, 4, 8, 16, 20, 20]


def test_h4_backoff_bounds() -> None:
    """H4: every draw lies in [0, min(cap, base*2**(n-1))]."""
    rng = random.Random(7)
    for n in range(1, 12):
        for _ in range(200):
            delay = full_jitter(n, 0.5, 8.0, rng.random)
            assert 0.0 <= delay <= min(8.0, 0.5 * 2 ** (n - 1))


def test_h4_backoff_is_uniform() -> None:
    """H4: 10,000 draws are uniform over [0, ceiling] (chi-square over 10 bins, seeded)."""
    rng = random.Random(20240101)
    ceiling = 4.0
    bins = [0] * 10
    for _ in range(10_000):
        bins[min(9, int(full_jitter(4, 0.5, 8.0, rng.random) / ceiling * 10))] += 1
    chi2 = sum((b - 1000) ** 2 / 1000 for b in bins)
    assert chi2 < 27.88  # p = 0.001 for 9 degrees of freedom


async def test_h4_client_uses_injected_random_and_sleep(sim: Simulator) -> None:
    """H4: the client's waits come from the injected random source, through the injected sleep."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    key = _key(fault_key("f6_500"))
    async with make_session(OPTS, 4) as session:
        client = Client(session, OPTS, rand=lambda: 1.0, sleep=sleep)
        engine = Engine(client, CheckOptions(base_urls={"openai": sim.url}))
        (result,) = [r async for r in engine.run([key])]
    assert result.attempts == 3
    assert sleeps == [0.01, 0.02]


# openai-python tests/test_client.py::test_parse_retry_after_header, at their frozen time,
# with our 120 s cap: above it the value is returned and the caller does not sleep.
RETRY_AFTER_TABLE = [
    ("20", 20.0),
    ("0", None),
    ("-10", None),
    ("60", 60.0),
    ("61", 61.0),
    ("20.5", 20.5),
    ("Fri, 29 Sep 2023 16:26:57 GMT", 20.0),
    ("Fri, 29 Sep 2023 16:26:37 GMT", None),  # now
    ("Fri, 29 Sep 2023 16:26:27 GMT", None),  # in the past
    ("Fri, 29 Sep 2023 16:27:37 GMT", 60.0),
    ("Fri, 29 Sep 2023 16:28:38 GMT", 121.0),
    ("99999999999999999999999999999999999", None),
    ("Zun, 29 Sep 2023 16:26:27 GMT", None),
    ("Fri, 29 Sep 100000 16:26:57 GMT", None),
    ("", None),
    ("inf", None),
    ("nan", None),
    ("-1", None),
    ("+1", None),
    ("\xb2", None),
    ("1e3", None),
]


@pytest.mark.parametrize(("value", "expected"), RETRY_AFTER_TABLE)
def test_h5_retry_after_table(value: str, expected: float | None) -> None:
    """H5: openai-python's Retry-After edge cases parse to the wait or to None (use backoff)."""
    assert parse_retry_after({"retry-after": value}, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1500", 1.5), ("0", None), ("-5", None), ("inf", None), ("nan", None), ("", None)],
)
def test_h5_retry_after_ms(value: str, expected: float | None) -> None:
    """H5: retry-after-ms is milliseconds; bad values fall through to Retry-After or None."""
    assert parse_retry_after({"retry-after-ms": value}, NOW) == expected


def test_h5_retry_after_ms_wins_over_seconds() -> None:
    """H5: retry-after-ms is preferred to Retry-After, and a bad one falls back to it."""
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}, NOW) == 0.25
    assert parse_retry_after({"retry-after-ms": "x", "retry-after": "9"}, NOW) == 9.0


def _rate_limited(retry_after: str) -> Reply:
    reply = _json(429, "requests", "rate_limit_exceeded")
    return Reply(429, {"retry-after": retry_after}, reply.body)


def test_h5_above_cap_means_no_sleep_and_retry_at() -> None:
    """H5: a wait above 120 s is not slept: no retry, and retry_at is set."""
    decision = decide(_rate_limited("3600"), 1, OPTS, lambda: 1.0, NOW)
    assert not decision.retry
    assert decision.retry_at == NOW + timedelta(seconds=3600)


def test_h5_within_cap_sleeps_wait_plus_jitter() -> None:
    """H5: a wait within the cap is slept, plus at most min(1 s, base) of jitter."""
    decision = decide(_rate_limited("2"), 1, OPTS, lambda: 1.0, NOW)
    assert decision.retry and decision.delay == pytest.approx(2.0 + OPTS.backoff_base)


@pytest.mark.parametrize("value", ["soon", "-5", "inf", "nan", "\xb2", "9" * 35, ""])
def test_h5_invalid_falls_back_to_backoff(value: str) -> None:
    """H5: an invalid Retry-After falls back to full-jitter backoff."""
    decision = decide(_rate_limited(value), 2, OPTS, lambda: 1.0, NOW)
    assert decision.retry and decision.delay == full_jitter(2, 0.01, 0.05, lambda: 1.0)


def test_h6_budget_acquire_and_release() -> None:
    """H6: the bucket holds 500 tokens, a retry takes 5, success gives back, never above 500."""
    budget = RetryBudget(500)
    taken = 0
    while budget.acquire(5):
        taken += 1
    assert taken == 100 and not budget.acquire(1)
    budget.release(5)
    assert budget.acquire(5) and not budget.acquire(5)
    budget.release(10_000)
    assert budget.tokens == 500


def test_h6_breaker_opens_and_half_opens() -> None:
    """H6: the breaker opens after N failures, allows one trial after cooldown, then closes."""
    now = [0.0]
    breaker = Breaker(3, 10.0, clock=lambda: now[0])
    for _ in range(3):
        assert breaker.allow()
        breaker.record(True)
    assert breaker.is_open and not breaker.allow()
    now[0] = 10.5
    assert breaker.allow() and not breaker.allow(), "exactly one trial call"
    breaker.record(False)
    assert not breaker.is_open and breaker.allow()


def _key(value: str) -> Key:
    fp = hashlib.sha256(value.encode()).hexdigest()[:16]
    kind = Kind.SESSION if value.startswith("sess-") else Kind.SECRET
    return Key(Secret(value), fp, fp[:6], kind=kind)


async def _storm(sim: Simulator, options: HttpOptions) -> tuple[list[Status], list[str], float]:
    keys = [_key(fault_key("f11_503_html", n)) for n in range(1000)]
    started = time.monotonic()
    async with make_session(options, 200) as session:
        engine = Engine(
            Client(session, options), CheckOptions(base_urls={"openai": sim.url}), RunOptions(200)
        )
        results = [r async for r in engine.run(keys)]
    assert len(results) == 1000 and len({r.key.fingerprint for r in results}) == 1000
    return (
        [r.status for r in results],
        [r.reason or "" for r in results],
        time.monotonic() - started,
    )


async def test_h6_503_storm_with_breaker(sim: Simulator) -> None:
    """H6: 1000 keys against an always-503 host: ≤ 1000 + 500/5 requests, the rest fail fast."""
    sim.state.record = False
    statuses, reasons, elapsed = await _storm(sim, OPTS)
    assert set(statuses) == {Status.UNKNOWN}
    assert set(reasons) <= {"server_error", "upstream_unavailable"}
    # slack: one half-open trial per cooldown (30 s); none fits in this run
    assert sim.state.total <= 1000 + 500 // 5
    assert reasons.count("upstream_unavailable") >= 800, "the breaker opened early"
    assert elapsed < 20


async def test_h6_503_storm_budget_alone(sim: Simulator) -> None:
    """H6: with the breaker out of the way, the retry budget alone caps requests at 1000 + 100."""
    sim.state.record = False
    options = HttpOptions(
        attempt_deadline=2.0, backoff_base=0.001, backoff_cap=0.002, breaker_threshold=10**9
    )
    _, reasons, _ = await _storm(sim, options)
    assert set(reasons) == {"server_error"}
    assert sim.state.total == 1000 + 500 // 5
