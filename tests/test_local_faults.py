"""Running out of file handles is this machine's problem, never the host's (issue 7, item 6)."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from keyledger import client as client_module
from keyledger import limits
from keyledger.client import Client, make_session
from keyledger.retry import decide
from keyledger.secret import Secret
from keyledger.simulator import Simulator, make_key
from keyledger.transport import LOCAL_FAULT, Fault, HttpOptions, Outcome, Request
from keyledger.wire import _fault_for

OPTS = HttpOptions(attempt_deadline=2.0, connect_timeout=1.0, backoff_base=0.001, backoff_cap=0.002)


def _emfile() -> aiohttp.ClientConnectorError:
    key = SimpleNamespace(host="relay.example", port=443, ssl=True)
    return aiohttp.ClientConnectorError(key, OSError(errno.EMFILE, "Too many open files"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "exc",
    [_emfile(), OSError(errno.ENFILE, "x"), OSError(errno.ENOBUFS, "x")],
    ids=["EMFILE-in-connect", "ENFILE", "ENOBUFS"],
)
def test_local_shortage_is_its_own_fault(exc: BaseException) -> None:
    """EMFILE/ENFILE/ENOBUFS raised locally map to local_resources, not connect/network."""
    assert _fault_for(exc, "relay.example") == Fault(LOCAL_FAULT, "relay.example")


def test_local_fault_is_retried_but_not_a_host_failure() -> None:
    """A local shortage is retried and is marked local, never a host failure."""
    decision = decide(Fault(LOCAL_FAULT), 1, OPTS, lambda: 0.5, datetime.now(UTC))
    assert decision.retry and decision.local and not decision.host_failure


async def test_emfile_never_opens_the_breaker_or_spends_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """200 requests failing with EMFILE leave the host's breaker closed and its budget full."""

    async def attempt(*args: object, **kwargs: object) -> Outcome:
        return _fault_for(_emfile(), "relay.example")

    monkeypatch.setattr(client_module, "attempt", attempt)
    async with make_session(OPTS, 4) as session:
        client = Client(session, OPTS)
        request = Request("GET", "https://relay.example/v1/models", Secret("sk-" + "a" * 40))
        exchanges = [await client.call(request) for _ in range(200)]
    host = client.host_state("relay.example")
    assert not host.breaker.is_open and host.breaker.failures == 0
    assert host.budget.tokens == OPTS.retry_budget
    assert {e.outcome for e in exchanges} == {Fault(LOCAL_FAULT, "relay.example")}
    assert {e.attempts for e in exchanges} == {OPTS.max_attempts}


def test_concurrency_is_fitted_to_the_open_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 256 handles allowed, -c 300 is lowered below 256 minus what is open and headroom."""
    monkeypatch.setattr(limits.resource, "getrlimit", lambda _: (256, 4096))
    monkeypatch.setattr(limits, "open_handles", lambda: 10)
    cap = limits.fit_concurrency(300, 300)
    assert cap.capped and cap.limit == 256
    assert cap.concurrency == cap.per_host == 256 - 10 - limits.HEADROOM
    assert not limits.fit_concurrency(100, 50).capped


def test_a_low_open_file_limit_still_checks_every_key(live_sim: Simulator, tmp_path: Path) -> None:
    """ulimit -n 64 with -c 300: every healthy key is ok, and stderr says concurrency was cut."""
    live_sim.state.latency = 0.1
    values = [make_key("ok", n) for n in range(150)]
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(v + "\n" for v in values))
    keys.chmod(0o600)

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    args = ["check", str(keys), "--base-url", live_sim.url, "-c", "300", "-f", "jsonl"]
    done = subprocess.run(
        [sys.executable, "-m", "keyledger", *args, "--no-record"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=low_limit,
        env=dict(os.environ),
    )

    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, done.stderr
    assert len(rows) == 150 and {r["status"] for r in rows} == {"ok"}
    assert "open-file limit" in done.stderr and "Traceback" not in done.stderr
