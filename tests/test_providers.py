"""The OpenAI checks end to end against the simulator over real loopback HTTP."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from keyledger.client import Client
from keyledger.keyset import build_keyset
from keyledger.models import CheckResult, Kind, Status
from keyledger.providers.base import month_start
from keyledger.providers.openai_session import parse_grants
from keyledger.secret import Fingerprinter
from keyledger.simulator import SCENARIOS as ALL_SCENARIOS
from keyledger.simulator import Simulator, make_key
from keyledger.simulator.scenarios import relay_base_url, scenario_of
from keyledger.sources import Entry

from .conftest import engine_for

FP = Fingerprinter(os.urandom(32))
SCENARIOS = {
    n: s for n, s in ALL_SCENARIOS.items() if s.provider == "openai"
}  # other vendors: their own tests


async def check_all(client: Client, sim: Simulator, entries: list[Entry]) -> dict[str, CheckResult]:
    """Check entries against the simulator, results by scenario (or label)."""
    keyset = build_keyset(entries, FP)
    assert keyset.errors == []
    engine = engine_for(client, sim.url)
    return {
        scenario_of(r.key.secret.reveal()) or r.key.label.lower() or "": r
        async for r in engine.run(keyset.keys)
    }


def entry(scenario: str, n: int = 0, relay_url: str | None = None) -> Entry:
    """A key file entry for a simulator scenario, labelled with the scenario name in capitals
    (a label spelling a piece of its own key is refused), other vendors' keys pinned to theirs."""
    base = relay_base_url(relay_url, scenario) if relay_url and SCENARIOS[scenario].relay else None
    provider = SCENARIOS[scenario].provider
    pin = None if provider == "openai" else provider
    return Entry(
        make_key(scenario, n), f"t:{n}", label=scenario.upper(), provider=pin, base_url=base
    )


async def test_every_scenario_gets_its_expected_status(client: Client, sim: Simulator) -> None:
    """Each OpenAI simulator scenario is classified as it is documented to be (other
    providers' scenarios: tests/test_provider_contract.py)."""
    openai = {n: s for n, s in SCENARIOS.items() if s.provider == "openai"}
    results = await check_all(
        client, sim, [entry(name, n, sim.url) for n, name in enumerate(openai)]
    )

    got = {name: (r.status, r.reason) for name, r in results.items()}
    want = {name: (s.expect, s.expect_reason) for name, s in openai.items()}
    assert got == want


async def test_session_grants_are_exact_and_expired_grants_are_not_counted(
    client: Client, sim: Simulator
) -> None:
    """Session keys get exact Decimal totals; an expired grant is flagged and left out."""
    result = (await check_all(client, sim, [entry("grants")]))["grants"]

    balance = result.balance
    assert balance is not None and result.key.kind is Kind.SESSION
    assert balance.currency == "USD"
    assert balance.source == "/dashboard/billing/credit_grants"
    assert balance.granted == Decimal("73.00") and balance.used == Decimal("19.75")
    assert balance.available == Decimal("49.25")  # 11.75 + 37.50; the expired 4.00 is excluded
    assert balance.reported_available == Decimal("53.25")  # the API's total still counts it
    assert [g.expired for g in balance.grants] == [False, False, True]
    assert balance.next_expiry is not None
    assert balance.next_expiry - datetime.now(UTC) < timedelta(days=31)


async def test_secret_key_reads_rate_limits_models_and_needs_session_key(
    client: Client, sim: Simulator
) -> None:
    """A working project key: models listed, RPM/TPM read, balance missing with its reason."""
    result = (await check_all(client, sim, [entry("ok")]))["ok"]

    assert result.status is Status.OK
    assert result.balance is None and result.balance_reason == "needs_session_key"
    assert result.models is not None and "gpt-4o-mini" in result.models
    assert result.rate_limits is not None
    assert (result.rate_limits.requests_limit, result.rate_limits.tokens_limit) == (5000, 2000000)
    assert result.account is not None and result.account.organization is not None


async def test_probe_is_a_rejected_chat_completion(client: Client, sim: Simulator) -> None:
    """The quota probe is a POST that validation must reject: max_tokens -1, empty message."""
    await check_all(client, sim, [entry("ok")])

    posts = [r for r in sim.state.requests if r.method == "POST"]
    assert [r.path for r in posts] == ["/v1/chat/completions"]


async def test_relay_balance_is_limit_minus_usage_in_cents(client: Client, sim: Simulator) -> None:
    """Relay remaining = hard_limit_usd − total_usage/100, exactly, with the token expiry."""
    result = (await check_all(client, sim, [entry("relay", relay_url=sim.url)]))["relay"]

    balance = result.balance
    assert balance is not None
    assert (balance.granted, balance.used, balance.available) == (
        Decimal("100.0"),
        Decimal("25.34"),
        Decimal("74.66"),
    )
    assert balance.expires_at is not None and not balance.token_uncapped


async def test_relay_unlimited_has_no_available_figure(client: Client, sim: Simulator) -> None:
    """100000000 means an uncapped token: no made-up available figure, usage still reported."""
    result = (await check_all(client, sim, [entry("relay_unlimited", relay_url=sim.url)]))[
        "relay_unlimited"
    ]

    assert result.status is Status.OK
    assert result.balance is not None and result.balance.token_uncapped
    assert result.balance.available is None and result.balance.used == Decimal("1234.56")
    assert result.balance_reason == "token_unlimited"


async def test_admin_costs_follow_every_page(client: Client, sim: Simulator) -> None:
    """Admin spend sums all three pages and breaks it down per project, in dollars."""
    result = (await check_all(client, sim, [entry("admin")]))["admin"]

    spend = result.spend
    assert spend is not None and result.status is Status.OK
    assert spend.amount == Decimal("31.00") and spend.currency == "USD"
    assert {p.project_id: p.amount for p in spend.by_project} == {
        "proj_alpha": Decimal("23.25"),
        "proj_beta": Decimal("7.69"),
        "proj_gamma": Decimal("0.06"),
    }
    assert sim.state.count(endpoint="/v1/organization/costs") == 3


async def test_keys_are_sent_only_in_headers(client: Client, sim: Simulator) -> None:
    """No request URL carries a key, and every request carries exactly one credential."""
    openai = [n for n, s in SCENARIOS.items() if s.provider == "openai"]  # others: contract
    keys = [make_key(name, n) for n, name in enumerate(openai)]
    await check_all(client, sim, [entry(name, n, sim.url) for n, name in enumerate(openai)])

    for record in sim.state.requests:
        assert not any(k in record.url for k in keys)
        public = record.path == "/api/status"  # a relay's public status gets no key at all
        assert ("authorization" in record.header_names) is not public
        assert "x-api-key" not in record.header_names


async def test_unknown_key_prefixes_reach_nobody(client: Client, sim: Simulator) -> None:
    """Ambiguous and unrecognised key shapes are never sent anywhere unless pinned (S8)."""
    entries = [
        Entry("sk-" + "0123456789abcdef" * 2, "t:3", label="deepseek-shape"),
        Entry("zz-" + "Q7rZk2LmN8sVx4pE" * 2, "t:4", label="unknown-shape"),
    ]
    results = await check_all(client, sim, entries)

    assert sim.state.total == 0
    assert {r.reason for r in results.values()} == {"unrecognized_key", "ambiguous_provider"}
    assert all(r.status is Status.UNKNOWN for r in results.values())


def test_grant_parsing_handles_integers_floats_and_missing_expiry() -> None:
    """credit_grants with integer amounts, float timestamps and no grants parse exactly."""
    now = datetime(2023, 4, 5, tzinfo=UTC)
    data = {
        "object": "credit_summary",
        "total_granted": 18,
        "total_used": Decimal("0.6284545"),
        "total_available": Decimal("17.3715455"),
        "grants": {
            "object": "list",
            "data": [
                {
                    "object": "credit_grant",
                    "id": "a1",
                    "grant_amount": 18,
                    "used_amount": Decimal("0.6284545"),
                    "effective_at": Decimal("1673740800.0"),
                    "expires_at": Decimal("1682899200.0"),
                }
            ],
        },
    }

    balance = parse_grants(data, now)

    assert balance is not None
    assert balance.available == Decimal("17.3715455")
    assert balance.grants[0].expires_at == datetime(2023, 5, 1, tzinfo=UTC)
    empty = parse_grants(
        {"total_granted": 0.0, "total_used": 0.0, "total_available": 0.0, "grants": {"data": []}},
        now,
    )
    assert empty is not None and empty.available == 0


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (datetime(2026, 11, 25, 13, 5, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_month_start(now: datetime, start: datetime) -> None:
    """Admin spend covers the calendar month so far, in UTC."""
    assert month_start(now) == start


async def test_relay_huge_limit_is_a_real_limit_not_unlimited(
    client: Client, sim: Simulator
) -> None:
    """Only exactly 100000000 means unlimited; a captured 2000000000.003902 is a real limit."""
    from keyledger.simulator import Scenario
    from keyledger.simulator.responses import json_reply

    sim.state.extra_scenarios["huge"] = Scenario(
        "huge",
        Kind.SECRET,
        "anyrouter-style capture",
        Status.OK,
        None,
        {
            "models": SCENARIOS["relay"].endpoints["models"],
            "chat": SCENARIOS["relay"].endpoints["chat"],
            "subscription": json_reply(
                {
                    "object": "billing_subscription",
                    "hard_limit_usd": Decimal("2000000000.003902"),
                    "access_until": 0,
                }
            ),
            "usage": json_reply({"object": "list", "total_usage": Decimal("1234.5")}),
        },
        relay=True,
    )
    entries = [Entry(make_key("huge", 1), "t:1", label="huge", base_url=f"{sim.url}/v1")]

    result = (await check_all(client, sim, entries))["huge"]

    assert result.balance is not None and not result.balance.token_uncapped
    assert result.balance.available == Decimal("1999999987.658902")
    assert result.balance.expires_at is None
