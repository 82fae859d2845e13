"""A result as a compact record of plain values, and the ledger rows built from records.

The checking process turns each result into a :data:`Record`
(:func:`keyledger.ledger.store.record_of`): a tuple of strings, numbers, booleans, times and
``None`` read straight off the result (an amount as its ``str``, which is exact), a key only
as its fingerprint and masked form, never its secret. The writer process receives records
as JSON (times as ISO 8601 text: :func:`keyledger.ledger.recorder.encode`).
:func:`rows_of` turns records into the
:data:`~keyledger.ledger.write.BatchRows` that :func:`~keyledger.ledger.write.write_rows`
commits: in the ledger's writer process (:mod:`keyledger.ledger.child`, which imports only
this module, the write side and :mod:`sqlite3`), or in-process; the rows are the same either
way, and the same as :func:`keyledger.ledger.rows.to_text` and
:func:`~keyledger.ledger.rows.money_text` make of the values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from keyledger.ledger.write import BatchRows, Row

# (currency, granted, used, available, token_uncapped, reading, source, parts: ((name, amount)…))
BalanceRecord = tuple[Any, ...]
# (key: (fingerprint, masked, provider, kind, label, base_url), checked_at, status, reason,
#  balance_reason, organization, attempts, duration_ms, tier,
#  primary: (BalanceRecord, expires_at, next_expiry) | None,
#  others: every balance row's BalanceRecord, or None for "the primary balance alone",
#  spend: (amount, currency, period_start, period_end) | None,
#  evidence: ((endpoint, http_status, error_type, error_code, message, attempts, outcome)…),
#  grants: ((grant_id, amount, used, effective_at, expires_at, expired)…))
Record = tuple[Any, ...]

_NO_PARTS = "[]"
_ISO_UTC = "+00:00"


def time_text(value: datetime | str | None) -> str | None:
    """:func:`~keyledger.ledger.rows.to_text` of a time given as itself or as ISO 8601 text
    (its ``isoformat()``, or what :mod:`orjson` writes of it)."""
    if value is None:
        return None
    iso = value if isinstance(value, str) else value.isoformat()
    if iso.endswith(_ISO_UTC) and iso[0] != "0":  # year 1000 or later, offset zero
        if len(iso) == 32:  # YYYY-MM-DDTHH:MM:SS.ffffff+00:00
            return iso[:-6] + "Z"
        if len(iso) == 25:  # no microseconds
            return iso[:-6] + ".000000Z"
    value = datetime.fromisoformat(iso)  # any other offset, a naive time, or a year before 1000
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def money(text: str | None) -> str | None:
    """:func:`~keyledger.ledger.rows.money_text` of the amount whose ``str`` is ``text``."""
    if text is None or "E" not in text:
        return text
    from decimal import Decimal  # only for an amount written with an exponent

    return format(Decimal(text), "f")


def _parts_text(parts: tuple[tuple[str, str], ...]) -> str:
    if not parts:
        return _NO_PARTS
    return json.dumps([[name, money(amount)] for name, amount in parts])


def _balance_row(b: BalanceRecord) -> Row:
    currency, granted, used, available, uncapped, reading, source, parts = b
    return (
        currency,
        money(granted),
        money(used),
        money(available),
        int(uncapped),
        reading,
        source,
        _parts_text(parts),
    )


_NO_BALANCE = (None, None, None, None, None, None)
_NO_SPEND = (None, None, None, None)


def rows_of(run_id: int, records: list[Record]) -> BatchRows:
    """The rows :func:`~keyledger.ledger.write.write_rows` commits for ``records`` of run
    ``run_id`` (a key's upsert, its result row, and the result's dependent rows)."""
    keys: list[Row] = []
    results: list[Row] = []
    fingerprints: list[str] = []
    dependents: list[tuple[list[Row], list[Row], list[Row]]] = []
    for record in records:
        (
            key,
            checked_iso,
            status,
            reason,
            balance_reason,
            organization,
            attempts,
            duration_ms,
            tier,
            primary,
            others,
            spend,
            evidence,
            grants,
        ) = record
        fingerprint, masked, provider, kind, label, base_url = key
        checked = time_text(checked_iso)
        keys.append((fingerprint, masked, provider, kind, checked, checked))
        if primary is None:
            balance_cols: tuple[Any, ...] = (*_NO_BALANCE, balance_reason, None, None)
            balances: list[Row] = [] if others is None else [_balance_row(b) for b in others]
        else:
            b, expires_at, next_expiry = primary
            row = _balance_row(b)
            balance_cols = (
                *row[:5],
                row[6],  # source
                balance_reason,
                time_text(expires_at),
                time_text(next_expiry),
            )
            balances = [row] if others is None else [_balance_row(o) for o in others]
        if spend is None:
            spend_cols: tuple[Any, ...] = _NO_SPEND
        else:
            amount, currency, start, end = spend
            spend_cols = (money(amount), currency, time_text(start), time_text(end))
        results.append(
            (
                run_id,
                fingerprint,
                label,
                base_url,
                checked,
                status,
                reason,
                *balance_cols,
                *spend_cols,
                organization,
                attempts,
                duration_ms,
                len(evidence),
                tier,
            )
        )
        fingerprints.append(fingerprint)
        dependents.append(
            (
                balances,
                [(position, *e) for position, e in enumerate(evidence)],
                [
                    (gid, money(amount), money(used), time_text(start), time_text(end), int(gone))
                    for gid, amount, used, start, end, gone in grants
                ],
            )
        )
    return (run_id, keys, results, fingerprints, dependents)


# keys, results, balances, evidence, grants: each table's values, row after row, column order
FlatRows = tuple[list[Any], list[Any], list[Any], list[Any], list[Any]]


def _utc(text: str | None) -> str | None:
    """:func:`time_text` of a time read from JSON (the usual UTC text, at a single call)."""
    if type(text) is str and len(text) == 32 and text[26:] == _ISO_UTC and text[0] != "0":
        return text[:26] + "Z"
    return time_text(text)


def flat_rows(run_id: int, records: list[Record], first_id: int) -> FlatRows:
    """The values of :func:`rows_of`'s rows, each table's rows one after another in a single
    list, a dependent row led by its result's id when the ``i``-th result gets id
    ``first_id + i`` (what :func:`~keyledger.ledger.write.write_rows` gives them when every
    result of the batch is new). The writer process's path: no row tuple per row, no second
    pass to put the ids in (``tests/test_ledger_records.py`` compares it with
    :func:`rows_of`)."""
    keys: list[Any] = []
    results: list[Any] = []
    balances: list[Any] = []
    evidence: list[Any] = []
    grants: list[Any] = []
    result_id = first_id
    for (
        (fingerprint, masked, provider, kind, label, base_url),
        checked,
        status,
        reason,
        balance_reason,
        organization,
        attempts,
        duration_ms,
        tier,
        primary,
        others,
        spend,
        its_evidence,
        its_grants,
    ) in records:
        checked = _utc(checked)
        keys += (fingerprint, masked, provider, kind, checked, checked)
        results += (run_id, fingerprint, label, base_url, checked, status, reason)
        if primary is None:
            results += (None, None, None, None, None, None, balance_reason, None, None)
        else:
            (currency, granted, used, available, uncapped, reading, source, parts), ends, nxt = (
                primary
            )
            if granted is not None and "E" in granted:
                granted = money(granted)
            if used is not None and "E" in used:
                used = money(used)
            if available is not None and "E" in available:
                available = money(available)
            uncapped = int(uncapped)
            results += (currency, granted, used, available, uncapped, source, balance_reason)
            results += (_utc(ends), _utc(nxt))
            if others is None:
                balances += (result_id, currency, granted, used, available, uncapped, reading)
                balances += (source, _parts_text(parts) if parts else _NO_PARTS)
        if others:
            for b in others:
                balances.append(result_id)
                balances += _balance_row(b)
        if spend is None:
            results += _NO_SPEND
        else:
            amount, currency, start, end = spend
            results += (money(amount), currency, _utc(start), _utc(end))
        results += (organization, attempts, duration_ms, len(its_evidence), tier)
        for position, e in enumerate(its_evidence):
            evidence += (result_id, position)
            evidence += e
        for gid, amount, used, start, end, gone in its_grants:
            if amount is not None and "E" in amount:
                amount = money(amount)
            if used is not None and "E" in used:
                used = money(used)
            grants += (result_id, gid, amount, used, _utc(start), _utc(end), int(gone))
        result_id += 1
    return (keys, results, balances, evidence, grants)


__all__ = ["FlatRows", "Record", "flat_rows", "money", "rows_of", "time_text"]
