"""The simulator's Anthropic endpoints and scenarios (texts from provider-apis.md §4.5 and
providers-2026.md §3.5): models, the free count_tokens call, and the admin cost report."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from keyledger.models import Kind, Status
from keyledger.simulator.responses import Ctx, Responder, dynamic, json_reply
from keyledger.simulator.scenario import Scenario

ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/v1/models"): "anthropic_models",
    ("POST", "/v1/messages/count_tokens"): "anthropic_count_tokens",
    ("GET", "/v1/organizations/cost_report"): "anthropic_cost_report",
}
API = "sk-ant-api03-"
ADMIN = "sk-ant-admin01-"
RATE_HEADERS = {
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2026-11-30T00:00:01Z",
    "anthropic-ratelimit-tokens-limit": "2000000",
    "anthropic-ratelimit-tokens-remaining": "1999990",
}


def anthropic_error(
    status: int, type_: str, message: str, headers: Mapping[str, str] | None = None
) -> Responder:
    """An error in Anthropic's envelope."""
    body = {
        "type": "error",
        "error": {"type": type_, "message": message},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }
    return json_reply(body, status, headers)


MODELS = json_reply(
    {
        "data": [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-10-01T00:00:00Z"}
            for m in ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1")
        ],
        "has_more": False,
        "first_id": "claude-sonnet-4-5",
        "last_id": "claude-opus-4-1",
    }
)
COUNTED = json_reply({"input_tokens": 8}, headers=RATE_HEADERS)
INVALID = anthropic_error(401, "authentication_error", "invalid x-api-key")
CREDIT_TOO_LOW = anthropic_error(
    400,
    "invalid_request_error",
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing "
    "to upgrade or purchase credits.",
)
DISABLED = anthropic_error(400, "invalid_request_error", "This organization has been disabled.")
USAGE_LIMIT = anthropic_error(
    400,
    "invalid_request_error",
    "You have reached your specified API usage limits. You will regain access on 2026-12-01 at "
    "00:00 UTC.",
)
RATE_LIMITED = anthropic_error(
    429,
    "rate_limit_error",
    "This request would exceed the rate limit for your organization (abc) of 1,000,000 input "
    "tokens per minute.",
    {"retry-after": "0"},
)
LONG_CONTEXT = anthropic_error(
    429, "rate_limit_error", "Extra usage is required for long context requests."
)

# Two pages of cost report: amounts are cents as decimal strings ($128.46 in all).
COST_PAGES = {
    None: {
        "data": [
            {
                "starting_at": "2026-11-01T00:00:00Z",
                "ending_at": "2026-11-02T00:00:00Z",
                "results": [
                    {"amount": "12345.67", "currency": "USD", "workspace_id": "wrkspc_a"},
                    {"amount": "500", "currency": "USD", "workspace_id": None},
                ],
            }
        ],
        "has_more": True,
        "next_page": "page_2",
    },
    "page_2": {
        "data": [
            {
                "starting_at": "2026-11-02T00:00:00Z",
                "ending_at": "2026-11-03T00:00:00Z",
                "results": [{"amount": "0.33", "currency": "USD", "workspace_id": "wrkspc_a"}],
            }
        ],
        "has_more": False,
        "next_page": None,
    },
}


def _cost_page(request: web.Request, ctx: Ctx) -> Responder:
    page = COST_PAGES.get(request.query.get("page"))
    if page is None or "starting_at" not in request.query:
        return anthropic_error(400, "invalid_request_error", "starting_at: field required")
    return json_reply(page)


def _scenario(
    name: str,
    description: str,
    expect: Status,
    reason: str | None,
    endpoints: dict[str, Responder],
    kind: Kind = Kind.SECRET,
) -> Scenario:
    return Scenario(
        name,
        kind,
        description,
        expect,
        reason,
        endpoints=endpoints,
        provider="anthropic",
        key_prefix=ADMIN if kind is Kind.ADMIN else API,
    )


def _probe(answer: Responder, models: Responder = MODELS) -> dict[str, Responder]:
    return {"anthropic_models": models, "anthropic_count_tokens": answer}


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _scenario("anthropic_ok", "live key, tier 4", Status.OK, None, _probe(COUNTED)),
        _scenario(
            "anthropic_invalid",
            "401 invalid x-api-key",
            Status.INVALID,
            "invalid_api_key",
            {"anthropic_models": INVALID, "anthropic_count_tokens": INVALID},
        ),
        _scenario(
            "anthropic_not_found",
            "404 on /v1/models: the key is not live",
            Status.INVALID,
            "key_not_found",
            {"anthropic_models": anthropic_error(404, "not_found_error", "Not found")},
        ),
        _scenario(
            "anthropic_models_inconclusive",
            "400 on /v1/models, count_tokens works",
            Status.OK,
            None,
            _probe(COUNTED, anthropic_error(400, "invalid_request_error", "Invalid request")),
        ),
        _scenario(
            "anthropic_no_credit",
            "count_tokens: credit balance too low",
            Status.NO_QUOTA,
            "insufficient_quota",
            _probe(CREDIT_TOO_LOW),
        ),
        _scenario(
            "anthropic_org_disabled",
            "count_tokens: organization disabled",
            Status.DEACTIVATED,
            "account_deactivated",
            _probe(DISABLED),
        ),
        _scenario(
            "anthropic_usage_limit",
            "count_tokens: spend limit, access back on a date",
            Status.NO_QUOTA,
            "usage_limit_reached",
            _probe(USAGE_LIMIT),
        ),
        _scenario(
            "anthropic_rate_limited",
            "count_tokens: 429 rate_limit_error",
            Status.RATE_LIMITED,
            "rate_limit_exceeded",
            _probe(RATE_LIMITED),
        ),
        _scenario(
            "anthropic_long_context",
            "429 extra usage required: an entitlement",
            Status.RESTRICTED,
            "extra_usage_required",
            _probe(LONG_CONTEXT),
        ),
        _scenario(
            "anthropic_admin",
            "admin key: month-to-date cost over two pages",
            Status.OK,
            None,
            {"anthropic_cost_report": dynamic(_cost_page)},
            Kind.ADMIN,
        ),
        _scenario(
            "anthropic_admin_invalid",
            "admin key: 401",
            Status.INVALID,
            "invalid_api_key",
            {"anthropic_cost_report": INVALID},
            Kind.ADMIN,
        ),
    )
}
