"""Relay tokens (one-api / new-api) end to end over loopback: which reading, which figures."""

from __future__ import annotations

import datetime as dt
import io
import os
from decimal import Decimal

from rich.console import Console

from keyledger.client import Client
from keyledger.keyset import build_keyset
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers.openai_relay import TOKEN_USAGE, is_relay
from keyledger.render.serialize import balance_dict
from keyledger.render.table import results_table
from keyledger.secret import Fingerprinter, Secret
from keyledger.simulator import SCENARIOS, Simulator, make_key
from keyledger.simulator.responses import Responder, json_reply
from keyledger.simulator.scenario import Scenario
from keyledger.simulator.scenarios import relay_base_url
from keyledger.simulator.server import fingerprint
from keyledger.simulator.sim_openai import (
    _newapi_status,
    _oneapi_status,
    _subscription,
    _token_usage,
    _usage,
)
from keyledger.sources import Entry

from .conftest import engine_for

FP = Fingerprinter(os.urandom(32))
SUBSCRIPTION = "/v1/dashboard/billing/subscription"


async def check(client: Client, sim: Simulator, scenario: str) -> CheckResult:
    """Check one relay scenario's key at its own simulated site."""
    entry = Entry(make_key(scenario, 7), "t:1", base_url=relay_base_url(sim.url, scenario))
    keyset = build_keyset([entry], FP)
    assert keyset.errors == []
    (result,) = [r async for r in engine_for(client, sim.url).run(keyset.keys)]
    return result


def paths(sim: Simulator) -> list[str]:
    """The paths the relay sites were asked for, in order (keyless calls included)."""
    return [r.path for r in sim.state.requests if r.url.startswith("/klsite-")]


def add(sim: Simulator, name: str, **endpoints: Responder) -> str:
    """Register a relay scenario for one test (probe and models answer as a healthy relay)."""
    base = SCENARIOS["relay"].endpoints
    merged = {"models": base["models"], "chat": base["chat"], **endpoints}
    sim.state.extra_scenarios[name] = Scenario(
        name, Kind.SECRET, "test relay", Status.OK, None, merged, relay=True
    )
    return name


async def test_uncapped_token_with_empty_wallet_is_ok_with_unknown_money(
    client: Client, sim: Simulator
) -> None:
    """new-api unlimited_quota: ok, available unknown, spend from the token, never 'unlimited'."""
    result = await check(client, sim, "relay_unlimited_empty_wallet")

    balance = result.balance
    assert (result.status, result.reason, result.balance_reason) == (
        Status.OK,
        None,
        "token_unlimited",
    )
    assert balance is not None and balance.token_uncapped
    assert (balance.available, balance.used, balance.granted) == (None, Decimal("1234.56"), None)
    assert balance.currency == "USD"
    assert balance.reading == ("new-api /api/usage/token/, quota_per_unit 500000 from /api/status")
    # The token endpoint settled it: the legacy pair is never asked.
    assert paths(sim)[-2:] == ["/api/status", TOKEN_USAGE]
    assert sim.state.count(endpoint=SUBSCRIPTION) == 0


async def test_table_never_calls_an_uncapped_token_unlimited_money(
    client: Client, sim: Simulator
) -> None:
    """The table says the money is unknown and shows the spend; never 'unlimited'."""
    result = await check(client, sim, "relay_unlimited_empty_wallet")
    out = io.StringIO()
    console = Console(file=out, width=240, color_system=None, force_terminal=False)
    console.print(results_table([result], now=dt.datetime.now(dt.UTC)))

    text = out.getvalue()
    assert "token uncapped (spent 1,234.56 USD)" in text
    assert "unlimited" not in text


async def test_json_balance_records_the_reading(client: Client, sim: Simulator) -> None:
    """The JSON balance carries which reading was used."""
    result = await check(client, sim, "relay_oneapi_wallet")
    balance = balance_dict(result.balance)

    assert balance is not None and balance["reading"].startswith("one-api wallet mode")
    assert balance["available"] == "3.2"


async def test_legacy_uncapped_token_keeps_spend_and_says_so(
    client: Client, sim: Simulator
) -> None:
    """hard_limit_usd 100000000 on an unknown relay: token_uncapped, spend kept, no money."""
    result = await check(client, sim, "relay_unlimited")

    balance = result.balance
    assert (result.status, result.balance_reason) == (Status.OK, "token_unlimited")
    assert balance is not None and balance.token_uncapped
    assert (balance.available, balance.used) == (None, Decimal("1234.56"))
    assert balance.reading == "hard_limit_usd 100000000: the token has no cap"


async def test_newapi_cny_site_uses_its_quota_per_unit_and_exchange_rate(
    client: Client, sim: Simulator
) -> None:
    """quota ÷ quota_per_unit (1000000, from /api/status) × 7.2 = CNY, exactly."""
    result = await check(client, sim, "relay_newapi_cny")

    balance = result.balance
    assert (result.status, result.reason, result.balance_reason) == (Status.OK, None, None)
    assert balance is not None and balance.currency == "CNY" and not balance.token_uncapped
    assert (balance.granted, balance.used, balance.available) == (
        Decimal(360),
        Decimal(90),
        Decimal(270),
    )
    assert balance.reading == (
        "new-api /api/usage/token/, quota_per_unit 1000000 from /api/status, "
        "CNY at usd_exchange_rate 7.2"
    )
    assert balance.source == "/api/usage/token/ + /api/status"


async def test_newapi_account_is_the_wallet_with_the_default_quota_per_unit(
    client: Client, sim: Simulator
) -> None:
    """data.account is the wallet: $4 left of $20, at the default 500000 (no /api/status)."""
    result = await check(client, sim, "relay_newapi_account")

    balance = result.balance
    assert (result.status, result.balance_reason) == (Status.OK, None)
    assert balance is not None and balance.token_uncapped
    assert (balance.granted, balance.used, balance.available) == (
        Decimal(20),
        Decimal(16),
        Decimal(4),
    )
    assert balance.reading == (
        "new-api /api/usage/token/, quota_per_unit 500000 (default); wallet from data.account"
    )


async def test_token_cap_below_the_wallet_limits_what_the_key_can_spend(
    client: Client, sim: Simulator
) -> None:
    """A capped token with a fuller wallet: available is the token's $1, not the wallet's $4."""
    name = add(
        sim,
        "t_capped_wallet",
        token_usage=_token_usage(1500000, 1000000, 500000, account=(2000000, 8000000)),
    )
    balance = (await check(client, sim, name)).balance

    assert balance is not None and balance.available == Decimal(1)
    assert balance.reading is not None and "cap is below the wallet" in balance.reading


async def test_oneapi_wallet_mode_counts_the_spend_once(client: Client, sim: Simulator) -> None:
    """one-api wallet mode: hard_limit_usd is the $3.20 left; usage above it identifies it."""
    result = await check(client, sim, "relay_oneapi_wallet")

    balance = result.balance
    assert (result.status, result.reason, result.balance_reason) == (Status.OK, None, None)
    assert balance is not None
    assert (balance.granted, balance.used, balance.available) == (
        Decimal("45.00"),
        Decimal("41.80"),
        Decimal("3.2"),
    )
    assert balance.reading == (
        "one-api wallet mode (usage above hard_limit_usd): hard_limit_usd = wallet remaining"
    )
    # one-api has no token endpoint: the key is never sent there.
    assert TOKEN_USAGE not in paths(sim)


async def test_relay_without_status_uses_the_documented_reading_and_says_so(
    client: Client, sim: Simulator
) -> None:
    """No /api/status, no token endpoint: remaining = hard − used, reading 'unknown'."""
    result = await check(client, sim, "relay")

    balance = result.balance
    assert (result.status, result.balance_reason) == (Status.OK, None)
    assert balance is not None
    assert (balance.granted, balance.used, balance.available) == (
        Decimal("100.0"),
        Decimal("25.34"),
        Decimal("74.66"),
    )
    assert balance.reading == (
        "relay kind unknown (no /api/status): read as one-api token mode / new-api, "
        "hard_limit_usd = remaining + used"
    )
    assert paths(sim) == [
        "/v1/models",
        "/v1/chat/completions",
        "/api/status",
        TOKEN_USAGE,
        SUBSCRIPTION,
        "/v1/dashboard/billing/usage",
    ]


async def test_oneapi_mode_that_cannot_be_told_is_read_as_token_mode_and_said(
    client: Client, sim: Simulator
) -> None:
    """one-api, usage below the limit, no expiry: token mode (the default), flagged as a guess."""
    name = add(
        sim,
        "t_oneapi_either",
        status=_oneapi_status(500000),
        subscription=_subscription("50.0"),
        usage=_usage("1000"),
    )
    balance = (await check(client, sim, name)).balance

    assert balance is not None and balance.available == Decimal("40.0")
    assert balance.reading is not None
    assert balance.reading.startswith("one-api, token or wallet mode cannot be told")


async def test_oneapi_token_mode_is_known_from_the_token_expiry(
    client: Client, sim: Simulator
) -> None:
    """access_until is set only in one-api's token mode: remaining + used, no guess."""
    name = add(
        sim,
        "t_oneapi_token",
        status=_oneapi_status(500000),
        subscription=_subscription("50.0", 30),
        usage=_usage("1000"),
    )
    balance = (await check(client, sim, name)).balance

    assert balance is not None and balance.available == Decimal("40.0")
    assert balance.reading is not None and balance.reading.startswith("one-api token mode")


async def test_oneapi_raw_quota_display_is_divided_by_quota_per_unit(
    client: Client, sim: Simulator
) -> None:
    """display_in_currency off: the *_usd fields are raw quota, ÷ quota_per_unit = dollars."""
    name = add(
        sim,
        "t_oneapi_raw",
        status=_oneapi_status(500000, in_currency=False),
        subscription=_subscription("25000000", 30),
        usage=_usage("500000000"),  # 5000000 quota used, ×100
    )
    balance = (await check(client, sim, name)).balance

    assert balance is not None
    assert (balance.granted, balance.used, balance.available) == (
        Decimal(50),
        Decimal(10),
        Decimal(40),
    )
    assert balance.reading is not None and "quota_per_unit 500000" in balance.reading


async def test_newapi_without_token_endpoint_falls_back_to_the_pair_in_its_currency(
    client: Client, sim: Simulator
) -> None:
    """An older new-api (no token endpoint, CNY display): the pair is CNY, remaining + used."""
    name = add(
        sim,
        "t_newapi_legacy",
        status=_newapi_status(500000, "CNY"),
        token_usage=json_reply({"success": False, "message": "无效的令牌"}),
        subscription=_subscription("730.0"),
        usage=_usage("7300"),
    )
    result = await check(client, sim, name)

    balance = result.balance
    assert result.status is Status.OK
    assert balance is not None and balance.currency == "CNY"
    assert balance.available == Decimal("657.0")
    assert balance.reading == "new-api: hard_limit_usd = remaining + used"


async def test_exhausted_newapi_token_is_no_quota(client: Client, sim: Simulator) -> None:
    """A capped new-api token with nothing left is no_quota (balance_exhausted)."""
    name = add(sim, "t_newapi_spent", token_usage=_token_usage(1000000, 1000000, 0))
    result = await check(client, sim, name)

    assert (result.status, result.reason) == (Status.NO_QUOTA, "balance_exhausted")


async def test_the_key_never_reaches_the_public_status_endpoint(
    client: Client, sim: Simulator
) -> None:
    """/api/status gets no credential header; every other relay call carries the key."""
    key = make_key("relay_newapi_cny", 7)
    await check(client, sim, "relay_newapi_cny")

    status = [r for r in sim.state.requests if r.path == "/api/status"]
    assert len(status) == 1
    assert status[0].credential_fp is None and "authorization" not in status[0].header_names
    others = [r for r in sim.state.requests if r.path != "/api/status"]
    assert others and all(r.credential_fp == fingerprint(key) for r in others)
    assert all(key not in r.url for r in sim.state.requests)


def test_only_keys_with_their_own_non_openai_base_url_are_relays() -> None:
    """OpenAI's own host (or no base URL) never gets the relay calls."""
    secret = Secret("sk-" + "a" * 40)

    def key(base_url: str | None) -> Key:
        return Key(secret=secret, fingerprint="f", label="r", base_url=base_url)

    assert not is_relay(key(None))
    assert not is_relay(key("https://api.openai.com"))
    assert is_relay(key("https://relay.example"))


async def test_one_status_request_per_relay_site_however_many_tokens(
    client: Client, sim: Simulator
) -> None:
    """/api/status is public and the same for every token: one request per site and run."""
    site = relay_base_url(sim.url, "relay_newapi_cny")
    entries = [Entry(make_key("relay_newapi_cny", n), f"t:{n}", base_url=site) for n in range(6)]
    keyset = build_keyset(entries, FP)

    results = [r async for r in engine_for(client, sim.url).run(keyset.keys)]

    assert len(results) == 6 and sim.state.count(endpoint="/api/status") == 1
    readings = {(r.status, r.balance.currency, r.balance.reading) for r in results if r.balance}
    assert len(readings) == 1 and len([r for r in results if r.balance]) == 6
    assert next(iter(readings))[1] == "CNY"  # every token read with the site's units
