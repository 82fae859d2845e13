"""Exact money and time values read from provider JSON, within bounds.

Every amount a provider sends goes through :func:`parse_money`, the one place that decides
what is money: a finite number whose text is at most :data:`MAX_NUMBER_TEXT` characters, with
``|value| < 10**15`` (:data:`MAX_MAGNITUDE`) and at most :data:`MAX_WRITTEN_PLACES` digits
after the point as written. The length is checked before a ``Decimal`` is built, so a hostile
``1e999999999`` costs nothing. An accepted value is rounded half-even to
:data:`MONEY_PLACES` decimal places, so it has at most 27 significant digits: sums, differences
and formatting stay exact and can never overflow. Anything else is :class:`MoneyError`, which
the providers turn into ``unknown``/``unexpected_body`` (``docs/json-output.md``).

Times go through :func:`from_unix` (Unix seconds) or :func:`from_iso` (ISO 8601 text): either
gives an aware UTC ``datetime`` after the Unix epoch and before the year
:data:`NO_EXPIRY_YEAR`, or ``None``. ``None`` is what every provider means by "no expiry": a
vendor's "never" sentinel (``0``, ``-1``, ``9999-12-31T23:59:59-08:00``, Go's zero time
``0001-01-01T00:00:00Z``), a time beyond what UTC can hold, milliseconds where seconds were
due, and junk all read as ``None``; nothing a vendor sends raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext

CENT = Decimal("0.01")
MAX_NUMBER_TEXT = 64  # characters of a number's text (JSON literal or string)
MAX_MAGNITUDE = 15  # |money| < 10**15
MAX_WRITTEN_PLACES = 30  # digits after the point, as written (1e-31 is absurd precision)
MONEY_PLACES = 12  # accepted money is rounded to this many decimal places
_PLACES = Decimal(1).scaleb(-MONEY_PLACES)
# Wide enough for any sum of accepted values (or stored ledger text): nothing here can trap.
WIDE = Context(prec=120, Emax=10_000, Emin=-10_000, rounding=ROUND_HALF_EVEN)
_STORED_MAGNITUDE = 30  # ledger text: sums of many accepted values, still small


class MoneyError(ValueError):
    """A money value from a provider that is not a bounded, finite number."""


class OversizeNumber:
    """A JSON number literal too long to be read (its text is never kept or converted)."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length

    def __repr__(self) -> str:
        return f"OversizeNumber({self.length} characters)"


def json_float(text: str) -> Decimal | OversizeNumber:
    """``parse_float`` for :func:`json.loads`: exact, and bounded in cost."""
    if len(text) > MAX_NUMBER_TEXT:
        return OversizeNumber(len(text))
    return Decimal(text)


def json_int(text: str) -> int | OversizeNumber:
    """``parse_int`` for :func:`json.loads`: never trips Python's integer digit limit."""
    if len(text) > MAX_NUMBER_TEXT:
        return OversizeNumber(len(text))
    return int(text)


def _number(value: object) -> Decimal | None:
    """A finite Decimal from a short JSON number or numeric string; ``None`` if it is not one."""
    if isinstance(value, bool) or value is None or isinstance(value, OversizeNumber):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        if value.bit_length() > 4 * MAX_NUMBER_TEXT:  # ~77 digits: far beyond any bound
            return None
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))  # the shortest exact text of the float
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_TEXT:
            return None
        try:
            result = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def within_bounds(value: Decimal, magnitude: int = MAX_MAGNITUDE) -> bool:
    """Whether a finite ``value`` has ``|value| < 10**magnitude`` and sane written precision."""
    if not value:
        return True
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return value.adjusted() < magnitude and exponent >= -MAX_WRITTEN_PLACES


# The common case: a plain decimal string such as ``"18.00"``. At most 15 integer digits and
# 12 places, so it is within the bounds and needs no rounding: ``Decimal(text)`` as it is.
_SHORT_DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,12})?")
# Times in or after this year are a vendor's "never expires" sentinel, read as None; so is
# anything at or before the Unix epoch (``0``/``-1`` = never, Go's zero time).
NO_EXPIRY_YEAR = 9999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_EXPIRY_UNIX = int((datetime(NO_EXPIRY_YEAR, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds())
MAX_TIME_TEXT = 40  # characters of an ISO 8601 time (longer text is not a time)


# Short decimal strings already read (``"18.00"`` recurs in every key's answer), with their
# value: a ``Decimal`` is immutable, so one can be shared. Emptied when full.
_READ: dict[str, Decimal] = {}
READ_CACHE_SIZE = 1024


def parse_money(value: object) -> Decimal | None:
    """Money from a provider: ``None`` when absent (``null``); bounded ``Decimal`` otherwise.

    Raises:
        MoneyError: the value is present but not a finite number within the bounds.
    """
    if type(value) is str:
        known = _READ.get(value)
        if known is not None:
            return known
        if _SHORT_DECIMAL.fullmatch(value):  # fast path, same result
            number = Decimal(value)
            number = number if number else Decimal(0)
            if len(_READ) >= READ_CACHE_SIZE:
                _READ.clear()
            _READ[value] = number
            return number
    return _parse_money(value)


def _parse_money(value: object) -> Decimal | None:
    """:func:`parse_money` for any value (the general path)."""
    if value is None:
        return None
    if isinstance(value, OversizeNumber):
        raise MoneyError(f"number of {value.length} characters")
    number = _number(value)
    if number is None:
        raise MoneyError("not a number")
    if not within_bounds(number):
        raise MoneyError("out of bounds")
    if not number:
        return Decimal(0)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -MONEY_PLACES:
        number = number.quantize(_PLACES, context=WIDE).normalize(WIDE)
    return number


def money_field(data: Mapping[str, object], name: str, label: str = "") -> Decimal | None:
    """``data[name]`` as money (``None`` when absent or null).

    Raises:
        MoneyError: the field is present but not bounded money; the message names the field
            (as ``label`` if given), never its value.
    """
    try:
        return parse_money(data.get(name))
    except MoneyError as exc:
        raise MoneyError(f"{label or name}: {exc} (money must be finite, |value| < 1e15)") from None


def to_decimal(value: object) -> Decimal | None:
    """A bounded ``Decimal`` (see :func:`parse_money`), or ``None`` for anything else."""
    try:
        return parse_money(value)
    except MoneyError:
        return None


def stored_money(text: str | None) -> Decimal | None:
    """Money read back from the ledger: ``None`` for missing, unreadable or absurd text."""
    number = _number(text) if text is not None else None
    if number is None or not within_bounds(number, _STORED_MAGNITUDE):
        return None
    return number


# Whole Unix seconds already read (a grant's expiry recurs in every answer of its account and
# in every round of a watch), with their datetime: immutable, so shared. Emptied when full.
_TIMES: dict[int, datetime] = {}
TIMES_CACHE_SIZE = 1024


def from_unix(value: object) -> datetime | None:
    """A UTC datetime from Unix seconds (int, float, Decimal or numeric text).

    ``None`` for null, junk, ``0`` or less, and a time in or after :data:`NO_EXPIRY_YEAR`
    (a "never" sentinel, or milliseconds where seconds were due): never raises.
    """
    if type(value) is int:  # fast path: a bounded int is exact as a float
        known = _TIMES.get(value)
        if known is not None:
            return known
        if not 0 < value < _NO_EXPIRY_UNIX:
            return None
        try:
            when = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        if len(_TIMES) >= TIMES_CACHE_SIZE:
            _TIMES.clear()
        _TIMES[value] = when
        return when
    return _from_unix(value)


def _from_unix(value: object) -> datetime | None:
    """:func:`from_unix` for any value (the general path)."""
    number = to_decimal(value)
    if number is None or not 0 < number < _NO_EXPIRY_UNIX:
        return None
    try:
        when = datetime.fromtimestamp(float(number), UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return when if when > _EPOCH and when.year < NO_EXPIRY_YEAR else None


def from_iso(value: object) -> datetime | None:
    """A UTC datetime from ISO 8601 text; a time without an offset is UTC.

    An offset is converted away (``2026-12-31T23:59:59-08:00`` is ``2027-01-01T07:59:59Z``).
    ``None`` for anything but text of at most :data:`MAX_TIME_TEXT` characters, text that is
    not ISO 8601, a time UTC cannot hold (``9999-12-31T23:59:59-08:00``), one in or after
    :data:`NO_EXPIRY_YEAR`, and one at or before the Unix epoch: never raises.
    """
    if type(value) is not str:
        return None
    text = value.strip()
    if not 0 < len(text) <= MAX_TIME_TEXT:
        return None
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return moment if moment > _EPOCH and moment.year < NO_EXPIRY_YEAR else None


_PLAIN_FAST_LENGTH = 100  # str() of a shorter Decimal cannot round under WIDE's precision
_NONZERO_DIGITS = frozenset("123456789")


def plain_text(value: Decimal) -> str:
    """Exact, exponent-free text of a bounded value; an integer without trailing ``.0``.

    Fast path: ``str()`` of a finite Decimal without an exponent already is that text, save
    for the zeros after the point of an integral value (``"5.00"`` reads ``"5"``).
    """
    text = str(value)
    if len(text) < _PLAIN_FAST_LENGTH and "E" not in text:
        last = text[-1]
        if last in _NONZERO_DIGITS:  # an integer, or a fraction ending in a significant digit
            return text
        if last == "0":
            whole, point, fraction = text.partition(".")
            if not point or fraction.strip("0"):
                return text
            return whole
    with localcontext(WIDE):
        if value == value.to_integral_value():
            return format(value.normalize(), "f")
        return format(value, "f")


def fmt_money(value: Decimal | None, currency: str = "") -> str:
    """``12.34 USD``-style text; ``-`` when the value is missing (never ``0``)."""
    if value is None:
        return "-"
    if not value.is_finite() or abs(value.adjusted()) > 1000:
        return f"? {currency.upper()}".strip()  # never built from provider money (bounded)
    with localcontext(WIDE):
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        quantised = value.quantize(CENT) if exponent < -2 else value
        text = f"{quantised:,.2f}" if abs(quantised) < Decimal("1e15") else f"{quantised:.4E}"
    return f"{text} {currency.upper()}".strip()
