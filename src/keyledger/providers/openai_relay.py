"""Relay tokens (one-api / new-api): which site answers, and how to read its figures.

Calls, in order, each only when the previous ones left the balance open (all free):

1. ``GET /api/status`` **without the key** (a public endpoint): identifies the site and its
   units. ``quota_display_type`` in ``data`` = new-api; ``quota_per_unit`` with
   ``display_in_currency`` but no ``quota_display_type`` = one-api; anything else (404, a
   page, another shape) = unknown.
2. ``GET /api/usage/token/`` (Bearer key), unless the site is one-api: new-api's token
   figures in quota units, converted with the site's ``quota_per_unit`` (500000 per USD when
   the site does not say) and, for a CNY display, its ``usd_exchange_rate``. A
   ``data.account`` object, when present, is the wallet behind the token.
3. Otherwise the legacy subscription/usage pair, read as the site reports it: new-api and
   one-api's token mode give ``hard_limit_usd`` = remaining + used; one-api's wallet mode gives
   the remaining quota only (providers-2026.md §2). ``Balance.reading`` says which was used.

``100000000`` / ``unlimited_quota`` mean the *token* has no cap: the wallet may be empty, so the
money left is unknown (``token_uncapped``, ``balance_reason: token_unlimited``), never infinite.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from keyledger.models import Balance, Key
from keyledger.money import MONEY_PLACES, WIDE, MoneyError, from_unix, money_field
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.providers.openai_billing import BillingOutcome, read_billing
from keyledger.providers.openai_common import get, public_get
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

STATUS = "/api/status"
TOKEN_USAGE = "/api/usage/token/"  # new-api's route ends in "/" (gin would redirect without)
DEFAULT_QUOTA_PER_UNIT = Decimal(500000)
OPENAI_HOST = "api.openai.com"
_PLACES = Decimal(1).scaleb(-MONEY_PLACES)


def is_relay(key: Key) -> bool:
    """Whether the key goes to a relay: it names its own base URL, not OpenAI's host."""
    return key.base_url is not None and urlsplit(key.base_url).hostname != OPENAI_HOST


def _divide(amount: Decimal, by: Decimal) -> Decimal:
    """``amount / by`` rounded to money precision (exact for the usual quota figures)."""
    value = WIDE.divide(amount, by).quantize(_PLACES, context=WIDE).normalize(WIDE)
    exponent = value.as_tuple().exponent
    whole = isinstance(exponent, int) and exponent > 0  # 1E+2 -> 100
    return value.quantize(Decimal(1), context=WIDE) if whole else value


def _positive(data: dict[str, object], name: str) -> Decimal | None:
    try:
        value = money_field(data, name)
    except MoneyError:
        return None
    return value if value is not None and value > 0 else None


@dataclass(frozen=True, slots=True)
class Site:
    """What ``/api/status`` said about the relay (``kind`` unknown when it said nothing)."""

    kind: str = "unknown"  # new-api | one-api | unknown
    quota_per_unit: Decimal = DEFAULT_QUOTA_PER_UNIT
    per_unit_read: bool = False  # quota_per_unit came from /api/status
    display: str = "USD"  # new-api: USD | CNY | TOKENS | CUSTOM; one-api: USD | TOKENS
    rate: Decimal | None = None  # CNY per USD (new-api's usd_exchange_rate) for a CNY display

    @property
    def currency(self) -> str:
        """The currency money is reported in: CNY for a CNY site with a rate, else USD."""
        return "CNY" if self.display == "CNY" and self.rate is not None else "USD"

    def money(self, quota: Decimal) -> Decimal:
        """Quota units as money in :attr:`currency`."""
        if self.currency == "CNY" and self.rate is not None:
            return _divide(WIDE.multiply(quota, self.rate), self.quota_per_unit)
        return _divide(quota, self.quota_per_unit)

    def units(self) -> str:
        """How quota became money, for ``Balance.reading``."""
        qpu = f"quota_per_unit {self.quota_per_unit:f}"
        text = f"{qpu} from /api/status" if self.per_unit_read else f"{qpu} (default)"
        if self.currency == "CNY":
            text += f", CNY at usd_exchange_rate {self.rate:f}"
        elif self.display in ("CNY", "CUSTOM", "TOKENS"):
            text += f", site displays {self.display}: shown in USD"
        return text


async def read_site(client: Client, key: Key, root: str, out: ResultBuilder) -> Site:
    """What the relay at ``root`` says of itself, asked once per run and host.

    ``/api/status`` is public and the same for every token of a relay, so the checks of one run
    share one request per host (the first check that asks keeps its evidence).
    """
    shared = client.public_answers.get(root + STATUS)
    if shared is not None:
        site: Site = await asyncio.shield(shared)
        return site
    future: asyncio.Future[Site] = asyncio.get_running_loop().create_future()
    client.public_answers[root + STATUS] = future
    try:
        site = await _ask_site(client, key, root, out)
    except BaseException:  # this check was cancelled: the next one asks again
        del client.public_answers[root + STATUS]
        future.set_result(Site())
        raise
    future.set_result(site)
    return site


async def _ask_site(client: Client, key: Key, root: str, out: ResultBuilder) -> Site:
    """``GET /api/status`` without the key; its answer never counts against the key."""
    exchange = await client.call(public_get(key, root + STATUS))
    kept = len(out.signals)
    verdict = out.record(exchange, "status")
    del out.signals[kept:]
    if verdict is not None or not isinstance(exchange.outcome, Reply):
        return Site()
    body = json_object(exchange.outcome) or {}
    data = body.get("data")
    if body.get("success") is not True or not isinstance(data, dict):
        return Site()
    per_unit = _positive(data, "quota_per_unit")
    base = Site(
        quota_per_unit=per_unit or DEFAULT_QUOTA_PER_UNIT, per_unit_read=per_unit is not None
    )
    if "quota_display_type" in data:
        shown = data.get("quota_display_type")
        display = shown.upper() if isinstance(shown, str) else "USD"
        display = display if display in ("USD", "CNY", "TOKENS", "CUSTOM") else "USD"
        rate = _positive(data, "usd_exchange_rate") if display == "CNY" else None
        return replace(base, kind="new-api", display=display, rate=rate)
    if per_unit is not None and "display_in_currency" in data:
        in_money = data.get("display_in_currency") is not False
        return replace(base, kind="one-api", display="USD" if in_money else "TOKENS")
    return Site()


async def read_relay(
    client: Client, key: Key, root: str, out: ResultBuilder, now: datetime
) -> BillingOutcome:
    """A relay token's balance: site, then new-api's token endpoint, then the legacy pair."""
    site = await read_site(client, key, root, out)
    if site.kind != "one-api":
        outcome = await _token_usage(client, key, root, out, site, now)
        if outcome is not None:
            return outcome
    billing = await read_billing(client, key, root, out, now)
    if billing.balance is None:
        return billing
    return replace(billing, balance=_legacy(billing.balance, site))


async def _token_usage(
    client: Client, key: Key, root: str, out: ResultBuilder, site: Site, now: datetime
) -> BillingOutcome | None:
    """new-api's ``/api/usage/token/``; ``None`` when the relay does not serve it."""
    exchange = await client.call(get(key, root + TOKEN_USAGE))
    kept = len(out.signals)
    verdict = out.record(exchange, "token_usage")
    body = json_object(exchange.outcome) if isinstance(exchange.outcome, Reply) else None
    data = body.get("data") if verdict is None and body is not None else None
    if body is None or body.get("code") is not True or not isinstance(data, dict):
        del out.signals[kept:]  # not served here: the legacy pair decides
        return None
    account = data.get("account")
    wallet_data = account if isinstance(account, dict) else None
    try:
        granted = money_field(data, "total_granted")
        used = money_field(data, "total_used")
        available = money_field(data, "total_available")
        wallet = money_field(wallet_data, "quota", "account.quota") if wallet_data else None
        wallet_used = (
            money_field(wallet_data, "used_quota", "account.used_quota") if wallet_data else None
        )
    except MoneyError as exc:
        out.unexpected(exchange, "token_usage", message=str(exc))
        return BillingOutcome(None, "unexpected_body")
    uncapped = data.get("unlimited_quota") is True
    source = TOKEN_USAGE + (f" + {STATUS}" if site.kind != "unknown" else "")
    reading = f"new-api {TOKEN_USAGE}, {site.units()}"
    money = site.money
    balance = Balance(
        site.currency,
        source,
        now,
        expires_at=from_unix(data.get("expires_at")),
        token_uncapped=uncapped,
    )
    if wallet is not None:  # the wallet itself: what the key can spend, capped by the token
        left = money(wallet)
        if not uncapped and available is not None and money(available) < left:
            left = money(available)
            reading += "; the token's own cap is below the wallet"
        wallet_spent = money(wallet_used) if wallet_used is not None else None
        total = money(wallet + wallet_used) if wallet_used is not None else None
        reading += "; wallet from data.account"
        balance = replace(balance, granted=total, used=wallet_spent, available=left)
        return BillingOutcome(replace(balance, reading=reading), None)
    spent = money(used) if used is not None else None
    if uncapped:  # total_available is then meaningless (often negative)
        return BillingOutcome(replace(balance, used=spent, reading=reading), "token_unlimited")
    balance = replace(
        balance,
        granted=money(granted) if granted is not None else None,
        used=spent,
        available=money(available) if available is not None else None,
        reading=reading,
    )
    return BillingOutcome(balance, None if available is not None else "usage_unavailable")


def _legacy(balance: Balance, site: Site) -> Balance:
    """The legacy pair's figures read as this site reports them (see the module docstring)."""
    hard, used = balance.granted, balance.used
    if site.display == "TOKENS":  # raw quota in the *_usd fields
        hard = _divide(hard, site.quota_per_unit) if hard is not None else None
        used = _divide(used, site.quota_per_unit) if used is not None else None
    currency = "CNY" if site.kind == "new-api" and site.display == "CNY" else "USD"
    source = balance.source + (f" + {STATUS}" if site.kind != "unknown" else "")
    units = ""
    if site.display == "TOKENS":
        units = f"raw quota / quota_per_unit {site.quota_per_unit:f} from /api/status; "
    base = replace(balance, currency=currency, source=source, used=used)
    if balance.token_uncapped:
        return replace(base, reading=f"{units}hard_limit_usd 100000000: the token has no cap")
    if site.kind == "new-api":
        mode = "new-api: hard_limit_usd = remaining + used"
    elif site.kind == "one-api" and balance.expires_at is not None:
        mode = "one-api token mode (the token has an expiry): hard_limit_usd = remaining + used"
    elif site.kind == "one-api" and hard is not None and used is not None and used > hard:
        # Token mode reports remaining + used, never less than used: this is the wallet.
        return replace(
            base,
            granted=hard + used,
            available=hard,
            reading=f"{units}one-api wallet mode (usage above hard_limit_usd): "
            "hard_limit_usd = wallet remaining",
        )
    elif site.kind == "one-api":
        mode = (
            "one-api, token or wallet mode cannot be told: read as token mode (the default), "
            "hard_limit_usd = remaining + used"
        )
    else:
        mode = (
            "relay kind unknown (no /api/status): read as one-api token mode / new-api, "
            "hard_limit_usd = remaining + used"
        )
    available = hard - used if hard is not None and used is not None else None
    return replace(base, granted=hard, available=available, reading=units + mode)
