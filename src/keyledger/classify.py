"""Turn an HTTP answer into a status: one ordered table of rules, first match wins.

The rules follow ``provider-apis.md`` §6: match ``error.code``, then ``error.type``, then
message substrings, over every provider's published error texts. Anything no rule
recognises is ``unknown`` and keeps its evidence; it is never ``ok`` and never ``invalid``.
Success bodies are interpreted by the providers, not here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keyledger.models import Status
from keyledger.money import json_float, json_int

HTML_MARKERS = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<title")


class DecodeError(ValueError):
    """A body that should be JSON is not (truncated, NaN, too deep, not UTF-8)."""


def _reject_constant(name: str) -> Any:
    raise DecodeError(f"non-finite number {name}")


_CACHED_BODY_LIMIT = 16384


def _decode(body: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(
            body, parse_float=json_float, parse_int=json_int, parse_constant=_reject_constant
        )
    except DecodeError as exc:
        return False, str(exc)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return False, "not valid JSON"


# One answer is looked at by the retry policy, the classifier and the provider: decode it
# once. Small bodies only, so the cache stays small; callers never mutate what they get.
_decode_cached = functools.lru_cache(maxsize=1024)(_decode)


def parse_json(body: bytes) -> Any:
    """Decode JSON with exact decimals; ``NaN``/``Infinity`` and deep nesting are errors.

    A number literal longer than ``money.MAX_NUMBER_TEXT`` characters decodes to an
    ``OversizeNumber`` marker (never an int or Decimal), which no reader accepts as a number.
    """
    ok, value = _decode_cached(body) if len(body) <= _CACHED_BODY_LIMIT else _decode(body)
    if not ok:
        raise DecodeError(value)
    return value


def looks_like_html(body: bytes) -> bool:
    """Whether ``body`` starts like an HTML or XML page."""
    head = body[:256].lstrip().lower()
    if not head.startswith(b"<"):
        return False
    return head.startswith(HTML_MARKERS) or b"html" in body[:2048].lower()


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """The parts of an answer the rules look at."""

    http_status: int
    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None
    body_kind: str = "json"  # json | html | empty | text | invalid_json
    has_error_object: bool = False

    text: str = ""  # the message lower-cased, once, for the substring rules


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int, Decimal)):
        return str(value)
    return None


def error_info(status: int, body: bytes) -> ErrorInfo:
    """Extract type, code, message and param from any provider's error envelope."""
    stripped = body.strip()
    if not stripped:
        return ErrorInfo(status, body_kind="empty")
    if looks_like_html(stripped):
        return ErrorInfo(status, body_kind="html")
    try:
        data = parse_json(stripped)
    except DecodeError:
        return ErrorInfo(status, body_kind="invalid_json")
    if not isinstance(data, dict):
        return ErrorInfo(status, body_kind="json")
    err = data.get("error")
    etype = code = message = param = None
    has_error = False
    if isinstance(err, dict):
        message = _text(err.get("message"))
        etype = _text(err.get("type")) or _text(err.get("status"))
        code = _text(err.get("code"))
        param = _text(err.get("param"))
        details = err.get("details")
        if isinstance(details, list):
            for item in details:
                if isinstance(item, dict) and _text(item.get("reason")):
                    code = _text(item.get("reason"))
                    break
        has_error = any((message, etype, code))
    elif isinstance(err, str) and err:
        message, etype, has_error = err, _text(data.get("type")), True
    elif data.get("type") == "error" and isinstance(data.get("error"), dict):
        has_error = True
    elif "message" in data and status >= 400:
        message, code = _text(data.get("message")), _text(data.get("code"))
        has_error = message is not None
    return ErrorInfo(
        status,
        type=etype,
        code=code,
        message=message,
        param=param,
        has_error_object=has_error,
        text=(message or "").lower(),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an error answer means for the key, and whether trying again could help."""

    status: Status
    reason: str
    retry: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the classification table."""

    name: str
    matches: Callable[[ErrorInfo], bool]
    status: Status
    reason: str | Callable[[ErrorInfo], str]
    retry: bool = False

    def verdict(self, info: ErrorInfo) -> Verdict:
        """The verdict this rule gives for ``info``."""
        reason = self.reason(info) if callable(self.reason) else self.reason
        return Verdict(self.status, reason, self.retry)


def _has(*needles: str) -> Callable[[ErrorInfo], bool]:
    lowered = tuple(n.lower() for n in needles)
    return lambda i: any(n in i.text for n in lowered)


def _code_or_type(*values: str) -> Callable[[ErrorInfo], bool]:
    return lambda i: i.code in values or i.type in values


_QUOTA_CODES = (
    "insufficient_quota",
    "credit_balance_exhausted",
    "organization_spend_limit_exceeded",
    "project_spend_limit_exceeded",
    "organization_usage_limit_exceeded",
    "insufficient_user_quota",
)


def _quota_reason(i: ErrorInfo) -> str:
    if i.code in _QUOTA_CODES:
        return i.code or "insufficient_quota"
    if i.http_status == 402:
        return "insufficient_balance"
    return "insufficient_quota"


_INVALID_KEY_STARTS = (
    "Incorrect API key provided",  # OpenAI, xAI
    "Invalid API Key",  # Groq
    "Invalid API key",
    "Authentication Fails",  # DeepSeek
    "API key not valid",  # Gemini
    "API Key not found",
    "Invalid token",  # new-api, English locale
    "Token not provided",
)


def _is_invalid(i: ErrorInfo) -> bool:
    t = i.message or ""
    return (
        i.code in ("invalid_api_key", "API_KEY_INVALID")
        or i.type in ("authentication_error", "invalid_authentication_error")
        or t.startswith(_INVALID_KEY_STARTS)
        or "invalid x-api-key" in t
        or t in ("User not found.", "No auth credentials found")
        or "无效的令牌" in t
        or "未提供令牌" in t
    )


def _is_rate_limit(i: ErrorInfo) -> bool:
    return (
        i.code == "rate_limit_exceeded"
        or i.type in ("requests", "tokens", "rate_limit_error")
        or "rate limit reached" in i.text
        or "would exceed the rate limit" in i.text
        or (i.http_status == 429 and i.code not in _QUOTA_CODES and not i.has_error_object)
    )


def _is_probe_accepted(i: ErrorInfo) -> bool:
    return i.http_status == 400 and (
        i.param == "max_tokens"
        or i.code == "integer_below_min_value"
        or "is less than the minimum of 1 - 'max_tokens'" in (i.message or "")
    )


# Order matters: first match wins. Each row cites the rule number of provider-apis.md §6.
RULES: tuple[Rule, ...] = (
    # §6.2: pages and broken bodies are never a verdict on the key.
    Rule("proxy-auth", lambda i: i.http_status == 407, Status.UNKNOWN, "proxy_auth"),
    Rule(
        "auth-page",
        lambda i: i.http_status == 401 and i.body_kind in ("html", "text", "invalid_json"),
        Status.UNKNOWN,
        "proxy",
    ),
    Rule(
        "rate-limit-page",
        lambda i: i.http_status == 429 and i.body_kind != "json",
        Status.RATE_LIMITED,
        "rate_limited",
        retry=True,
    ),
    Rule("not-implemented", lambda i: i.http_status == 501, Status.UNKNOWN, "server_error"),
    Rule(
        "server-error",
        lambda i: i.http_status >= 500 or i.type == "cf_bad_gateway",
        Status.UNKNOWN,
        lambda i: "overloaded" if i.http_status == 529 else "server_error",
        retry=True,
    ),
    Rule("timeout-status", lambda i: i.http_status == 408, Status.UNKNOWN, "timeout", retry=True),
    Rule(
        "redirect",
        lambda i: 300 <= i.http_status < 400,
        Status.UNKNOWN,
        "redirect",
    ),
    Rule(
        "not-json",
        lambda i: i.body_kind in ("html", "text", "invalid_json"),
        Status.UNKNOWN,
        "unexpected_body",
    ),
    # §6.5 invalid keys
    Rule("invalid-key", _is_invalid, Status.INVALID, "invalid_api_key"),
    Rule(
        "token-expired",
        _has("该令牌已过期", "this token has expired"),
        Status.INVALID,
        "token_expired",
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
            i.code in ("account_deactivated", "organization_restricted")
            or "deactivated" in i.text
            or "organization has been disabled" in i.text
            or "organization has been restricted" in i.text
            or "用户已被封禁" in i.text
            or "user has been banned" in i.text
        ),
        Status.DEACTIVATED,
        lambda i: (
            "organization_restricted"
            if i.code == "organization_restricted"
            else "account_deactivated"
        ),
    ),
    Rule(
        "token-disabled",
        _has("该令牌状态不可用", "this token status is unavailable"),
        Status.DEACTIVATED,
        "token_disabled",
    ),
    # §6.8 organization membership
    Rule("no-organization", _code_or_type("no_organization"), Status.RESTRICTED, "no_organization"),
    Rule(
        "org-mismatch",
        _code_or_type("mismatched_organization"),
        Status.RESTRICTED,
        "mismatched_organization",
    ),
    # §6.9 legacy billing endpoints refuse secret keys
    Rule(
        "needs-session-key",
        _has("must be made with a session key"),
        Status.UNKNOWN,
        "needs_session_key",
    ),
    # §6.12-13 quota and billing (before permission: relay quota texts arrive as 403)
    Rule(
        "no-quota",
        lambda i: (
            i.code in _QUOTA_CODES
            or i.type in _QUOTA_CODES
            or i.http_status == 402
            or "credit balance is too low" in i.text
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
    Rule(
        "missing-scopes",
        _has("missing scopes:"),
        Status.RESTRICTED,
        "missing_scopes",
    ),
    Rule(
        "ip-not-authorized",
        _has("ip not authorized", "只能在指定网段使用", "不在令牌允许访问的列表中"),
        Status.RESTRICTED,
        "ip_not_authorized",
    ),
    Rule(
        "management-key-only",
        _has("only management keys"),
        Status.RESTRICTED,
        "needs_management_key",
    ),
    Rule(
        "region",
        _code_or_type("unsupported_country_region_territory"),
        Status.UNKNOWN,
        "unsupported_country_region_territory",
    ),
    Rule(
        "permission-error",
        lambda i: i.type == "permission_error",
        Status.RESTRICTED,
        "permission_denied",
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
        lambda i: (
            i.code == "model_not_found"
            or "does not have access to model" in i.text
            or "must be verified to use the model" in i.text
            or "不支持所选模型" in i.text
            or "无权使用模型" in i.text
            or "无可用渠道" in i.text
            or "has no access to model" in i.text
            or "no available channel for model" in i.text
        ),
        Status.UNKNOWN,
        "model_unavailable",
    ),
    # §6.16 the zero-cost probe was rejected at validation: the key works
    Rule("probe-accepted", _is_probe_accepted, Status.OK, "probe_rejected_as_expected"),
    Rule(
        "bad-request",
        lambda i: i.http_status == 400,
        Status.UNKNOWN,
        "bad_request",
    ),
    # §6.18 catch-alls, only for answers in a provider's JSON envelope
    Rule(
        "other-401",
        lambda i: i.http_status == 401 and i.has_error_object,
        Status.INVALID,
        "unauthorized",
    ),
    Rule(
        "other-403",
        lambda i: i.http_status == 403 and i.has_error_object,
        Status.RESTRICTED,
        "permission_denied",
    ),
    Rule("not-found", lambda i: i.http_status == 404, Status.UNKNOWN, "not_found"),
)

FALLBACK = Verdict(Status.UNKNOWN, "unrecognized")


def classify(info: ErrorInfo) -> tuple[Rule | None, Verdict]:
    """The first rule matching ``info`` and its verdict; unknown when none does."""
    for rule in RULES:
        if rule.matches(info):
            return rule, rule.verdict(info)
    if info.http_status < 300 and not info.has_error_object:
        return None, Verdict(Status.OK, "ok")
    reason = f"http_{info.http_status}" if info.http_status >= 300 else "relay_error"
    return None, Verdict(Status.UNKNOWN, reason)
