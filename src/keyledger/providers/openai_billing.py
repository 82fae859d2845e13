"""The legacy billing endpoints, which one-api/new-api relays still answer for their tokens.

``GET /v1/dashboard/billing/subscription`` gives ``hard_limit_usd`` (used + remaining since
one-api 4139a70), and ``GET /v1/dashboard/billing/usage`` gives ``total_usage`` in cents, so
remaining = ``hard_limit_usd − total_usage/100``; ``100000000`` means the *token* has no cap
(the wallet behind it is unknown). Relays' other readings are in ``openai_relay``. OpenAI
itself refuses secret keys here with a 403 "session key" answer: that is recorded as the
reason the balance is missing (``needs_session_key``), never as a bad key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from keyledger.classify import Verdict
from keyledger.models import Account, Balance, Key
from keyledger.money import WIDE, MoneyError, from_unix, money_field
from keyledger.providers.base import Clean, ResultBuilder, is_missing_path, json_object
from keyledger.providers.openai_common import get
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

SUBSCRIPTION_PATH = "/dashboard/billing/subscription"
USAGE_PATH = "/dashboard/billing/usage"
SUBSCRIPTION = "/v1" + SUBSCRIPTION_PATH
USAGE = "/v1" + USAGE_PATH
UNLIMITED = Decimal(100000000)
USAGE_WINDOW_DAYS = 99


@dataclass(frozen=True, slots=True)
class BillingOutcome:
    """What the billing endpoints said: a balance, or why there is none."""

    balance: Balance | None
    reason: str | None
    verdict: Verdict | None = None  # a determinate verdict on the key itself, if any


def _plan(data: dict[str, object], clean: Clean) -> str | None:
    plan = data.get("plan")
    if isinstance(plan, dict):
        title = plan.get("title") or plan.get("id")
        return clean(title, 40) if isinstance(title, str) and title else None
    return None


def _usage_dollars(body: dict[str, object] | None) -> tuple[Decimal | None, str | None]:
    """Dollars used from a usage body's ``total_usage`` (cents), or ``None`` and why not.

    Usage below zero is not believed: it would raise the available balance above the
    limit, so it makes the usage (and so the available balance) unknown, never a credit.
    """
    try:
        cents = money_field(body, "total_usage") if body else None
    except MoneyError as exc:
        return None, str(exc)
    if cents is None:
        return None, None
    if cents < 0:
        return None, "total_usage: negative usage"
    return WIDE.divide(cents, Decimal(100)), None


async def read_billing(
    client: Client, key: Key, root: str, out: ResultBuilder, now: datetime
) -> BillingOutcome:
    """Read subscription and usage; every failure becomes a reason, never an exception."""
    prefix = "/v1"
    for prefix in ("/v1", ""):  # some gateways serve only the unprefixed twin
        exchange = await client.call(get(key, root + prefix + SUBSCRIPTION_PATH))
        verdict = out.record(exchange, "subscription")
        if verdict is None or not is_missing_path(exchange):
            break
    if verdict is not None:
        determinate = verdict if verdict.status.determinate else None
        if verdict.reason in ("not_found", "needs_session_key", "redirect"):
            determinate = None
        return BillingOutcome(None, verdict.reason, determinate)
    assert isinstance(exchange.outcome, Reply)
    data = json_object(exchange.outcome)
    try:
        hard_limit = money_field(data, "hard_limit_usd") if data else None
    except MoneyError as exc:
        out.unexpected(exchange, "subscription", message=str(exc))
        return BillingOutcome(None, "unexpected_body")
    if data is None or hard_limit is None:
        out.unexpected(exchange, "subscription")
        return BillingOutcome(None, "unexpected_body")
    plan = _plan(data, out.clean)
    if plan and out.account is None:
        out.account = Account(plan=plan)
    expires = from_unix(data.get("access_until"))
    if expires is not None and expires.year >= 2100:
        expires = None
    start = (now - timedelta(days=USAGE_WINDOW_DAYS)).date().isoformat()
    end = (now + timedelta(days=1)).date().isoformat()
    usage_url = f"{root}{prefix}{USAGE_PATH}?start_date={start}&end_date={end}"
    usage = await client.call(get(key, usage_url))
    used: Decimal | None = None
    usage_verdict = out.record(usage, "usage")
    if usage_verdict is None and isinstance(usage.outcome, Reply):
        used, problem = _usage_dollars(json_object(usage.outcome))
        if used is None:
            out.unexpected(usage, "usage", message=problem)
    # one-api/new-api report an unlimited token as exactly 100000000; any other figure, however
    # large (a user-level quota such as 2000000000.003902), is a real limit.
    if hard_limit == UNLIMITED:
        # The *token* has no cap; the wallet behind it may still be empty (providers-2026 §2),
        # so the money left is unknown, never infinite.
        source = f"{prefix}{SUBSCRIPTION_PATH} + {prefix}{USAGE_PATH}"
        balance = Balance("USD", source, now, used=used, token_uncapped=True, expires_at=expires)
        return BillingOutcome(balance, "token_unlimited")
    available = WIDE.subtract(hard_limit, used) if used is not None else None
    balance = Balance(
        currency="USD",
        source=f"{prefix}{SUBSCRIPTION_PATH} + {prefix}{USAGE_PATH}",
        read_at=now,
        granted=hard_limit,
        used=used,
        available=available,
        expires_at=expires,
    )
    return BillingOutcome(balance, None if used is not None else "usage_unavailable")
