"""F25: 1,000 keys with a seeded mix of faults; every key gets exactly one, expected result."""

from __future__ import annotations

import hashlib
import random
from collections import Counter

from keyledger.client import Client, make_session
from keyledger.engine import Engine, RunOptions
from keyledger.models import Key, Kind, Status
from keyledger.providers import CheckOptions
from keyledger.secret import Secret
from keyledger.simulator import Simulator, make_key
from keyledger.simulator.faults import FAULT_SPECS, fault_key

# The 2 s Retry-After waits pause the whole host (F7): left to their own tests.
SKIP = {"f7_retry_after", "f7_retry_after_date", "f7_retry_after_ms"}
MIX = [s for s in FAULT_SPECS if s.responder is not None and s.name not in SKIP]


def _key(value: str) -> Key:
    fp = hashlib.sha256(value.encode()).hexdigest()[:16]
    return Key(Secret(value), fp, fp[:6], kind=Kind.SESSION)


async def test_f25_mixed_chaos_one_result_per_key(sim: Simulator) -> None:
    """F25: seeded 1000-key chaos (about half healthy): one result each, counts as expected."""
    from keyledger.transport import HttpOptions

    rng = random.Random(25)
    expected: Counter[tuple[Status, str | None]] = Counter()
    keys = []
    for n in range(1000):
        if rng.random() < 0.5:
            keys.append(_key(make_key("grants", n)))
            expected[(Status.OK, None)] += 1
        else:
            spec = rng.choice(MIX)
            keys.append(_key(fault_key(spec.name, n)))
            expected[(spec.status, spec.reason)] += 1
    # Breaker and budget out of the way, so every outcome is the fault's own (H6 has its tests).
    options = HttpOptions(
        attempt_deadline=0.5,
        connect_timeout=0.5,
        backoff_base=0.01,
        backoff_cap=0.02,
        breaker_threshold=10**9,
        retry_budget=10**9,
    )
    sim.state.record = False
    # 64 in flight, not 200: the simulator shares the test's event loop, so every request
    # waits behind the others' turns, and at 200 on a busy machine that wait alone came near
    # the 0.5 s attempt deadline (a reset or a short body then ended as a timeout).
    async with make_session(options, 64) as session:
        engine = Engine(
            Client(session, options), CheckOptions(base_urls={"openai": sim.url}), RunOptions(64)
        )
        results = [r async for r in engine.run(keys)]
    assert len(results) == 1000
    assert Counter(r.key.fingerprint for r in results) == Counter(k.fingerprint for k in keys)
    got = Counter((r.status, r.reason) for r in results)
    assert got == expected
    # Requests: each attempt is one request, plus at most 2 re-sends on a stale pooled socket.
    attempts = sum(r.attempts for r in results)
    assert attempts <= 3 * 1000
    assert attempts <= sim.state.total <= 3 * attempts
