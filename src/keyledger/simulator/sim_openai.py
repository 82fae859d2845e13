"""The simulator's OpenAI (and one-api/new-api relay) endpoints and scenarios.

Texts are the published ones (``provider-apis.md``). Unknown keys are answered as OpenAI
answers an unknown key (401 ``invalid_api_key``).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aiohttp import web

from keyledger.models import Kind, Status
from keyledger.simulator.clock import spent
from keyledger.simulator.responses import (
    Ctx,
    Responder,
    dynamic,
    json_reply,
    openai_error,
    raw_reply,
    sequence,
)
from keyledger.simulator.scenario import DAY, Scenario, account_of

ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/v1/models"): "models",
    ("POST", "/v1/chat/completions"): "chat",
    ("GET", "/v1/me"): "me",
    ("GET", "/v1/dashboard/billing/subscription"): "subscription",
    ("GET", "/dashboard/billing/subscription"): "subscription",
    ("GET", "/v1/dashboard/billing/usage"): "usage",
    ("GET", "/dashboard/billing/usage"): "usage",
    ("GET", "/dashboard/billing/credit_grants"): "credit_grants",
    ("GET", "/v1/dashboard/billing/credit_grants"): "credit_grants",
    ("GET", "/v1/organization/costs"): "costs",
    # one-api / new-api sites: the public status (no key) and new-api's token usage.
    ("GET", "/api/status"): "status",
    ("GET", "/api/usage/token/"): "token_usage",
    ("GET", "/api/usage/token"): "token_usage",
}

RATE_HEADERS = {
    "x-ratelimit-limit-requests": "5000",
    "x-ratelimit-limit-tokens": "2000000",
    "x-ratelimit-remaining-requests": "4999",
    "x-ratelimit-remaining-tokens": "1999990",
    "x-ratelimit-reset-requests": "12ms",
    "x-ratelimit-reset-tokens": "6m0s",
}

MODELS = json_reply(
    {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 1686935002, "owned_by": "system"}
            for m in ("gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "text-embedding-3-small")
        ],
    },
)
PROBE_OK = openai_error(
    400,
    "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got -1 instead.",
    param="max_tokens",
    code="integer_below_min_value",
    headers=RATE_HEADERS,
)
INVALID = openai_error(
    401,
    "Incorrect API key provided: sk-VKMIs***************************************wjh3. "
    "You can find your API key at https://platform.openai.com/account/api-keys.",
    code="invalid_api_key",
)
NEEDS_SESSION = openai_error(
    403,
    "Your request to GET /v1/dashboard/billing/subscription must be made with a session key "
    "(that is, it can only be made from the browser). You made it with the following key "
    "type: secret.",
    type_="server_error",
)
NO_QUOTA = openai_error(
    429,
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors.",
    type_="insufficient_quota",
    code="insufficient_quota",
)
BILLING_OFF = openai_error(
    429,
    "Your account is not active, please check your billing details on our website.",
    type_="billing_not_active",
    code="billing_not_active",
)
DEACTIVATED = openai_error(
    401,
    "This key is associated with a deactivated account. If you feel this is an error, "
    "contact us through our help center at help.openai.com.",
    code="account_deactivated",
)
TERMINATED = openai_error(
    429,
    "Your access was terminated due to violation of our policies, please check your email "
    "for more information. If you believe this is in error and would like to appeal, please "
    "contact us through our help center at help.openai.com.",
    type_="access_terminated",
    code="access_terminated",
)
RATE_LIMITED = openai_error(
    429,
    "Rate limit reached for gpt-4o-mini in organization org-demo-acme on requests per min "
    "(RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit "
    "https://platform.openai.com/account/rate-limits to learn more.",
    type_="requests",
    code="rate_limit_exceeded",
    headers={"retry-after-ms": "300", **RATE_HEADERS},
)
RATE_LIMITED_LONG = openai_error(
    429,
    "Rate limit reached for gpt-4o-mini in organization org-demo-acme on tokens per min "
    "(TPM): Limit 10000, Used 9348, Requested 5086. Please try again in 1h. Visit "
    "https://platform.openai.com/account/rate-limits to learn more.",
    type_="tokens",
    code="rate_limit_exceeded",
    headers={"retry-after": "3600"},
)
MISSING_SCOPES = openai_error(
    401,
    "You have insufficient permissions for this operation. Missing scopes: model.request. "
    "Check that you have the correct role in your organization (Reader, Writer, Owner) and "
    "project (Member, Owner), and if you're using a restricted API key, that it has the "
    "necessary scopes.",
    type_=None,
)
REGION = openai_error(
    403,
    "Country, region, or territory not supported",
    type_="request_forbidden",
    code="unsupported_country_region_territory",
)
HTML_502 = raw_reply(
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
    status=502,
)
CAPTIVE_PORTAL = raw_reply("<!DOCTYPE html><html><body>Please log in to the Wi-Fi</body></html>")


def _relay_error(status: int, message: str, type_: str = "one_api_error") -> Responder:
    return json_reply(
        {"error": {"message": f"{message} (request id: 2024011512345678)", "type": type_}}, status
    )


def _subscription(hard_limit: str, access_days: int | None = None) -> Responder:
    """A relay's subscription; ``access_days`` after the epoch the token's access ends."""

    def build(request: web.Request, ctx: Ctx) -> Responder:
        until = 0 if access_days is None else _epoch_s(ctx.start) + access_days * DAY
        return json_reply(
            {
                "object": "billing_subscription",
                "has_payment_method": True,
                "soft_limit_usd": Decimal(hard_limit),
                "hard_limit_usd": Decimal(hard_limit),
                "system_hard_limit_usd": Decimal(hard_limit),
                "access_until": until,
            }
        )

    return dynamic(build)


def _usage(cents: str, limit: str | None = None) -> Responder:
    """Usage in cents, growing with the scenario's spend (capped at ``limit`` dollars)."""

    def build(request: web.Request, ctx: Ctx) -> Responder:
        total = Decimal(cents) + ctx.spent() * 100
        if limit is not None:
            total = min(total, Decimal(limit) * 100)
        return json_reply({"object": "list", "total_usage": total})

    return dynamic(build)


def _newapi_status(per_unit: int, display: str, usd_rate: str = "7.3") -> Responder:
    """new-api's public ``/api/status`` (trimmed to the fields that matter)."""
    data = {
        "version": "v0.9.2",
        "system_name": "New API",
        "quota_per_unit": per_unit,
        "display_in_currency": True,
        "quota_display_type": display,
        "usd_exchange_rate": Decimal(usd_rate),
        "custom_currency_symbol": "\u00a4",
        "custom_currency_exchange_rate": 1,
    }
    return json_reply({"success": True, "message": "", "data": data})


def _oneapi_status(per_unit: int, in_currency: bool = True) -> Responder:
    """one-api's public ``/api/status``: no ``quota_display_type``."""
    data = {
        "version": "v0.6.10",
        "system_name": "One API",
        "quota_per_unit": per_unit,
        "display_in_currency": in_currency,
        "top_up_link": "",
    }
    return json_reply({"success": True, "message": "", "data": data})


def _token_usage(
    granted: int,
    used: int,
    available: int,
    unlimited: bool = False,
    account: tuple[int, int] | None = None,
) -> Responder:
    """new-api's ``GET /api/usage/token/`` in raw quota; ``account`` = (quota, used_quota)."""
    data: dict[str, object] = {
        "object": "token_usage",
        "name": "team",
        "total_granted": granted,
        "total_used": used,
        "total_available": available,
        "unlimited_quota": unlimited,
        "model_limits": {},
        "model_limits_enabled": False,
        "expires_at": 0,
    }
    if account is not None:
        data["account"] = {"quota": account[0], "used_quota": account[1]}
    return json_reply({"code": True, "message": "ok", "data": data})


def _epoch_s(moment: datetime) -> int:
    return int(moment.timestamp())


def _draw(grants: list[tuple[str, str, int, int]], used: list[Decimal], ctx: Ctx) -> list[Decimal]:
    """``used`` after the scenario's spending since the epoch, drawn from the live grants.

    Time is cut at each grant expiry; the money spent in each stretch comes from the grants
    still live then (effective, not expired), the one expiring soonest first, never beyond a
    grant's amount. What no grant can cover is not spent.
    """
    used = list(used)
    start = datetime.fromtimestamp(_epoch_s(ctx.start), UTC)  # whole seconds, as sent
    cuts = sorted(
        {start + timedelta(days=g[3]) for g in grants if start < start + timedelta(days=g[3])}
        | {start + timedelta(days=g[2]) for g in grants if g[2] > 0}
    )
    edges = [start, *(c for c in cuts if c < ctx.now), ctx.now]
    order = sorted(range(len(grants)), key=lambda i: grants[i][3])
    for begin, end in itertools.pairwise(edges):
        need = spent(ctx.spend_per_day, begin, end)
        for i in order:
            amount, _, eff, exp = grants[i]
            live = start + timedelta(days=eff) <= begin < start + timedelta(days=exp)
            if not live or need <= 0:
                continue
            take = min(need, Decimal(amount) - used[i])
            if take > 0:
                used[i] += take
                need -= take
    return used


def _grants(grants: list[tuple[str, str, int, int]]) -> Responder:
    """Grants as (amount, used, effective offset days, expiry offset days) from the epoch,
    with the scenario's spending drawn from them (see :func:`_draw`)."""

    def build(request: web.Request, ctx: Ctx) -> Responder:
        base = _epoch_s(ctx.start)
        used = _draw(grants, [Decimal(g[1]) for g in grants], ctx)
        data = [
            {
                "object": "credit_grant",
                "id": f"d8e2c0a2-{i:04d}-4c3f-9d10-5c6b0f0e{i:04d}",
                "grant_amount": Decimal(amount),
                "used_amount": used[i],
                "effective_at": base + eff * DAY,
                "expires_at": base + exp * DAY,
            }
            for i, (amount, _, eff, exp) in enumerate(grants)
        ]
        granted = sum((Decimal(g[0]) for g in grants), Decimal(0))
        used_total = sum(used, Decimal(0))
        return json_reply(
            {
                "object": "credit_summary",
                "total_granted": granted,
                "total_used": used_total,
                "total_available": granted - used_total,
                "grants": {"object": "list", "data": data},
            }
        )

    return dynamic(build)


def _only_v1(responder: Responder) -> Responder:
    """Serve ``responder`` on the ``/v1``-prefixed path only; 404 on the bare one."""

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):  # a front proxy's page, not an API error
            page = "<html><head><title>404 Not Found</title></head><body>nginx</body></html>"
            return await raw_reply(page, status=404)(request, ctx)
        return await responder(request, ctx)

    return respond


def _costs_pages(pages: list[list[tuple[str, str]]]) -> Responder:
    """Costs pages, each a list of (project_id, amount); page tokens chain them."""

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        token = request.query.get("page")
        index = int(token.rsplit("_", 1)[-1]) if token else 0
        index = min(index, len(pages) - 1)
        start = int(request.query.get("start_time", "0"))
        buckets = [
            {
                "object": "bucket",
                "start_time": start + (index * 3 + n) * DAY,
                "end_time": start + (index * 3 + n + 1) * DAY,
                "results": [
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": Decimal(amount), "currency": "usd"},
                        "line_item": None,
                        "project_id": project,
                    }
                ],
            }
            for n, (project, amount) in enumerate(pages[index])
        ]
        more = index + 1 < len(pages)
        since = datetime.fromtimestamp(start, UTC)
        extra = ctx.spent(since)
        if not more and extra:  # this month's spending since the epoch, one more bucket
            buckets.append(
                {
                    "object": "bucket",
                    "start_time": _epoch_s(max(since, ctx.start)),
                    "end_time": _epoch_s(ctx.now),
                    "results": [
                        {
                            "object": "organization.costs.result",
                            "amount": {"value": extra, "currency": "usd"},
                            "line_item": None,
                            "project_id": "proj_simulated",
                        }
                    ],
                }
            )
        body = {
            "object": "page",
            "data": buckets,
            "has_more": more,
            "next_page": f"page_AAAAAGdGxdEiJdKO_{index + 1}" if more else None,
        }
        return await json_reply(body)(request, ctx)

    return respond


def _secret(
    name: str, desc: str, expect: Status, reason: str | None, **endpoints: Responder
) -> Scenario:
    merged: dict[str, Responder] = {
        "models": MODELS,
        "chat": PROBE_OK,
        "subscription": NEEDS_SESSION,
        "usage": NEEDS_SESSION,
    }
    merged.update(endpoints)
    return Scenario(name, Kind.SECRET, desc, expect, reason, merged)


def _relay(
    name: str, desc: str, expect: Status, reason: str | None, **endpoints: Responder
) -> Scenario:
    merged: dict[str, Responder] = {"models": MODELS, "chat": PROBE_OK}
    merged.update(endpoints)
    return Scenario(name, Kind.SECRET, desc, expect, reason, merged, relay=True)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "grants",
            Kind.SESSION,
            "session key: two live grants and one expired grant",
            Status.OK,
            None,
            {
                "credit_grants": _grants(
                    [
                        ("18.00", "6.25", -60, 30),
                        ("50.00", "12.50", -10, 120),
                        ("5.00", "1.00", -200, -20),
                    ]
                )
            },
        ),
        Scenario(
            "grant_expiring",
            Kind.SESSION,
            "session key: the only grant expires in 3 days",
            Status.OK,
            None,
            {"credit_grants": _grants([("120.00", "87.40", -87, 3)])},
        ),
        Scenario(
            "zero_balance",
            Kind.SESSION,
            "session key: no grants at all (the seed's example)",
            Status.OK,
            "zero_balance",
            {"credit_grants": _grants([])},
        ),
        Scenario(
            "grants_v1_only",
            Kind.SESSION,
            "session key at a gateway serving only /v1/dashboard/billing/credit_grants",
            Status.OK,
            None,
            {"credit_grants": _only_v1(_grants([("10.00", "2.50", -5, 60)]))},
        ),
        Scenario(
            "session_deactivated",
            Kind.SESSION,
            "session key of a banned account",
            Status.DEACTIVATED,
            "account_deactivated",
            {"credit_grants": DEACTIVATED},
        ),
        _secret("ok", "project key that works", Status.OK, None),
        _secret(
            "no_quota",
            "key whose account is out of quota",
            Status.NO_QUOTA,
            "insufficient_quota",
            chat=NO_QUOTA,
        ),
        _secret(
            "billing_off",
            "account with billing not active",
            Status.BILLING_INACTIVE,
            "billing_not_active",
            chat=BILLING_OFF,
        ),
        _secret(
            "deactivated",
            "key of a deactivated account",
            Status.DEACTIVATED,
            "account_deactivated",
            models=DEACTIVATED,
            chat=DEACTIVATED,
        ),
        _secret(
            "terminated",
            "access terminated for policy violation",
            Status.DEACTIVATED,
            "access_terminated",
            chat=TERMINATED,
        ),
        _secret(
            "invalid",
            "revoked or mistyped key",
            Status.INVALID,
            "invalid_api_key",
            models=INVALID,
            chat=INVALID,
        ),
        _secret(
            "restricted",
            "restricted key without model.request scope",
            Status.RESTRICTED,
            "missing_scopes",
            chat=MISSING_SCOPES,
        ),
        _secret(
            "rate_limited_then_ok",
            "rate limited once, then fine",
            Status.OK,
            None,
            chat=sequence([RATE_LIMITED, PROBE_OK]),
        ),
        _secret(
            "rate_limited",
            "rate limited for the next hour",
            Status.RATE_LIMITED,
            "rate_limit_exceeded",
            chat=RATE_LIMITED_LONG,
        ),
        _secret(
            "region",
            "request from an unsupported region",
            Status.UNKNOWN,
            "unsupported_country_region_territory",
            models=REGION,
            chat=REGION,
        ),
        _secret(
            "html_502",
            "Cloudflare 502 page on every call",
            Status.UNKNOWN,
            "server_error",
            models=HTML_502,
            chat=HTML_502,
            subscription=HTML_502,
        ),
        _secret(
            "captive_portal",
            "a Wi-Fi login page answering 200",
            Status.UNKNOWN,
            "unexpected_body",
            models=CAPTIVE_PORTAL,
            chat=CAPTIVE_PORTAL,
            subscription=CAPTIVE_PORTAL,
        ),
        _relay(
            "relay",
            "one-api relay token with $100 quota, $25.34 used",
            Status.OK,
            None,
            subscription=_subscription("100.0", 45),
            usage=_usage("2534.0"),
        ),
        _relay(
            "relay_unlimited",
            "relay token without a cap of its own (legacy pair only): wallet unknown",
            Status.OK,
            None,
            subscription=_subscription("100000000"),
            usage=_usage("123456"),
        ),
        _relay(
            "relay_unlimited_empty_wallet",
            "new-api token without a cap whose wallet is empty: $1234.56 spent, money unknown",
            Status.OK,
            None,
            status=_newapi_status(500000, "USD"),
            token_usage=_token_usage(0, 617280000, -617280000, unlimited=True),
            subscription=_subscription("100000000"),
            usage=_usage("123456"),
        ),
        _relay(
            "relay_newapi_cny",
            "new-api site showing CNY (quota_per_unit 1000000, 7.2 CNY/USD): 270 CNY left",
            Status.OK,
            None,
            status=_newapi_status(1000000, "CNY", "7.2"),
            token_usage=_token_usage(50000000, 12500000, 37500000),
        ),
        _relay(
            "relay_newapi_account",
            "new-api token endpoint with data.account (no /api/status): $4 left in the wallet",
            Status.OK,
            None,
            token_usage=_token_usage(
                0, 3000000, -3000000, unlimited=True, account=(2000000, 8000000)
            ),
        ),
        _relay(
            "relay_oneapi_wallet",
            "one-api in wallet mode: hard_limit_usd is the $3.20 left, $41.80 used",
            Status.OK,
            None,
            status=_oneapi_status(500000),
            subscription=_subscription("3.2"),
            usage=_usage("4180"),
        ),
        _relay(
            "relay_exhausted",
            "relay token whose quota is used up",
            Status.NO_QUOTA,
            "insufficient_quota",
            models=_relay_error(401, "该令牌额度已用尽"),
            chat=_relay_error(401, "该令牌额度已用尽"),
        ),
        _relay(
            "relay_spent",
            "relay token with nothing left on its limit",
            Status.NO_QUOTA,
            "balance_exhausted",
            subscription=_subscription("10.0"),
            usage=_usage("1000"),
        ),
        _relay(
            "relay_invalid",
            "relay token that does not exist",
            Status.INVALID,
            "invalid_api_key",
            models=_relay_error(401, "无效的令牌"),
            chat=_relay_error(401, "无效的令牌"),
        ),
        Scenario(
            "admin",
            Kind.ADMIN,
            "admin key: month-to-date costs over three pages",
            Status.OK,
            None,
            {
                "costs": _costs_pages(
                    [
                        [("proj_alpha", "12.50"), ("proj_beta", "3.25"), ("proj_alpha", "7.75")],
                        [("proj_alpha", "1.00"), ("proj_gamma", "0.06"), ("proj_beta", "4.44")],
                        [("proj_alpha", "2.00")],
                    ]
                )
            },
        ),
        Scenario(
            "admin_no_scope",
            Kind.ADMIN,
            "a project key used as an admin key",
            Status.RESTRICTED,
            "missing_scopes",
            {
                "costs": openai_error(
                    401,
                    "You have insufficient permissions for this operation. Missing scopes: "
                    "api.usage.read. Check that you have the correct role in your organization, "
                    "and if you're using a restricted API key, that it has the necessary scopes.",
                    type_="invalid_request_error",
                )
            },
        ),
    )
}


# Accounts whose figures move with the simulated clock (the demo's history uses them).
TIMED: tuple[Scenario, ...] = (
    Scenario(
        "grants_spending",
        Kind.SESSION,
        "session key spending $2.50/day; a $25 grant expires on day 10",
        Status.OK,
        None,
        {"credit_grants": _grants([("25.00", "5.00", -20, 10), ("100.00", "10.00", -30, 90)])},
        spend_per_day=Decimal("2.50"),
    ),
    Scenario(
        "grant_lapses_day_24",
        Kind.SESSION,
        "session key spending $2.00/day; its only grant expires on day 24",
        Status.OK,
        None,
        {"credit_grants": _grants([("120.00", "27.40", -60, 24)])},
        spend_per_day=Decimal("2.00"),
    ),
    replace(
        _relay(
            "relay_spending",
            "relay token with $100 quota spending $1.50/day",
            Status.OK,
            None,
            subscription=_subscription("100.0", 60),
            usage=_usage("2534.0", "100.0"),
        ),
        spend_per_day=Decimal("1.50"),
    ),
    replace(
        SCENARIOS["admin"],
        name="admin_spending",
        description="admin key: month-to-date costs plus $4.00/day",
        spend_per_day=Decimal("4.00"),
    ),
    replace(
        SCENARIOS["ok"],
        name="dies_midrun",
        description="works for 3 days, then its account is deactivated",
        dies_at=timedelta(days=3),
        dies_as="deactivated",
    ),
    replace(
        SCENARIOS["ok"],
        name="dies_and_revives",
        description="out of quota from day 2 to day 4, fine before and after",
        dies_at=timedelta(days=2),
        dies_as="no_quota",
        revives_at=timedelta(days=4),
    ),
)
SCENARIOS.update((s.name, s) for s in TIMED)


def decorate(response: web.StreamResponse, scenario: Scenario, key: str) -> None:
    """OpenAI names the organization of every answer; a relay does only when it passes its
    upstream's header through (a key naming an account simulates that)."""
    account = account_of(key)
    if account or not scenario.relay:
        org = account or hashlib.sha256(key.encode()).hexdigest()[:10]
        response.headers.setdefault("openai-organization", f"org-{org}")
