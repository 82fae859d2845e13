"""Rules as a runner sink: when a recorded run finishes, evaluate them once and hand the
events to an :class:`AlertSink` (the delivery outbox, or a recorder in tests).

Order matters: this sink goes after the :class:`~keyledger.ledger.session.RunLedger` whose
insights it reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from keyledger.alerts import book
from keyledger.alerts.events import AlertEvent
from keyledger.alerts.rules import Rule
from keyledger.alerts.snapshot import snapshots_from_insights
from keyledger.alerts.state import evaluate
from keyledger.errors import KeyledgerError
from keyledger.ledger.session import RunLedger
from keyledger.models import CheckResult
from keyledger.runner import RunReport


class AlertSink(Protocol):
    """Takes alert events for delivery; returns once they are durably queued."""

    def submit(self, events: Sequence[AlertEvent]) -> None:
        """Queue ``events`` (raises on failure; nothing is then marked submitted)."""
        ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RuleEvaluator:
    """Evaluates ``rules`` over the run ``ledger`` recorded, once, when it finishes."""

    def __init__(
        self,
        ledger: RunLedger,
        rules: Sequence[Rule],
        sink: AlertSink,
        *,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.ledger = ledger
        ledger.want_insights = True  # the rules read the run's insights, whatever the output
        self.rules = list(rules)
        self.sink = sink
        self.now = now
        self.events: list[AlertEvent] = []  # what this run produced
        self.submitted = 0
        self.error: str | None = None

    def add(self, result: CheckResult) -> None:
        """Results are read back from the ledger when the run finishes."""

    def finish(self, report: RunReport) -> None:
        """Evaluate the rules, store states and events, and submit what is pending."""
        insights = self.ledger.insights
        if insights is None:
            self.error = "the run was not recorded, so no rule was evaluated"
            return
        store = self.ledger.store
        try:
            previous = book.load_states(store)
            changed, events = evaluate(self.rules, snapshots_from_insights(insights), previous)
            book.save(store, changed, events, run_id=self.ledger.run_id, now=self.now())
            self.events = [event for event, _ in events]
            self.submit_pending()
        except KeyledgerError as exc:
            self.error = str(exc)

    def submit_pending(self) -> None:
        """Hand every unsubmitted event (this run's, and any a crash left) to the sink."""
        store = self.ledger.store
        pending = [stored.event for stored in book.unsubmitted(store)]
        if not pending:
            return
        try:
            self.sink.submit(pending)
        except (KeyledgerError, OSError, sqlite3.Error) as exc:
            self.error = f"alerts were kept in the ledger, not queued: {exc}"
            return
        book.mark_submitted(store, (e.event_id for e in pending))
        self.submitted += len(pending)
