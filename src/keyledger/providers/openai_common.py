"""Pieces shared by the OpenAI checks: base URL, request helpers and header readers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyledger.classify import table
from keyledger.models import Account, Key, RateLimits
from keyledger.providers.base import Clean, ResultBuilder
from keyledger.providers.openai_rules import RULES
from keyledger.providers.spec import CheckOptions
from keyledger.transport import Request

NAME = "openai"
OPENAI_BASE_URL = "https://api.openai.com"
KEPT_HEADERS: tuple[str, ...] = (
    "openai-organization",
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
)
TABLE = table(RULES)
_KEPT = frozenset(KEPT_HEADERS)


def base_url(key: Key, options: CheckOptions) -> str:
    """Where this key's requests go: its own base URL, else the provider default."""
    return (key.base_url or options.base_urls.get(NAME, OPENAI_BASE_URL)).rstrip("/")


def request(method: str, url: str, key: Key, json_body: Any = None) -> Request:
    """A request carrying the key as a bearer token, classified by OpenAI's rules."""
    return Request(method, url, key.secret, json_body=json_body, rules=TABLE, keep_headers=_KEPT)


def get(key: Key, url: str) -> Request:
    """A GET request carrying the key as a bearer token."""
    return request("GET", url, key)


def public_get(key: Key, url: str) -> Request:
    """A GET to a public endpoint (a relay's ``/api/status``): no credential header at all;
    the key rides along only so that answers can be redacted."""
    return Request("GET", url, key.secret, auth="none", rules=TABLE, keep_headers=_KEPT)


def builder(key: Key, options: CheckOptions) -> ResultBuilder:
    """A result builder that classifies answers with OpenAI's rules."""
    return ResultBuilder(key, options, TABLE)


def option(options: CheckOptions, name: str, default: bool) -> bool:
    """One of OpenAI's own options (``whoami``, ``billing``)."""
    return bool(options.option(NAME, name, default))


MAX_LIMIT_DIGITS = 18  # a rate limit fits in a signed 64-bit integer (the ledger's INTEGER)


def _int(value: str | None) -> int | None:
    """A header's non-negative integer; ``None`` for absent, negative, non-ASCII-digit or
    absurdly long values (never an error: Python's int digit limit is never reached)."""
    if value is None:
        return None
    value = value.strip()
    if not 0 < len(value) <= MAX_LIMIT_DIGITS or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def rate_limits(headers: Mapping[str, str], clean: Clean) -> RateLimits | None:
    """Limits from ``x-ratelimit-*`` headers, or ``None`` when there are none."""
    limits = RateLimits(
        requests_limit=_int(headers.get("x-ratelimit-limit-requests")),
        tokens_limit=_int(headers.get("x-ratelimit-limit-tokens")),
        requests_remaining=_int(headers.get("x-ratelimit-remaining-requests")),
        tokens_remaining=_int(headers.get("x-ratelimit-remaining-tokens")),
        requests_reset=clean(headers["x-ratelimit-reset-requests"], 32)
        if "x-ratelimit-reset-requests" in headers
        else None,
        tokens_reset=clean(headers["x-ratelimit-reset-tokens"], 32)
        if "x-ratelimit-reset-tokens" in headers
        else None,
    )
    return None if limits == RateLimits() else limits


def organization(
    headers: Mapping[str, str], current: Account | None, clean: Clean
) -> Account | None:
    """Add the ``openai-organization`` header's value to ``current``."""
    org = headers.get("openai-organization")
    if not org or (current is not None and current.organization):
        return current
    org = clean(org.strip(), 96)
    if current is None:
        return _organization_only(org)
    return Account(organization=org, name=current.name, plan=current.plan)


# An account known only by its organization is the same value for every key of it: shared.
_ACCOUNTS: dict[str, Account] = {}
ACCOUNTS_SIZE = 1024  # emptied when full


def _organization_only(org: str) -> Account:
    """``Account(organization=org)``, one shared value per (cleaned) organization."""
    found = _ACCOUNTS.get(org)
    if found is None:
        if len(_ACCOUNTS) >= ACCOUNTS_SIZE:
            _ACCOUNTS.clear()
        found = _ACCOUNTS[org] = Account(organization=org)
    return found
