"""OpenRouter: ``GET {base}/key`` for every key, ``GET {base}/credits`` for management keys only.

``/key`` (older path ``/auth/key``) answers ``{"data": {label, limit, usage, limit_remaining,
is_free_tier, is_management_key, expires_at, …}}`` (provider-apis.md §4.2). A per-key ``limit``
is a cap the owner set on the key, not account credit (providers-2026.md §3.2): with a limit,
``available`` is ``limit_remaining`` (reading ``per-key limit``); without one the account's
money is unknown to an ordinary key (``balance_reason: needs_management_key``). ``/credits``
answers an ordinary key with 403 or a 200 of zeros that is not a balance, so it is asked only
when ``/key`` says the key is a management key.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import localcontext
from typing import TYPE_CHECKING, ClassVar

from keyledger.classify import Rule, Rules, has
from keyledger.models import Account, Balance, CheckResult, Key, Kind, Status
from keyledger.money import WIDE, MoneyError, from_iso, money_field
from keyledger.providers.base import ResultBuilder, is_missing_path, json_object
from keyledger.providers.spec import Capabilities, CheckOptions, KeyShape, Provider
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client, Exchange

KEY_PATHS = ("/key", "/auth/key")  # the current path, then the older one
CREDITS = "/credits"
PER_KEY_LIMIT = "per-key limit"
ACCOUNT_CREDITS = "account credits"
KEY_USAGE = "key usage"

# ``error.code`` is an integer here; the rules match on status and message (§4.2, §6).
RULES: Rules = (
    Rule(
        "openrouter-invalid",
        lambda i: i.http_status == 401 and has("user not found", "no auth credentials found")(i),
        Status.INVALID,
        "invalid_api_key",
    ),
    # Every published 402: never purchased credits, can only afford M tokens, negative balance.
    Rule(
        "openrouter-no-credits",
        lambda i: i.http_status == 402,
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
    # The key's own cap is spent (total, daily, weekly or monthly limit).
    Rule(
        "openrouter-key-limit",
        lambda i: i.http_status == 403 and has("key limit exceeded")(i),
        Status.NO_QUOTA,
        "key_limit_exhausted",
    ),
    Rule(
        "openrouter-management-only",
        has("only management keys"),
        Status.RESTRICTED,
        "needs_management_key",
    ),
)


def _flag(data: dict[str, object], name: str) -> bool:
    return data.get(name) is True


def parse_expiry(value: object) -> datetime | None:
    """``expires_at`` (ISO 8601, ``null`` = never) in UTC; ``None`` for absent, unreadable or
    a far-future "never" (:func:`~keyledger.money.from_iso`)."""
    return from_iso(value)


def key_balance(data: dict[str, object], now: datetime) -> Balance:
    """The key's own money: its cap and what is left of it, or only its usage.

    Raises:
        MoneyError: an amount is present but not bounded money.
    """
    limit = money_field(data, "limit")
    usage = money_field(data, "usage")
    remaining = money_field(data, "limit_remaining")
    expires = parse_expiry(data.get("expires_at"))
    if limit is None:
        return Balance("USD", "/key", now, used=usage, expires_at=expires, reading=KEY_USAGE)
    if remaining is None and usage is not None:
        with localcontext(WIDE):
            remaining = limit - usage
    return Balance(
        "USD",
        "/key",
        now,
        granted=limit,
        used=usage,
        available=remaining,
        expires_at=expires,
        reading=PER_KEY_LIMIT,
    )


def credits_balance(data: dict[str, object], now: datetime) -> Balance | None:
    """Account credit from ``/credits`` (management keys): credits − usage; ``None`` if absent.

    Raises:
        MoneyError: an amount is present but not bounded money.
    """
    inner = data.get("data")
    body = inner if isinstance(inner, dict) else data
    total = money_field(body, "total_credits")
    used = money_field(body, "total_usage")
    if total is None:
        return None
    with localcontext(WIDE):
        available = total - used if used is not None else None
    return Balance(
        "USD", CREDITS, now, granted=total, used=used, available=available, reading=ACCOUNT_CREDITS
    )


class OpenRouterProvider(Provider):
    """openrouter.ai: key status, per-key limit and usage; account credit for management keys."""

    name: ClassVar[str] = "openrouter"
    title: ClassVar[str] = "OpenRouter"
    default_base_url: ClassVar[str] = "https://openrouter.ai/api/v1"
    currency: ClassVar[str | None] = "USD"
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (KeyShape("sk-or-v1-"), KeyShape("sk-or-"))
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_openrouter"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (the key call)",
        balance="per-key limit and what is left of it; account credit with a management key",
        spend="the key's usage",
        expiry="the key's expiry",
        calls=("GET /api/v1/key (or /auth/key)", "GET /api/v1/credits (management keys)"),
    )

    def api_root(self, key: Key, options: CheckOptions) -> str:
        """The base URL, ending in ``/v1``: key files store a pinned base URL without its
        ``/v1`` (``https://openrouter.ai/api/v1`` is kept as ``https://openrouter.ai/api``)."""
        root = self.base_url(key, options)
        return root if root.endswith("/v1") else root + "/v1"

    async def _get(self, client: Client, key: Key, url: str) -> Exchange:
        return await client.call(self.request("GET", url, key))

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Read the key's record; a management key also reads the account's credit."""
        out = ResultBuilder(key, options, self.classification)
        root = self.api_root(key, options)
        for path in KEY_PATHS:
            exchange = await self._get(client, key, root + path)
            verdict = out.record(exchange, "key")
            if verdict is None or not is_missing_path(exchange):
                break
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        body = json_object(exchange.outcome)
        data = body.get("data") if body is not None else None
        if not isinstance(data, dict) and body is not None and "usage" in body:
            data = body  # an unwrapped answer
        if not isinstance(data, dict):
            verdict = out.unexpected(exchange, "key", message="no data object")
            return out.finish(verdict.status, verdict.reason)
        now = options.now()
        try:
            balance = key_balance(data, now)
        except MoneyError as exc:
            verdict = out.unexpected(exchange, "key", message=str(exc))
            return out.finish(verdict.status, verdict.reason)
        label = data.get("label")
        # The default label is the masked key itself (``sk-or-v1-0fa...240``): not a name.
        if isinstance(label, str) and label.strip() and not label.startswith("sk-or-"):
            out.account = Account(name=out.clean(label.strip(), 64))
        if isinstance(data.get("is_free_tier"), bool):
            out.tier = "free" if data["is_free_tier"] else "paid"
        if _flag(data, "is_management_key") or _flag(data, "is_provisioning_key"):
            out.key = dataclasses.replace(key, kind=Kind.MANAGEMENT)
            return await self._management(client, key, root, out, balance)
        out.set_balances([balance])
        if balance.available is None:
            out.balance_reason = "needs_management_key"
        return self._verdict(out, balance, now)

    async def _management(
        self, client: Client, key: Key, root: str, out: ResultBuilder, own: Balance
    ) -> CheckResult:
        exchange = await self._get(client, key, root + CREDITS)
        verdict = out.record(exchange, "credits")
        account: Balance | None = None
        if verdict is None:
            assert isinstance(exchange.outcome, Reply)
            data = json_object(exchange.outcome)
            try:
                account = credits_balance(data, out.options.now()) if data is not None else None
            except MoneyError as exc:
                out.unexpected(exchange, "credits", message=str(exc))
                out.balance_reason = "unexpected_body"
            else:
                if account is None:
                    out.unexpected(exchange, "credits", message="no total_credits")
                    out.balance_reason = "unexpected_body"
        else:
            out.balance_reason = verdict.reason
        out.set_balances([account] if account is not None else [own])
        if account is not None and account.available is not None and account.available <= 0:
            return out.finish(Status.NO_QUOTA, "insufficient_balance")
        return self._verdict(out, own, out.options.now())

    @staticmethod
    def _verdict(out: ResultBuilder, own: Balance, now: datetime) -> CheckResult:
        if own.expires_at is not None and own.expires_at <= now:
            return out.finish(Status.INVALID, "key_expired")
        if own.reading == PER_KEY_LIMIT and own.available is not None and own.available <= 0:
            return out.finish(Status.NO_QUOTA, "key_limit_exhausted")
        return out.finish(Status.OK, None)
