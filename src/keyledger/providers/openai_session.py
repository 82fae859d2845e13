"""Session keys (``sess-…``): credit grants from ``/dashboard/billing/credit_grants``.

The seed's endpoint: it gives granted, used and available, and every grant with its expiry.
Expired grants are marked; ``available`` sums what is left on unexpired grants, while
``reported_available`` keeps the API's own total, which may still count expired grants.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import reduce
from typing import TYPE_CHECKING

from keyledger.models import Balance, CheckResult, Grant, Key, Status
from keyledger.money import WIDE, MoneyError, from_unix, money_field, parse_money
from keyledger.providers.base import Clean, is_missing_path, json_object
from keyledger.providers.openai_common import base_url, builder, get, organization
from keyledger.providers.spec import CheckOptions
from keyledger.sanitize import clean_label
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

CREDIT_GRANTS = "/dashboard/billing/credit_grants"
_ZERO = Decimal(0)
# The seed's path first; some gateways serve only the /v1-prefixed twin.
CREDIT_GRANTS_PATHS = (CREDIT_GRANTS, "/v1" + CREDIT_GRANTS)


def parse_grants(
    data: dict[str, object], now: datetime, clean: Clean = clean_label
) -> Balance | None:
    """A :class:`Balance` from a ``credit_summary`` body, or ``None`` if it is not one.

    Raises:
        MoneyError: an amount is present but not bounded money (see :mod:`keyledger.money`).
    """
    try:
        return _parse_grants(data, now, clean)
    except MoneyError:
        # The same reading, field by field, to say which field was not money.
        return parse_grants_named(data, now, clean)


# A grant read before is the same frozen value (the keys of one account, a watch's rounds):
# keyed by its amounts as written (text only: equal numbers can be written differently), its
# times as whole seconds, its cleaned id and whether it has expired. Emptied when full.
_GRANTS: dict[tuple[str, str, int, int, str, bool], Grant] = {}
GRANTS_SIZE = 1024


def _parse_grants(data: dict[str, object], now: datetime, clean: Clean) -> Balance | None:
    """:func:`parse_grants` without naming the field of a :class:`MoneyError`: each amount is
    read by :func:`parse_money` itself (the field's name is needed only on an error), a grant
    read before is shared, and what is left on unexpired grants is added up as they are read."""
    get = data.get
    granted = parse_money(get("total_granted"))
    used = parse_money(get("total_used"))
    reported = parse_money(get("total_available"))
    if reported is None and granted is None:
        return None
    grants: list[Grant] = []
    left_total = _ZERO  # what is left on unexpired grants
    container = get("grants")
    items = container.get("data") if isinstance(container, dict) else None
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        written = item.get("grant_amount")
        written_used = item.get("used_amount")
        start = item.get("effective_at")
        end = item.get("expires_at")
        grant_id = item.get("id")
        expires = from_unix(end)
        expired = expires is not None and expires <= now
        if (
            type(written) is str
            and type(written_used) is str
            and type(start) is int
            and type(end) is int
            and type(grant_id) is str
        ):
            seen = (written, written_used, start, end, clean(grant_id, 64), expired)
            grant = _GRANTS.get(seen)
            if grant is None:
                amount = parse_money(written)
                assert amount is not None  # text is a number or an error, never None
                spent = parse_money(written_used) or _ZERO
                grant = Grant(amount, spent, from_unix(start), expires, expired, seen[4])
                if len(_GRANTS) >= GRANTS_SIZE:
                    _GRANTS.clear()
                _GRANTS[seen] = grant
            else:
                amount, spent = grant.amount, grant.used
        else:
            found = parse_money(written)
            if found is None:
                continue
            amount = found
            spent = parse_money(written_used) or _ZERO
            grant = Grant(
                amount,
                spent,
                from_unix(start),
                expires,
                expired,
                clean(grant_id, 64) if isinstance(grant_id, str) else None,
            )
        grants.append(grant)
        if not expired:
            left = amount - spent  # what Grant.remaining computes, here without its call
            if left > _ZERO:  # adding a zero remainder changes nothing: the sum starts at 0
                left_total = WIDE.add(left_total, left)
    available = left_total if grants else reported
    return Balance("USD", CREDIT_GRANTS, now, granted, used, available, reported, tuple(grants))


def parse_grants_named(
    data: dict[str, object], now: datetime, clean: Clean = clean_label
) -> Balance | None:
    """:func:`parse_grants` field by field: the general path, whose :class:`MoneyError` names
    the field that was not money (and the reference the fast path is tested against)."""
    granted = money_field(data, "total_granted")
    used = money_field(data, "total_used")
    reported = money_field(data, "total_available")
    if reported is None and granted is None:
        return None
    grants: list[Grant] = []
    remaining: list[Decimal] = []  # each unexpired grant's Grant.remaining, as it is built
    container = data.get("grants")
    items = container.get("data") if isinstance(container, dict) else None
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        amount = money_field(item, "grant_amount")
        if amount is None:
            continue
        spent = money_field(item, "used_amount") or _ZERO
        expires = from_unix(item.get("expires_at"))
        expired = expires is not None and expires <= now
        grant_id = item.get("id")
        grants.append(
            Grant(
                amount=amount,
                used=spent,
                effective_at=from_unix(item.get("effective_at")),
                expires_at=expires,
                expired=expired,
                grant_id=clean(grant_id, 64) if isinstance(grant_id, str) else None,
            )
        )
        if not expired:
            left = amount - spent  # what Grant.remaining computes, here without its call
            remaining.append(left if left > _ZERO else _ZERO)
    if grants:
        # Exact however many grants there are: every addition in the WIDE context (as a
        # ``localcontext(WIDE)`` sum does, without switching the thread's context).
        available: Decimal | None = reduce(WIDE.add, remaining, _ZERO)
    else:
        available = reported
    return Balance(
        currency="USD",
        source=CREDIT_GRANTS,
        read_at=now,
        granted=granted,
        used=used,
        available=available,
        reported_available=reported,
        grants=tuple(grants),
    )


async def check_session(client: Client, key: Key, options: CheckOptions) -> CheckResult:
    """Read a session key's credit grants."""
    out = builder(key, options)
    root = base_url(key, options)
    for path in CREDIT_GRANTS_PATHS:
        exchange = await client.call(get(key, root + path))
        verdict = out.record(exchange, "credit_grants")
        if verdict is None or not is_missing_path(exchange):
            break
    if verdict is not None:
        return out.finish(verdict.status, verdict.reason)
    assert isinstance(exchange.outcome, Reply)
    out.account = organization(exchange.outcome.headers, None, out.clean)
    data = json_object(exchange.outcome)
    try:
        balance = parse_grants(data, options.now(), out.clean) if data is not None else None
    except MoneyError as exc:
        verdict = out.unexpected(exchange, "credit_grants", message=str(exc))
        return out.finish(verdict.status, verdict.reason)
    if balance is None:
        verdict = out.unexpected(exchange, "credit_grants")
        return out.finish(verdict.status, verdict.reason)
    out.balance = balance
    if balance.available is not None and balance.available <= 0:
        return out.finish(Status.OK, "zero_balance")
    return out.finish(Status.OK, None)
