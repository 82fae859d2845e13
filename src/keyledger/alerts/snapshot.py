"""What the rules look at: one small, provider-neutral snapshot per key after a run.

:func:`snapshots_from_insights` is the ONLY place that reads ledger rows for the rules, so a
change in how rows carry money (several balances per key, one per currency) is made here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from keyledger.ledger.insights import RunInsights


@dataclass(frozen=True, slots=True)
class BalanceFigure:
    """Money on the account in one currency (``None`` where the provider did not say)."""

    currency: str
    available: Decimal | None
    granted: Decimal | None
    used: Decimal | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One key as the rules see it after a run; never the key, only its masked form."""

    fingerprint: str
    label: str
    masked: str
    provider: str
    account: str | None
    status: str
    reason: str | None
    checked_at: datetime
    balances: tuple[BalanceFigure, ...] = ()
    runway_days: Mapping[str, Decimal] = field(default_factory=dict)  # by currency
    spend_per_day: Mapping[str, Decimal] = field(default_factory=dict)  # by currency
    next_expiry: datetime | None = None  # the soonest grant (or balance) expiry


def snapshots_from_insights(insights: RunInsights) -> list[Snapshot]:
    """A snapshot per key of the run, from its ledger row and computed figures."""
    snapshots: list[Snapshot] = []
    for insight in insights.keys.values():
        row = insight.row
        # Every currency of the key, each on its own; a relay token without a cap has no
        # known wallet, so it offers no figure a money rule could compare.
        balances = tuple(
            BalanceFigure(b.currency, b.available, b.granted, b.used)
            for b in row.balances
            if not b.token_uncapped
        )
        runway: dict[str, Decimal] = dict(insight.runways)
        spend: dict[str, Decimal] = {c: b.per_day for c, b in insight.burns.items()}
        if insight.burn is not None and insight.burn.currency:
            spend.setdefault(insight.burn.currency, insight.burn.per_day)
        expiries = [t for t in (row.next_expiry, row.balance_expires_at) if t is not None]
        snapshots.append(
            Snapshot(
                fingerprint=row.fingerprint,
                label=row.label,
                masked=row.masked,
                provider=row.provider,
                account=row.organization,
                status=row.status,
                reason=row.reason,
                checked_at=row.checked_at,
                balances=balances,
                runway_days=runway,
                spend_per_day=spend,
                next_expiry=min(expiries) if expiries else None,
            )
        )
    return sorted(snapshots, key=lambda s: (s.label, s.fingerprint))
