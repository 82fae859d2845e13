"""OpenRouter: its published error texts, and its key and credits checks end to end."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from keyledger.classify import classify, error_info
from keyledger.client import Client
from keyledger.models import Kind, Status
from keyledger.providers.openrouter import RULES, OpenRouterProvider
from keyledger.providers.registry import default_registry
from keyledger.simulator import SCENARIOS, SimState, Simulator

from .vendorutil import check_entries, scenario_entry, scenarios_of

PROVIDER = OpenRouterProvider()


def error(status: int, message: str, **extra: Any) -> bytes:
    """OpenRouter's envelope: an integer ``error.code``."""
    return json.dumps({"error": {"message": message, "code": status, **extra}}).encode()


# Every published OpenRouter error text (provider-apis.md §4.2; the key-limit 403 from
# https://github.com/gptme/gptme/issues/1449): (id, status, body, status, reason).
CASES = [
    ("user-not-found", 401, error(401, "User not found."), Status.INVALID, "invalid_api_key"),
    (
        "no-auth",
        401,
        error(401, "No auth credentials found"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "never-purchased",
        402,
        error(
            402,
            "Insufficient credits. This account never purchased credits. Make sure your key is "
            "on the correct account or org, and if so, purchase more at "
            "https://openrouter.ai/settings/credits",
        ),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
    (
        "limit-source",
        402,
        error(402, "Insufficient credits", metadata={"limit_source": "openrouter_credits"}),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
    (
        "fewer-max-tokens",
        402,
        error(
            402,
            "This request requires more credits, or fewer max_tokens. You requested up to 8192 "
            "tokens, but can only afford 1234.",
        ),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
    (
        "key-limit-exceeded",
        403,
        error(
            403,
            "Key limit exceeded (monthly limit). Manage it using https://openrouter.ai/settings/keys",
        ),
        Status.NO_QUOTA,
        "key_limit_exhausted",
    ),
    (
        "management-only",
        403,
        error(403, "Only management keys can perform this operation"),
        Status.RESTRICTED,
        "needs_management_key",
    ),
]


@pytest.mark.parametrize(
    ("status", "data", "want", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_published_texts_are_classified(
    status: int, data: bytes, want: Status, reason: str
) -> None:
    """Each published OpenRouter error text gets its documented status and reason."""
    _, verdict = classify(error_info(status, data), PROVIDER.classification)
    assert (verdict.status, verdict.reason) == (want, reason)


def test_every_openrouter_rule_is_reached() -> None:
    """No OpenRouter rule is dead: some published case is decided by each."""
    reached = {classify(error_info(s, b), PROVIDER.classification)[0] for _, s, b, _, _ in CASES}
    assert {r.name for r in RULES} <= {r.name for r in reached if r is not None}


def test_sk_or_keys_are_claimed() -> None:
    """sk-or-v1- keys go to OpenRouter with no pin (no longer unsupported_provider)."""
    route = default_registry().route("sk-or-v1-" + "0f1e2d3c" * 8, None, None)
    assert (route.provider, route.problem) == ("openrouter", None)


async def test_every_scenario_gets_its_expected_status(client: Client, sim: Simulator) -> None:
    """Each OpenRouter simulator scenario is classified as it is documented to be."""
    names = scenarios_of("openrouter")
    results = await check_entries(client, sim, [scenario_entry(n, i) for i, n in enumerate(names)])

    got = {name: (r.status, r.reason) for name, r in results.items()}
    assert got == {n: (SCENARIOS[n].expect, SCENARIOS[n].expect_reason) for n in names}


async def test_a_per_key_limit_is_what_the_key_may_still_spend(
    client: Client, sim: Simulator
) -> None:
    """With a limit, available is limit_remaining, read as a per-key limit, in USD."""
    results = await check_entries(
        client, sim, [scenario_entry("openrouter_ok"), scenario_entry("openrouter_limit_used", 1)]
    )

    ok = results["openrouter_ok"].balance
    assert ok is not None and ok.reading == "per-key limit" and ok.currency == "USD"
    assert (ok.granted, ok.used, ok.available) == (Decimal(25), Decimal("7.5"), Decimal("17.5"))
    spent = results["openrouter_limit_used"]
    assert spent.balance is not None and spent.balance.available == Decimal(0)
    assert results["openrouter_ok"].tier == "paid"


async def test_without_a_limit_the_money_is_unknown_not_zero(
    client: Client, sim: Simulator
) -> None:
    """No per-key limit: available is unknown (needs a management key), usage still kept;
    an ordinary key never reads /credits, whose 200 of zeros is not a balance."""
    names = ["openrouter_no_limit", "openrouter_zero_credits", "openrouter_free_tier"]
    results = await check_entries(client, sim, [scenario_entry(n, i) for i, n in enumerate(names)])

    for name in names:
        result = results[name]
        assert result.status is Status.OK
        assert result.balance is not None and result.balance.available is None
        assert result.balance_reason == "needs_management_key"
    assert results["openrouter_zero_credits"].balance.used == Decimal("0.65017511")  # type: ignore[union-attr]
    assert results["openrouter_free_tier"].tier == "free"
    assert sim.state.count(endpoint="/api/v1/credits") == 0


async def test_a_management_key_reads_the_account_credit(client: Client, sim: Simulator) -> None:
    """A management key is marked so, and its balance is total_credits - total_usage."""
    result = (await check_entries(client, sim, [scenario_entry("openrouter_management")]))[
        "openrouter_management"
    ]

    assert result.key.kind is Kind.MANAGEMENT and result.status is Status.OK
    balance = result.balance
    assert balance is not None and balance.reading == "account credits"
    assert (balance.granted, balance.used, balance.available) == (
        Decimal("100.5"),
        Decimal("25.75"),
        Decimal("74.75"),
    )
    assert result.account is not None and result.account.name == "ops"


async def test_the_older_auth_key_path_is_tried_when_key_is_missing(
    client: Client, sim: Simulator
) -> None:
    """A 404 on /key falls back to /auth/key; its unwrapped body is read the same way."""
    result = (await check_entries(client, sim, [scenario_entry("openrouter_legacy_path")]))[
        "openrouter_legacy_path"
    ]

    assert result.status is Status.OK
    assert result.balance is not None and result.balance.used == Decimal("0.65017511")
    assert [r.path for r in sim.state.requests] == ["/api/v1/key", "/api/v1/auth/key"]


async def test_key_goes_only_to_openrouter_in_the_authorization_header(
    client: Client, sim: Simulator
) -> None:
    """Every request goes to OpenRouter's host, the key in Authorization, never in a URL."""
    async with Simulator(SimState()) as elsewhere:
        names = scenarios_of("openrouter")
        entries = [scenario_entry(n, i) for i, n in enumerate(names)]
        await check_entries(client, sim, entries, other=elsewhere)
        assert elsewhere.state.total == 0

    keys = [e.value for e in entries]
    assert {r.path for r in sim.state.requests} <= {
        "/api/v1/key",
        "/api/v1/auth/key",
        "/api/v1/credits",
    }
    for record in sim.state.requests:
        assert record.method == "GET"
        assert not any(k in record.url for k in keys)
        assert "authorization" in record.header_names


async def test_a_pinned_base_url_keeps_its_v1(client: Client, sim: Simulator) -> None:
    """A key pinned to …/api/v1 (stored without /v1 by the key file) still calls /api/v1/key."""
    results = await check_entries(
        client, sim, [scenario_entry("openrouter_ok", base_url=f"{sim.url}/api/v1")]
    )

    assert results["openrouter_ok"].status is Status.OK
    assert [r.path for r in sim.state.requests] == ["/api/v1/key"]
