"""Expiry times a vendor sends: always UTC-aware, a far-future sentinel is "no expiry" (None),
and no ISO text or Unix number ever escapes as an exception."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger.client import Client
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.money import NO_EXPIRY_YEAR, from_iso, from_unix
from keyledger.providers import CheckOptions
from keyledger.providers.declarative import provider_from, read_balances
from keyledger.providers.declarative_load import parse_definition
from keyledger.providers.openrouter import OpenRouterProvider
from keyledger.secret import Secret
from keyledger.simulator import Scenario, SimState, Simulator, make_key
from keyledger.simulator.responses import json_reply

TOML = """
name = "xrelay"
title = "A relay whose balance answer carries its token's expiry"
base_url = "https://xrelay.example/v1"

[request]
path = "/api/balance"

[[balances]]
currency = "USD"
available = "data.usd"
expires = "data.expires_at"
"""
DEFINITION = parse_definition(TOML, "tests/xrelay.toml")
XRELAY = provider_from(DEFINITION)
OPENROUTER = OpenRouterProvider()
NOW = datetime(2026, 5, 1, tzinfo=UTC)

# What a vendor may send as an expiry, and what keyledger must hold: a UTC time or None.
EXPIRIES: dict[str, tuple[object, datetime | None]] = {
    "negative_offset": ("2026-12-31T23:59:59-08:00", datetime(2027, 1, 1, 7, 59, 59, tzinfo=UTC)),
    "positive_offset": ("2027-01-01T05:30:00+05:30", datetime(2027, 1, 1, tzinfo=UTC)),
    "naive_is_utc": ("2026-12-31T23:59:59", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    "zulu": ("2026-12-31T23:59:59Z", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    "never_negative_offset": ("9999-12-31T23:59:59-08:00", None),
    "never_utc": ("9999-12-31T23:59:59Z", None),
    "never_positive_offset": ("9999-12-31T23:59:59+14:00", None),
    "year_one_positive_offset": ("0001-01-01T00:00:00+01:00", None),
    "unix_seconds": (1798761599, datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    "unix_text": ("1798761599", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    "unix_never_minus_one": (-1, None),
    "unix_never_zero": (0, None),
    "unix_year_9999": (253402300799, None),
    "unix_milliseconds_of_year_10000": (253402300800000, None),
    "unix_huge_float": (1e20, None),
    "unix_huge_text": ("100000000000000000000", None),
}


def _key(provider: str, scenario: str, base_url: str) -> Key:
    secret = make_key(scenario, 1, kind=Kind.SECRET)
    return Key(Secret(secret), "fp-" + scenario, scenario.upper(), provider, base_url=base_url)


async def _check_xrelay(client: Client, sim: Simulator, name: str, value: object) -> CheckResult:
    body = {"data": {"usd": "4.50", "expires_at": value}}
    sim.state.extra_scenarios[name] = Scenario(
        name, Kind.SECRET, name, Status.OK, None, {"*": json_reply(body)}, provider="xrelay"
    )
    key = _key("xrelay", name, f"{sim.url}/v1")
    return await XRELAY.check(client, key, CheckOptions(now=lambda: NOW))


@pytest.mark.parametrize("name", list(EXPIRIES))
async def test_a_declared_relays_expiry_is_utc_or_none(
    client: Client, sim: Simulator, name: str
) -> None:
    """A TOML provider's expiry is held in UTC; a "never" sentinel is None; the key stays ok."""
    value, expected = EXPIRIES[name]

    result = await _check_xrelay(client, sim, name, value)

    assert (result.status, result.reason) == (Status.OK, None)
    assert result.balance is not None and result.balance.available == Decimal("4.50")
    assert result.balance.expires_at == expected
    if expected is not None:
        assert result.balance.expires_at.tzinfo is UTC  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-31T23:59:59-08:00", datetime(2027, 1, 1, 7, 59, 59, tzinfo=UTC)),
        ("9999-12-31T23:59:59-08:00", None),
        ("9999-12-31T23:59:59Z", None),
    ],
)
async def test_an_openrouter_key_expiry_is_utc_or_none(
    client: Client, sim: Simulator, value: str, expected: datetime | None
) -> None:
    """OpenRouter's ISO ``expires_at`` is held in UTC; a far-future sentinel means no expiry."""
    data = {"limit": 25, "usage": 7.5, "limit_remaining": 17.5, "expires_at": value}
    answers = {
        "openrouter_key": json_reply({"data": data}),
        "openrouter_credits": json_reply({"error": {"message": "Only management keys"}}, 403),
    }
    sim.state.extra_scenarios["or_expiry"] = Scenario(
        "or_expiry", Kind.SECRET, "expiry", Status.OK, None, answers, provider="openrouter"
    )
    key = _key("openrouter", "or_expiry", f"{sim.url}/api/v1")

    result = await OPENROUTER.check(client, key, CheckOptions(now=lambda: NOW))

    assert result.status is Status.OK, result.reason
    assert result.balance is not None and result.balance.expires_at == expected


def test_a_never_expiring_relay_token_is_recorded_in_a_complete_run(  # type: ignore[no-untyped-def]
    tmp_path: Path, isolated_env: Path, run_cli
) -> None:
    """``check`` records a token that never expires (UTC-8 sentinel) with no expiry, and
    one with an offset in UTC; the run is complete, none of its results dropped."""
    from keyledger.cli.demo import simulator_thread

    answers = {"xr_never": "9999-12-31T23:59:59-08:00", "xr_offset": "2026-12-31T23:59:59-08:00"}
    extra = {
        name: Scenario(
            name,
            Kind.SECRET,
            name,
            Status.OK,
            None,
            {"*": json_reply({"data": {"usd": "4.50", "expires_at": value}})},
            provider="xrelay",
        )
        for name, value in answers.items()
    }
    definition = tmp_path / "xrelay.toml"
    definition.write_text(TOML)
    with simulator_thread(SimState(extra_scenarios=extra)) as sim:
        keys = tmp_path / "keys.txt"
        keys.write_text(
            "".join(
                f"{name.upper()} {make_key(name, 1, kind=Kind.SECRET)} provider=xrelay "
                f"base_url={sim.url}/v1\n"
                for name in answers
            )
        )
        proc = run_cli("check", str(keys), "--providers", str(definition), "-f", "json")

    rows = {r["label"]: r for r in json.loads(proc.stdout)["results"]}
    assert rows["XR_NEVER"]["status"] == "ok" and rows["XR_NEVER"]["balance"]["expires_at"] is None
    assert rows["XR_OFFSET"]["balance"]["expires_at"] == "2027-01-01T07:59:59Z"
    with sqlite3.connect(isolated_env / "ledger.db") as conn:
        runs = conn.execute("SELECT status, results_recorded FROM runs").fetchall()
        stored = conn.execute("SELECT balance_expires_at FROM results ORDER BY label").fetchall()
    assert runs == [("complete", 2)]
    assert stored == [(None,), ("2027-01-01T07:59:59.000000Z",)]


def _utc_or_none(moment: datetime | None) -> None:
    """A time keyledger holds: None, or aware, in UTC, before the no-expiry year."""
    if moment is not None:
        assert moment.tzinfo is UTC and moment.utcoffset() == timedelta(0)
        assert moment.year < NO_EXPIRY_YEAR
        assert moment.astimezone(UTC) == moment  # converting again cannot overflow


_MOMENTS = st.one_of(
    st.datetimes(),
    st.datetimes(min_value=datetime(9999, 12, 30)),  # "never" sentinels near the last year
    st.datetimes(max_value=datetime(1, 1, 2)),  # and zero-like ones near the first
)
_OFFSETS = st.one_of(
    st.just(""),
    st.just("Z"),
    st.builds(
        lambda sign, hours, minutes: f"{sign}{hours:02d}:{minutes:02d}",
        st.sampled_from("+-"),
        st.integers(0, 23),
        st.integers(0, 59),
    ),
)
_ISO_SHAPE = r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?([+-]\d{2}:\d{2}|Z)?"
_ISO = st.builds(lambda moment, offset: moment.isoformat() + offset, _MOMENTS, _OFFSETS)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        _ISO,
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        st.text(max_size=48),
        st.from_regex(_ISO_SHAPE, fullmatch=True),
    )
)
def test_any_iso_text_is_utc_or_none(text: str) -> None:
    """Any ISO 8601 (or other) text a vendor sends reads as a UTC time or None, never raises."""
    moment = from_iso(text)
    _utc_or_none(moment)
    if moment is not None:  # the same instant as written (a naive time is UTC)
        written = datetime.fromisoformat(text.strip())
        assert moment == (written if written.tzinfo else written.replace(tzinfo=UTC))


_UNIX: st.SearchStrategy[Any] = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**80), max_value=10**80),
    st.integers(min_value=253402200000, max_value=253402400000),  # around the year 10000
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers().map(str),
    st.floats().map(repr),
    st.text(max_size=30),
    st.booleans(),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(_UNIX)
def test_any_unix_number_is_utc_or_none(value: object) -> None:
    """Any Unix number (seconds, milliseconds, 1e20, junk) reads as a UTC time or None."""
    _utc_or_none(from_unix(value))


@settings(max_examples=200, deadline=None)
@given(st.one_of(_UNIX, st.text(max_size=48), st.lists(st.integers(), max_size=2)))
def test_a_declared_expiry_of_any_value_is_utc_or_none(value: object) -> None:
    """Whatever a relay puts at its expiry path, the balance reads with a UTC expiry or None."""
    (balance,) = read_balances(DEFINITION, {"data": {"usd": "1", "expires_at": value}}, NOW)
    _utc_or_none(balance.expires_at)
