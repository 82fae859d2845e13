"""Classification of every published error answer (provider-apis.md §2.2, §4, §5, §6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyledger.classify import (
    HEAD,
    TAIL,
    ErrorInfo,
    classify,
    error_info,
    looks_like_html,
    parse_json,
)
from keyledger.models import Status
from keyledger.providers.openai_common import TABLE as OPENAI
from keyledger.providers.openai_rules import RULES


def openai(message: str, type_: str | None, code: Any = None, param: Any = None) -> bytes:
    """An OpenAI error envelope with all four fields."""
    return json.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    ).encode()


def body(data: Any) -> bytes:
    """Any JSON body."""
    return json.dumps(data, ensure_ascii=False).encode()


# (case id, HTTP status, body, expected status, expected reason) — exact texts as published.
CASES: list[tuple[str, int, bytes, Status, str]] = [
    # §2.2 OpenAI catalogue
    (
        "openai-invalid-key",
        401,
        openai(
            "Incorrect API key provided: sk-VKMIs***************************************wjh3. "
            "You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        ),
        Status.INVALID,
        "invalid_api_key",
    ),
    (
        "openai-deactivated-2023",
        401,
        openai(
            "This key is associated with a deactivated account. If you feel this is an error, "
            "contact us through our help center at help.openai.com.",
            "invalid_request_error",
            "account_deactivated",
        ),
        Status.DEACTIVATED,
        "account_deactivated",
    ),
    (
        "openai-deactivated-2024",
        401,
        openai(
            "The OpenAI account associated with this API key has been deactivated. If you are "
            "the developer for this OpenAI app, please check your email for more information.",
            "invalid_request_error",
            "account_deactivated",
        ),
        Status.DEACTIVATED,
        "account_deactivated",
    ),
    (
        "relay-deactivated-no-code",
        401,
        openai(
            "Your OpenAI account has been deactivated, please check your email for more "
            "information.",
            "requests",
            None,
        ),
        Status.DEACTIVATED,
        "account_deactivated",
    ),
    (
        "openai-no-organization",
        401,
        openai(
            "You must be a member of an organization to use the API. Please contact us through "
            "our help center at help.openai.com.",
            "invalid_request_error",
            "no_organization",
        ),
        Status.RESTRICTED,
        "no_organization",
    ),
    (
        "openai-mismatched-org",
        401,
        openai(
            "OpenAI-Organization header should match organization for API key.",
            "invalid_request_error",
            "mismatched_organization",
        ),
        Status.RESTRICTED,
        "mismatched_organization",
    ),
    (
        "openai-ip-not-authorized",
        401,
        openai("IP not authorized", "invalid_request_error", None),
        Status.RESTRICTED,
        "ip_not_authorized",
    ),
    (
        "openai-missing-scopes-usage-401",
        401,
        openai(
            "You have insufficient permissions for this operation. Missing scopes: "
            "api.usage.read. Check that you have the correct role in your organization, and if "
            "you're using a restricted API key, that it has the necessary scopes.",
            "invalid_request_error",
            None,
        ),
        Status.RESTRICTED,
        "missing_scopes",
    ),
    (
        "openai-missing-scopes-403",
        403,
        openai(
            "You have insufficient permissions for this operation. Missing scopes: "
            "model.request. Check that you have the correct role in your organization "
            "(Reader, Writer, Owner) and project (Member, Owner).",
            "invalid_request_error",
            None,
        ),
        Status.RESTRICTED,
        "missing_scopes",
    ),
    (
        "openai-needs-session-key",
        403,
        openai(
            "Your request to GET /dashboard/billing/credit_grants must be made with a session "
            "key (that is, it can only be made from the browser). You made it with the "
            "following key type: secret.",
            "server_error",
            None,
        ),
        Status.UNKNOWN,
        "needs_session_key",
    ),
    (
        "openai-region",
        403,
        openai(
            "Country, region, or territory not supported",
            "request_forbidden",
            "unsupported_country_region_territory",
        ),
        Status.UNKNOWN,
        "unsupported_country_region_territory",
    ),
    (
        "openai-project-model-access",
        403,
        openai(
            "Project `proj_abc123` does not have access to model `gpt-4o`",
            "invalid_request_error",
            None,
        ),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    (
        "openai-org-must-be-verified",
        403,
        openai(
            "Your organization must be verified to use the model 'gpt-image-1'. Please go to: "
            "https://platform.openai.com/settings/organization/general and click on Verify "
            "Organization.",
            "invalid_request_error",
            None,
        ),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    (
        "openai-insufficient-quota-2023",
        429,
        openai(
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            None,
        ),
        Status.NO_QUOTA,
        "insufficient_quota",
    ),
    (
        "openai-insufficient-quota-2024",
        429,
        openai(
            "You exceeded your current quota, please check your plan and billing details. For "
            "more information on this error, read the docs: "
            "https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
            "insufficient_quota",
        ),
        Status.NO_QUOTA,
        "insufficient_quota",
    ),
    *[
        (
            f"openai-{code}",
            429,
            openai("Your credit balance has been exhausted.", "insufficient_quota", code),
            Status.NO_QUOTA,
            code,
        )
        for code in (
            "credit_balance_exhausted",
            "organization_spend_limit_exceeded",
            "project_spend_limit_exceeded",
            "organization_usage_limit_exceeded",
        )
    ],
    (
        "openai-billing-not-active-2025",
        429,
        openai(
            "Your account is not active, please check your billing details on our website.",
            "billing_not_active",
            "billing_not_active",
        ),
        Status.BILLING_INACTIVE,
        "billing_not_active",
    ),
    (
        "openai-billing-not-active-2023",
        429,
        openai(
            "Your account is not active, please check your billing details on our website.",
            "billing_not_active",
            None,
        ),
        Status.BILLING_INACTIVE,
        "billing_not_active",
    ),
    (
        "openai-access-terminated-2023",
        429,
        openai(
            "Your access was terminated due to violation of our policies, please check your "
            "email for more information. If you believe this is in error and would like to "
            "appeal, please contact support@openai.com.",
            "access_terminated",
            None,
        ),
        Status.DEACTIVATED,
        "access_terminated",
    ),
    (
        "openai-access-terminated-later",
        429,
        openai(
            "Your access was terminated due to violation of our policies, please check your "
            "email for more information. If you believe this is in error and would like to "
            "appeal, please contact us through our help center at help.openai.com.",
            "access_terminated",
            "access_terminated",
        ),
        Status.DEACTIVATED,
        "access_terminated",
    ),
    (
        "openai-rate-limit-tpm",
        429,
        openai(
            "Rate limit reached for gpt-4 in organization org-abc on tokens per min (TPM): "
            "Limit 10000, Used 9348, Requested 5086. Please try again in 26.604s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            "tokens",
            "rate_limit_exceeded",
        ),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
    ),
    (
        "openai-rate-limit-2023-null-code",
        429,
        openai(
            "Rate limit reached for default-gpt-3.5-turbo in organization org-abc on requests "
            "per min. Limit: 3 / min. Please try again in 20s. Contact us through our help "
            "center at help.openai.com if you continue to have issues. Please add a payment "
            "method to your account to increase your rate limit.",
            "requests",
            None,
        ),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
    ),
    (
        "openai-request-too-large",
        429,
        openai(
            "Request too large for gpt-4o in organization org-abc on tokens per min (TPM): "
            "Limit 30000, Requested 31538. The input or output tokens must be reduced in order "
            "to run successfully.",
            "tokens",
            "rate_limit_exceeded",
        ),
        Status.RATE_LIMITED,
        "request_too_large",
    ),
    (
        "openai-cf-bad-gateway",
        502,
        body(
            {
                "error": {
                    "message": "Bad gateway.",
                    "type": "cf_bad_gateway",
                    "param": None,
                    "code": 502,
                }
            }
        ),
        Status.UNKNOWN,
        "server_error",
    ),
    (
        "cloudflare-502-html",
        502,
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 "
        b"Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>",
        Status.UNKNOWN,
        "server_error",
    ),
    # §2.6 the zero-cost probe
    (
        "probe-healthy-2024",
        400,
        openai(
            "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got "
            "-15335 instead.",
            "invalid_request_error",
            "integer_below_min_value",
            "max_tokens",
        ),
        Status.OK,
        "probe_rejected_as_expected",
    ),
    (
        "probe-healthy-2023",
        400,
        openai("0 is less than the minimum of 1 - 'max_tokens'", "invalid_request_error"),
        Status.OK,
        "probe_rejected_as_expected",
    ),
    (
        "other-bad-request",
        400,
        openai("'messages' is a required property", "invalid_request_error", None, None),
        Status.UNKNOWN,
        "bad_request",
    ),
    (
        "model-not-found",
        404,
        openai(
            "The model `babbage-002` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    # §5 one-api / new-api relays
    *[
        (
            f"relay-401-{reason}",
            401,
            body(
                {
                    "error": {
                        "message": f"{text} (request id: 20240115123456789)",
                        "type": "one_api_error",
                    }
                }
            ),
            status,
            reason,
        )
        for text, status, reason in (
            ("无效的令牌", Status.INVALID, "invalid_api_key"),
            ("未提供令牌", Status.INVALID, "invalid_api_key"),
            ("该令牌已过期", Status.INVALID, "token_expired"),
            ("令牌 team（#12）额度已用尽", Status.NO_QUOTA, "insufficient_quota"),
            ("该令牌额度已用尽", Status.NO_QUOTA, "insufficient_quota"),
            ("该令牌状态不可用", Status.DEACTIVATED, "token_disabled"),
        )
    ],
    *[
        (
            f"new-api-en-{reason}-{n}",
            401,
            body({"error": {"message": text, "type": "new_api_error"}}),
            status,
            reason,
        )
        for n, (text, status, reason) in enumerate(
            (
                ("Invalid token", Status.INVALID, "invalid_api_key"),
                ("Token not provided", Status.INVALID, "invalid_api_key"),
                ("This token has expired", Status.INVALID, "token_expired"),
                (
                    "This token quota is exhausted TokenStatusExhausted[sk-abc***xyz]",
                    Status.NO_QUOTA,
                    "insufficient_quota",
                ),
                ("This token status is unavailable", Status.DEACTIVATED, "token_disabled"),
            )
        )
    ],
    (
        "new-api-ip-not-allowed",
        403,
        body({"error": {"message": "您的 IP 不在令牌允许访问的列表中", "type": "new_api_error"}}),
        Status.RESTRICTED,
        "ip_not_authorized",
    ),
    (
        "new-api-no-channel",
        503,
        body(
            {
                "error": {
                    "message": "No available channel for model babbage-002 under group default (distributor)",
                    "type": "new_api_error",
                }
            }
        ),
        Status.UNKNOWN,
        "server_error",
    ),
    (
        "new-api-model-forbidden",
        403,
        body(
            {
                "error": {
                    "message": "This token has no access to model gpt-4o",
                    "type": "new_api_error",
                }
            }
        ),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    (
        "relay-403-banned",
        403,
        body({"error": {"message": "用户已被封禁", "type": "one_api_error"}}),
        Status.DEACTIVATED,
        "account_deactivated",
    ),
    (
        "relay-403-model-not-allowed",
        403,
        body({"error": {"message": "该令牌无权使用模型：gpt-4", "type": "one_api_error"}}),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    (
        "relay-403-ip",
        403,
        body(
            {"error": {"message": "该令牌只能在指定网段使用：10.0.0.0/8", "type": "one_api_error"}}
        ),
        Status.RESTRICTED,
        "ip_not_authorized",
    ),
    (
        "relay-403-insufficient-user-quota",
        403,
        body(
            {
                "error": {
                    "message": "user quota is not enough",
                    "type": "one_api_error",
                    "code": "insufficient_user_quota",
                }
            }
        ),
        Status.NO_QUOTA,
        "insufficient_user_quota",
    ),
    (
        "relay-200-error-object",
        200,
        body({"error": {"message": "获取配额失败", "type": "upstream_error"}}),
        Status.UNKNOWN,
        "relay_error",
    ),
    (
        "relay-200-quota-error",
        200,
        body({"error": {"message": "该令牌额度已用尽", "type": "new_api_error"}}),
        Status.NO_QUOTA,
        "insufficient_quota",
    ),
    (
        "relay-404-non-openai-shape",
        404,
        body({"error": "当前 API 不支持所选模型 gpt-5-codex", "type": "error"}),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    (
        "relay-passthrough-with-request-id",
        429,
        body(
            {
                "error": {
                    "message": "You exceeded your current quota, please check your plan and "
                    "billing details. (request id: 2024051512000012345)",
                    "type": "insufficient_quota",
                    "param": "",
                    "code": "insufficient_quota",
                }
            }
        ),
        Status.NO_QUOTA,
        "insufficient_quota",
    ),
    # §6 catch-alls and pages (reliability.md C1, F9-F11)
    (
        "other-401-json",
        401,
        openai("Something new went wrong with your key.", "invalid_request_error", "new_code"),
        Status.INVALID,
        "unauthorized",
    ),
    ("401-html-proxy", 401, b"<html><body>Proxy login</body></html>", Status.UNKNOWN, "proxy"),
    ("407-proxy-auth", 407, b"", Status.UNKNOWN, "proxy_auth"),
    (
        "other-403-json",
        403,
        openai("Forbidden for reasons unknown.", "invalid_request_error", None),
        Status.RESTRICTED,
        "permission_denied",
    ),
    (
        "403-html",
        403,
        b"<!DOCTYPE html><html><title>Access denied</title></html>",
        Status.UNKNOWN,
        "unexpected_body",
    ),
    # sub2api's wallet-empty answer (providers-2026.md §2)
    (
        "sub2api-insufficient-balance",
        403,
        body({"code": "INSUFFICIENT_BALANCE", "message": "Insufficient account balance"}),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
    # providers-2026.md §1: a request-level 400 says nothing about the key
    (
        "openai-invalid-service-tier",
        400,
        openai("Invalid service_tier argument", "invalid_request_error"),
        Status.UNKNOWN,
        "bad_request",
    ),
    ("501", 501, b"", Status.UNKNOWN, "server_error"),
    ("503-empty", 503, b"", Status.UNKNOWN, "server_error"),
    ("408", 408, b"", Status.UNKNOWN, "timeout"),
    ("302", 302, b"", Status.UNKNOWN, "redirect"),
    ("429-no-body", 429, b"", Status.RATE_LIMITED, "rate_limited"),
    ("418-json-unrecognised", 418, openai("I'm a teapot", "teapot"), Status.UNKNOWN, "http_418"),
    ("200-truncated-json", 200, b'{"data":[', Status.UNKNOWN, "unexpected_body"),
    (
        "404-missing-endpoint",
        404,
        openai("Invalid URL (GET /v1/me)", "invalid_request_error"),
        Status.UNKNOWN,
        "not_found",
    ),
    (
        "openai-daily-requests",
        429,
        openai(
            "Rate limit reached for gpt-4o-mini in organization org-x on requests per day (RPD): "
            "Limit 200, Used 200, Requested 1.",
            "requests",
            "rate_limit_exceeded",
        ),
        Status.NO_QUOTA,
        "daily_request_limit",
    ),
]


@pytest.mark.parametrize(
    ("http_status", "raw", "status", "reason"),
    [pytest.param(c[1], c[2], c[3], c[4], id=c[0]) for c in CASES],
)
def test_published_answer_is_classified(
    http_status: int, raw: bytes, status: Status, reason: str
) -> None:
    """Each published error text maps to the status and reason the research table gives."""
    _, verdict = classify(error_info(http_status, raw), OPENAI)

    assert (verdict.status, verdict.reason) == (status, reason)


def test_every_rule_is_exercised() -> None:
    """Every row of OpenAI's rule table is reached by at least one published case."""
    used = {
        rule.name
        for _, code, raw, _, _ in CASES
        if (rule := classify(error_info(code, raw), OPENAI)[0])
    }
    unused = {r.name for r in RULES} - used

    assert unused == set()


# Answers any provider may give, classified by the shared head and tail alone.
GENERIC_CASES: list[tuple[int, bytes, Status, str]] = [
    (407, b"", Status.UNKNOWN, "proxy_auth"),
    (401, b"<html><body>Proxy login</body></html>", Status.UNKNOWN, "proxy"),
    (429, b"<html>slow down</html>", Status.RATE_LIMITED, "rate_limited"),
    (501, b"", Status.UNKNOWN, "server_error"),
    (
        529,
        body({"type": "error", "error": {"type": "overloaded_error"}}),
        Status.UNKNOWN,
        "overloaded",
    ),
    (408, b"", Status.UNKNOWN, "timeout"),
    (302, b"", Status.UNKNOWN, "redirect"),
    (200, b'{"data":[', Status.UNKNOWN, "unexpected_body"),
    (
        429,
        body({"error": {"message": "Too many requests", "type": "rate_limit_error"}}),
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
    ),
    (
        400,
        body({"error": {"message": "bad", "type": "invalid_request_error"}}),
        Status.UNKNOWN,
        "bad_request",
    ),
    (401, body({"error": {"message": "who are you", "type": "x"}}), Status.INVALID, "unauthorized"),
    (403, body({"error": {"message": "no", "type": "x"}}), Status.RESTRICTED, "permission_denied"),
    (404, body({"error": {"message": "no such path"}}), Status.UNKNOWN, "not_found"),
]


@pytest.mark.parametrize(("http_status", "raw", "status", "reason"), GENERIC_CASES)
def test_shared_head_and_tail(http_status: int, raw: bytes, status: Status, reason: str) -> None:
    """With no provider rules, the shared head and tail give the generic verdicts."""
    _, verdict = classify(error_info(http_status, raw))

    assert (verdict.status, verdict.reason) == (status, reason)


def test_every_shared_rule_is_exercised() -> None:
    """Every row of the shared head and tail is reached by a generic case."""
    used = {
        rule.name
        for code, raw, _, _ in GENERIC_CASES
        if (rule := classify(error_info(code, raw))[0])
    }

    assert {r.name for r in (*HEAD, *TAIL)} - used == set()


def test_model_not_found_naming_a_deactivated_model_is_not_a_deactivated_key() -> None:
    """A ``model_not_found`` answer that mentions a deactivated model says nothing of the key."""
    raw = openai(
        "The model `gpt-4-0314` has been deactivated and is no longer available.",
        "invalid_request_error",
        "model_not_found",
    )

    _, verdict = classify(error_info(404, raw), OPENAI)

    assert (verdict.status, verdict.reason) == (Status.UNKNOWN, "model_unavailable")


def test_unrecognised_answers_are_never_ok_or_invalid() -> None:
    """An answer no rule knows is unknown, never ok and never invalid."""
    for code in (409, 410, 422, 451, 499):
        _, verdict = classify(
            error_info(code, openai("Something odd.", "odd_error", "odd")), OPENAI
        )

        assert verdict.status is Status.UNKNOWN


def test_empty_error_object_is_not_an_error() -> None:
    """An ``error`` object with all-empty strings is not an error (ShareGPT's struct)."""
    info = error_info(200, body({"error": {"message": "", "type": "", "code": ""}, "ok": True}))

    assert info.has_error_object is False


def test_retry_flags_follow_the_matrix() -> None:
    """Rate limits and 5xx are retryable; quota, billing and auth answers are not."""
    retry = {c[0]: classify(error_info(c[1], c[2]), OPENAI)[1].retry for c in CASES}

    assert retry["openai-rate-limit-tpm"] and retry["cloudflare-502-html"] and retry["408"]
    assert not retry["openai-insufficient-quota-2024"]
    assert not retry["openai-billing-not-active-2025"]
    assert not retry["openai-access-terminated-later"]
    assert not retry["openai-invalid-key"]
    assert not retry["501"]


def test_json_numbers_are_exact_and_nan_is_refused() -> None:
    """Money parses to Decimal exactly; NaN and Infinity are decode errors."""
    from decimal import Decimal

    from keyledger.classify import DecodeError

    assert parse_json(b'{"v": 17.3715455}')["v"] == Decimal("17.3715455")
    for bad in (b'{"v": NaN}', b'{"v": Infinity}', b"[" * 100_000):
        with pytest.raises(DecodeError):
            parse_json(bad)


def test_html_detection() -> None:
    """HTML pages are told apart from JSON whatever the content type says."""
    assert looks_like_html(b"  <!DOCTYPE html><html></html>")
    assert looks_like_html(b"<html><body>x</body></html>")
    assert not looks_like_html(b'{"error": "<html>"}')
    assert isinstance(error_info(200, b"<html></html>"), ErrorInfo)
