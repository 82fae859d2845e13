"""OpenAI's and the OpenAI-compatible relays' (one-api/new-api) error rules, in order.

Between the shared head and tail of :mod:`keyledger.classify`; each row cites the rule of
``provider-apis.md`` §6 (and ``providers-2026.md`` §2 for the relays) it implements.
"""

from __future__ import annotations

from keyledger.classify import ErrorInfo, Rule, Rules, code_or_type, has
from keyledger.models import Status

QUOTA_CODES = (
    "insufficient_quota",
    "credit_balance_exhausted",
    "organization_spend_limit_exceeded",
    "project_spend_limit_exceeded",
    "organization_usage_limit_exceeded",
    "insufficient_user_quota",
)


def _quota_reason(i: ErrorInfo) -> str:
    if i.code in QUOTA_CODES:
        return i.code or "insufficient_quota"
    if i.code == "INSUFFICIENT_BALANCE" or i.http_status == 402:
        return "insufficient_balance"
    return "insufficient_quota"


_INVALID_KEY_STARTS = (
    "Incorrect API key provided",
    "Invalid token",  # new-api, English locale
    "Token not provided",
)


def _is_invalid(i: ErrorInfo) -> bool:
    t = i.message or ""
    return (
        i.code == "invalid_api_key"
        or t.startswith(_INVALID_KEY_STARTS)
        or "无效的令牌" in t
        or "未提供令牌" in t
    )


def _is_rate_limit(i: ErrorInfo) -> bool:
    return (
        i.code == "rate_limit_exceeded"
        or i.type in ("requests", "tokens")
        or "rate limit reached" in i.text
        or (i.http_status == 429 and i.code not in QUOTA_CODES and not i.has_error_object)
    )


def _is_probe_accepted(i: ErrorInfo) -> bool:
    return i.http_status == 400 and (
        i.param == "max_tokens"
        or i.code == "integer_below_min_value"
        or "is less than the minimum of 1 - 'max_tokens'" in (i.message or "")
    )


RULES: Rules = (
    # §6.5 invalid keys
    Rule("invalid-key", _is_invalid, Status.INVALID, "invalid_api_key"),
    Rule(
        "token-expired",
        has("该令牌已过期", "this token has expired"),
        Status.INVALID,
        "token_expired",
    ),
    # §6.15 by code first: a model_not_found answer may name a deactivated *model*, which says
    # nothing about the account.
    Rule(
        "model-not-found",
        lambda i: i.code == "model_not_found",
        Status.UNKNOWN,
        "model_unavailable",
    ),
    # §6.6-7 deactivated, banned, terminated
    Rule(
        "access-terminated",
        lambda i: (
            i.code == "access_terminated"
            or i.type == "access_terminated"
            or "your access was terminated" in i.text
        ),
        Status.DEACTIVATED,
        "access_terminated",
    ),
    Rule(
        "deactivated",
        lambda i: (
            i.code == "account_deactivated"
            or "deactivated" in i.text
            or "用户已被封禁" in i.text
            or "user has been banned" in i.text
        ),
        Status.DEACTIVATED,
        "account_deactivated",
    ),
    Rule(
        "token-disabled",
        has("该令牌状态不可用", "this token status is unavailable"),
        Status.DEACTIVATED,
        "token_disabled",
    ),
    # §6.8 organization membership
    Rule("no-organization", code_or_type("no_organization"), Status.RESTRICTED, "no_organization"),
    Rule(
        "org-mismatch",
        code_or_type("mismatched_organization"),
        Status.RESTRICTED,
        "mismatched_organization",
    ),
    # §6.9 legacy billing endpoints refuse secret keys
    Rule(
        "needs-session-key",
        has("must be made with a session key"),
        Status.UNKNOWN,
        "needs_session_key",
    ),
    # §6.12-13 quota and billing (before permission: relay quota texts arrive as 403)
    Rule(
        "no-quota",
        lambda i: (
            i.code in QUOTA_CODES
            or i.type in QUOTA_CODES
            or i.code == "INSUFFICIENT_BALANCE"  # sub2api (providers-2026 §2)
            or i.http_status == 402
            or "you exceeded your current quota" in i.text
            or "额度已用尽" in i.text
            or "quota is exhausted" in i.text
            or "user quota is not enough" in i.text
        ),
        Status.NO_QUOTA,
        _quota_reason,
    ),
    Rule(
        "billing-inactive",
        lambda i: (
            i.code == "billing_not_active"
            or i.type == "billing_not_active"
            or "your account is not active" in i.text
        ),
        Status.BILLING_INACTIVE,
        "billing_not_active",
    ),
    # §6.10-11 key alive but limited
    Rule("missing-scopes", has("missing scopes:"), Status.RESTRICTED, "missing_scopes"),
    Rule(
        "ip-not-authorized",
        has("ip not authorized", "只能在指定网段使用", "不在令牌允许访问的列表中"),
        Status.RESTRICTED,
        "ip_not_authorized",
    ),
    Rule(
        "region",
        code_or_type("unsupported_country_region_territory"),
        Status.UNKNOWN,
        "unsupported_country_region_territory",
    ),
    # §6.14 rate limits: alive, except a spent daily allowance, which a retry cannot fix.
    Rule(
        "daily-requests-exhausted",
        lambda i: i.http_status == 429 and "requests per day" in i.text,
        Status.NO_QUOTA,
        "daily_request_limit",
    ),
    Rule(
        "request-too-large",
        lambda i: i.http_status == 429 and "request too large" in i.text,
        Status.RATE_LIMITED,
        "request_too_large",  # alive; the request itself must shrink, so a retry cannot help
    ),
    Rule("rate-limited", _is_rate_limit, Status.RATE_LIMITED, "rate_limit_exceeded", retry=True),
    # §6.15 the key authenticated, but this model is not for it
    Rule(
        "model-unavailable",
        has(
            "does not have access to model",
            "must be verified to use the model",
            "不支持所选模型",
            "无权使用模型",
            "无可用渠道",
            "has no access to model",
            "no available channel for model",
        ),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    # §6.16 the zero-cost probe was rejected at validation: the key works
    Rule("probe-accepted", _is_probe_accepted, Status.OK, "probe_rejected_as_expected"),
)
