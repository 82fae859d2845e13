"""An alert: what a rule saw cross, as a value (never a key; only masked forms)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

EventKind = Literal["fired", "recovered", "test"]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert or recovery notice for one subject (a key or an account)."""

    event_id: str  # stable and unique: the same crossing always has the same id
    rule: str  # the rule's name from the config
    kind: EventKind
    subject: str  # the key's label or the account name (sanitised, never a key)
    masked_key: str | None
    provider: str
    account: str | None
    status: str | None
    reason: str | None
    summary: str  # one line for humans, sanitised
    at: datetime
    figures: Mapping[str, str] = field(default_factory=dict)  # e.g. {"available": "3.20 USD"}
