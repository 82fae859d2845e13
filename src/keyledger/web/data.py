"""Every figure the dashboard shows, read from the ledger through :class:`Store`'s queries.

This is the only module of :mod:`keyledger.web` that knows the ledger's shape; pages and the
JSON API both render what it returns. Values are plain JSON-ready dicts: money is exact
decimal text (never a float), times are ISO 8601 UTC, and a key is named by its label, its
masked form and a short prefix of its fingerprint (:data:`ID_LENGTH` characters), never by
the key or the whole fingerprint.

Money is kept per currency and never summed across currencies. A result carries a *list*
of balances (one per currency) so that multi-currency accounts fit without a new shape.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from keyledger.ledger.analysis import (
    burn_rate,
    burn_rates,
    expiry_warnings,
    runway_days,
    runways,
    sparkline,
)
from keyledger.ledger.rows import EvidenceRow, ResultRow, RunRow, to_text
from keyledger.ledger.store import Store
from keyledger.models import STATUS_ORDER
from keyledger.sanitize import clean_label, clean_message

ID_LENGTH = 10
BURN_WINDOW_DAYS = 30
SPARK_POINTS = 16
WARN_DAYS = 14
SOONEST = 5
PER_DAY = Decimal("0.0001")
STATUS_RANK = {status.value: n for n, status in enumerate(STATUS_ORDER)}

Json = dict[str, Any]


def key_id(fingerprint: str) -> str:
    """The public id of a key: a short fingerprint prefix (never the whole fingerprint)."""
    return fingerprint[:ID_LENGTH]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _days(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.1")), "f")


def _time(value: datetime | None) -> str | None:
    return to_text(value)


def balances(row: ResultRow, history: Sequence[ResultRow] = ()) -> list[Json]:
    """The balances a result read (one per currency, primary first; empty when none was read),
    each with its burn rate and runway over ``history`` when there is one. A relay token
    without a cap has ``token_uncapped`` and an unknown (null) ``available``."""
    burns = burn_rates(list(history)) if history else {}
    days = runways(row, burns)
    ordered = sorted(row.balances, key=lambda b: (b.currency != row.currency, b.currency))
    return [
        {
            "currency": clean_label(b.currency, 16),
            "available": _money(b.available),
            "granted": _money(b.granted),
            "used": _money(b.used),
            "token_uncapped": b.token_uncapped,
            "reading": clean_label(b.reading, 40) if b.reading else None,
            "burn_per_day": _money(burns[b.currency].per_day.quantize(PER_DAY))
            if b.currency in burns
            else None,
            "runway_days": _days(days.get(b.currency)),
        }
        for b in ordered
    ]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The ledger's latest result per key, with each key's recent history."""

    latest: dict[str, ResultRow]
    recent: dict[str, list[ResultRow]]
    now: datetime


def snapshot(store: Store, now: datetime) -> Snapshot:
    """Read the latest result of every key and the burn window's history."""
    since = now - timedelta(days=BURN_WINDOW_DAYS)
    return Snapshot(store.latest(), store.series(since=since), now)


def _available_in(row: ResultRow, currency: str | None) -> Decimal | None:
    balance = row.balance_in(currency) if currency is not None else None
    return balance.available if balance is not None and balance.known else None


def _key_summary(row: ResultRow, history: Sequence[ResultRow]) -> Json:
    rows = list(history) or [row]
    burn = burn_rate(rows) if row.status == "ok" or row.available is not None else None
    runway = None if row.token_uncapped else runway_days(row.available, burn)
    spark_values = [_available_in(r, row.currency) for r in rows]
    points = [
        (to_text(r.checked_at), _money(r.available))
        for r in rows[-SPARK_POINTS:]
        if r.currency == row.currency and r.available is not None
    ]
    return {
        "id": key_id(row.fingerprint),
        "label": clean_label(row.label),
        "masked": row.masked,
        "provider": clean_label(row.provider, 32),
        "kind": row.kind,
        "account": clean_label(row.organization) if row.organization else None,
        "status": row.status,
        "status_rank": STATUS_RANK.get(row.status, len(STATUS_RANK)),
        "reason": clean_message(row.reason) if row.reason else None,
        "balance_reason": row.balance_reason,
        "balances": balances(row, rows),
        "spend": None
        if row.spend is None
        else {"amount": _money(row.spend), "currency": row.spend_currency},
        "burn_per_day": None
        if burn is None
        else {
            "amount": _money(burn.per_day.quantize(Decimal("0.0001"))),
            "currency": burn.currency,
        },
        "runway_days": _days(runway),
        "next_expiry": _time(row.next_expiry),
        "tier": clean_label(row.tier, 40) if row.tier else None,
        "last_checked": _time(row.checked_at),
        "spark": sparkline(spark_values[-SPARK_POINTS:]) if row.available is not None else "",
        "spark_points": points,
        "base_url": row.base_url,
    }


def keys(snap: Snapshot) -> list[Json]:
    """Every key's latest state, worst status first, then by label."""
    out = [_key_summary(row, snap.recent.get(fp, [])) for fp, row in snap.latest.items()]
    return sorted(out, key=lambda k: (k["status_rank"], k["label"].lower()))


def _totals(rows: Sequence[ResultRow]) -> list[Json]:
    """Money per currency, never summed across currencies; an account shared by several keys
    is counted once. An account whose available money is unknown (a relay token without a
    cap) is counted in ``unknown`` and adds nothing to ``available``. A figure no account of
    the currency reported (no granted amount anywhere, say) is ``None``, never ``0``."""
    seen: set[tuple[str, str]] = set()
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        account = row.organization or row.fingerprint
        for balance in row.balances:
            if (account, balance.currency) in seen:
                continue
            seen.add((account, balance.currency))
            total = totals.setdefault(
                balance.currency,
                {"available": None, "granted": None, "used": None, "accounts": 0, "unknown": 0},
            )
            total["accounts"] += 1
            if not balance.known:
                total["unknown"] += 1
            for name in ("available", "granted", "used"):
                value = getattr(balance, name)
                if value is not None and (name != "available" or balance.known):
                    total[name] = (total[name] or Decimal(0)) + value
    return [
        {
            "currency": clean_label(currency, 16),
            "available": _money(t["available"]),
            "granted": _money(t["granted"]),
            "used": _money(t["used"]),
            "accounts": t["accounts"],
            "unknown": t["unknown"],
        }
        for currency, t in sorted(totals.items())
    ]


def overview(store: Store, snap: Snapshot) -> Json:
    """Counts by status, totals per currency, soonest runways and expiries, active alerts."""
    rows = list(snap.latest.values())
    counts = {status.value: 0 for status in STATUS_ORDER}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    summaries = keys(snap)
    dry = [k for k in summaries if k["runway_days"] is not None]
    dry.sort(key=lambda k: Decimal(k["runway_days"]))
    grants = store.grants([r.id for r in rows])
    warnings = expiry_warnings(rows, grants, now=snap.now, warn_days=WARN_DAYS)
    runs = store.runs()
    return {
        "keys": len(rows),
        "counts": counts,
        "totals": _totals(rows),
        "running_dry": dry[:SOONEST],
        "expiring": [
            {
                "id": key_id(w.fingerprint),
                "label": clean_label(w.label),
                "what": w.what,
                "expires_at": _time(w.expires_at),
                "days_left": w.days_left(snap.now),
                "left": _money(w.left),
                "currency": w.currency,
            }
            for w in warnings[:SOONEST]
        ],
        "alerts": active_alerts(store),
        "last_run": run_dict(runs[-1]) if runs else None,
    }


def find(snap: Snapshot, ident: str) -> ResultRow | None:
    """The latest row of the key whose id is ``ident`` (exactly :data:`ID_LENGTH` chars)."""
    if len(ident) != ID_LENGTH:
        return None
    matches = [row for fp, row in snap.latest.items() if key_id(fp) == ident]
    return matches[0] if len(matches) == 1 else None


def _evidence(items: Sequence[EvidenceRow]) -> list[Json]:
    """What each endpoint of a check answered, in call order (sanitised again for the page)."""
    return [
        {
            "endpoint": clean_label(e.endpoint, 200),
            "http_status": e.http_status,
            "error_type": clean_label(e.error_type, 64) if e.error_type else None,
            "error_code": clean_label(e.error_code, 64) if e.error_code else None,
            "message": clean_message(e.message) if e.message else None,
            "attempts": e.attempts,
            "outcome": clean_label(e.outcome, 64) if e.outcome else None,
        }
        for e in items
    ]


def history(store: Store, row: ResultRow) -> Json:
    """One key's (or its account's) series per currency, status timeline and the evidence of
    its last check (what each endpoint answered, as the ledger recorded it)."""
    rows = store.series([row.fingerprint]).get(row.fingerprint, [row])
    series: dict[str, list[Json]] = {}
    for r in rows:
        for balance in balances(r):
            series.setdefault(balance["currency"], []).append(
                {
                    "at": to_text(r.checked_at),
                    "available": balance["available"],
                    "used": balance["used"],
                    "spent": None,
                }
            )
        if r.spend is not None and r.spend_currency:
            series.setdefault(clean_label(r.spend_currency, 16), []).append(
                {
                    "at": to_text(r.checked_at),
                    "available": None,
                    "used": None,
                    "spent": _money(r.spend),
                }
            )
    timeline: list[Json] = []
    for r in rows:
        if not timeline or timeline[-1]["status"] != r.status:
            timeline.append(
                {
                    "at": to_text(r.checked_at),
                    "status": r.status,
                    "reason": clean_message(r.reason) if r.reason else None,
                }
            )
    recent = [r for r in rows if r.checked_at >= rows[-1].checked_at - timedelta(days=30)]
    return {
        "key": _key_summary(row, recent),
        "series": [{"currency": c, "points": p} for c, p in sorted(series.items())],
        "timeline": timeline,
        "checks": len(rows),
        "evidence": _evidence(store.evidence([row.id]).get(row.id, [])),
    }


def run_dict(run: RunRow) -> Json:
    """One run as JSON."""
    return {
        "id": run.id,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "status": run.status,
        "keys_total": run.keys_total,
        "results_recorded": run.results_recorded,
    }


def runs(store: Store, limit: int = 50) -> list[Json]:
    """The latest runs, newest first."""
    return [run_dict(r) for r in reversed(store.runs()[-limit:])]


_ALERT_TEXT = ("rule", "kind", "label", "status", "message", "summary", "provider", "currency")
_ALERT_TIME = ("fired_at", "started_at", "created_at", "since")


def active_alerts(store: Store, limit: int = 20) -> list[Json]:
    """Active alerts, if this ledger has an alerts table (empty otherwise).

    The alerts schema is not settled yet, so this reads whatever of the usual columns exist;
    a row counts as active unless it has a set ``resolved_at``/``cleared_at``.
    """
    try:
        names = [
            r[0]
            for r in store.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%alert%'"
            )
        ]
        table = "alerts" if "alerts" in names else (names[0] if names else None)
        if table is None:
            return []
        columns = [r[1] for r in store.conn.execute(f'PRAGMA table_info("{table}")')]
        where = " AND ".join(
            f'"{c}" IS NULL' for c in ("resolved_at", "cleared_at") if c in columns
        )
        sql = f'SELECT * FROM "{table}"' + (f" WHERE {where}" if where else "")
        rows = store.conn.execute(sql + f" ORDER BY rowid DESC LIMIT {int(limit)}").fetchall()
    except sqlite3.Error:
        return []
    out: list[Json] = []
    for row in rows:
        item = dict(zip(columns, row, strict=False))
        text = {c: clean_message(str(item[c])) for c in _ALERT_TEXT if item.get(c) is not None}
        when = next((str(item[c]) for c in _ALERT_TIME if item.get(c)), None)
        out.append({**text, "since": clean_label(when, 40) if when else None})
    return out
