"""Totals over a run: status counts, money per currency and per account.

Keys that share an account (the same organization at the same host) are counted once: the
account's balances are taken from its first key that has any. Every currency has its own
total; an amount in one currency is never added to another. An account whose available money
in a currency is unknown (a relay token without a cap says nothing about the wallet behind
it) is counted in ``unknown`` and adds nothing to ``available``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from keyledger.models import STATUS_ORDER, CheckResult
from keyledger.money import WIDE
from keyledger.render.serialize import balances_of, money_text


def account_id(result: CheckResult) -> str:
    """Identity of the account behind a key: its organization, else the key itself.

    Only keys at the provider's own host are grouped by organization. A relay token's quota
    is its own, and relays may pass an upstream ``openai-organization`` header through, so
    every key with a custom base URL is an account of its own.
    """
    org = result.account.organization if result.account else None
    if org and result.key.base_url is None:
        return f"{result.key.provider}/{org}"
    return f"key:{result.key.fingerprint}"


@dataclass
class CurrencyTotal:
    """Sums for one currency; ``None`` sums mean nothing was readable."""

    currency: str
    available: Decimal | None = None
    granted: Decimal | None = None
    used: Decimal | None = None
    spend: Decimal | None = None
    spend_truncated: bool = False  # some account's spend is only a lower bound
    accounts: int = 0
    unknown: int = 0  # accounts whose available money in this currency is unknown


def _add(total: Decimal | None, value: Decimal | None) -> Decimal | None:
    if value is None:
        return total
    return value if total is None else WIDE.add(total, value)  # exact; cannot trap


@dataclass
class Summary:
    """Counts and totals for a set of results."""

    counts: Counter[str] = field(default_factory=Counter)
    currencies: dict[str, CurrencyTotal] = field(default_factory=dict)
    accounts: dict[str, list[CheckResult]] = field(default_factory=dict)
    keys: int = 0

    def add(self, result: CheckResult) -> None:
        """Count one result."""
        self.keys += 1
        self.counts[result.status.value] += 1
        self.accounts.setdefault(account_id(result), []).append(result)

    def finish(self) -> Summary:
        """Compute currency totals, one balance and one spend per account."""
        self.currencies = {}
        for results in self.accounts.values():
            balances = next((balances_of(r) for r in results if balances_of(r)), ())
            spend = next((r.spend for r in results if r.spend is not None), None)
            for balance in balances:
                total = self.currencies.setdefault(
                    balance.currency, CurrencyTotal(balance.currency)
                )
                total.accounts += 1
                if balance.token_uncapped or balance.available is None:
                    total.unknown += 1
                else:
                    total.available = _add(total.available, balance.available)
                total.granted = _add(total.granted, balance.granted)
                total.used = _add(total.used, balance.used)
            if spend is not None:
                total = self.currencies.setdefault(spend.currency, CurrencyTotal(spend.currency))
                if all(b.currency != spend.currency for b in balances):
                    total.accounts += 1
                total.spend = _add(total.spend, spend.amount)
                total.spend_truncated = total.spend_truncated or spend.truncated
        return self

    @property
    def shared_accounts(self) -> dict[str, list[CheckResult]]:
        """Accounts reached through more than one key."""
        return {k: v for k, v in self.accounts.items() if len(v) > 1}

    def as_dict(self) -> dict[str, Any]:
        """The ``summary`` object of the JSON document."""
        return {
            "keys": self.keys,
            "accounts": len(self.accounts),
            "statuses": {
                s.value: self.counts[s.value] for s in STATUS_ORDER if self.counts[s.value]
            },
            "totals": [
                {
                    "currency": t.currency,
                    "available": money_text(t.available),
                    "granted": money_text(t.granted),
                    "used": money_text(t.used),
                    "spend": money_text(t.spend),
                    "spend_truncated": t.spend_truncated,
                    "accounts": t.accounts,
                    "unknown_accounts": t.unknown,
                }
                for t in sorted(self.currencies.values(), key=lambda t: t.currency)
            ],
        }


def summarise(results: list[CheckResult]) -> Summary:
    """A finished :class:`Summary` of ``results``."""
    summary = Summary()
    for result in results:
        summary.add(result)
    return summary.finish()
