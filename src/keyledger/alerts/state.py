"""Once per crossing: the alert state machine, pure, plus its rows in the ledger.

For each (rule, key) the ledger keeps whether the alert is active, how many consecutive
runs disagreed with that, and how many crossings there have been. A run's condition is
``True``, ``False`` or ``None`` (unknown: the state is left as it was).

- An inactive alert **fires** when the condition has held for ``fire_after`` consecutive
  runs (``for_runs``, default 1; the ``unreachable`` rule uses its ``runs``).
- An active alert **recovers** when the condition has been clear for ``clear_runs``
  consecutive runs (default 2). So a key flapping ok, bad, ok, bad fires once and stays
  active until it has been ok twice in a row: no storm of alerts and recoveries.
- Fired and recovered therefore strictly alternate for one (rule, key); every event has a
  stable id derived from the rule, the key's fingerprint, the crossing number and the kind,
  so a retried delivery of the same crossing carries the same id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from keyledger.alerts.events import AlertEvent, EventKind
from keyledger.alerts.rules import Rule
from keyledger.alerts.snapshot import Snapshot
from keyledger.sanitize import neutralise


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where one (rule, key) stands."""

    rule: str
    subject: str  # the key's fingerprint (an HMAC, never the key)
    active: bool = False
    streak: int = 0  # consecutive runs whose condition disagreed with ``active``
    crossings: int = 0  # how many times it has fired
    changed_at: datetime | None = None  # when it last fired or recovered


def step(
    state: AlertState, holds: bool | None, *, fire_after: int, clear_after: int
) -> tuple[AlertState, EventKind | None]:
    """One run's condition applied to ``state``: the new state and the event, if any."""
    if holds is None:
        return state, None
    if holds == state.active:  # agrees with where we stand: any pending change is reset
        return (replace(state, streak=0) if state.streak else state), None
    streak = state.streak + 1
    needed = fire_after if not state.active else clear_after
    if streak < max(1, needed):
        return replace(state, streak=streak), None
    if state.active:
        return replace(state, active=False, streak=0), "recovered"
    return replace(state, active=True, streak=0, crossings=state.crossings + 1), "fired"


def event_id(rule: str, subject: str, crossing: int, kind: EventKind) -> str:
    """A stable id: the same crossing of the same rule for the same key, always."""
    digest = hashlib.sha256(f"{rule}\0{subject}\0{crossing}\0{kind}".encode()).hexdigest()
    return f"kl-{digest[:24]}"


def _event(rule: Rule, snap: Snapshot, state: AlertState, kind: EventKind) -> AlertEvent:
    label = neutralise(snap.label)
    verb = "now" if kind == "fired" else "no longer"
    return AlertEvent(
        event_id=event_id(rule.name, snap.fingerprint, state.crossings, kind),
        rule=rule.name,
        kind=kind,
        subject=label,
        masked_key=snap.masked,
        provider=neutralise(snap.provider),
        account=neutralise(snap.account) if snap.account else None,
        status=snap.status,
        reason=neutralise(snap.reason) if snap.reason else None,
        summary=f"{label} ({snap.masked}, {neutralise(snap.provider)}): {verb} "
        f"{rule.describe()} [{rule.name}]",
        at=snap.checked_at,
        figures=rule.figures(snap),
    )


def evaluate(
    rules: Sequence[Rule],
    snapshots: Iterable[Snapshot],
    previous: Mapping[tuple[str, str], AlertState],
) -> tuple[dict[tuple[str, str], AlertState], list[tuple[AlertEvent, str]]]:
    """Apply every rule to every snapshot in scope: the states that changed and the events
    (each with the fingerprint of the key it is about).

    Pure: the same snapshots and previous states always give the same answer.
    """
    changed: dict[tuple[str, str], AlertState] = {}
    events: list[tuple[AlertEvent, str]] = []
    snaps = list(snapshots)
    for rule in rules:
        for snap in snaps:
            if not rule.applies_to(snap):
                continue
            key = (rule.name, snap.fingerprint)
            before = previous.get(key) or AlertState(rule.name, snap.fingerprint)
            after, kind = step(
                before,
                rule.condition(snap),
                fire_after=rule.fire_after,
                clear_after=rule.clear_runs,
            )
            if kind is not None:
                after = replace(after, changed_at=snap.checked_at)
                events.append((_event(rule, snap, after, kind), snap.fingerprint))
            if after != before or key not in previous:
                changed[key] = after
    return changed, events
