"""Moonshot / Kimi (moonshot, moonshot-global): rules, balances, regions, over loopback HTTP."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from keyledger.classify import classify, error_info
from keyledger.client import Client
from keyledger.engine import Engine
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers.moonshot import MoonshotGlobalProvider, MoonshotProvider
from keyledger.providers.registry import default_registry
from keyledger.providers.spec import CheckOptions
from keyledger.secret import Secret
from keyledger.simulator import SimState, Simulator, make_key
from keyledger.simulator.scenarios import SCENARIOS, provider_base_urls

BALANCE_PATH = "/v1/users/me/balance"


def body(value: object) -> bytes:
    """JSON bytes of ``value``."""
    return json.dumps(value).encode()


def moonshot_error(message: str, type_: str) -> bytes:
    """Moonshot's error envelope."""
    return body({"error": {"message": message, "type": type_}})


# Every published Moonshot error text (provider-apis.md §4.3, providers-2026.md §3.3/§4).
CASES = [
    (
        "moonshot-invalid",  # from the former global table (vendor-cases)
        401,
        moonshot_error("Invalid Authentication", "invalid_authentication_error"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "moonshot-suspended-429",
        429,
        moonshot_error(
            "Your account org-… <ak-…> is suspended due to insufficient balance, please "
            "recharge your account or check your plan and billing details",
            "exceeded_current_quota_error",
        ),
        Status.NO_QUOTA,
        "account_suspended",
    ),
    (
        "moonshot-never-funded-403",
        403,
        moonshot_error(
            "Your account xx> is not active, organization <xx> exceeded current quota, please "
            "check your plan and billing details",
            "exceeded_current_quota_error",
        ),
        Status.NO_QUOTA,
        "account_not_active",
    ),
    (
        "moonshot-rate-limit-429",
        429,
        moonshot_error(
            "Your account … request reached project TPM rate limit, current: 1410, limit: 100, "
            "see https://platform.moonshot.cn/docs/pricing/limits",
            "rate_limit_reached_error",
        ),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
    ),
]


@pytest.mark.parametrize("provider", [MoonshotProvider(), MoonshotGlobalProvider()])
@pytest.mark.parametrize(("case", "status", "raw", "expect", "reason"), CASES)
def test_published_texts(
    provider: MoonshotProvider, case: str, status: int, raw: bytes, expect: Status, reason: str
) -> None:
    """Each published Moonshot answer gets its status and reason in both regions."""
    rule, verdict = classify(error_info(status, raw), provider.classification)
    assert (verdict.status, verdict.reason) == (expect, reason), (case, rule)


def test_every_rule_is_reached() -> None:
    """Every Moonshot rule is reached by a published case."""
    provider = MoonshotProvider()
    table = provider.classification
    reached = {classify(error_info(s, raw), table)[0] for _, s, raw, _, _ in CASES}
    assert set(provider.rules) <= reached


def test_no_money_is_never_retried_but_rate_limits_are() -> None:
    """exceeded_current_quota_error is final; rate_limit_reached_error may be retried."""
    table = MoonshotProvider().classification
    verdicts = {case: classify(error_info(s, raw), table)[1] for case, s, raw, _, _ in CASES}
    assert verdicts["moonshot-suspended-429"].retry is False
    assert verdicts["moonshot-never-funded-403"].retry is False
    assert verdicts["moonshot-rate-limit-429"].retry is True


def _key(value: str, provider: str, base_url: str | None = None) -> Key:
    fp = hashlib.sha256(value.encode()).hexdigest()[:16]
    return Key(Secret(value), fp, fp[:6], provider=provider, kind=Kind.SECRET, base_url=base_url)


async def _check(client: Client, urls: dict[str, str], keys: list[Key]) -> list[CheckResult]:
    engine = Engine(client, CheckOptions(base_urls=urls))
    return [await engine.check_one(key) for key in keys]


REGIONS = [("moonshot", "moonshot", "CNY"), ("moonshot_global", "moonshot-global", "USD")]


@pytest.mark.parametrize(("prefix", "provider", "currency"), REGIONS)
async def test_every_scenario_over_http(
    sim: Simulator, client: Client, prefix: str, provider: str, currency: str
) -> None:
    """Each simulated Moonshot account gets its expected status and reason."""
    names = [n for n, s in SCENARIOS.items() if s.provider == provider]
    assert len(names) == 8
    keys = [_key(make_key(n), provider) for n in names]
    results = await _check(client, provider_base_urls(sim.url), keys)
    for name, result in zip(names, results, strict=True):
        scenario = SCENARIOS[name]
        assert (result.status, result.reason) == (scenario.expect, scenario.expect_reason), name
        if result.balance is not None:
            assert result.balance.currency == currency


@pytest.mark.parametrize(("prefix", "provider", "currency"), REGIONS)
async def test_balances_and_debt(
    sim: Simulator, client: Client, prefix: str, provider: str, currency: str
) -> None:
    """available_balance is the balance; cash and voucher are parts, a debt negative."""
    names = [f"{prefix}_ok", f"{prefix}_debt", f"{prefix}_debt_covered", f"{prefix}_exhausted"]
    ok, debt, covered, exhausted = await _check(
        client, provider_base_urls(sim.url), [_key(make_key(n), provider) for n in names]
    )
    assert ok.balance is not None and ok.balance.available == Decimal("49.58894")
    assert {p.name: p.amount for p in ok.balance.parts} == {
        "cash": Decimal("3.00001"),
        "voucher": Decimal("46.58893"),
    }
    assert ok.balance.currency == currency and ok.balance.source == BALANCE_PATH
    assert debt.balance is not None and debt.balance.available == 0
    assert {p.name: p.amount for p in debt.balance.parts}["cash"] == Decimal("-31.14918")
    assert covered.status is Status.OK and covered.balance is not None
    assert {p.name: p.amount for p in covered.balance.parts}["cash"] == Decimal("-5.5")
    assert exhausted.balance is not None and exhausted.balance.available == 0


@pytest.mark.parametrize(("prefix", "provider", "currency"), REGIONS)
async def test_suspended_429_is_sent_once(
    sim: Simulator, client: Client, prefix: str, provider: str, currency: str
) -> None:
    """The 429 exceeded_current_quota_error is asked exactly once: no retry."""
    name = f"{prefix}_suspended"
    (result,) = await _check(client, provider_base_urls(sim.url), [_key(make_key(name), provider)])
    assert result.status is Status.NO_QUOTA
    assert sim.state.count(name, BALANCE_PATH) == 1
    assert result.attempts == 1


@pytest.mark.parametrize(("prefix", "provider", "currency"), REGIONS)
async def test_rate_limit_is_retried(
    sim: Simulator, client: Client, prefix: str, provider: str, currency: str
) -> None:
    """A 429 rate_limit_reached_error is retried, and the retry reads the balance."""
    name = f"{prefix}_rate_limited"
    (result,) = await _check(client, provider_base_urls(sim.url), [_key(make_key(name), provider)])
    assert result.status is Status.OK and result.balance is not None
    assert sim.state.count(name, BALANCE_PATH) == 2


async def test_invalid_key_evidence_mentions_kimi_code(sim: Simulator, client: Client) -> None:
    """A 401 says that Kimi Code keys are refused here too, without the key."""
    value = make_key("moonshot_invalid")
    (result,) = await _check(client, provider_base_urls(sim.url), [_key(value, "moonshot")])
    message = result.evidence[-1].message or ""
    assert "Invalid Authentication" in message and "Kimi Code" in message
    assert value not in message


async def test_keys_stay_in_their_region(client: Client) -> None:
    """A China key only reaches the China host and a global key only the global host."""
    async with Simulator(SimState()) as cn, Simulator(SimState()) as glob:
        urls = {"moonshot": cn.url + "/v1", "moonshot-global": glob.url + "/v1"}
        cn_keys = [_key(make_key(n, 1), "moonshot") for n in ("moonshot_ok", "moonshot_invalid")]
        gl_keys = [
            _key(make_key(n, 2), "moonshot-global")
            for n in ("moonshot_global_ok", "moonshot_global_invalid")
        ]
        results = await _check(client, urls, [*cn_keys, *gl_keys])
        assert [r.status for r in results] == [Status.OK, Status.INVALID] * 2
        seen_cn = {r.credential_fp for r in cn.state.requests}
        seen_gl = {r.credential_fp for r in glob.state.requests}
    assert len(seen_cn) == 2 and len(seen_gl) == 2
    cn_fps = {hashlib.sha256(k.secret.reveal().encode()).hexdigest()[:16] for k in cn_keys}
    gl_fps = {hashlib.sha256(k.secret.reveal().encode()).hexdigest()[:16] for k in gl_keys}
    assert seen_cn == cn_fps and seen_gl == gl_fps


class _NoNetwork:
    """A client that fails the test if any request is made."""

    calls = 0

    async def call(self, request: object) -> object:
        self.calls += 1
        raise AssertionError("a request was sent")


@pytest.mark.parametrize(
    ("provider", "base_url"),
    [
        (MoonshotProvider(), "https://api.moonshot.ai/v1"),
        (MoonshotGlobalProvider(), "https://api.moonshot.cn/v1"),
    ],
)
async def test_never_sent_to_the_other_region(provider: MoonshotProvider, base_url: str) -> None:
    """A key pinned to one region but given the other region's host is not sent at all."""
    client = _NoNetwork()
    key = _key("sk-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wYz4cBe7gDi0kFm3oHq6s", provider.name, base_url)
    result = await provider.check(client, key, CheckOptions())  # type: ignore[arg-type]
    assert client.calls == 0
    assert (result.status, result.reason) == (Status.UNKNOWN, "region_mismatch")
    assert provider.sibling in (result.evidence[0].message or "")


def test_base_url_routes_by_region() -> None:
    """A base_url on a Moonshot host routes to that region's provider; sk- alone does not."""
    registry = default_registry()
    key = "sk-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wYz4cBe7gDi0kFm3oHq6s"
    assert registry.route(key, None, "https://api.moonshot.ai/v1").provider == "moonshot-global"
    assert registry.route(key, None, "https://api.moonshot.cn/v1").provider == "moonshot"
    assert registry.route(key, "moonshot-global", None).provider == "moonshot-global"
    assert registry.route(key, None, None).problem == "ambiguous_provider"
    assert "moonshot" not in registry.candidates(key)


async def test_key_file_base_url_without_v1(sim: Simulator, client: Client) -> None:
    """A key's base_url stored without /v1 (as key files keep it) still reaches the balance."""
    key = _key(make_key("moonshot_ok", 3), "moonshot", base_url=sim.url)
    (result,) = await _check(client, {}, [key])
    assert result.status is Status.OK
    assert sim.state.count("moonshot_ok", BALANCE_PATH) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"code": 0, "data": {"available_balance": "1e999"}, "status": True},
        {"code": 0, "data": {"cash_balance": 3}, "status": True},
        {"code": 1, "data": None, "status": False},
    ],
)
async def test_odd_balance_is_unknown(
    sim: Simulator, client: Client, answer: dict[str, object]
) -> None:
    """A balance answer without a bounded available_balance is unknown, never ok or 0."""
    from dataclasses import replace

    from keyledger.simulator.responses import json_reply
    from keyledger.simulator.sim_moonshot import BALANCE

    sim.state.extra_scenarios["ms_odd"] = replace(
        SCENARIOS["moonshot_ok"], name="ms_odd", endpoints={BALANCE: json_reply(answer)}
    )
    key = _key("sk-KLSIM__ms_odd__000001x7Rq2LmZ9vK3pT8wY4nB", "moonshot")
    (result,) = await _check(client, provider_base_urls(sim.url), [key])
    assert (result.status, result.reason, result.balance) == (
        Status.UNKNOWN,
        "unexpected_body",
        None,
    )
