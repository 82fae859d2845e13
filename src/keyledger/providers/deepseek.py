"""DeepSeek: one free call, ``GET /user/balance`` at the host root, gives status and money.

The balance endpoint is outside the ``/v1`` path clients use, so it is built from the base
URL's scheme, host and port (a ``base_url=https://api.deepseek.com/v1`` pin still reaches
``/user/balance``). Amounts come as strings or numbers; an account can hold several currencies,
answered in no stable order (provider-apis.md §4.1): one :class:`Balance` per currency, sorted,
so the order of the rows never shows. ``is_available: false`` means the account cannot call the
API, even with money on it (providers-2026.md §3.1).
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, ClassVar

from keyledger.classify import ErrorInfo, Rule, Rules, has
from keyledger.models import Balance, BalancePart, CheckResult, Key, Status
from keyledger.money import WIDE, MoneyError, money_field
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.providers.spec import Capabilities, CheckOptions, KeyShape, Provider, origin_of
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

BALANCE = "/user/balance"
CURRENCY = re.compile(r"[A-Z]{3}")
# DeepSeek's keys are ``sk-`` + 32 lower-case hex (betterleaks' rule; trufflehog's detector takes
# ``sk-[a-z0-9]{32}`` and only next to the word "deepseek"). Relays hand out ``sk-`` keys too, so
# the shape is a hint, never a claim.
KEY_PATTERN = re.compile(r"sk-[0-9a-f]{32}")


def _auth_fails(i: ErrorInfo) -> bool:
    # DeepSeek swaps OpenAI's roles: ``type`` is authentication_error, ``code`` is
    # invalid_request_error, the message starts "Authentication Fails".
    return i.http_status == 401 and (
        i.type == "authentication_error" or i.text.startswith("authentication fails")
    )


RULES: Rules = (
    # provider-apis.md §4.1 / §6 rule 5
    Rule("deepseek-auth-fails", _auth_fails, Status.INVALID, "invalid_api_key"),
    # §4.1 / §6 rule 12: 402 "Insufficient Balance" (type unknown_error)
    Rule(
        "deepseek-insufficient-balance",
        lambda i: i.http_status == 402 or has("insufficient balance")(i),
        Status.NO_QUOTA,
        "insufficient_balance",
    ),
)


class BalanceError(ValueError):
    """A ``/user/balance`` body that is not the documented shape (the message says how)."""


def parse_balances(data: dict[str, object], out: ResultBuilder) -> tuple[bool, list[Balance]]:
    """``is_available`` and one balance per currency (rows of one currency are added up).

    Raises:
        BalanceError: the body is not the documented shape.
        MoneyError: an amount is present but not bounded money.
    """
    available = data.get("is_available")
    rows = data.get("balance_infos")
    if not isinstance(available, bool) or not isinstance(rows, list):
        raise BalanceError("no is_available/balance_infos")
    totals: dict[str, dict[str, Decimal | None]] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise BalanceError("balance_infos row is not an object")
        currency = row.get("currency")
        if not isinstance(currency, str) or not CURRENCY.fullmatch(currency.strip().upper()):
            raise BalanceError("balance_infos row without a currency code")
        slot = totals.setdefault(currency.strip().upper(), {})
        for name in ("total_balance", "granted_balance", "topped_up_balance"):
            value = money_field(row, name)
            if value is not None:
                with localcontext(WIDE):
                    slot[name] = (slot.get(name) or Decimal(0)) + value
            else:
                slot.setdefault(name, None)
    now = out.options.now()
    balances = []
    for currency in sorted(totals):
        slot = totals[currency]
        parts = tuple(
            BalancePart(label, amount)
            for label, amount in (
                ("granted", slot.get("granted_balance")),
                ("topped_up", slot.get("topped_up_balance")),
            )
            if amount is not None
        )
        balances.append(
            Balance(
                currency=currency,
                source=BALANCE,
                read_at=now,
                available=slot.get("total_balance"),
                parts=parts,
            )
        )
    return available, balances


class DeepSeekProvider(Provider):
    """api.deepseek.com: status and balance (per currency) from ``GET /user/balance``."""

    name: ClassVar[str] = "deepseek"
    title: ClassVar[str] = "DeepSeek"
    default_base_url: ClassVar[str] = "https://api.deepseek.com"
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (
        KeyShape("sk-", pattern=KEY_PATTERN, claims=False),
    )
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_deepseek"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (the balance call)",
        balance="per currency (CNY, USD): total, granted and topped-up parts",
        calls=("GET /user/balance (host root)",),
    )

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Read the balance; its answer is also the key's status."""
        out = ResultBuilder(key, options, self.classification)
        url = origin_of(self.base_url(key, options)) + BALANCE
        exchange = await client.call(self.request("GET", url, key))
        verdict = out.record(exchange, "balance")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        data = json_object(exchange.outcome)
        try:
            if data is None:
                raise BalanceError("not a JSON object")
            usable, balances = parse_balances(data, out)
        except (BalanceError, MoneyError) as exc:
            verdict = out.unexpected(exchange, "balance", message=str(exc))
            return out.finish(verdict.status, verdict.reason)
        out.set_balances(balances)
        if not usable:
            return out.finish(Status.NO_QUOTA, "not_available")
        primary = out.balance.available if out.balance is not None else None
        if primary is not None and primary <= 0:
            return out.finish(Status.OK, "zero_balance")
        return out.finish(Status.OK, None)
