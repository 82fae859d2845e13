"""The alerts' rows in the ledger: state per (rule, key) and every event, with their reads.

States and the events they produced are written in one transaction, so a restart sees
either both or neither: it never repeats an alert and never forgets one. An event is marked
``submitted`` once the alert sink (the delivery outbox) took it; events left unsubmitted by a
crash are handed over again on the next evaluation, with the same id.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from keyledger.alerts.events import AlertEvent, EventKind
from keyledger.alerts.state import AlertState
from keyledger.errors import StoreError
from keyledger.ledger.rows import from_text, to_text
from keyledger.ledger.store import Store
from keyledger.ledger.write import transaction


def _transaction(store: Store) -> contextlib.AbstractContextManager[sqlite3.Connection]:
    return transaction(store.conn, store.path)


def _read(store: Store, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
    try:
        return store.conn.execute(sql, tuple(params)).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the ledger {store.path}: {exc}") from None


def load_states(store: Store) -> dict[tuple[str, str], AlertState]:
    """Every stored (rule, key) state."""
    return {
        (r["rule"], r["subject"]): AlertState(
            r["rule"],
            r["subject"],
            bool(r["active"]),
            int(r["streak"]),
            int(r["crossings"]),
            from_text(r["changed_at"]),
        )
        for r in _read(store, "SELECT * FROM alert_state")
    }


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the ledger keeps it, with the key's fingerprint it is about."""

    event: AlertEvent
    fingerprint: str
    run_id: int | None
    submitted: bool


def save(
    store: Store,
    states: Mapping[tuple[str, str], AlertState],
    events: Iterable[tuple[AlertEvent, str]],
    *,
    run_id: int | None,
    now: datetime,
) -> None:
    """Write changed states and new events (with their key fingerprints) in one transaction."""
    with _transaction(store) as conn:
        for state in states.values():
            conn.execute(
                "INSERT INTO alert_state (rule, subject, active, streak, crossings, changed_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule, subject) DO UPDATE "
                "SET active = excluded.active, streak = excluded.streak, crossings = "
                "excluded.crossings, changed_at = excluded.changed_at, updated_at = "
                "excluded.updated_at",
                (
                    state.rule,
                    state.subject,
                    int(state.active),
                    state.streak,
                    state.crossings,
                    to_text(state.changed_at),
                    to_text(now),
                ),
            )
        for event, fingerprint in events:
            conn.execute(
                "INSERT OR IGNORE INTO alert_events (event_id, run_id, rule, kind, subject, "
                "fingerprint, masked_key, provider, account, status, reason, summary, at, "
                "figures) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.event_id,
                    run_id,
                    event.rule,
                    event.kind,
                    event.subject,
                    fingerprint,
                    event.masked_key,
                    event.provider,
                    event.account,
                    event.status,
                    event.reason,
                    event.summary,
                    to_text(event.at),
                    json.dumps(dict(event.figures), sort_keys=True),
                ),
            )


def mark_submitted(store: Store, event_ids: Iterable[str]) -> None:
    """Record that the alert sink took these events."""
    ids = list(event_ids)
    if not ids:
        return
    with _transaction(store) as conn:
        conn.executemany(
            "UPDATE alert_events SET submitted = 1 WHERE event_id = ?", [(i,) for i in ids]
        )


def _stored(row: sqlite3.Row) -> StoredEvent:
    kind: EventKind = row["kind"]
    event = AlertEvent(
        event_id=row["event_id"],
        rule=row["rule"],
        kind=kind,
        subject=row["subject"],
        masked_key=row["masked_key"],
        provider=row["provider"],
        account=row["account"],
        status=row["status"],
        reason=row["reason"],
        summary=row["summary"],
        at=from_text(row["at"]) or datetime.min,
        figures=json.loads(row["figures"]),
    )
    return StoredEvent(event, row["fingerprint"], row["run_id"], bool(row["submitted"]))


def unsubmitted(store: Store) -> list[StoredEvent]:
    """Events the alert sink has not taken yet, oldest first."""
    return [
        _stored(r)
        for r in _read(store, "SELECT * FROM alert_events WHERE submitted = 0 ORDER BY at, rowid")
    ]


def recent_events(store: Store, limit: int = 50) -> list[StoredEvent]:
    """The latest events, newest first."""
    rows = _read(store, "SELECT * FROM alert_events ORDER BY at DESC, rowid DESC LIMIT ?", [limit])
    return [_stored(r) for r in rows]


def active_alerts(store: Store) -> list[StoredEvent]:
    """For every (rule, key) whose alert is active, the event that fired it."""
    rows = _read(
        store,
        "SELECT e.* FROM alert_state s JOIN alert_events e ON e.rule = s.rule AND "
        "e.fingerprint = s.subject AND e.kind = 'fired' WHERE s.active = 1 AND e.at = "
        "(SELECT MAX(at) FROM alert_events x WHERE x.rule = s.rule AND x.fingerprint = "
        "s.subject AND x.kind = 'fired') ORDER BY e.at DESC",
    )
    return [_stored(r) for r in rows]
