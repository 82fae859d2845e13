"""What the ledger gives back: frozen rows read from SQLite (the text codecs for them live in
:mod:`keyledger.ledger.codecs` and are importable from here too).

Rows never hold a key: a key is its ``fingerprint`` (an HMAC with the install secret) and
its ``masked`` form. Money is ``Decimal`` (stored as exact text), missing money is ``None``.

:func:`result_from_db` (with its balances, :class:`BalanceRow`), :func:`run_from_db`,
:func:`grant_from_db` and :func:`evidence_from_db` are the one place where a database row
becomes values. A hand-damaged row never raises there: garbage in an optional column reads
as ``None``, and garbage in a column the row cannot do without (its id, key, label, time or
status) makes the whole row ``None``, for the caller to skip and count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from keyledger.ledger.codecs import from_text as from_text
from keyledger.ledger.codecs import money_text as money_text
from keyledger.ledger.codecs import money_value as money_value
from keyledger.ledger.codecs import to_text as to_text
from keyledger.models import BalancePart


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
class EvidenceRow:
    """What one endpoint answered during a check (the ``evidence`` table), in call order.

    The provider sanitised and redacted ``message`` before it was recorded (no key, no raw
    HTML page); a reader showing it on a terminal or page still escapes it for that medium.
    """

    result_id: int
    position: int
    endpoint: str
    http_status: int | None = None
    error_type: str | None = None
    error_code: str | None = None
    message: str | None = None
    attempts: int = 1
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One balance of a result, in one currency (the ``balances`` table).

    ``token_uncapped`` is a relay token without a cap of its own: its ``available`` is
    unknown (``None``), never infinite.
    """

    currency: str
    available: Decimal | None = None
    granted: Decimal | None = None
    used: Decimal | None = None
    token_uncapped: bool = False
    reading: str | None = None
    source: str | None = None
    parts: tuple[BalancePart, ...] = ()

    @property
    def known(self) -> bool:
        """Whether the money available in this currency is known."""
        return self.available is not None and not self.token_uncapped


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
    token_uncapped: bool | None = None  # of the primary balance (column ``unlimited``)
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
    tier: str | None = None
    balance_rows: tuple[BalanceRow, ...] = ()  # from the ``balances`` table, by currency

    @property
    def has_balance(self) -> bool:
        """Whether this check read a balance at all."""
        return self.currency is not None or bool(self.balance_rows)

    @property
    def balances(self) -> tuple[BalanceRow, ...]:
        """Every balance of this check, by currency; a row written before the ``balances``
        table (or without its rows) gives its primary balance alone."""
        if self.balance_rows:
            return self.balance_rows
        if self.currency is None:
            return ()
        primary = BalanceRow(
            self.currency,
            self.available,
            self.granted,
            self.used,
            bool(self.token_uncapped),
            None,
            self.balance_source,
        )
        return (primary,)

    def balance_in(self, currency: str) -> BalanceRow | None:
        """This check's balance in ``currency``, if it read one."""
        return next((b for b in self.balances if b.currency == currency), None)

    @property
    def spend_truncated(self) -> bool:
        """Whether ``spend`` is only a lower bound (cost paging stopped early)."""
        return self.spend is not None and self.balance_reason == "costs_truncated"


# -- database rows to values (the only place) -------------------------------------------------


class DbRow(Protocol):
    """What a row from SQLite offers (``sqlite3.Row``, or a dict in tests)."""

    def __getitem__(self, key: str, /) -> Any: ...


class _Damaged(Exception):
    """A column the row cannot do without holds garbage."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return from_text(value)
    except (ValueError, OverflowError):
        return None


def _need(value: Any) -> Any:
    if value is None:
        raise _Damaged
    return value


def _parts(value: Any) -> tuple[BalancePart, ...]:
    """``[[name, amount-text], …]`` as parts; a damaged item is left out."""
    try:
        items = json.loads(value) if isinstance(value, str) else []
    except ValueError:
        return ()
    parts: list[BalancePart] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
            amount = money_value(item[1])
            if amount is not None:
                parts.append(BalancePart(item[0], amount))
    return tuple(parts)


def balances_from_db(value: Any) -> tuple[BalanceRow, ...]:
    """The ``balances`` of a result, as the JSON array of arrays the store's query builds
    (currency, granted, used, available, token_uncapped, reading, source, parts), ordered by
    currency; a damaged item is left out, never guessed."""
    try:
        items = json.loads(value) if isinstance(value, str) else []
    except ValueError:
        return ()
    out: list[BalanceRow] = []
    for item in items if isinstance(items, list) else []:
        if not (isinstance(item, list) and len(item) == 8 and isinstance(item[0], str)):
            continue
        currency, granted, used, available, uncapped, reading, source, parts = item
        out.append(
            BalanceRow(
                currency=currency,
                available=money_value(available),
                granted=money_value(granted),
                used=money_value(used),
                token_uncapped=bool(_int(uncapped)),
                reading=_text(reading),
                source=_text(source),
                parts=_parts(parts),
            )
        )
    return tuple(sorted(out, key=lambda b: b.currency))


def _optional(row: DbRow, name: str) -> Any:
    """A column a query may not select (``None`` then)."""
    try:
        return row[name]
    except (KeyError, IndexError):
        return None


def result_from_db(row: DbRow) -> ResultRow | None:
    """A ``results`` row (joined with its key) as values; ``None`` if it is damaged beyond use."""
    try:
        unlimited = _int(row["unlimited"])
        return ResultRow(
            id=_need(_int(row["id"])),
            run_id=_need(_int(row["run_id"])),
            fingerprint=_need(_text(row["fingerprint"])),
            masked=_need(_text(row["masked"])),
            provider=_text(row["provider"]) or "?",
            kind=_text(row["kind"]) or "?",
            label=_need(_text(row["label"])),
            base_url=_text(row["base_url"]),
            checked_at=_need(_time(row["checked_at"])),
            status=_need(_text(row["status"])),
            reason=_text(row["reason"]),
            currency=_text(row["currency"]),
            granted=money_value(row["granted"]),
            used=money_value(row["used"]),
            available=money_value(row["available"]),
            token_uncapped=None if unlimited is None else bool(unlimited),
            balance_source=_text(row["balance_source"]),
            balance_reason=_text(row["balance_reason"]),
            balance_expires_at=_time(row["balance_expires_at"]),
            next_expiry=_time(row["next_expiry"]),
            spend=money_value(row["spend"]),
            spend_currency=_text(row["spend_currency"]),
            spend_start=_time(row["spend_start"]),
            spend_end=_time(row["spend_end"]),
            organization=_text(row["organization"]),
            attempts=_int(row["attempts"]),
            duration_ms=_int(row["duration_ms"]),
            tier=_text(_optional(row, "tier")),
            balance_rows=balances_from_db(_optional(row, "balances")),
        )
    except _Damaged:
        return None


def run_from_db(row: DbRow) -> RunRow | None:
    """A ``runs`` row as values; ``None`` if it is damaged beyond use."""
    try:
        return RunRow(
            id=_need(_int(row["id"])),
            started_at=_need(_time(row["started_at"])),
            finished_at=_time(row["finished_at"]),
            status=_text(row["status"]) or "?",
            keys_total=_int(row["keys_total"]) or 0,
            results_recorded=_int(row["results_recorded"]),
            tool_version=_text(row["tool_version"]),
        )
    except _Damaged:
        return None


def grant_from_db(row: DbRow) -> GrantRow | None:
    """A ``grants`` row as values; ``None`` if it is damaged beyond use."""
    try:
        expired = _int(row["expired"])
        return GrantRow(
            result_id=_need(_int(row["result_id"])),
            grant_id=_text(row["grant_id"]),
            amount=_need(money_value(row["amount"])),
            used=_need(money_value(row["used"])),
            effective_at=_time(row["effective_at"]),
            expires_at=_time(row["expires_at"]),
            expired=bool(expired),
        )
    except _Damaged:
        return None


def evidence_from_db(row: DbRow) -> EvidenceRow | None:
    """An ``evidence`` row as values; ``None`` if it is damaged beyond use."""
    try:
        return EvidenceRow(
            result_id=_need(_int(row["result_id"])),
            position=_need(_int(row["position"])),
            endpoint=_need(_text(row["endpoint"])),
            http_status=_int(row["http_status"]),
            error_type=_text(row["error_type"]),
            error_code=_text(row["error_code"]),
            message=_text(row["message"]),
            attempts=_int(row["attempts"]) or 1,
            outcome=_text(row["outcome"]),
        )
    except _Damaged:
        return None
