"""Fault injection (reliability.md §3, F1–F24): exact outcome and attempt count per fault."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import ssl
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from rich.console import Console

from keyledger import client as client_module
from keyledger.client import Client, make_session
from keyledger.engine import Engine, RunOptions
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers import CheckOptions
from keyledger.render.serialize import result_dict
from keyledger.render.table import results_table
from keyledger.secret import Secret
from keyledger.simulator import SimState, Simulator, closed_port
from keyledger.simulator.faults import FAULT_SPECS, SPECS, Proxy407, SilentServer, fault_key
from keyledger.transport import HttpOptions

# Short deadline, tiny backoff: a timeout fault costs 3 x 0.4 s.
OPTS = HttpOptions(attempt_deadline=0.4, connect_timeout=0.4, backoff_base=0.01, backoff_cap=0.05)
SLOW_FAULTS = {"f7_retry_after", "f7_retry_after_date", "f7_retry_after_ms"}


def make(value: str, base_url: str | None = None) -> Key:
    """A Key for ``value`` (kind from its prefix)."""
    kind = Kind.SESSION if value.startswith("sess-") else Kind.SECRET
    fp = hashlib.sha256(value.encode()).hexdigest()[:16]
    return Key(Secret(value), fp, f"k-{fp[:6]}", kind=kind, base_url=base_url)


async def check(
    keys: list[Key], base: str, options: HttpOptions = OPTS, **run: object
) -> list[CheckResult]:
    """Check ``keys`` with a fresh session; default base URL ``base``."""
    async with make_session(options, 64) as session:
        engine = Engine(
            Client(session, options),
            CheckOptions(base_urls={"openai": base}),
            RunOptions(**run),  # type: ignore[arg-type]
        )
        return [r async for r in engine.run(keys)]


async def check_one(value: str, base: str, options: HttpOptions = OPTS) -> CheckResult:
    """Check one key."""
    (result,) = await check([make(value)], base, options)
    return result


@pytest.fixture
async def target() -> AsyncIterator[Simulator]:
    """A second simulator: where cross-host redirects point."""
    async with Simulator(SimState()) as simulator:
        yield simulator


SIM_SPECS = [s for s in FAULT_SPECS if s.responder is not None and s.name not in SLOW_FAULTS]


@pytest.mark.parametrize("spec", SIM_SPECS, ids=[s.name for s in SIM_SPECS])
async def test_fault_outcome_and_attempts(spec: object, sim: Simulator, target: Simulator) -> None:
    """Each simulator fault ends with its exact status, reason and attempt count."""
    from keyledger.simulator.faults import FaultSpec

    assert isinstance(spec, FaultSpec)
    sim.state.redirect_target = target.url
    result = await check_one(fault_key(spec.name), sim.url)
    assert (result.status, result.reason) == (spec.status, spec.reason)
    assert result.attempts == spec.attempts
    assert result.status is not Status.INVALID or spec.row in ("F9", "F20")
    requests = sim.state.count(scenario=spec.name)
    assert requests == spec.attempts, "one request per attempt: nothing hidden, nothing extra"
    assert target.state.total == 0, "a redirect target never receives a request"


def test_every_row_has_a_fault() -> None:
    """Every row F1–F24 of reliability.md §3 has at least one fault scenario."""
    rows = {s.row for s in FAULT_SPECS}
    assert rows == {f"F{n}" for n in range(1, 25)}


async def test_f1_connection_refused(sim: Simulator) -> None:
    """F1: connection refused is retried with backoff: 3 attempts, unreachable/connect."""
    result = await check_one(fault_key("f1_refused"), f"http://127.0.0.1:{closed_port()}")
    assert (result.status, result.reason, result.attempts) == (Status.UNREACHABLE, "connect", 3)


async def test_f2_dns_failure_retried_once() -> None:
    """F2: a name that does not resolve gets at most one retry: 2 attempts, reason dns."""
    result = await check_one(fault_key("f2_dns"), "https://keyledger-fault.invalid")
    assert (result.status, result.reason, result.attempts) == (Status.UNREACHABLE, "dns", 2)
    text = str(result_dict(result))
    assert "keyledger-fault.invalid/" not in text, "the host may be named, never the URL"


async def test_f3_silence_total_time_bounded(sim: Simulator) -> None:
    """F3: silence costs 3 attempt deadlines plus backoff, not more."""
    started = time.monotonic()
    result = await check_one(fault_key("f3_silence"), sim.url)
    elapsed = time.monotonic() - started
    assert (result.reason, result.attempts) == ("timeout", 3)
    assert elapsed < 3 * OPTS.attempt_deadline + 2 * OPTS.backoff_cap + 2.0


async def test_h1_slowloris_ends_at_the_deadline(sim: Simulator) -> None:
    """H1/F14: a body trickling 1 byte every 2 s ends at the attempt deadline (±1 s)."""
    options = HttpOptions(attempt_deadline=1.5, max_attempts=1, backoff_base=0.01)
    started = time.monotonic()
    result = await check_one(fault_key("f14_trickle_body"), sim.url, options)
    elapsed = time.monotonic() - started
    assert (result.status, result.reason, result.attempts) == (Status.UNREACHABLE, "timeout", 1)
    assert 1.4 <= elapsed <= 2.5


class FakeTime:
    """A clock and sleep that only move when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        """Current fake monotonic time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Advance the clock without waiting."""
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("f7_retry_after", 2.0, 2.0),
        ("f7_retry_after_ms", 1.5, 1.5),
        ("f7_retry_after_date", 1.0, 3.0),
    ],
)
async def test_f7_retry_after_is_slept(sim: Simulator, name: str, low: float, high: float) -> None:
    """F7: a 429 with Retry-After (s, ms or date) sleeps in [wait, wait+jitter], then retries."""
    fake = FakeTime()
    async with make_session(OPTS, 8) as session:
        client = Client(session, OPTS, sleep=fake.sleep, clock=fake.clock)
        engine = Engine(client, CheckOptions(base_urls={"openai": sim.url}))
        (result,) = [r async for r in engine.run([make(fault_key(name))])]
    assert (result.status, result.attempts) == (Status.OK, 2)
    jitter = min(1.0, OPTS.backoff_base)
    assert len(fake.sleeps) == 1
    assert low <= fake.sleeps[0] <= high + jitter


async def test_f7_no_concurrent_retries_to_a_paused_host(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F7: while a host asked for a pause, no retry goes to it before the pause ends."""
    fake = FakeTime()
    sent: list[tuple[float, str]] = []
    real_attempt = client_module.attempt

    async def recording(
        session: object,
        request: object,
        options: HttpOptions,
        proxy: str | None = None,
        *rest: object,
    ) -> object:
        sent.append((fake.now, str(getattr(request, "secret", ""))))
        return await real_attempt(session, request, options, proxy, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(client_module, "attempt", recording)
    keys = [make(fault_key("f7_retry_after", 1)), make(fault_key("f6_503_503_200", 2))]
    async with make_session(OPTS, 8) as session:
        client = Client(session, OPTS, sleep=fake.sleep, clock=fake.clock)
        engine = Engine(client, CheckOptions(base_urls={"openai": sim.url}))
        results = [r async for r in engine.run(keys)]
    assert {r.status for r in results} == {Status.OK}
    first_time = min(t for t, _ in sent)
    retries = sorted(t for t, _ in sent)[2:]  # two first attempts, then the retries
    assert retries and all(t >= first_time + 2.0 for t in retries)


async def test_f11_html_error_page_is_never_stored(sim: Simulator) -> None:
    """F11: a Cloudflare HTML page keeps only its status; no HTML reaches the result."""
    result = await check_one(fault_key("f11_502_html"), sim.url)
    text = str(result_dict(result))
    assert "cloudflare" not in text.lower() and "<html" not in text.lower()
    assert result.evidence[-1].http_status == 502


@pytest.mark.parametrize("name", ["f15_100mb", "f15_endless", "f15_10gb_length", "f16_gzip_bomb"])
async def test_h8_body_caps_bound_memory(sim: Simulator, name: str) -> None:
    """H8/F15/F16: huge, endless and gzip-bomb bodies stop at the cap with < 50 MB allocated."""
    tracemalloc.start()
    try:
        result = await check_one(fault_key(name), sim.url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.status, result.reason, result.attempts) == (
        Status.UNKNOWN,
        "body_too_large",
        1,
    )
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.1f} MiB"


async def test_f19_redirects_never_followed(sim: Simulator, target: Simulator) -> None:
    """H7/F19: no redirect is followed, the target gets 0 requests, the key is not echoed."""
    sim.state.redirect_target = target.url
    names = ["f19_redirect_other", "f19_redirect_same", "f19_redirect_http", "f19_redirect_308"]
    values = [fault_key(n, i) for i, n in enumerate(names)]
    results = await check([make(v) for v in values], sim.url)
    assert {(r.status, r.reason, r.attempts) for r in results} == {(Status.UNKNOWN, "redirect", 1)}
    assert target.state.total == 0
    assert sim.state.count(endpoint="/v1/dashboard/billing/credit_grants") == 0
    text = str([result_dict(r) for r in results])
    assert not any(v in text or v[5:] in text for v in values)
    assert any("redirect to" in (e.message or "") for r in results for e in r.evidence)


async def test_f20_echoed_key_is_redacted(sim: Simulator) -> None:
    """F20: an error body echoing the key is kept only redacted and at most 200 characters."""
    value = fault_key("f20_echo_key")
    result = await check_one(value, sim.url)
    message = result.evidence[-1].message or ""
    assert value not in message and value[5:] not in message
    assert "[REDACTED]" in message and len(message) <= 200


async def test_f21_hostile_text_is_neutralised(sim: Simulator) -> None:
    """F21: ANSI/OSC/C1/bidi in a message never reach the terminal; markup stays literal."""
    result = await check_one(fault_key("f21_hostile_text"), sim.url)
    stored = str(result_dict(result))
    for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\u2066"):
        assert bad not in stored
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=False)
    console.print(results_table([result], now=dt.datetime.now(dt.UTC), warn_days=7))
    assert "\x1b" not in out.getvalue() and "\x9b" not in out.getvalue()


async def test_f22_pool_exhaustion_is_bounded(sim: Simulator) -> None:
    """F22: a server holding every connection gives timeouts (or an open breaker), no deadlock."""
    options = HttpOptions(
        attempt_deadline=0.3, connect_timeout=0.3, backoff_base=0.01, backoff_cap=0.02, per_host=8
    )
    keys = [make(fault_key("f22_pool_hold", n)) for n in range(60)]
    started = time.monotonic()
    async with make_session(options, 60) as session:
        client = Client(session, options)
        engine = Engine(client, CheckOptions(base_urls={"openai": sim.url}), RunOptions(60))
        results = [r async for r in engine.run(keys)]
    elapsed = time.monotonic() - started
    assert len(results) == 60
    assert {(r.status, r.reason) for r in results} <= {
        (Status.UNREACHABLE, "timeout"),
        (Status.UNKNOWN, "upstream_unavailable"),
    }
    # The client never has more than per_host requests out (the server may still be
    # noticing the last ones were abandoned, so its own count can briefly be higher).
    assert client.host_state(sim.url.split("://")[1]).peak_in_flight <= 8
    # 60 keys x 3 attempts / 8 connections x 0.3 s = 6.75 s without the breaker
    assert elapsed < 15


async def test_f23_stale_pooled_connection_is_resent(sim: Simulator) -> None:
    """F23: a dropped keep-alive socket is re-sent transparently and costs no attempt."""
    first, stale = fault_key("f13_json_as_html", 1), fault_key("f23_stale", 2)
    results = await check([make(first), make(stale)], sim.url, concurrency=1)
    by_key = {r.key.secret.reveal(): r for r in results}
    assert (by_key[stale].status, by_key[stale].attempts) == (Status.OK, 1)
    assert sim.state.count(scenario="f23_stale") == 2, "dropped once, re-sent once"


async def test_f4_reset_on_a_fresh_connection_counts_as_an_attempt(sim: Simulator) -> None:
    """F4: a reset on a new connection is the server's answer: retried as attempt 2."""
    result = await check_one(fault_key("f4_reset_once"), sim.url)
    assert (result.status, result.attempts) == (Status.OK, 2)
    assert sim.state.count(scenario="f4_reset_once") == 2


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A test certificate authority."""
    return trustme.CA()


def _server_context(ca: trustme.CA, host: str, expired: bool = False) -> ssl.SSLContext:
    now = dt.datetime.now(dt.UTC)
    if expired:
        cert = ca.issue_cert(
            host, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
        )
    else:
        cert = ca.issue_cert(host)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@pytest.mark.parametrize(
    ("case", "cert_host", "trusted", "expired"),
    [
        ("untrusted", "127.0.0.1", False, False),
        ("wrong_host", "other.example", True, False),
        ("expired", "127.0.0.1", True, True),
    ],
)
async def test_h9_bad_certificates_fail_after_one_attempt(
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    cert_host: str,
    trusted: bool,
    expired: bool,
) -> None:
    """H9/F18: untrusted, wrong-host and expired certificates give tls after exactly 1 attempt."""
    if trusted:
        bundle = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    async with Simulator(SimState(), ssl_context=_server_context(ca, cert_host, expired)) as tls:
        result = await check_one(fault_key("f18_tls"), tls.url.replace("f18", "f18"))
        assert (result.status, result.reason, result.attempts) == (Status.UNREACHABLE, "tls", 1)
        assert tls.state.total == 0, "no request is ever sent over an unverified connection"


@pytest.fixture
def unlent(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp's verified context not yet lent, and built under today's CA settings."""
    import keyledger
    from keyledger import tls

    monkeypatch.setattr(tls, "_lent", False)
    monkeypatch.setattr(keyledger, "TLS_SETTINGS_AT_START", tls.ca_settings())
    monkeypatch.setattr(tls, "_AFTER_AIOHTTP", tls.ca_settings())


def _connector_tls(session: object) -> object:
    return session.connector._ssl  # type: ignore[attr-defined]


async def test_first_session_borrows_aiohttps_verified_context_once(unlent: None) -> None:
    """The first default session uses aiohttp's verified context; the next reads the CA store."""
    async with make_session(OPTS, 1) as first, make_session(OPTS, 1) as second:
        assert _connector_tls(first) is True
        later = _connector_tls(second)
        assert isinstance(later, ssl.SSLContext)
        assert (later.verify_mode, later.check_hostname) == (ssl.CERT_REQUIRED, True)


async def test_borrowed_context_still_refuses_an_untrusted_certificate(
    ca: trustme.CA, unlent: None
) -> None:
    """A run on aiohttp's verified context refuses a certificate from an unknown CA."""
    from keyledger import tls

    async with Simulator(SimState(), ssl_context=_server_context(ca, "127.0.0.1")) as server:
        result = await check_one(fault_key("f18_tls"), server.url)
    assert tls._lent, "the run's session borrowed aiohttp's context"
    assert (result.status, result.reason, result.attempts) == (Status.UNREACHABLE, "tls", 1)
    assert server.state.total == 0


async def test_a_ca_setting_changed_after_start_builds_a_fresh_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unlent: None
) -> None:
    """SSL_CERT_FILE set after aiohttp built its context: the session reads the CA store anew."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    async with make_session(OPTS, 1) as session:
        assert isinstance(_connector_tls(session), ssl.SSLContext)


async def test_a_given_context_is_used_and_verification_forced_on(unlent: None) -> None:
    """An explicit ssl_context is the one used, with hostname and certificate checks on."""
    given = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    given.check_hostname = False
    given.verify_mode = ssl.CERT_NONE
    async with make_session(OPTS, 1, ssl_context=given) as session:
        assert _connector_tls(session) is given
    assert (given.verify_mode, given.check_hostname) == (ssl.CERT_REQUIRED, True)


async def test_h9_trusted_certificate_works(
    ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """H9 control: the same server with a trusted, matching certificate answers normally."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    async with Simulator(SimState(), ssl_context=_server_context(ca, "127.0.0.1")) as tls:
        result = await check_one(fault_key("f13_json_as_html"), tls.url)
    assert (result.status, result.attempts) == (Status.OK, 1)


async def test_f18_handshake_stall_times_out() -> None:
    """F18: a TLS handshake that never completes hits the deadline: timeout after 3 attempts."""
    async with SilentServer() as silent:
        result = await check_one(fault_key("f18_tls"), f"https://127.0.0.1:{silent.port}")
    assert (result.status, result.reason, result.attempts) == (Status.UNREACHABLE, "timeout", 3)
    assert silent.connections == 3


async def test_f24_proxy_407_keeps_the_key_inside_the_tunnel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """F24: an HTTPS_PROXY answering 407 gives unknown/proxy_auth; the proxy never sees the key."""
    value = fault_key("f24_proxy_407")
    async with Proxy407() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        result = await check_one(value, "https://api.keyledger-proxy.test")
    assert (result.status, result.reason, result.attempts) == (Status.UNKNOWN, "proxy_auth", 1)
    seen = b"".join(proxy.seen)
    assert seen.startswith(b"CONNECT api.keyledger-proxy.test:443")
    assert value.encode() not in seen and value[5:13].encode() not in seen


def test_fault_table_names_are_unique() -> None:
    """Each fault name is unique and selects its own scenario."""
    assert len(SPECS) == len(FAULT_SPECS)
