"""Anthropic, xAI and Gemini checked end to end against the simulator over loopback HTTP."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import click
import pytest
from aiohttp import web

from keyledger.cli.provider_flags import provider_options
from keyledger.client import Client
from keyledger.engine import Engine, RunOptions
from keyledger.keyset import build_keyset
from keyledger.models import CheckResult, Kind, Status
from keyledger.providers import CheckOptions, anthropic_admin
from keyledger.render.serialize import result_dict
from keyledger.secret import Fingerprinter, Secret
from keyledger.simulator import SCENARIOS, Scenario, Simulator, make_key
from keyledger.simulator.responses import Ctx, Responder, dynamic
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.simulator.server import fingerprint
from keyledger.simulator.sim_xai import _prepaid, key_record
from keyledger.sources import Entry

FP = Fingerprinter(os.urandom(32))
VENDORS = ("anthropic", "xai", "gemini")
MINE = sorted(name for name, s in SCENARIOS.items() if s.provider in VENDORS)
MANAGEMENT_KEY = make_key("xai_management", 99)


async def check(
    client: Client, sim: Simulator, scenarios: list[str], **provider_opts: Any
) -> dict[str, CheckResult]:
    """Check one key per scenario (labelled ``k<n>``), results by scenario name."""
    entries = [
        Entry(make_key(name, n), f"t:{n}", label=f"k{n}") for n, name in enumerate(scenarios)
    ]
    keyset = build_keyset(entries, FP)
    assert keyset.errors == []
    urls = {**provider_base_urls(sim.url), "xai-management": sim.url}
    engine = Engine(
        client, CheckOptions(base_urls=urls, provider_options=provider_opts), RunOptions()
    )
    results = {r.key.label: r async for r in engine.run(keyset.keys)}
    return {name: results[f"k{n}"] for n, name in enumerate(scenarios)}


async def test_every_vendor_scenario_gets_its_expected_status(
    client: Client, sim: Simulator
) -> None:
    """Each Anthropic, xAI and Gemini scenario ends with its documented status and reason."""
    results = await check(client, sim, MINE)
    got = {name: (r.key.provider, r.status, r.reason) for name, r in results.items()}
    want = {
        n: (SCENARIOS[n].provider, SCENARIOS[n].expect, SCENARIOS[n].expect_reason) for n in MINE
    }
    assert got == want
    assert len(MINE) >= 25


async def test_anthropic_key_travels_in_x_api_key_and_reads_tier(
    client: Client, sim: Simulator
) -> None:
    """Anthropic gets the key in x-api-key with anthropic-version; the tier comes from headers."""
    result = (await check(client, sim, ["anthropic_ok"]))["anthropic_ok"]
    assert result.tier == "tier 4"
    assert result.rate_limits is not None and result.rate_limits.requests_limit == 4000
    assert result.balance is None and result.balance_reason == "not_exposed"
    assert result.models is not None and "claude-haiku-4-5" in result.models
    paths = [r.path for r in sim.state.requests]
    assert paths == ["/v1/models", "/v1/messages/count_tokens"]
    for record in sim.state.requests:
        assert "x-api-key" in record.header_names and "anthropic-version" in record.header_names
        assert "authorization" not in record.header_names


async def test_anthropic_spend_limit_sets_retry_at(client: Client, sim: Simulator) -> None:
    """The usage-limit stop is no_quota until the date in its text."""
    result = (await check(client, sim, ["anthropic_usage_limit"]))["anthropic_usage_limit"]
    assert result.status is Status.NO_QUOTA
    assert result.retry_at == datetime(2026, 12, 1, tzinfo=UTC)


async def test_anthropic_admin_spend_is_exact_per_workspace(client: Client, sim: Simulator) -> None:
    """Cost-report cents become exact dollars, summed over pages and per workspace."""
    result = (await check(client, sim, ["anthropic_admin"]))["anthropic_admin"]
    assert result.key.kind is Kind.ADMIN
    spend = result.spend
    assert spend is not None and not spend.truncated
    assert (spend.amount, spend.currency) == (Decimal("128.46"), "USD")
    assert {(p.project_id, p.amount) for p in spend.by_project} == {
        ("wrkspc_a", Decimal("123.46")),
        ("default", Decimal("5.00")),
    }
    assert sim.state.count(endpoint="/v1/organizations/cost_report") == 2


async def test_anthropic_admin_page_cap_marks_spend_a_lower_bound(
    client: Client, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paging stops at the cap; the sum so far is flagged truncated."""
    monkeypatch.setattr(anthropic_admin, "MAX_PAGES", 1)
    result = (await check(client, sim, ["anthropic_admin"]))["anthropic_admin"]
    assert result.spend is not None and result.spend.truncated
    assert result.spend.amount == Decimal("128.4567")
    assert result.balance_reason == "costs_truncated"


async def test_gemini_key_is_never_in_a_url_and_tier_is_read(
    client: Client, sim: Simulator
) -> None:
    """Gemini keys go only in x-goog-api-key; the Imagen probe tells free from paid."""
    results = await check(client, sim, ["gemini_free", "gemini_paid", "gemini_invalid"])
    assert results["gemini_free"].tier == "free" and results["gemini_paid"].tier == "paid"
    assert results["gemini_free"].balance_reason == "not_exposed"
    keys = [r.key.secret.reveal() for r in results.values()]
    assert sim.state.requests
    for record in sim.state.requests:
        assert "x-goog-api-key" in record.header_names
        assert "authorization" not in record.header_names
        assert not any(k in record.url for k in keys)
        assert "key=" not in record.url


async def test_xai_balance_with_a_management_key(client: Client, sim: Simulator) -> None:
    """With a management key, the team's negative-cents ledger becomes dollars of credit."""
    names = ["xai_ok", "xai_empty_team", "xai_no_total", "xai_wrong_team"]
    results = await check(client, sim, names, xai={"management_key_env": Secret(MANAGEMENT_KEY)})
    funded = results["xai_ok"]
    assert funded.status is Status.OK and funded.balance is not None
    assert (funded.balance.available, funded.balance.currency) == (Decimal("10.00"), "USD")
    assert funded.account is not None and funded.account.organization == "team-funded"
    empty = results["xai_empty_team"].balance
    assert empty is not None and empty.available == Decimal(0) and not empty.available.is_signed()
    assert results["xai_no_total"].balance is None
    assert results["xai_no_total"].balance_reason == "balance_unreadable"
    assert results["xai_wrong_team"].balance_reason == "wrong_team"
    assert all(r.status is Status.OK for r in results.values())


async def test_xai_management_key_reaches_only_the_management_api(
    client: Client, sim: Simulator
) -> None:
    """The management key is sent only to the balance path; the API key never is."""
    results = await check(
        client, sim, ["xai_ok"], xai={"management_key_env": Secret(MANAGEMENT_KEY)}
    )
    api_fp = fingerprint(results["xai_ok"].key.secret.reveal())
    seen = {(r.path.split("/")[2], r.credential_fp) for r in sim.state.requests}
    assert seen == {("api-key", api_fp), ("billing", fingerprint(MANAGEMENT_KEY))}
    assert MANAGEMENT_KEY[12:] not in repr(results)


async def test_xai_without_management_key_says_why_no_balance(
    client: Client, sim: Simulator
) -> None:
    """No management key: status only, and the result says what is missing."""
    result = (await check(client, sim, ["xai_ok"]))["xai_ok"]
    assert (result.status, result.balance, result.balance_reason) == (
        Status.OK,
        None,
        "needs_management_key",
    )
    assert sim.state.count(endpoint="/v1/api-key") == sim.state.total == 1


def test_management_key_option_reads_the_named_variable() -> None:
    """--xai-management-key-env NAME becomes a Secret; a missing or key-like NAME is refused
    without echoing it."""
    key = "xai-" + "Zr4Tq8Wm2Xn6Yb0Vc3Ud7Se1Zr4Tq8Wm"
    opts = provider_options(
        {"provider_opt__xai__management_key_env": "XAI_MGMT"}, {"XAI_MGMT": key}
    )
    secret = opts["xai"]["management_key_env"]
    assert isinstance(secret, Secret) and secret.reveal() == key
    assert provider_options({"provider_opt__xai__management_key_env": None}, {}) == {}
    with pytest.raises(click.UsageError, match="not set"):
        provider_options({"provider_opt__xai__management_key_env": "XAI_MGMT"}, {})
    with pytest.raises(click.UsageError) as caught:
        provider_options({"provider_opt__xai__management_key_env": key}, {})
    assert key not in str(caught.value) and key[4:12] not in str(caught.value)


def test_a_bad_management_key_env_name_is_reported_readably(run_cli) -> None:  # type: ignore[no-untyped-def]
    """The refusal names the option in words, so the redactor leaves nothing cut out."""
    keys = make_key("ok") + "\n"
    proc = run_cli(
        "check", "-", "--xai-management-key-env", "not a name", "--no-record", stdin=keys
    )
    assert proc.code == 2
    assert "the xAI management key option takes the NAME of an environment variable" in (
        proc.stderr
    )
    assert "REDACTED" not in proc.stderr and "not a name" not in proc.stderr
    unset = run_cli(
        "check", "-", "--xai-management-key-env", "KL_UNSET_VAR", "--no-record", stdin=keys
    )
    assert "the xAI management key option: environment variable KL_UNSET_VAR is not set" in (
        unset.stderr
    )


async def test_xai_team_id_echoing_the_key_never_reaches_the_result(
    client: Client, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team id carrying a run of the key's body (put into the balance URL) is redacted."""

    def echo_team(request: web.Request, ctx: Ctx) -> Responder:
        return key_record(f"team-{ctx.key[-30:]}")

    name = "xai_echo_team"
    scenario = Scenario(
        name,
        Kind.SECRET,
        "team id echoes the key",
        Status.OK,
        None,
        endpoints={"xai_api_key": dynamic(echo_team), "*": dynamic(_prepaid)},
        provider="xai",
        key_prefix="xai-",
    )
    sim.state.extra_scenarios[name] = scenario
    monkeypatch.setitem(SCENARIOS, name, scenario)  # make_key gives it an xai- key
    result = (await check(client, sim, [name], xai={"management_key_env": Secret(MANAGEMENT_KEY)}))[
        name
    ]
    body = result.key.secret.reveal().removeprefix("xai-")
    assert any("/billing/teams/" in e.endpoint for e in result.evidence)
    text = json.dumps(result_dict(result), default=str)
    pieces = {body[i : i + 8] for i in range(len(body) - 7)}
    assert not [p for p in pieces if p in text]
