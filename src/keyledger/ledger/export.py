"""Ledger rows as JSON-ready dicts and CSV rows (for ``history`` and ``export``).

Money is a decimal string (never a float), missing values are ``null``/empty (never ``0``),
times are ISO 8601 UTC. CSV text cells are neutralised against spreadsheet formulas.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from keyledger.ledger.rows import BalanceRow, EvidenceRow, GrantRow, ResultRow, RunRow
from keyledger.render.writers import balances_cell, csv_safe

HISTORY_SCHEMA = "keyledger/history/v2"
EXPORT_SCHEMA = "keyledger/export/v2"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def balance_row_dict(balance: BalanceRow) -> dict[str, Any]:
    """One balance (one currency) of a ledger result."""
    return {
        "currency": balance.currency,
        "granted": _money(balance.granted),
        "used": _money(balance.used),
        "available": _money(balance.available),
        "token_uncapped": balance.token_uncapped,
        "reading": balance.reading,
        "parts": [{"name": p.name, "amount": _money(p.amount)} for p in balance.parts],
        "source": balance.source,
    }


def evidence_dict(item: EvidenceRow) -> dict[str, Any]:
    """What one endpoint answered (sanitised by the provider when it was recorded)."""
    return {
        "endpoint": item.endpoint,
        "http_status": item.http_status,
        "error_type": item.error_type,
        "error_code": item.error_code,
        "message": item.message,
        "attempts": item.attempts,
        "outcome": item.outcome,
    }


def row_dict(
    row: ResultRow,
    grants: Sequence[GrantRow] | None = None,
    evidence: Sequence[EvidenceRow] | None = None,
) -> dict[str, Any]:
    """One ledger result: ``label``, ``fingerprint``, ``checked_at``, ``status``, ``reason``,
    ``balance`` (the primary one), ``balances`` (one per currency), ``tier``, ``spend`` and
    ``evidence`` (a list when given, else ``null``) (the contract of ``keyledger history
    --format json``)."""
    balance: dict[str, Any] | None = None
    if row.currency is not None:
        primary = row.balance_in(row.currency)
        balance = {
            "currency": row.currency,
            "granted": _money(row.granted),
            "used": _money(row.used),
            "available": _money(row.available),
            "token_uncapped": bool(row.token_uncapped),
            "reading": primary.reading if primary is not None else None,
            "source": row.balance_source,
            "expires_at": _time(row.balance_expires_at),
            "next_expiry": _time(row.next_expiry),
        }
        if grants is not None:
            balance["grants"] = [grant_dict(g) for g in grants]
    spend: dict[str, Any] | None = None
    if row.spend is not None:
        spend = {
            "amount": _money(row.spend),
            "currency": row.spend_currency,
            "period_start": _time(row.spend_start),
            "period_end": _time(row.spend_end),
            "truncated": row.spend_truncated,
        }
    return {
        "run_id": row.run_id,
        "label": row.label,
        "fingerprint": row.fingerprint,
        "key": row.masked,
        "provider": row.provider,
        "kind": row.kind,
        "base_url": row.base_url,
        "account": row.organization,
        "checked_at": _time(row.checked_at),
        "status": row.status,
        "reason": row.reason,
        "balance": balance,
        "balances": [balance_row_dict(b) for b in row.balances],
        "balance_reason": row.balance_reason,
        "tier": row.tier,
        "spend": spend,
        "evidence": None if evidence is None else [evidence_dict(e) for e in evidence],
    }


def grant_dict(grant: GrantRow) -> dict[str, Any]:
    """One credit grant."""
    return {
        "id": grant.grant_id,
        "amount": _money(grant.amount),
        "used": _money(grant.used),
        "remaining": _money(grant.remaining),
        "effective_at": _time(grant.effective_at),
        "expires_at": _time(grant.expires_at),
        "expired": grant.expired,
    }


def run_dict(run: RunRow) -> dict[str, Any]:
    """One run."""
    return {
        "id": run.id,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "status": run.status,
        "keys_total": run.keys_total,
        "results_recorded": run.results_recorded,
        "tool_version": run.tool_version,
    }


CSV_COLUMNS = (
    "run_id",
    "checked_at",
    "label",
    "fingerprint",
    "key",
    "provider",
    "kind",
    "base_url",
    "account",
    "status",
    "reason",
    "currency",
    "available",
    "granted",
    "used",
    "token_uncapped",
    "balances",
    "balance_source",
    "balance_reason",
    "next_expiry",
    "spend",
    "spend_currency",
    "spend_period_start",
    "spend_period_end",
    "tier",
)
_NUMERIC = frozenset({"run_id", "available", "granted", "used", "spend", "token_uncapped"})


def csv_row(row: ResultRow) -> list[str]:
    """One ledger result as CSV cells, in :data:`CSV_COLUMNS` order."""
    data = row_dict(row)
    balance: Mapping[str, Any] = data["balance"] or {}
    spend: Mapping[str, Any] = data["spend"] or {}
    uncapped = balance.get("token_uncapped")
    cells: dict[str, Any] = {
        **{k: data[k] for k in ("run_id", "checked_at", "label", "fingerprint", "key")},
        **{k: data[k] for k in ("provider", "kind", "base_url", "account", "status", "reason")},
        "currency": balance.get("currency"),
        "available": balance.get("available"),
        "granted": balance.get("granted"),
        "used": balance.get("used"),
        "token_uncapped": None if uncapped is None else str(uncapped).lower(),
        "balances": balances_cell(data["balances"]),
        "balance_source": balance.get("source"),
        "balance_reason": data["balance_reason"],
        "next_expiry": balance.get("next_expiry"),
        "spend": spend.get("amount"),
        "spend_currency": spend.get("currency"),
        "spend_period_start": spend.get("period_start"),
        "spend_period_end": spend.get("period_end"),
        "tier": data["tier"],
    }
    return [
        "" if cells[c] is None else (str(cells[c]) if c in _NUMERIC else csv_safe(str(cells[c])))
        for c in CSV_COLUMNS
    ]


def write_csv(rows: Iterable[ResultRow], stream: TextIO) -> int:
    """A header, then one line per row; returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(csv_row(row))
        count += 1
    return count


def write_json_document(
    stream: TextIO,
    header: Mapping[str, Any],
    array_name: str,
    items: Iterable[Mapping[str, Any]],
) -> int:
    """``{**header, array_name: [...]}``, the array streamed item by item; returns its size."""
    stream.write("{")
    for name, value in header.items():
        text = json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  ")
        stream.write(f"\n  {json.dumps(name)}: {text},")
    stream.write(f"\n  {json.dumps(array_name)}: [")
    count = 0
    for item in items:
        body = json.dumps(dict(item), ensure_ascii=False, indent=2).replace("\n", "\n    ")
        stream.write(("," if count else "") + "\n    " + body)
        count += 1
    stream.write(("\n  " if count else "") + "]\n}\n")
    return count
