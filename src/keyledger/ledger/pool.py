"""The key pool: which keys to use now, best first (the seed's "many keys in rotation").

The ledger holds no keys, so the pool is built from keys the caller read again from the
user's key file, matched by fingerprint to each key's latest result in the ledger. This
module only chooses and orders; writing keys out is the command line's job.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from keyledger.ledger.rows import ResultRow
from keyledger.models import STATUS_ORDER, Key, Kind, Status

DEFAULT_STATUSES: tuple[str, ...] = (Status.OK.value,)


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """A usable key and the latest result that says so."""

    key: Key
    row: ResultRow


@dataclass
class PoolSelection:
    """The chosen keys, best first, and why the others were left out."""

    entries: list[PoolEntry] = field(default_factory=list)
    never_checked: int = 0
    excluded: int = 0


def _status_rank(status: str) -> int:
    """``ok`` first, then the better of the other statuses (STATUS_ORDER is worst first)."""
    try:
        return len(STATUS_ORDER) - 1 - STATUS_ORDER.index(Status(status))
    except ValueError:
        return len(STATUS_ORDER)


def _known(row: ResultRow) -> list[Decimal]:
    """The known available amounts of ``row``, one per currency (never summed)."""
    return [b.available for b in row.balances if b.known and b.available is not None]


def pool_order(entry: PoolEntry) -> tuple[int, int, Decimal, float, str]:
    """Sort key, best first: status, known money first and most of it left (the primary
    balance's), freshest check, label. A relay token without a cap has unknown money."""
    row = entry.row
    primary = row.balance_in(row.currency) if row.currency is not None else None
    available = primary.available if primary is not None and primary.known else None
    return (
        _status_rank(row.status),
        0 if available is not None else 1,
        -(available or Decimal(0)),
        -row.checked_at.timestamp(),
        entry.key.label.lower(),
    )


def select_pool(
    keys: Sequence[Key],
    latest: Mapping[str, ResultRow],
    *,
    statuses: Collection[str] = DEFAULT_STATUSES,
    min_available: Decimal | None = None,
    now: datetime | None = None,
) -> PoolSelection:
    """Keys whose latest result has one of ``statuses`` and, if ``min_available`` is set, at
    least that much available in one of the key's own currencies (unknown money, such as a
    relay token without a cap, does not count), best first.

    Never in the pool: admin keys (they cannot call models), keys whose every balance is
    known to be spent, and keys whose balance has expired.
    """
    wanted = set(statuses)
    now = now or datetime.now(UTC)
    selection = PoolSelection()
    for key in keys:
        row = latest.get(key.fingerprint)
        if row is None:
            selection.never_checked += 1
            continue
        known = _known(row)
        spent = (
            bool(row.balances) and len(known) == len(row.balances) and all(a <= 0 for a in known)
        )
        expired = row.balance_expires_at is not None and row.balance_expires_at <= now
        if row.status not in wanted or key.kind is Kind.ADMIN or spent or expired:
            selection.excluded += 1
            continue
        if min_available is not None and not any(a >= min_available for a in known):
            selection.excluded += 1
            continue
        selection.entries.append(PoolEntry(key, row))
    selection.entries.sort(key=pool_order)
    return selection
