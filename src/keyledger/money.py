"""Exact money and time values read from provider JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal | None:
    """A finite ``Decimal`` from a JSON number or numeric string; ``None`` otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))  # the shortest exact text of the float
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def from_unix(value: object) -> datetime | None:
    """A UTC datetime from Unix seconds (int or float); ``None`` for 0, null or junk."""
    number = to_decimal(value)
    if number is None or number <= 0:
        return None
    try:
        return datetime.fromtimestamp(float(number), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def fmt_money(value: Decimal | None, currency: str = "") -> str:
    """``12.34 USD``-style text; ``-`` when the value is missing (never ``0``)."""
    if value is None:
        return "-"
    quantised = value.quantize(CENT) if value.as_tuple().exponent < -2 else value  # type: ignore[operator]
    text = f"{quantised:,.2f}" if abs(quantised) < Decimal("1e15") else f"{quantised:.4E}"
    return f"{text} {currency.upper()}".strip()
