"""What the ledger gives back: frozen rows read from SQLite, plus the text codecs for them.

Rows never hold a key: a key is its ``fingerprint`` (an HMAC with the install secret) and
its ``masked`` form. Money is ``Decimal`` (stored as exact text), missing money is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from keyledger.money import stored_money


def to_text(value: datetime | None) -> str | None:
    """A UTC timestamp as fixed-width ISO 8601 text (so text order is time order)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_text(value: str | None) -> datetime | None:
    """The inverse of :func:`to_text` (also accepts any ISO 8601 text); aware, in UTC."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def money_text(value: Decimal | None) -> str | None:
    """A ``Decimal`` as exact, exponent-free text; ``None`` stays ``None`` (never ``"0"``)."""
    return None if value is None else format(value, "f")


def money_value(value: str | None) -> Decimal | None:
    """The inverse of :func:`money_text`; unreadable text is ``None``."""
    return stored_money(value)  # bounded: a hand-damaged or absurd cell reads as unknown


@dataclass(frozen=True, slots=True)
class RunRow:
    """One ``keyledger check`` run."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | complete | interrupted
    keys_total: int
    results_recorded: int | None
    tool_version: str | None


@dataclass(frozen=True, slots=True)
class GrantRow:
    """One credit grant seen in a result."""

    result_id: int
    grant_id: str | None
    amount: Decimal
    used: Decimal
    effective_at: datetime | None
    expires_at: datetime | None
    expired: bool

    @property
    def remaining(self) -> Decimal:
        """What is left on the grant, never below zero."""
        return max(Decimal(0), self.amount - self.used)


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One key's check as the ledger keeps it."""

    id: int
    run_id: int
    fingerprint: str
    masked: str
    provider: str
    kind: str
    label: str
    base_url: str | None
    checked_at: datetime
    status: str
    reason: str | None
    currency: str | None = None
    granted: Decimal | None = None
    used: Decimal | None = None
    available: Decimal | None = None
    unlimited: bool | None = None
    balance_source: str | None = None
    balance_reason: str | None = None
    balance_expires_at: datetime | None = None
    next_expiry: datetime | None = None
    spend: Decimal | None = None
    spend_currency: str | None = None
    spend_start: datetime | None = None
    spend_end: datetime | None = None
    organization: str | None = None
    attempts: int | None = None
    duration_ms: int | None = None

    @property
    def has_balance(self) -> bool:
        """Whether this check read a balance at all."""
        return self.currency is not None

    @property
    def spend_truncated(self) -> bool:
        """Whether ``spend`` is only a lower bound (cost paging stopped early)."""
        return self.spend is not None and self.balance_reason == "costs_truncated"
