"""The ledger's text codecs: UTC timestamps and exact money as the text SQLite stores.

Kept apart from :mod:`keyledger.ledger.rows` (the frozen rows read back) so that writing a
run (``check``, before its first request) loads the codecs without the row classes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson

from keyledger.money import stored_money


def to_text(value: datetime | None) -> str | None:
    """A UTC timestamp as fixed-width ISO 8601 text (so text order is time order)."""
    if value is None:
        return None
    if value.tzinfo is UTC and value.year >= 1000 and type(value) is datetime:
        # orjson's C formatter writes the same text (less zero microseconds) at a fraction
        # of strftime's cost; strftime writes a year before 1000 without its leading zeros
        text = orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()
        return text[1:-2] + ("Z" if value.microsecond else ".000000Z")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_text(value: str | None) -> datetime | None:
    """The inverse of :func:`to_text` (also accepts any ISO 8601 text); aware, in UTC."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def money_text(value: Decimal | None) -> str | None:
    """A ``Decimal`` as exact, exponent-free text; ``None`` stays ``None`` (never ``"0"``)."""
    if value is None:
        return None
    text = str(value)  # the same as format(value, "f") unless it has an exponent
    return text if "E" not in text else format(value, "f")


def money_value(value: str | None) -> Decimal | None:
    """The inverse of :func:`money_text`; unreadable text is ``None``."""
    if not isinstance(value, str):
        return None
    return stored_money(value)  # bounded: a hand-damaged or absurd cell reads as unknown


__all__ = ["from_text", "money_text", "money_value", "to_text"]
