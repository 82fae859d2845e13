"""SiliconFlow (siliconflow, siliconflow-global): rules, balances, retirement, regions."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from keyledger.classify import classify, error_info
from keyledger.client import Client
from keyledger.engine import Engine
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers.registry import default_registry
from keyledger.providers.siliconflow import SiliconFlowGlobalProvider, SiliconFlowProvider
from keyledger.providers.spec import CheckOptions
from keyledger.secret import Secret
from keyledger.simulator import SimState, Simulator, make_key
from keyledger.simulator.scenarios import SCENARIOS, provider_base_urls

PAID = (
    "The selected model requires paid balance. Your paid balance is insufficient. "
    "Please top up and try again."
)

# Every published SiliconFlow answer (providers-2026.md §3.4/§4; the 401 bodies from
# github.com/chatboxai/chatbox/issues/2573 and github.com/rikkahub/rikkahub/issues/372). The
# 410's body is not published: an empty one and a page must both read as retired.
CASES = [
    (
        "siliconflow-paid-balance-30011",
        403,
        json.dumps({"code": 30011, "message": PAID, "data": None}).encode(),
        Status.NO_QUOTA,
        "paid_balance_required",
    ),
    ("siliconflow-invalid-token", 401, b'"Invalid token"', Status.INVALID, "invalid_api_key"),
    (
        "siliconflow-api-key-invalid",
        401,
        b'"Api key is invalid"',
        Status.INVALID,
        "invalid_api_key",
    ),
    ("siliconflow-retired-empty", 410, b"", Status.UNKNOWN, "endpoint_retired"),
    ("siliconflow-retired-page", 410, b"<html>Gone</html>", Status.UNKNOWN, "endpoint_retired"),
]


@pytest.mark.parametrize("provider", [SiliconFlowProvider(), SiliconFlowGlobalProvider()])
@pytest.mark.parametrize(("case", "status", "raw", "expect", "reason"), CASES)
def test_published_texts(
    provider: SiliconFlowProvider, case: str, status: int, raw: bytes, expect: Status, reason: str
) -> None:
    """Each published SiliconFlow answer gets its status and reason in both regions."""
    rule, verdict = classify(error_info(status, raw), provider.classification)
    assert (verdict.status, verdict.reason) == (expect, reason), (case, rule)
    assert verdict.retry is False


def test_every_rule_is_reached() -> None:
    """Every SiliconFlow rule (first rules included) is reached by a case."""
    provider = SiliconFlowProvider()
    table = provider.classification
    reached = {classify(error_info(s, raw), table)[0] for _, s, raw, _, _ in CASES}
    assert {*provider.rules, *provider.first_rules} <= reached


def _key(value: str, provider: str, base_url: str | None = None) -> Key:
    fp = hashlib.sha256(value.encode()).hexdigest()[:16]
    return Key(Secret(value), fp, fp[:6], provider=provider, kind=Kind.SECRET, base_url=base_url)


async def _check(client: Client, urls: dict[str, str], keys: list[Key]) -> list[CheckResult]:
    engine = Engine(client, CheckOptions(base_urls=urls))
    return [await engine.check_one(key) for key in keys]


@pytest.mark.parametrize("provider", ["siliconflow", "siliconflow-global"])
async def test_every_scenario_over_http(sim: Simulator, client: Client, provider: str) -> None:
    """Each simulated SiliconFlow account gets its expected status and reason."""
    names = [n for n, s in SCENARIOS.items() if s.provider == provider]
    assert len(names) == (5 if provider == "siliconflow" else 4)
    keys = [_key(make_key(n), provider) for n in names]
    results = await _check(client, provider_base_urls(sim.url), keys)
    for name, result in zip(names, results, strict=True):
        scenario = SCENARIOS[name]
        assert (result.status, result.reason) == (scenario.expect, scenario.expect_reason), name


@pytest.mark.parametrize(
    ("prefix", "provider", "currency"),
    [("siliconflow", "siliconflow", "CNY"), ("siliconflow_global", "siliconflow-global", "USD")],
)
async def test_total_balance_not_gift(
    sim: Simulator, client: Client, prefix: str, provider: str, currency: str
) -> None:
    """The balance is totalBalance; balance (gift) and chargeBalance are parts."""
    names = [f"{prefix}_ok", f"{prefix}_zero"]
    ok, zero = await _check(
        client, provider_base_urls(sim.url), [_key(make_key(n), provider) for n in names]
    )
    assert ok.balance is not None and ok.balance.available == Decimal("88.88")
    assert ok.balance.currency == currency and ok.balance.source == "/v1/user/info"
    assert {p.name: p.amount for p in ok.balance.parts} == {
        "gift": Decimal("0.88"),
        "charge": Decimal("88.00"),
    }
    assert zero.balance is not None and zero.balance.available == 0


async def test_retired_endpoint_probe_decides(sim: Simulator, client: Client) -> None:
    """A 410 on /v1/user/info: the models list decides, and the balance is unknown."""
    names = ["siliconflow_retired", "siliconflow_retired_invalid"]
    ok, bad = await _check(
        client, provider_base_urls(sim.url), [_key(make_key(n), "siliconflow") for n in names]
    )
    assert (ok.status, ok.balance, ok.balance_reason) == (Status.OK, None, "endpoint_retired")
    assert [e.outcome for e in ok.evidence] == ["endpoint_retired", "ok"]
    assert bad.status is Status.INVALID and bad.balance_reason == "endpoint_retired"
    assert sim.state.count("siliconflow_retired", "/v1/models") == 1
    assert sim.state.count("siliconflow_retired", "/v1/user/info") == 1


async def test_keys_stay_in_their_region(client: Client) -> None:
    """A China key only reaches the China host and a global key only the global host."""
    async with Simulator(SimState()) as cn, Simulator(SimState()) as glob:
        urls = {"siliconflow": cn.url + "/v1", "siliconflow-global": glob.url + "/v1"}
        cn_keys = [
            _key(make_key(n, 1), "siliconflow") for n in ("siliconflow_ok", "siliconflow_retired")
        ]
        gl_keys = [
            _key(make_key(n, 2), "siliconflow-global")
            for n in ("siliconflow_global_ok", "siliconflow_global_invalid")
        ]
        results = await _check(client, urls, [*cn_keys, *gl_keys])
        assert [r.status for r in results] == [Status.OK, Status.OK, Status.OK, Status.INVALID]
        seen_cn = {r.credential_fp for r in cn.state.requests}
        seen_gl = {r.credential_fp for r in glob.state.requests}
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
        (SiliconFlowProvider(), "https://api.siliconflow.com/v1"),
        (SiliconFlowGlobalProvider(), "https://api.siliconflow.cn/v1"),
    ],
)
async def test_never_sent_to_the_other_region(provider: SiliconFlowProvider, base_url: str) -> None:
    """A key pinned to one region but given the other region's host is not sent at all."""
    client = _NoNetwork()
    key = _key("sk-" + "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv", provider.name, base_url)
    result = await provider.check(client, key, CheckOptions())  # type: ignore[arg-type]
    assert client.calls == 0
    assert (result.status, result.reason) == (Status.UNKNOWN, "region_mismatch")


def test_base_url_routes_by_region() -> None:
    """A base_url on a SiliconFlow host routes to that region's provider."""
    registry = default_registry()
    key = "sk-" + "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv"
    assert registry.route(key, None, "https://api.siliconflow.com/v1").provider == (
        "siliconflow-global"
    )
    assert registry.route(key, None, "https://api.siliconflow.cn/v1").provider == "siliconflow"
    assert registry.route(key, None, None).problem == "ambiguous_provider"


async def test_invalid_key_evidence_names_the_other_region(sim: Simulator, client: Client) -> None:
    """A 401 reminds that SiliconFlow keys work only in their own region."""
    value = make_key("siliconflow_invalid")
    (result,) = await _check(client, provider_base_urls(sim.url), [_key(value, "siliconflow")])
    message = result.evidence[-1].message or ""
    assert "siliconflow-global" in message and value not in message


@pytest.mark.parametrize(
    "answer",
    [
        {"code": 50000, "message": "error", "status": False, "data": None},
        {"code": 20000, "message": "OK", "status": True, "data": {"totalBalance": "1e999"}},
        {"code": 20000, "message": "OK", "status": True, "data": {"balance": "5"}},
    ],
)
async def test_odd_user_info_is_unknown(
    sim: Simulator, client: Client, answer: dict[str, object]
) -> None:
    """A user info that is not a code-20000 answer with a bounded totalBalance is unknown."""
    from keyledger.simulator.responses import json_reply
    from keyledger.simulator.sim_siliconflow import USER_INFO, scenario

    sim.state.extra_scenarios["sf_odd"] = scenario(
        "sf_odd", "siliconflow-global", "odd", Status.UNKNOWN, None, {USER_INFO: json_reply(answer)}
    )
    key = _key("sk-KLSIM__sf_odd__000001x7Rq2LmZ9vK3pT8wY4nB", "siliconflow-global")
    (result,) = await _check(client, provider_base_urls(sim.url), [key])
    assert (result.status, result.reason, result.balance) == (
        Status.UNKNOWN,
        "unexpected_body",
        None,
    )
