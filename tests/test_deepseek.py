"""DeepSeek: its published error texts, and its balance check end to end on loopback."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from keyledger.classify import classify, error_info
from keyledger.client import Client, Exchange
from keyledger.keyset import build_keyset
from keyledger.models import BalancePart, Status
from keyledger.providers.deepseek import RULES, DeepSeekProvider
from keyledger.providers.registry import default_registry
from keyledger.providers.spec import CheckOptions
from keyledger.simulator import SCENARIOS, SimState, Simulator, make_key
from keyledger.sources import Entry
from keyledger.transport import Fault, Request

from .vendorutil import FP, check_entries, scenario_entry, scenarios_of

PROVIDER = DeepSeekProvider()


def body(data: Any) -> bytes:
    """A JSON body."""
    return json.dumps(data).encode()


def deepseek_error(message: str, type_: str) -> bytes:
    """DeepSeek's envelope: the kind in ``type``, a fixed ``invalid_request_error`` code."""
    return body(
        {
            "error": {
                "message": message,
                "type": type_,
                "param": None,
                "code": "invalid_request_error",
            }
        }
    )


# Every published DeepSeek error text (provider-apis.md §4.1): (id, status, body, status, reason).
CASES = [
    (
        "deepseek-auth-fails",
        401,
        deepseek_error("Authentication Fails (no such user)", "authentication_error"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "deepseek-auth-fails-key-echo",
        401,
        deepseek_error(
            "Authentication Fails, Your api key: ****XXXX is invalid", "authentication_error"
        ),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "deepseek-auth-header-format",
        401,
        deepseek_error(
            "Authentication Fails (auth header format should be Bearer sk-...)",
            "authentication_error",
        ),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "deepseek-insufficient-balance",
        402,
        deepseek_error("Insufficient Balance", "unknown_error"),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
]


@pytest.mark.parametrize(
    ("status", "data", "want", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_published_texts_are_classified(
    status: int, data: bytes, want: Status, reason: str
) -> None:
    """Each published DeepSeek error text gets its documented status and reason."""
    _, verdict = classify(error_info(status, data), PROVIDER.classification)
    assert (verdict.status, verdict.reason) == (want, reason)


def test_every_deepseek_rule_is_reached() -> None:
    """No DeepSeek rule is dead: some published case is decided by each."""
    reached = {classify(error_info(s, b), PROVIDER.classification)[0] for _, s, b, _, _ in CASES}
    assert {r.name for r in RULES} <= {r.name for r in reached if r is not None}


def test_key_shape_is_only_a_hint() -> None:
    """sk- + 32 hex stays ambiguous (relays use sk- too) but lists DeepSeek as a candidate."""
    registry = default_registry()
    value = "sk-" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert registry.route(value, None, None).problem == "ambiguous_provider"
    assert "deepseek" in registry.candidates(value)
    assert "deepseek" not in registry.candidates("sk-" + "0F1E2D3C4B5A69788796A5B4C3D2E1F0")


async def test_every_scenario_gets_its_expected_status(client: Client, sim: Simulator) -> None:
    """Each DeepSeek simulator scenario is classified as it is documented to be."""
    names = scenarios_of("deepseek")
    results = await check_entries(client, sim, [scenario_entry(n, i) for i, n in enumerate(names)])

    got = {name: (r.status, r.reason) for name, r in results.items()}
    assert got == {n: (SCENARIOS[n].expect, SCENARIOS[n].expect_reason) for n in names}


async def test_balance_is_exact_with_its_parts(client: Client, sim: Simulator) -> None:
    """total_balance is what is available; granted and topped-up are kept as its parts."""
    result = (await check_entries(client, sim, [scenario_entry("deepseek_ok")]))["deepseek_ok"]

    assert result.balance is not None and result.balances == (result.balance,)
    assert (result.balance.currency, result.balance.available) == ("CNY", Decimal("110.00"))
    assert result.balance.parts == (
        BalancePart("granted", Decimal("10.00")),
        BalancePart("topped_up", Decimal("100.00")),
    )
    assert result.balance.source == "/user/balance"


async def test_currencies_in_swapped_order_give_the_same_balances(
    client: Client, sim: Simulator
) -> None:
    """CNY and USD rows answered in either order give one balance per currency, same order,
    and the same primary (USD, both being funded)."""
    first = await check_entries(client, sim, [scenario_entry("deepseek_multi_currency")])
    second = await check_entries(client, sim, [scenario_entry("deepseek_multi_currency")])

    seen = []
    for results in (first, second):
        result = results["deepseek_multi_currency"]
        seen.append([(b.currency, b.available) for b in result.balances])
        assert result.balance is not None and result.balance.currency == "USD"
    assert seen[0] == seen[1] == [("CNY", Decimal("81.69")), ("USD", Decimal("8.76"))]
    assert sim.state.calls[(make_key("deepseek_multi_currency"), "deepseek_balance")] == 2


async def test_not_available_with_money_is_no_quota(client: Client, sim: Simulator) -> None:
    """is_available false means no_quota even with money on the account; the money is shown."""
    result = (await check_entries(client, sim, [scenario_entry("deepseek_unavailable")]))[
        "deepseek_unavailable"
    ]

    assert (result.status, result.reason) == (Status.NO_QUOTA, "not_available")
    assert result.balance is not None and result.balance.available == Decimal("5.00")


async def test_key_goes_only_to_deepseek_in_the_authorization_header(
    client: Client, sim: Simulator
) -> None:
    """One free request, to DeepSeek's host only, the key in Authorization and never in a URL."""
    async with Simulator(SimState()) as elsewhere:
        names = scenarios_of("deepseek")
        entries = [scenario_entry(n, i) for i, n in enumerate(names)]
        await check_entries(client, sim, entries, other=elsewhere)
        assert elsewhere.state.total == 0

    assert [r.path for r in sim.state.requests] == ["/user/balance"] * len(names)
    keys = [e.value for e in entries]
    for record in sim.state.requests:
        assert record.method == "GET"
        assert not any(k in record.url for k in keys)
        assert "authorization" in record.header_names
        assert (
            "x-api-key" not in record.header_names and "x-goog-api-key" not in record.header_names
        )


async def test_a_v1_base_url_pin_is_stripped_to_the_host_root(
    client: Client, sim: Simulator
) -> None:
    """A key pinned to DeepSeek's OpenAI-style base URL (…/v1) still reads /user/balance."""
    results = await check_entries(
        client, sim, [scenario_entry("deepseek_ok", base_url=f"{sim.url}/v1")]
    )

    assert results["deepseek_ok"].status is Status.OK
    assert [r.path for r in sim.state.requests] == ["/user/balance"]


class RecordingClient:
    """Stands in for the HTTP client: records each request and answers with a fault."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def call(self, request: Request) -> Exchange:
        """Record ``request``; no network."""
        self.urls.append(request.url)
        return Exchange(Fault("connect"), 1, request.path)


async def test_the_real_hosts_v1_pin_is_stripped_to_the_root() -> None:
    """base_url=https://api.deepseek.com/v1 sends /user/balance to https://api.deepseek.com."""
    value = "sk-" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    keyset = build_keyset(
        [Entry(value, "k:1", provider="deepseek", base_url="https://api.deepseek.com/v1")], FP
    )
    recorder = RecordingClient()
    (key,) = keyset.keys

    result = await PROVIDER.check(recorder, key, CheckOptions())  # type: ignore[arg-type]

    assert recorder.urls == ["https://api.deepseek.com/user/balance"]
    assert (result.status, result.reason) == (Status.UNREACHABLE, "connect")
