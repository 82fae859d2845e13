"""Alert rules from the config's ``[[rules]]`` tables, and what each one tests on a snapshot.

A rule's condition on a key is ``True`` (it holds), ``False`` (it is clear) or ``None``
(cannot be told this run, e.g. no balance was read): ``None`` neither fires nor clears.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from keyledger.alerts.snapshot import Snapshot
from keyledger.config import Config
from keyledger.errors import ConfigError
from keyledger.money import fmt_money

DEFAULT_FOR_RUNS = 1
DEFAULT_CLEAR_RUNS = 2
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def same_currency(a: str | None, b: str | None) -> bool:
    """Whether two currency names are the same, ignoring case (``points`` is ``POINTS``)."""
    return a is not None and b is not None and a.upper() == b.upper()


class When(enum.StrEnum):
    """What a rule watches."""

    AVAILABLE_BELOW = "available_below"  # amount, currency
    RUNWAY_BELOW = "runway_below"  # days [, currency]
    STATUS_NOT_OK = "status_not_ok"
    GRANT_EXPIRING = "grant_expiring"  # days
    SPEND_ABOVE = "spend_above"  # amount per day [, currency]
    UNREACHABLE = "unreachable"  # runs (consecutive unreachable/unknown results)


_NEEDS: dict[When, tuple[str, ...]] = {
    When.AVAILABLE_BELOW: ("amount", "currency"),
    When.RUNWAY_BELOW: ("days",),
    When.STATUS_NOT_OK: (),
    When.GRANT_EXPIRING: ("days",),
    When.SPEND_ABOVE: ("amount",),
    When.UNREACHABLE: ("runs",),
}
_ALLOWED = {
    "name",
    "when",
    "amount",
    "currency",
    "days",
    "runs",
    "for_runs",
    "clear_runs",
    "provider",
    "label",
    "account",
    "channels",
}
UNREACHABLE_STATUSES = frozenset({"unreachable", "unknown"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated ``[[rules]]`` table."""

    name: str
    when: When
    channels: tuple[str, ...]
    amount: Decimal | None = None
    currency: str | None = None
    days: int | None = None
    runs: int | None = None
    for_runs: int = DEFAULT_FOR_RUNS
    clear_runs: int = DEFAULT_CLEAR_RUNS
    provider: str | None = None
    label: str | None = None  # a glob: prod-*
    account: str | None = None

    def applies_to(self, snap: Snapshot) -> bool:
        """Whether ``snap`` is in this rule's scope (provider, label glob, account)."""
        if self.provider is not None and snap.provider != self.provider:
            return False
        if self.label is not None and not fnmatch.fnmatchcase(snap.label, self.label):
            return False
        return self.account is None or snap.account == self.account

    @property
    def fire_after(self) -> int:
        """Consecutive holding runs needed to fire (``runs`` for the unreachable rule)."""
        return self.runs if self.when is When.UNREACHABLE and self.runs else self.for_runs

    def condition(self, snap: Snapshot) -> bool | None:
        """Does the condition hold for ``snap`` this run (``None``: cannot tell)?"""
        match self.when:
            case When.STATUS_NOT_OK:
                return snap.status != "ok"
            case When.UNREACHABLE:
                return snap.status in UNREACHABLE_STATUSES
            case When.AVAILABLE_BELOW:
                assert self.amount is not None
                known = [
                    b.available
                    for b in snap.balances
                    if same_currency(b.currency, self.currency) and b.available is not None
                ]
                return any(v < self.amount for v in known) if known else None
            case When.RUNWAY_BELOW:
                assert self.days is not None
                runway = self._by_currency(snap.runway_days)
                if not runway:
                    return None if not snap.balances else False
                return any(v < self.days for v in runway)
            case When.SPEND_ABOVE:
                assert self.amount is not None
                spend = self._by_currency(snap.spend_per_day)
                return any(v > self.amount for v in spend) if spend else None
            case When.GRANT_EXPIRING:
                assert self.days is not None
                if snap.next_expiry is None:
                    return False if snap.status == "ok" else None
                horizon = snap.checked_at + timedelta(days=self.days)
                return snap.checked_at <= snap.next_expiry <= horizon
        return None  # pragma: no cover - every When is matched above

    def _by_currency(self, values: Mapping[str, Decimal]) -> list[Decimal]:
        return [
            v for c, v in values.items() if self.currency is None or same_currency(c, self.currency)
        ]

    def figures(self, snap: Snapshot) -> dict[str, str]:
        """The figures an alert about ``snap`` shows (text, never a key)."""
        out: dict[str, str] = {"status": snap.status}
        for b in snap.balances:
            if b.available is not None:
                out[f"available {b.currency}"] = fmt_money(b.available, b.currency)
        for currency, days in snap.runway_days.items():
            out[f"runway {currency}"] = f"{days:.1f} days"
        for currency, per_day in snap.spend_per_day.items():
            out[f"spend {currency}"] = f"{fmt_money(per_day, currency)}/day"
        if snap.next_expiry is not None:
            out["next expiry"] = f"{snap.next_expiry:%Y-%m-%d}"
        return out

    def describe(self) -> str:
        """The condition in words, for messages."""
        match self.when:
            case When.AVAILABLE_BELOW:
                return f"available below {self.amount} {self.currency}"
            case When.RUNWAY_BELOW:
                return f"runway below {self.days} days"
            case When.STATUS_NOT_OK:
                return "status is not ok"
            case When.GRANT_EXPIRING:
                return f"a grant expires within {self.days} days"
            case When.SPEND_ABOVE:
                unit = f" {self.currency}" if self.currency else ""
                return f"spend above {self.amount}{unit} per day"
            case When.UNREACHABLE:
                return f"unreachable for {self.runs} runs"
        return str(self.when)  # pragma: no cover


def _text(config: Config, at: str, value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise config.error(at, f"{what} must be non-empty text")
    return value.strip()


def _count(config: Config, at: str, value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise config.error(at, f"{what} must be a whole number from {low} to {high}")
    return value


def _amount(config: Config, at: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise config.error(at, 'amount must be a number such as 5 or "12.50"')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise config.error(at, 'amount must be a number such as 5 or "12.50"') from None
    if not amount.is_finite() or amount < 0:
        raise config.error(at, "amount must be a non-negative number")
    return amount


def _rule(config: Config, index: int, table: Mapping[str, Any], known: set[str] | None) -> Rule:
    base = f"rules.{index}"
    unknown = sorted(set(table) - _ALLOWED)
    if unknown:
        raise config.error(f"{base}.{unknown[0]}", f"unknown rule setting {unknown[0]!r}")
    if "name" not in table:
        raise config.error(base, "a rule needs a name")
    name = _text(config, f"{base}.name", table["name"], "name")
    if not _NAME.fullmatch(name):
        raise config.error(f"{base}.name", "name: letters, digits, '.', '_' and '-' only")
    if "when" not in table:
        raise config.error(base, f"rule {name!r} needs when = one of {', '.join(When)}")
    try:
        when = When(table["when"])
    except (ValueError, TypeError):
        raise config.error(f"{base}.when", f"when must be one of {', '.join(When)}") from None
    for needed in _NEEDS[when]:
        if needed not in table:
            raise config.error(base, f"rule {name!r} ({when}) needs {needed}")
    channels_value = table.get("channels")
    if not isinstance(channels_value, list) or not channels_value:
        raise config.error(
            f"{base}.channels" if "channels" in table else base,
            f'rule {name!r} needs channels = ["NAME", …]',
        )
    channels = tuple(_text(config, f"{base}.channels", c, "a channel name") for c in channels_value)
    if known is not None:
        for channel in channels:
            if channel not in known:
                message = f"no channel named {channel!r} in [channels]"
                raise config.error(f"{base}.channels", message)
    values: dict[str, Any] = {}
    if "amount" in table:
        values["amount"] = _amount(config, f"{base}.amount", table["amount"])
    if "currency" in table:
        currency = _text(config, f"{base}.currency", table["currency"], "currency")
        values["currency"] = currency.upper()
    if "days" in table:
        values["days"] = _count(config, f"{base}.days", table["days"], "days", 0, 3650)
    if "runs" in table:
        values["runs"] = _count(config, f"{base}.runs", table["runs"], "runs", 1, 1000)
    for key in ("for_runs", "clear_runs"):
        if key in table:
            values[key] = _count(config, f"{base}.{key}", table[key], key, 1, 1000)
    for key in ("provider", "label", "account"):
        if key in table:
            values[key] = _text(config, f"{base}.{key}", table[key], key)
    return Rule(name=name, when=when, channels=channels, **values)


def load_rules(config: Config, channel_names: Sequence[str] | None = None) -> list[Rule]:
    """The validated rules of ``config``; ``channel_names`` (when given) must hold every
    channel a rule names.

    Raises:
        ConfigError: ``file:line: message`` for the first problem found.
    """
    raw = config.data.get("rules", [])
    if not isinstance(raw, list):
        raise config.error("rules", "rules must be an array of tables: [[rules]]")
    known = set(channel_names) if channel_names is not None else None
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, table in enumerate(raw):
        if not isinstance(table, Mapping):
            raise config.error(f"rules.{index}", "each rule must be a [[rules]] table")
        rule = _rule(config, index, table, known)
        if rule.name in seen:
            raise config.error(f"rules.{index}.name", f"two rules are named {rule.name!r}")
        seen.add(rule.name)
        rules.append(rule)
    return rules


__all__ = ["ConfigError", "Rule", "When", "load_rules"]
