"""Groq, Mistral, Zhipu, Z.ai, DashScope, Ark, MiniMax, Together, Fireworks, Perplexity and
Cohere: published texts classified, and every scenario checked over loopback."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from keyledger.classify import classify, error_info
from keyledger.client import Client
from keyledger.engine import Engine, RunOptions
from keyledger.keyset import build_keyset
from keyledger.models import CheckResult, Status
from keyledger.providers import CheckOptions
from keyledger.providers.compat import CompatProvider
from keyledger.providers.registry import default_registry
from keyledger.providers.spec import Provider
from keyledger.secret import Fingerprinter
from keyledger.simulator import SCENARIOS, Simulator, make_key
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.sources import Entry

FP = Fingerprinter(os.urandom(32))
VENDORS = (
    "groq",
    "mistral",
    "zhipu",
    "zai",
    "dashscope",
    "ark",
    "minimax",
    "together",
    "fireworks",
    "perplexity",
    "cohere",
)
SHARES_RULES = {"zai": "zhipu"}  # Z.ai runs Zhipu's platform: Zhipu's cases cover its rules
MINE = {n: s for n, s in SCENARIOS.items() if s.provider in VENDORS}


def body(data: Any) -> bytes:
    """JSON bytes of ``data``."""
    return json.dumps(data, ensure_ascii=False).encode()


def oa(message: str, type_: str | None = "invalid_request_error", code: Any = None) -> bytes:
    """An OpenAI-envelope error body."""
    return body({"error": {"message": message, "type": type_, "param": None, "code": code}})


def zh(code: str, message: str) -> bytes:
    """A Zhipu-envelope error body."""
    return body({"error": {"code": code, "message": message}})


OVERDUE = "The request failed because your account has an overdue balance. Request id: 02"
ARREARAGE = "Access denied, please make sure your account is in good standing."
# (vendor, case id, HTTP status, body, status, reason): the published texts of
# provider-apis.md §4.6 and providers-2026.md §3.8-3.17 and §4, plus each vendor's own tables.
CASES: list[tuple[str, str, int, bytes, Status, str]] = [
    (
        "groq",
        "groq-invalid",
        401,
        oa("Invalid API Key", code="invalid_api_key"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "groq",
        "groq-organization-restricted",
        400,
        oa(
            "Organization has been restricted. Please reach out to support if you believe this "
            "was in error.",
            code="organization_restricted",
        ),
        Status.RESTRICTED,
        "organization_restricted",
    ),
    (
        "mistral",
        "mistral-unauthorized",
        401,
        body({"detail": "Unauthorized"}),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "mistral",
        "mistral-codestral-unauthorized",
        401,
        body({"message": "Unauthorized", "request_id": "c0ffee"}),
        Status.INVALID,
        "unauthorized_on_host",
    ),
    (
        "mistral",
        "mistral-probe-422",
        422,
        body(
            {
                "object": "error",
                "message": {"detail": [{"loc": ["body", "max_tokens"]}]},
                "type": "invalid_request_error",
            }
        ),
        Status.OK,
        "probe_rejected_as_expected",
    ),
    (
        "zhipu",
        "zhipu-1113-zh",
        429,
        zh("1113", "余额不足或无可用资源包,请充值。"),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
    (
        "zai",
        "zai-1113-en",
        429,
        body(
            {
                "error": {
                    "code": "1113",
                    "message": "Insufficient balance or no resource package. Please recharge.",
                },
                "request_id": "r1",
            }
        ),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
    (
        "zhipu",
        "zhipu-1113-table",
        429,
        zh("1113", "您的账户已欠费,请充值后重试"),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
    (
        "zhipu",
        "zhipu-1002",
        401,
        zh("1002", "Authentication Token非法,请确认Authentication Token正确传递"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "zhipu",
        "zhipu-1003",
        401,
        zh("1003", "Authentication Token已过期,请重新生成/获取"),
        Status.INVALID,
        "token_expired",
    ),
    ("zhipu", "zhipu-1111", 401, zh("1111", "您的账户不存在"), Status.INVALID, "account_not_found"),
    (
        "zhipu",
        "zhipu-1110",
        403,
        zh("1110", "您的账户当前处于非活动状态。请检查账户信息"),
        Status.DEACTIVATED,
        "account_inactive",
    ),
    (
        "zhipu",
        "zhipu-1112",
        429,
        zh("1112", "您的账户已被锁定,请联系客服解锁"),
        Status.DEACTIVATED,
        "account_locked",
    ),
    (
        "zhipu",
        "zhipu-1309",
        429,
        zh("1309", "您的 GLM Coding Plan 套餐已到期,暂无法使用,前往官方续订后即可恢复"),
        Status.NO_QUOTA,
        "plan_expired",
    ),
    (
        "zhipu",
        "zhipu-1304",
        429,
        zh("1304", "该 API 已达今日调用次数限额,如有更多需求,请联系客服购买"),
        Status.NO_QUOTA,
        "usage_limit_reached",
    ),
    (
        "zhipu",
        "zhipu-1302",
        429,
        zh("1302", "您当前使用该 API 的并发数过高,请降低并发,或联系客服增加限额"),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
    ),
    (
        "zhipu",
        "zhipu-1211",
        400,
        zh("1211", "模型不存在,请检查模型代码"),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    (
        "zhipu",
        "zhipu-1214",
        400,
        zh("1214", "max_tokens 参数非法。请检查文档"),
        Status.OK,
        "probe_rejected_as_expected",
    ),
    (
        "dashscope",
        "dashscope-arrearage",
        400,
        body(
            {
                "error": {
                    "code": "Arrearage",
                    "param": None,
                    "message": ARREARAGE,
                    "type": "Arrearage",
                },
                "id": "chatcmpl-1",
            }
        ),
        Status.NO_QUOTA,
        "arrearage",
    ),
    (
        "dashscope",
        "dashscope-arrearage-2026",
        400,
        body(
            {
                "error": {
                    "code": "Arrearage",
                    "param": None,
                    "message": ARREARAGE + " For details, "
                    "see: https://help.aliyun.com/zh/model-studio/error-code#overdue-payment",
                    "type": "Arrearage",
                }
            }
        ),
        Status.NO_QUOTA,
        "arrearage",
    ),
    (
        "dashscope",
        "dashscope-invalid",
        401,
        oa("Incorrect API key provided. ", code="invalid_api_key"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "ark",
        "ark-overdue-flat",
        403,
        body({"code": "AccountOverdueError", "message": OVERDUE}),
        Status.NO_QUOTA,
        "account_overdue",
    ),
    (
        "ark",
        "ark-overdue-wrapped",
        403,
        body({"error": {"code": "AccountOverdueError", "message": OVERDUE, "type": "Forbidden"}}),
        Status.NO_QUOTA,
        "account_overdue",
    ),
    (
        "ark",
        "ark-invalid",
        401,
        body(
            {
                "error": {
                    "code": "AuthenticationError",
                    "type": "Unauthorized",
                    "message": "The API key in the request is missing or invalid.",
                }
            }
        ),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "ark",
        "ark-invalid-openai-code",
        401,
        oa("bad key", code="invalid_api_key"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "minimax",
        "minimax-1008",
        500,
        body(
            {
                "type": "error",
                "error": {"type": "api_error", "message": "insufficient balance (1008)"},
                "request_id": "r",
            }
        ),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
    (
        "minimax",
        "minimax-auth",
        401,
        body(
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid api key (2049)"},
            }
        ),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "minimax",
        "minimax-openai-code",
        401,
        oa("bad key", code="invalid_api_key"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "together",
        "together-credit-limit",
        429,
        oa(
            "You have been rate limited. Your rate limit is 60 queries per minute. Please navigate "
            "to https://api.together.xyz/settings/billing to upgrade to a paid plan.",
            type_="credit_limit",
        ),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
    ),
    (
        "together",
        "together-invalid",
        401,
        oa("Invalid API key provided.", code="invalid_api_key"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "fireworks",
        "fireworks-invalid",
        401,
        oa("The API key you provided is invalid.", code="invalid_api_key"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "perplexity",
        "perplexity-401",
        401,
        body(
            {
                "error": {
                    "message": "Invalid API key provided. You can find your API key at "
                    "https://www.perplexity.ai/settings/api.",
                    "type": "invalid_api_key",
                    "code": 401,
                }
            }
        ),
        Status.INVALID,
        "invalid_or_no_credit",
    ),
    (
        "perplexity",
        "perplexity-openresty-401",
        401,
        b"<html>\n<head><title>401 Authorization Required</title></head>\n<body>\n<center><h1>"
        b"401 Authorization Required</h1></center>\n<hr><center>openresty/1.21.4.3</center>",
        Status.UNKNOWN,
        "proxy",
    ),
    (
        "cohere",
        "cohere-401",
        401,
        body({"message": "invalid api token"}),
        Status.INVALID,
        "invalid_api_key",
    ),
]


def provider(name: str) -> Provider:
    """The registered provider called ``name``."""
    return default_registry().get(name)


@pytest.mark.parametrize(
    ("vendor", "case", "http", "data", "status", "reason"), CASES, ids=[c[1] for c in CASES]
)
def test_published_texts_are_classified(
    vendor: str, case: str, http: int, data: bytes, status: Status, reason: str
) -> None:
    """Each published answer of each vendor gets its documented status and reason."""
    _, verdict = classify(error_info(http, data), provider(vendor).classification)
    assert (verdict.status, verdict.reason) == (status, reason)


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_rule_is_reached_by_a_published_case(vendor: str) -> None:
    """No vendor rule is dead: some case of that vendor is decided by it."""
    chosen = provider(vendor)
    reached = {
        rule.name
        for v, _, http, data, _, _ in CASES
        if v in (vendor, SHARES_RULES.get(vendor))
        for rule in [classify(error_info(http, data), chosen.classification)[0]]
        if rule is not None
    }
    own = {r.name for r in (*chosen.rules, *chosen.first_rules)}
    assert own <= reached, own - reached


def test_no_money_answers_are_never_retried() -> None:
    """MiniMax's 500 (1008) and Zhipu's 429 1113 are final; Together's credit_limit is retried."""
    minimax = classify(error_info(500, CASES[25][3]), provider("minimax").classification)[1]
    zhipu = classify(error_info(429, CASES[5][3]), provider("zhipu").classification)[1]
    together = classify(error_info(429, CASES[28][3]), provider("together").classification)[1]
    assert (minimax.retry, zhipu.retry, together.retry) == (False, False, True)


def options(sim: Simulator) -> CheckOptions:
    """Every provider's base URL on the simulator."""
    return CheckOptions(base_urls=provider_base_urls(sim.url))


async def check(
    client: Client, sim: Simulator, entries: list[Entry], base_url: str | None = None
) -> dict[str, CheckResult]:
    """Check entries through the engine against the simulator, each pinned to the provider of
    its scenario (a run-wide pin: a simulator key spells its scenario, so the provider's name
    in the entry itself would read as a piece of the key); results by scenario."""
    keys = []
    for vendor in VENDORS:
        mine = [e for e in entries if MINE[(e.label or "").lower()].provider == vendor]
        keyset = build_keyset(mine, FP, provider=vendor, base_url=base_url)
        assert keyset.errors == []
        keys.extend(keyset.keys)
    engine = Engine(client, options(sim), RunOptions())
    return {(r.key.label or "").lower(): r async for r in engine.run(keys)}


def pinned(name: str, n: int = 0) -> Entry:
    """A key of scenario ``name`` labelled with its name (in capitals: not a piece of the key)."""
    return Entry(make_key(name, n), f"t:{n}", label=name.upper())


async def test_every_vendor_scenario_gets_its_status_and_no_balance(
    client: Client, sim: Simulator
) -> None:
    """Each scenario ends as documented, and never shows a balance: not_exposed instead."""
    results = await check(client, sim, [pinned(n, i) for i, n in enumerate(MINE)])

    got = {n: (r.status, r.reason) for n, r in results.items()}
    assert got == {n: (s.expect, s.expect_reason) for n, s in MINE.items()}
    assert {r.balance_reason for r in results.values()} == {"not_exposed"}
    assert all(r.balance is None and r.balances == () for r in results.values())


async def test_minimax_empty_wallet_is_sent_once_and_spares_the_breaker(
    client: Client, sim: Simulator
) -> None:
    """HTTP 500 (1008) is no_quota after one request; the host's breaker counts no failure."""
    result = (await check(client, sim, [pinned("minimax_no_balance")]))["minimax_no_balance"]

    assert (result.status, result.reason) == (Status.NO_QUOTA, "insufficient_balance")
    assert sim.state.count("minimax_no_balance", "/v1/chat/completions") == 1
    assert client.host_state(sim.url.split("://")[1]).breaker.failures == 0


async def test_zhipu_1113_is_sent_once(client: Client, sim: Simulator) -> None:
    """A 429 with code 1113 is an empty wallet, not a rate limit: no retry."""
    result = (await check(client, sim, [pinned("zhipu_no_balance")]))["zhipu_no_balance"]

    assert result.status is Status.NO_QUOTA and result.attempts == 1
    assert sim.state.count("zhipu_no_balance", "/api/paas/v4/chat/completions") == 1


async def test_together_credit_limit_is_retried_as_a_rate_limit(
    client: Client, sim: Simulator
) -> None:
    """type credit_limit is a per-minute limit: retried, and the retry's answer decides."""
    name = "together_credit_limit_then_ok"
    result = (await check(client, sim, [pinned(name)]))[name]

    assert result.status is Status.OK
    assert sim.state.count(name, "/v1/chat/completions") == 2


async def test_cohere_names_the_organization(client: Client, sim: Simulator) -> None:
    """check-api-key's organization_id becomes the account's organization."""
    result = (await check(client, sim, [pinned("cohere_ok")]))["cohere_ok"]

    assert result.account is not None and result.account.organization == "org-7f3a"


async def test_a_pinned_base_url_without_v1_reaches_the_documented_routes(
    client: Client, sim: Simulator
) -> None:
    """base_url=SIM (normalised without /v1) still reaches Together's /v1 routes."""
    result = (await check(client, sim, [pinned("together_ok")], base_url=sim.url))["together_ok"]

    assert result.status is Status.OK and result.models is not None
    assert sim.state.count("together_ok", "/v1/models") == 1


def test_groq_and_perplexity_keys_are_claimed_and_plain_keys_need_a_pin() -> None:
    """gsk_ and pplx- keys route by shape; a vendor host pin routes a plain key."""
    registry = default_registry()
    assert registry.route("gsk_" + "a" * 52, None, None).provider == "groq"
    assert registry.route("pplx-" + "b" * 48, None, None).provider == "perplexity"
    assert registry.route("c" * 32, None, None).problem == "unrecognized_key"
    for host, name in [
        ("https://api.mistral.ai", "mistral"),
        ("https://codestral.mistral.ai", "mistral"),
        ("https://open.bigmodel.cn/api/paas/v4", "zhipu"),
        ("https://api.z.ai/api/paas/v4", "zai"),
        ("https://dashscope-intl.aliyuncs.com/compatible-mode", "dashscope"),
        ("https://ark.cn-beijing.volces.com/api/v3", "ark"),
        ("https://api.minimaxi.com", "minimax"),
        ("https://api.cohere.com", "cohere"),
    ]:
        assert registry.route("c" * 32, None, host).provider == name, host


@pytest.mark.parametrize("vendor", [v for v in VENDORS if v != "cohere"])
def test_compat_vendors_are_declarations(vendor: str) -> None:
    """Every OpenAI-compatible vendor reuses the shared check rather than its own code."""
    chosen = provider(vendor)
    assert isinstance(chosen, CompatProvider)
    assert type(chosen).check is CompatProvider.check
