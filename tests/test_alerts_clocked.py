"""Alerts against the clocked simulator: runway, low-balance and grant alerts fire on exactly
the run the known spend rates predict, once, and restarts neither repeat nor drop them.

One run per simulated day, recorded in a real SQLite ledger, the rules evaluated and the alerts
delivered through a real webhook receiver on loopback, as ``watch`` does.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sqlite3
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from keyledger.alerts.rules import DEFAULT_CLEAR_RUNS

from .alert_receivers import Receiver, receiver
from .clocked_runs import ACCOUNTS, key_value, run_days

__all__ = ["receiver"]

HOOK_TOKEN = "T0kXq81vB7nP2mZ4"
SALT = secrets.token_hex(6)
SECRET = os.urandom(32)
DAYS = 45  # day 0 (T0) to day 44
HELPER = Path(__file__).with_name("clocked_runs.py")

# What the simulator's accounts are known to do (see clocked_runs.ACCOUNTS).
RELAY_AT_T0, RELAY_RATE = Decimal("74.66"), Decimal("1.50")
TEAM_AT_T0, TEAM_RATE = Decimal("110.00"), Decimal("2.50")
TRIAL_GRANT_EXPIRES_DAY = 24
RUNWAY_DAYS, EARLY_RUNWAY_DAYS, LOW_AMOUNT, GRANT_DAYS = 7, 50, Decimal(50), 3

CONFIG = f"""\
[[rules]]
name = "relay-runway"
when = "runway_below"
days = {RUNWAY_DAYS}
label = "relay"
channels = ["ops"]

[[rules]]
name = "relay-runway-early"
when = "runway_below"
days = {EARLY_RUNWAY_DAYS}
label = "relay"
channels = ["ops"]

[[rules]]
name = "team-runway"
when = "runway_below"
days = {RUNWAY_DAYS}
currency = "USD"
label = "team"
channels = ["ops"]

[[rules]]
name = "team-low"
when = "available_below"
amount = "{LOW_AMOUNT}"
currency = "USD"
label = "team"
channels = ["ops"]

[[rules]]
name = "trial-grant"
when = "grant_expiring"
days = {GRANT_DAYS}
label = "trial"
channels = ["ops"]

[channels.ops]
type = "webhook"
url_env = "OPS_HOOK"
"""


def runway(day: int, at_t0: Decimal, rate: Decimal) -> Decimal | None:
    """The runway keyledger computes on ``day``: the burn rate needs two readings (none on
    day 0); the rate is constant, so the 30-day window gives the rate itself."""
    if day < 1:
        return None
    return (at_t0 - rate * day) / rate


def first_day(holds: Callable[[int], bool]) -> int:
    """The first simulated day on which ``holds`` is true."""
    return next(day for day in range(DAYS) if holds(day))


def predicted() -> list[tuple[str, str, int]]:
    """(rule, kind, day) for every alert and recovery, from the accounts' known figures."""

    def below(at_t0: Decimal, rate: Decimal, days: int) -> Callable[[int], bool]:
        return lambda d: (r := runway(d, at_t0, rate)) is not None and r < days

    grant_clear = TRIAL_GRANT_EXPIRES_DAY  # checked on its expiry day, the grant has lapsed
    events = [
        ("relay-runway", "fired", first_day(below(RELAY_AT_T0, RELAY_RATE, RUNWAY_DAYS))),
        (
            "relay-runway-early",
            "fired",
            first_day(below(RELAY_AT_T0, RELAY_RATE, EARLY_RUNWAY_DAYS)),
        ),
        ("team-runway", "fired", first_day(below(TEAM_AT_T0, TEAM_RATE, RUNWAY_DAYS))),
        ("team-low", "fired", first_day(lambda d: TEAM_AT_T0 - TEAM_RATE * d < LOW_AMOUNT)),
        (
            "trial-grant",
            "fired",
            first_day(lambda d: d <= TRIAL_GRANT_EXPIRES_DAY <= d + GRANT_DAYS),
        ),
        ("trial-grant", "recovered", grant_clear + DEFAULT_CLEAR_RUNS - 1),
    ]
    return sorted(events, key=lambda e: (e[2], e[0]))


def test_the_predictions_are_the_crossings_worked_out_by_hand() -> None:
    """The prediction lands where the arithmetic says, including its edges."""
    assert predicted() == [
        ("relay-runway-early", "fired", 1),  # 49.77 days on day 0, but one reading: no rate
        ("trial-grant", "fired", 21),  # expiry exactly 3 days ahead counts
        ("team-low", "fired", 25),  # 50.00 on day 24 is not below 50
        ("trial-grant", "recovered", 25),  # lapsed on day 24, clear twice by day 25
        ("team-runway", "fired", 38),  # exactly 7.00 days on day 37 is not below 7
        ("relay-runway", "fired", 43),  # 7.77 on day 42, 6.77 on day 43
    ]


def ledger_events(db: Path) -> list[tuple[str, str, int]]:
    """(rule, kind, day) of every event in the ledger; run n is day n - 1."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT rule, kind, run_id FROM alert_events").fetchall()
    return sorted(((r, k, run - 1) for r, k, run in rows), key=lambda e: (e[2], e[0]))


def arrived(rec: Receiver) -> list[dict[str, Any]]:
    """The events the webhook receiver got, in order."""
    return [json.loads(hit.body)["event"] for hit in rec.hits]


def setup(tmp_path: Path, rec: Receiver) -> tuple[Path, Path, dict[str, str]]:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    env = {"OPS_HOOK": rec.url(f"/hook/{HOOK_TOKEN}")}
    return tmp_path / "ledger.db", config, env


def assert_no_secret(blob: bytes) -> None:
    """No key (nor 8 characters of its random part) and no piece of the hook's token."""
    for scenario in ACCOUNTS.values():
        value = key_value(scenario, SALT)
        tail = value.rsplit("__", 1)[-1]
        assert value.encode() not in blob
        assert not [
            tail[i : i + 8] for i in range(len(tail) - 7) if tail[i : i + 8].encode() in blob
        ]
    assert not [
        HOOK_TOKEN[i : i + 8]
        for i in range(len(HOOK_TOKEN) - 7)
        if HOOK_TOKEN[i : i + 8].encode() in blob
    ]


async def test_alerts_fire_on_the_runs_the_spend_rates_predict(
    tmp_path: Path, receiver: Receiver
) -> None:
    """45 daily runs: each alert fires on its predicted run, once, and is delivered once."""
    db, config, env = setup(tmp_path, receiver)
    await run_days(db, config, range(DAYS), secret=SECRET, salt=SALT, env=env)

    assert ledger_events(db) == predicted()
    got = arrived(receiver)
    assert [(e["rule"], e["kind"]) for e in got] == [(r, k) for r, k, _ in predicted()]
    assert len({e["event_id"] for e in got}) == len(got)
    relay = next(e for e in got if e["rule"] == "relay-runway")
    assert relay["subject"] == "relay" and relay["status"] == "ok"
    assert relay["figures"]["available USD"] == "10.16 USD"  # 74.66 - 43 x 1.50
    assert relay["figures"]["runway USD"] == "6.8 days"  # 10.16 / 1.50 = 6.77 days
    assert relay["figures"]["spend USD"] == "1.50 USD/day"
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*"))
    assert_no_secret(blob + b"".join(h.body for h in receiver.hits))


async def run_process(db: Path, config: Path, env: dict[str, str], first: int, last: int) -> bytes:
    """Days ``first``..``last`` in a new process (a restart); returns its stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HELPER),
        str(db),
        str(config),
        str(first),
        str(last),
        env={**os.environ, **env, "CLOCKED_SECRET": SECRET.hex(), "CLOCKED_SALT": SALT},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 110)
    assert proc.returncode == 0, err.decode()[-3000:]
    return out + err


async def test_restarts_neither_repeat_nor_drop_an_alert(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The same 45 days over four processes give the same alerts on the same runs, once:
    restarts just after an alert fired (day 21), inside a pending recovery (days 24-25) and
    the day before the runway crossing (day 42-43)."""
    db, config, env = setup(tmp_path, receiver)
    await run_days(db, config, range(22), secret=SECRET, salt=SALT, env=env)  # fires day 21
    logs = await run_process(db, config, env, 22, 24)  # the grant alert is not repeated
    logs += await run_process(db, config, env, 25, 42)  # the recovery streak continues
    await run_days(db, config, range(43, DAYS), secret=SECRET, salt=SALT, env=env)

    assert ledger_events(db) == predicted()
    got = arrived(receiver)
    assert [(e["rule"], e["kind"]) for e in got] == [(r, k) for r, k, _ in predicted()]
    assert len({e["event_id"] for e in got}) == len(got)
    with sqlite3.connect(db) as conn:
        pending = conn.execute("SELECT count(*) FROM alert_outbox WHERE delivered_at IS NULL")
        assert pending.fetchone() == (0,)
    assert_no_secret(logs + b"".join(h.body for h in receiver.hits))


async def test_a_crossing_whose_evaluation_was_lost_fires_on_the_next_run(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The process dies after recording day 43 but before evaluating it: the runway alert is
    not dropped, it fires once on day 44's run (a new process) with that day's figures."""
    db, config, env = setup(tmp_path, receiver)
    days = [0, 41, 42, 43, 44]
    await run_days(db, config, days[:4], secret=SECRET, salt=SALT, env=env, skip_rules=[43])
    await run_days(db, config, days[4:], secret=SECRET, salt=SALT, env=env)

    relay = [(r, k, run) for r, k, run in ledger_events(db) if r == "relay-runway"]
    assert relay == [("relay-runway", "fired", days.index(44))]  # run 5 = day 44
    (sent,) = [e for e in arrived(receiver) if e["rule"] == "relay-runway"]
    assert sent["figures"]["runway USD"] == "5.8 days"  # (74.66 - 44 x 1.50) / 1.50 = 5.77
