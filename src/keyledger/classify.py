"""Turn an HTTP answer into a status: ordered tables of rules, first match wins.

The mechanism follows ``provider-apis.md`` §6: match ``error.code``, then ``error.type``, then
message substrings. Each provider's table is a shared head (proxies, auth pages, 5xx,
redirects, bodies that are not JSON), then the provider's own rules (its published error
texts, in its module), then a shared tail (generic 400/401/403/404/429). Anything no rule
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
    quota_id: str | None = None  # Google's ``details[].violations[].quotaId`` (which quota ran out)

    text: str = ""  # the message lower-cased, once, for the substring rules


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int, Decimal)):
        return str(value)
    return None


def _quota_id(details: list[Any]) -> str | None:
    """The first ``violations[].quotaId`` of a Google RPC ``QuotaFailure`` detail."""
    for item in details:
        violations = item.get("violations") if isinstance(item, dict) else None
        for violation in violations if isinstance(violations, list) else ():
            if isinstance(violation, dict) and _text(violation.get("quotaId")):
                return _text(violation.get("quotaId"))
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
    if isinstance(data, str) and status >= 400:
        # A bare JSON string is the whole message (xAI's no-credit answers); not an envelope.
        return ErrorInfo(status, message=data or None, text=data.lower())
    if not isinstance(data, dict):
        return ErrorInfo(status, body_kind="json")
    err = data.get("error")
    etype = code = message = param = quota_id = None
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
            quota_id = _quota_id(details)
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
        quota_id=quota_id,
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


def has(*needles: str) -> Callable[[ErrorInfo], bool]:
    """A matcher: the lower-cased message contains one of ``needles``."""
    lowered = tuple(n.lower() for n in needles)
    return lambda i: any(n in i.text for n in lowered)


def code_or_type(*values: str) -> Callable[[ErrorInfo], bool]:
    """A matcher: ``error.code`` or ``error.type`` is one of ``values``."""
    return lambda i: i.code in values or i.type in values


Rules = tuple[Rule, ...]

# The shared head (provider-apis.md §6.2): pages, 5xx and broken bodies are never a verdict on
# the key, whichever provider answered. A provider's ``first_rules`` run before it only for
# the rare answer whose status lies (MiniMax reports an empty wallet as HTTP 500).
HEAD: Rules = (
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
    Rule("redirect", lambda i: 300 <= i.http_status < 400, Status.UNKNOWN, "redirect"),
    Rule(
        "not-json",
        lambda i: i.body_kind in ("html", "text", "invalid_json"),
        Status.UNKNOWN,
        "unexpected_body",
    ),
)


def _generic_rate_limit(i: ErrorInfo) -> bool:
    return i.http_status == 429 and (
        i.code == "rate_limit_exceeded"
        or i.type in ("requests", "tokens", "rate_limit_error")
        or not i.has_error_object
    )


# The shared tail (§6.14, §6.18): generic answers no provider rule explained, and only when
# they come in a provider's JSON envelope.
TAIL: Rules = (
    Rule("generic-429", _generic_rate_limit, Status.RATE_LIMITED, "rate_limit_exceeded", True),
    Rule("generic-400", lambda i: i.http_status == 400, Status.UNKNOWN, "bad_request"),
    Rule(
        "generic-401",
        lambda i: i.http_status == 401 and i.has_error_object,
        Status.INVALID,
        "unauthorized",
    ),
    Rule(
        "generic-403",
        lambda i: i.http_status == 403 and i.has_error_object,
        Status.RESTRICTED,
        "permission_denied",
    ),
    Rule("generic-404", lambda i: i.http_status == 404, Status.UNKNOWN, "not_found"),
)


FALLBACK = Verdict(Status.UNKNOWN, "unrecognized")


def table(rules: Rules = (), first: Rules = ()) -> Rules:
    """The whole table for one provider: ``first``, the shared head, ``rules``, the tail."""
    return (*first, *HEAD, *rules, *TAIL)


def classify(info: ErrorInfo, rules: Rules | None = None) -> tuple[Rule | None, Verdict]:
    """The first rule of ``rules`` (a provider's :func:`table`) matching ``info``.

    Without ``rules`` only the shared head and tail apply. Unknown when no rule matches.
    """
    for rule in table() if rules is None else rules:
        if rule.matches(info):
            return rule, rule.verdict(info)
    if info.http_status < 300 and not info.has_error_object:
        return None, Verdict(Status.OK, "ok")
    reason = f"http_{info.http_status}" if info.http_status >= 300 else "relay_error"
    return None, Verdict(Status.UNKNOWN, reason)
