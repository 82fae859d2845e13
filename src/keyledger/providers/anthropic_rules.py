"""Anthropic's error rules (provider-apis.md §4.5, providers-2026.md §3.5 and §4), in order.

Anthropic's envelope is ``{"type":"error","error":{"type","message"},"request_id"}``; money
trouble arrives as HTTP 400 ``invalid_request_error`` with a telling message, so these rules
match the message before the shared tail takes a 400 for an inconclusive ``bad_request``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from keyledger.classify import ErrorInfo, Rule, Rules, has
from keyledger.models import Status

# "You will regain access on 2026-04-01 at 00:00 UTC."
_REGAIN = re.compile(r"regain access on (\d{4})-(\d{2})-(\d{2})(?: at (\d{2}):(\d{2}) UTC)?")


def regain_at(info: ErrorInfo) -> datetime | None:
    """When a key stopped by its spend limit works again, from the message; ``None`` if absent."""
    found = _REGAIN.search(info.message or "")
    if found is None:
        return None
    year, month, day, hour, minute = (int(g) if g else 0 for g in found.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=UTC)
    except ValueError:
        return None


def _spend_limit(i: ErrorInfo) -> bool:
    return i.code == "enforced_spend_limit_reached" or "enforced_spend_limit_reached" in i.text


RULES: Rules = (
    # 401 authentication_error "invalid x-api-key" (pages are caught by the shared head)
    Rule(
        "invalid-key",
        lambda i: i.http_status == 401 or i.type == "authentication_error",
        Status.INVALID,
        "invalid_api_key",
    ),
    Rule(
        "organization-disabled",
        has("this organization has been disabled"),
        Status.DEACTIVATED,
        "account_deactivated",
    ),
    # 400 "Your credit balance is too low…", even from the free count_tokens call
    Rule("credit-too-low", has("credit balance is too low"), Status.NO_QUOTA, "insufficient_quota"),
    # 400 "You have reached your specified API usage limits. You will regain access on <date>…"
    Rule(
        "usage-limit-reached",
        has("reached your specified api usage limits"),
        Status.NO_QUOTA,
        "usage_limit_reached",
    ),
    # 429 rate_limit_error (enforced_spend_limit_reached), third-party catalogue: not transient
    Rule("spend-limit", _spend_limit, Status.NO_QUOTA, "spend_limit_reached"),
    # 429 "Extra usage is required for long context requests.": an entitlement, not a rate limit
    Rule(
        "long-context-entitlement",
        has("extra usage is required"),
        Status.RESTRICTED,
        "extra_usage_required",
    ),
    Rule(
        "rate-limited",
        lambda i: i.http_status == 429 and i.type == "rate_limit_error",
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        retry=True,
    ),
    # count_tokens for a model this key cannot see: says nothing about the key
    Rule(
        "model-not-found",
        lambda i: i.type == "not_found_error" and "model" in i.text,
        Status.UNKNOWN,
        "model_unavailable",
    ),
)
