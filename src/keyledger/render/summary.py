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

from keyledger.models import STATUS_ORDER, Balance, CheckResult, Spend
from keyledger.money import WIDE
from keyledger.render.serialize import balances_of, money_text


def account_id(result: CheckResult) -> str:
    """Identity of the account behind a key: its organization, else the key itself.

    Only keys at the provider's own host are grouped by organization. A relay token's quota
    is its own, and relays may pass an upstream ``openai-organization`` header through, so
    every key with a custom base URL is an account of its own.
    """
    return _org_account(result) or f"key:{result.key.fingerprint}"


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


class _Account:
    """What a run needs to remember of one account: its keys' labels (for the table's note on
    shared accounts), whether its balances and its spend were counted, and in which currencies
    it was counted. Results themselves are not kept, so a run's memory does not grow with them.
    """

    __slots__ = ("balance_currencies", "has_balances", "labels", "spend_currency")

    def __init__(self, label: str) -> None:
        self.labels: str | list[str] = label  # one key's label, or a list once shared
        self.has_balances = False
        self.balance_currencies: frozenset[str] = frozenset()
        self.spend_currency: str | None = None  # the spend counted for this account

    def add_label(self, label: str) -> None:
        """Another key of this account."""
        if isinstance(self.labels, str):
            self.labels = [self.labels]
        self.labels.append(label)


def _org_account(result: CheckResult) -> str | None:
    """``provider/organization`` for a key grouped by its organization (see
    :func:`account_id`), else ``None``: the key is an account of its own."""
    org = result.account.organization if result.account else None
    if org and result.key.base_url is None:
        return f"{result.key.provider}/{org}"
    return None


@dataclass
class Summary:
    """Counts and totals for a set of results, folded in as each result arrives.

    An account counts the balances of its first result that has any, and the spend of its
    first result that has one; an account is counted once in each currency it shows.
    """

    counts: Counter[str] = field(default_factory=Counter)
    currencies: dict[str, CurrencyTotal] = field(default_factory=dict)
    keys: int = 0
    # Accounts of their own are filed under the key's fingerprint (a string the key already
    # holds), organizations under ``provider/organization``.
    _by_key: dict[str, _Account] = field(default_factory=dict, repr=False)
    _by_org: dict[str, _Account] = field(default_factory=dict, repr=False)

    def add(self, result: CheckResult) -> None:
        """Count one result."""
        self.keys += 1
        self.counts[result.status.value] += 1
        org = _org_account(result)
        accounts, ident = (
            (self._by_key, result.key.fingerprint) if org is None else (self._by_org, org)
        )
        account = accounts.get(ident)
        if account is None:
            account = accounts[ident] = _Account(result.key.label)
        else:
            account.add_label(result.key.label)
        if not account.has_balances:
            balances = balances_of(result)
            if balances:
                self._count_balances(account, balances)
        if account.spend_currency is None and result.spend is not None:
            self._count_spend(account, result.spend)

    def _total(self, currency: str) -> CurrencyTotal:
        total = self.currencies.get(currency)
        if total is None:
            total = self.currencies[currency] = CurrencyTotal(currency)
        return total

    def _count_balances(self, account: _Account, balances: tuple[Balance, ...]) -> None:
        account.has_balances = True
        account.balance_currencies = frozenset(b.currency for b in balances)
        for balance in balances:
            total = self._total(balance.currency)
            total.accounts += 1
            if balance.token_uncapped or balance.available is None:
                total.unknown += 1
            else:
                total.available = _add(total.available, balance.available)
            total.granted = _add(total.granted, balance.granted)
            total.used = _add(total.used, balance.used)
        spent = account.spend_currency
        if spent is not None and spent in account.balance_currencies:
            self._total(spent).accounts -= 1  # the spend counted it first: once is enough

    def _count_spend(self, account: _Account, spend: Spend) -> None:
        account.spend_currency = spend.currency
        total = self._total(spend.currency)
        if spend.currency not in account.balance_currencies:
            total.accounts += 1
        total.spend = _add(total.spend, spend.amount)
        total.spend_truncated = total.spend_truncated or spend.truncated

    def finish(self) -> Summary:
        """The summary (totals are kept up to date as results arrive)."""
        return self

    @property
    def accounts(self) -> int:
        """How many accounts the results came from."""
        return len(self._by_key) + len(self._by_org)

    @property
    def shared_accounts(self) -> dict[str, list[str]]:
        """Accounts reached through more than one key, with those keys' labels."""
        shared = {
            f"key:{k}": a.labels for k, a in self._by_key.items() if isinstance(a.labels, list)
        }
        shared.update((k, a.labels) for k, a in self._by_org.items() if isinstance(a.labels, list))
        return shared

    def as_dict(self) -> dict[str, Any]:
        """The ``summary`` object of the JSON document."""
        return {
            "keys": self.keys,
            "accounts": self.accounts,
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
