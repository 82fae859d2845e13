"""The outbox: a durable queue of (alert, channel) deliveries in the ledger database.

- :meth:`Outbox.enqueue` commits before it returns; the same ``(event_id, channel)`` is queued
  once, so a repeated enqueue (a restart re-evaluating a crossing) never sends twice.
- :meth:`Outbox.deliver_due` tries every due delivery once and never raises: a success is
  marked with its time; a failure keeps the delivery pending with ``attempts + 1``, the
  sanitised reason, and a next try after an exponential backoff with jitter (below). A failed
  channel is not tried again in the same pass, and its other pending deliveries wait with it.
- Rows hold the event as JSON (already cleaned: masked key, sanitised text, secrets redacted)
  and never a channel secret: URLs, tokens and passwords come from the config at send time.

Backoff after the n-th failed attempt: ``min(cap, base * 2**(n-1))`` scaled by a jitter factor
drawn uniformly from [0.5, 1.0) with the injected ``rng`` (defaults: base 30 s, cap 1 h), so
attempts go about 30 s, 1 min, 2 min, … then hourly; a delivery is never dropped.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp

from keyledger.alerts import payloads
from keyledger.alerts.events import AlertEvent
from keyledger.alerts.senders import Channel, DeliveryError, secrets_of
from keyledger.errors import StoreError
from keyledger.ledger.rows import from_text, to_text
from keyledger.ledger.store import Store
from keyledger.sanitize import Redactor, clean_message

Clock = Callable[[], datetime]

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
PASS_LIMIT = 200  # deliveries tried per pass at most; the rest wait for the next pass


def backoff(attempts: int, rng: random.Random, base: timedelta, cap: timedelta) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones (exponential, jittered)."""
    exponent = min(max(attempts - 1, 0), 30)
    delay = min(cap, base * (1 << exponent))
    return delay * (0.5 + rng.random() / 2)


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A delivery not yet made."""

    id: int
    event_id: str
    channel: str
    kind: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


@dataclass(frozen=True, slots=True)
class FailingChannel:
    """A channel whose latest attempt failed, with its pending deliveries."""

    name: str
    reason: str
    attempts: int
    pending: int


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one :meth:`Outbox.deliver_due` pass did."""

    delivered: int
    failed: int
    pending: int
    failing: tuple[FailingChannel, ...]
    error: str | None = None  # the ledger itself could not be read or written

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing is left failing."""
        return not self.failed and not self.failing and self.error is None

    def summary(self) -> str:
        """One log line: ``delivered N, failed N, pending N`` and the failing channels."""
        text = f"delivered {self.delivered}, failed {self.failed}, pending {self.pending}"
        if self.failing:
            channels = ", ".join(
                f"{f.name} ({f.reason}, {f.pending} pending)" for f in self.failing
            )
            text += f"; failing: {channels}"
        if self.error is not None:
            text += f"; ledger: {self.error}"
        return text


def _system_clock() -> datetime:
    return datetime.now(UTC)


class Outbox:
    """Persistent alert deliveries over a :class:`Store`'s connection."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        clock: Clock = _system_clock,
        rng: random.Random | None = None,
        base: timedelta = BACKOFF_BASE,
        cap: timedelta = BACKOFF_CAP,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.clock = clock
        self.rng = rng or random.Random()
        self.base = base
        self.cap = cap
        self.redactor: Redactor = secrets_of(self.channels)

    def _now(self) -> datetime:
        return self.clock()

    def enqueue(self, event: AlertEvent, channel_names: Sequence[str]) -> None:
        """Queue ``event`` for each channel; committed before returning.

        Raises:
            StoreError: the ledger cannot be written.
        """
        clean = payloads.clean_event(event, self.redactor)
        body = json.dumps(payloads.to_json(clean), ensure_ascii=False, sort_keys=True)
        now = to_text(self._now())
        with self.store._transaction() as conn:
            conn.executemany(
                "INSERT INTO alert_outbox (event_id, channel, event_json, created_at, attempts,"
                " next_attempt_at) VALUES (?, ?, ?, ?, 0, ?)"
                " ON CONFLICT (event_id, channel) DO NOTHING",
                [(clean.event_id, name, body, now, now) for name in dict.fromkeys(channel_names)],
            )

    def pending(self) -> list[PendingDelivery]:
        """Every delivery not yet made, oldest first."""
        rows = self.store._query(
            "SELECT id, event_id, channel, event_json, attempts, next_attempt_at, last_error"
            " FROM alert_outbox WHERE delivered_at IS NULL ORDER BY id"
        )
        out = []
        for row in rows:
            at = from_text(row["next_attempt_at"])
            assert at is not None
            out.append(
                PendingDelivery(
                    id=row["id"],
                    event_id=row["event_id"],
                    channel=row["channel"],
                    kind=json.loads(row["event_json"]).get("kind", "?"),
                    attempts=row["attempts"],
                    next_attempt_at=at,
                    last_error=row["last_error"],
                )
            )
        return out

    def failing(self) -> tuple[FailingChannel, ...]:
        """Channels whose oldest pending delivery has failed at least once."""
        by_channel: dict[str, list[PendingDelivery]] = {}
        for item in self.pending():
            by_channel.setdefault(item.channel, []).append(item)
        return tuple(
            FailingChannel(name, items[0].last_error or "", items[0].attempts, len(items))
            for name, items in by_channel.items()
            if items[0].last_error is not None
        )

    def next_due(self) -> datetime | None:
        """When the earliest pending delivery may be tried, or None when nothing is pending."""
        rows = self.store._query(
            "SELECT min(next_attempt_at) AS due FROM alert_outbox WHERE delivered_at IS NULL"
        )
        return from_text(rows[0]["due"]) if rows else None

    async def deliver_due(self, session: aiohttp.ClientSession) -> DeliveryReport:
        """Try each due delivery once; never raises (a ledger failure is in ``error``)."""
        try:
            return await self._deliver(session)
        except (StoreError, sqlite3.Error) as exc:
            message = clean_message(str(exc), self.redactor)
            return DeliveryReport(0, 0, 0, (), error=message)

    async def _deliver(self, session: aiohttp.ClientSession) -> DeliveryReport:
        now = self._now()
        rows = self.store._query(
            "SELECT id, channel, event_json, attempts FROM alert_outbox"
            " WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (to_text(now), PASS_LIMIT),
        )
        queues: dict[str, list[sqlite3.Row]] = {}
        for row in rows:
            queues.setdefault(row["channel"], []).append(row)
        results = await asyncio.gather(
            *(self._run_channel(session, name, queue) for name, queue in queues.items())
        )
        delivered = sum(d for d, _ in results)
        failed = sum(f for _, f in results)
        pending = self.pending()
        return DeliveryReport(delivered, failed, len(pending), self.failing())

    async def _run_channel(
        self, session: aiohttp.ClientSession, name: str, queue: list[sqlite3.Row]
    ) -> tuple[int, int]:
        """Send ``queue`` in order through channel ``name``; stop at its first failure."""
        delivered = 0
        channel = self.channels.get(name)
        for row in queue:
            try:
                if channel is None:
                    raise DeliveryError(f"channel {name} is not configured")
                event = payloads.from_json(json.loads(row["event_json"]))
                await channel.send(event, session)
            except Exception as exc:  # a channel's failure is a value here, never an escape
                reason = str(exc) if isinstance(exc, DeliveryError) else type(exc).__name__
                self._failed(row, name, clean_message(reason, self.redactor, 300))
                return delivered, 1
            self._delivered(row["id"])
            delivered += 1
        return delivered, 0

    def _delivered(self, row_id: int) -> None:
        with self.store._transaction() as conn:
            conn.execute(
                "UPDATE alert_outbox SET delivered_at = ?, attempts = attempts + 1,"
                " last_error = NULL WHERE id = ?",
                (to_text(self._now()), row_id),
            )

    def _failed(self, row: sqlite3.Row, channel: str, reason: str) -> None:
        attempts = row["attempts"] + 1
        retry_at = to_text(self._now() + backoff(attempts, self.rng, self.base, self.cap))
        with self.store._transaction() as conn:
            conn.execute(
                "UPDATE alert_outbox SET attempts = ?, last_error = ?, next_attempt_at = ?"
                " WHERE id = ?",
                (attempts, reason, retry_at, row["id"]),
            )
            # The channel is down: its other pending deliveries wait with the failed one.
            conn.execute(
                "UPDATE alert_outbox SET next_attempt_at = max(next_attempt_at, ?)"
                " WHERE channel = ? AND delivered_at IS NULL AND id != ?",
                (retry_at, channel, row["id"]),
            )


__all__ = ["DeliveryReport", "FailingChannel", "Outbox", "PendingDelivery", "backoff"]
