"""Anthropic, xAI and Gemini: every published error text is classified as documented.

Texts from provider-apis.md §4.5-4.6 and providers-2026.md §3.5-3.7 and §4; each provider's
own rules are all reached by some case.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from keyledger.classify import Rule, classify, error_info
from keyledger.models import Status
from keyledger.providers.anthropic import AnthropicProvider
from keyledger.providers.anthropic_rules import regain_at
from keyledger.providers.gemini import GeminiProvider
from keyledger.providers.openai import OpenAIProvider
from keyledger.providers.spec import Provider
from keyledger.providers.xai import XAIProvider

PROVIDERS: dict[str, Provider] = {
    "anthropic": AnthropicProvider(),
    "xai": XAIProvider(),
    "gemini": GeminiProvider(),
}


def body(data: object) -> bytes:
    """JSON bytes of ``data``."""
    return json.dumps(data).encode()


def anthropic(type_: str, message: str) -> bytes:
    """An error body in Anthropic's envelope."""
    return body({"type": "error", "error": {"type": type_, "message": message}, "request_id": "r"})


def google(code: int, status: str, message: str, details: list[object] | None = None) -> bytes:
    """An error body in Google's RPC envelope."""
    error: dict[str, object] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return body({"error": error})


def quota(quota_id: str) -> list[object]:
    """A ``QuotaFailure`` detail naming ``quota_id``."""
    return [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaMetric": "m", "quotaId": quota_id}],
        }
    ]


GEMINI_QUOTA_TEXT = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)
XAI_NO_CREDIT = (
    "Your team 0f1e2d3c has either used all available credits or reached its monthly spending "
    "limit. To continue making API requests, please purchase more credits or raise your "
    "spending limit."
)

# (case id, provider, HTTP status, body, expected status, expected reason)
CASES: list[tuple[str, str, int, bytes, Status, str]] = [
    (
        "anthropic-invalid",
        "anthropic",
        401,
        anthropic("authentication_error", "invalid x-api-key"),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "anthropic-credit-too-low",
        "anthropic",
        400,
        anthropic(
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
            "Billing to upgrade or purchase credits.",
        ),
        Status.NO_QUOTA,
        "insufficient_quota",
    ),
    (
        "anthropic-org-disabled",
        "anthropic",
        400,
        anthropic("invalid_request_error", "This organization has been disabled."),
        Status.DEACTIVATED,
        "account_deactivated",
    ),
    (
        "anthropic-usage-limits",
        "anthropic",
        400,
        anthropic(
            "invalid_request_error",
            "You have reached your specified API usage limits. You will regain access on "
            "2026-04-01 at 00:00 UTC.",
        ),
        Status.NO_QUOTA,
        "usage_limit_reached",
    ),
    (
        "anthropic-enforced-spend-limit",
        "anthropic",
        429,
        anthropic("rate_limit_error", "enforced_spend_limit_reached"),
        Status.NO_QUOTA,
        "spend_limit_reached",
    ),
    (
        "anthropic-extra-usage",
        "anthropic",
        429,
        anthropic("rate_limit_error", "Extra usage is required for long context requests."),
        Status.RESTRICTED,
        "extra_usage_required",
    ),
    (
        "anthropic-permission",
        "anthropic",
        403,
        anthropic(
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        Status.RESTRICTED,
        "permission_denied",
    ),
    (
        "anthropic-rate-limit",
        "anthropic",
        429,
        anthropic(
            "rate_limit_error",
            "This request would exceed the rate limit for your organization (abc) of "
            "1,000,000 input tokens per minute.",
        ),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
    ),
    (
        "anthropic-overloaded",
        "anthropic",
        529,
        anthropic("overloaded_error", "Overloaded"),
        Status.UNKNOWN,
        "overloaded",
    ),
    (
        "anthropic-model-not-found",
        "anthropic",
        404,
        anthropic("not_found_error", "model: claude-3-opus-20240229"),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    (
        "anthropic-models-400-inconclusive",
        "anthropic",
        400,
        anthropic("invalid_request_error", "Invalid request"),
        Status.UNKNOWN,
        "bad_request",
    ),
    (
        "xai-invalid",
        "xai",
        400,
        body(
            {
                "code": "Client specified an invalid argument",
                "error": "Incorrect API key provided: na***ys. You can obtain an API key from "
                "https://console.x.ai.",
            }
        ),
        Status.INVALID,
        "invalid_api_key",
    ),
    ("xai-no-credit-chat", "xai", 429, body(XAI_NO_CREDIT), Status.NO_QUOTA, "insufficient_quota"),
    (
        "xai-no-credit-responses",
        "xai",
        403,
        body(XAI_NO_CREDIT),
        Status.NO_QUOTA,
        "insufficient_quota",
    ),
    (
        "gemini-invalid",
        "gemini",
        400,
        google(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
        ),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "gemini-key-not-found",
        "gemini",
        400,
        google(400, "INVALID_ARGUMENT", "API Key not found. Please pass a valid API key."),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "gemini-no-access",
        "gemini",
        403,
        google(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."),
        Status.RESTRICTED,
        "no_gemini_access",
    ),
    (
        "gemini-imagen-free-tier",
        "gemini",
        400,
        google(
            400, "INVALID_ARGUMENT", "Imagen API is only accessible to billed users at this time."
        ),
        Status.OK,
        "free_tier",
    ),
    (
        "gemini-imagen-billed",
        "gemini",
        400,
        google(400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
        Status.UNKNOWN,
        "bad_request",
    ),
    (
        "gemini-free-tier-429",
        "gemini",
        429,
        google(
            429,
            "RESOURCE_EXHAUSTED",
            GEMINI_QUOTA_TEXT,
            quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
        ),
        Status.RATE_LIMITED,
        "free_tier_rate_limit",
    ),
    (
        "gemini-free-tier-daily-429",
        "gemini",
        429,
        google(
            429,
            "RESOURCE_EXHAUSTED",
            GEMINI_QUOTA_TEXT,
            quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
        ),
        Status.RATE_LIMITED,
        "free_tier_daily_limit",
    ),
    (
        "gemini-paid-429",
        "gemini",
        429,
        google(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
    ),
    (
        "gemini-quota-text-429",
        "gemini",
        429,
        body({"error": {"code": 429, "message": GEMINI_QUOTA_TEXT}}),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
    ),
    (
        "gemini-region-limit",
        "gemini",
        429,
        google(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Generate Content API requests per minute' and "
            "limit 'GenerateContent request limit per minute for a region' of service "
            "'generativelanguage.googleapis.com'.",
        ),
        Status.RESTRICTED,
        "no_generate_quota",
    ),
]


@pytest.mark.parametrize(
    ("provider", "status", "raw", "want", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_published_texts_are_classified(
    provider: str, status: int, raw: bytes, want: Status, reason: str
) -> None:
    """Each published error text gets its documented status and reason."""
    _, verdict = classify(error_info(status, raw), PROVIDERS[provider].classification)
    assert (verdict.status, verdict.reason) == (want, reason)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_rule_is_reached_by_a_case(name: str) -> None:
    """Every rule of the provider's own table is the first match of some published case."""
    provider = PROVIDERS[name]
    reached: set[str] = set()
    for _, owner, status, raw, _, _ in CASES:
        if owner == name:
            rule: Rule | None
            rule, _ = classify(error_info(status, raw), provider.classification)
            if rule is not None:
                reached.add(rule.name)
    assert {r.name for r in provider.rules} <= reached


def test_spend_limit_date_is_the_retry_time() -> None:
    """The usage-limit text's date becomes when the key works again (00:00 UTC)."""
    info = error_info(400, CASES[3][3])
    assert regain_at(info) == datetime(2026, 4, 1, tzinfo=UTC)
    assert (
        regain_at(
            error_info(400, anthropic("invalid_request_error", "regain access on 2026-13-40"))
        )
        is None
    )


def test_bare_json_string_body_is_the_message() -> None:
    """A body that is only a JSON string is read as the message (xAI's no-credit answers)."""
    info = error_info(429, body(XAI_NO_CREDIT))
    assert info.message == XAI_NO_CREDIT and not info.has_error_object
    assert error_info(200, body("fine")).message is None


def test_gemini_free_tier_429_would_be_no_quota_by_text_alone() -> None:
    """The Gemini free-tier 429 reuses OpenAI's no-quota text: only quotaId tells them apart."""
    raw = google(429, "RESOURCE_EXHAUSTED", GEMINI_QUOTA_TEXT, quota("X-FreeTier"))
    _, by_text = classify(error_info(429, raw), OpenAIProvider().classification)
    _, by_quota = classify(error_info(429, raw), PROVIDERS["gemini"].classification)
    assert by_text.status is Status.NO_QUOTA and by_quota.status is Status.RATE_LIMITED
