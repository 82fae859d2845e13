"""Machine formats written as results arrive: JSON document, JSON Lines, CSV.

Each writer takes an open text stream and never buffers all results, so a run over 100,000
keys writes as it goes. CSV cells that a spreadsheet would run as formulas are neutralised.

JSON is encoded with orjson (its C encoder is what keeps output off the profile of a large
run; docs/benchmarks.md). Money is already a decimal string in :func:`result_dict`, so no
number passes through a float. Anything orjson refuses (a lone surrogate, an integer wider
than 64 bits) falls back to the standard library's encoder, laid out the same way. The grants
and evidence items that many results share are encoded once, laid out for their place in
the document, and spliced in as ``orjson.Fragment`` values (:func:`result_dict`'s
``fragments``): the bytes are the same.

orjson's bytes go straight to the stream's byte buffer when it has one that would encode
the text the same way (UTF-8, ``\n`` written as is: stdout on POSIX, an output file), so
they are not decoded to text and encoded back; other streams (``io.StringIO``) get text.
Those bytes are gathered and handed over :data:`GATHER` bytes at a time (one write(2) for
dozens of results, not one every 8 KiB), or when the writer is flushed: whoever streams to a
reader flushes it now and then (``keyledger.cli.output`` does at most
``FLUSH_AFTER`` seconds after a result) and at the end.
"""

from __future__ import annotations

import codecs
import csv
import enum
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol, TextIO, assert_never

import orjson

from keyledger.models import CheckResult
from keyledger.render.serialize import (
    COMPACT,
    ORJSON_OPTIONS,
    RESULT_SCHEMA,
    SCHEMA,
    result_dict,
)
from keyledger.sanitize import neutralise

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def csv_safe(value: str) -> str:
    """A text cell that spreadsheets will not evaluate (OWASP ASVS 1.2.10)."""
    value = neutralise(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


class Writer(Protocol):
    """Streams results to a text stream."""

    def write(self, result: CheckResult) -> None:
        """Write one result."""
        ...

    def flush(self) -> None:
        """Push everything written so far to the stream's file."""
        ...

    def close(self, complete: bool, summary: Mapping[str, Any]) -> None:
        """Finish the document."""
        ...


def _dumps(data: Any, *, pretty: bool = False) -> str:
    """``data`` as JSON text: indented by 2 if ``pretty``, else compact (one line)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2 if pretty else 0).decode()
    except (orjson.JSONEncodeError, TypeError):  # orjson is stricter than json: fall back
        if pretty:
            return json.dumps(data, ensure_ascii=False, indent=2)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def byte_buffer(stream: TextIO) -> BinaryIO | None:
    """``stream``'s byte buffer if UTF-8 bytes written there are what writing the same text
    to ``stream`` would give (UTF-8 encoding, no newline translation), else ``None``."""
    buffer = getattr(stream, "buffer", None)
    encoding = getattr(stream, "encoding", None)
    if buffer is None or not isinstance(encoding, str) or os.linesep != "\n":
        return None
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return None
    return buffer if utf8 else None


GATHER = 128 * 1024
"""Bytes of encoded results gathered before they go to the stream's byte buffer in one write."""


class _Sink:
    """A writer's output: encoded JSON as bytes (gathered, then to the byte buffer when there
    is one) or text; text and bytes reach the file in the order they were written."""

    __slots__ = ("pending", "raw", "stream")

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.pending = bytearray()
        self.raw = byte_buffer(stream)
        if self.raw is not None:
            stream.flush()  # whatever was written as text before goes first

    def data(self, data: bytes) -> None:
        """Write encoded JSON."""
        if self.raw is None:
            self.stream.write(data.decode())
            return
        pending = self.pending
        pending += data
        if len(pending) >= GATHER:
            self.push()

    def push(self) -> None:
        """Hand the gathered bytes to the byte buffer: one write(2) once they outgrow it."""
        if self.pending and self.raw is not None:
            data, self.pending = self.pending, bytearray()
            self.raw.write(data)

    def text(self, text: str) -> None:
        """Write text (what the standard library's encoder made)."""
        self.push()
        self.stream.write(text)
        if self.raw is not None:
            self.stream.flush()

    def flush(self) -> None:
        """Push what was written to the file."""
        if self.raw is not None:
            self.push()
            self.raw.flush()
        else:
            self.stream.flush()


_PRETTY = orjson.OPT_INDENT_2 | ORJSON_OPTIONS
# A result nested two lists deep (``[[result]]``) is indented as the document's ``results``
# items are: ``[\n  [`` + ``\n    {…\n    }`` + ``\n  ]\n]``. The middle is the item, laid out
# as it stands in the document without a pass over its bytes to indent them.
_NEST_HEAD = len(b"[\n  [")
_NEST_TAIL = -len(b"\n  ]\n]")
_ITEM_INDENT = 4  # where the item opens: its grants are pre-encoded for that place
_LINE = orjson.OPT_APPEND_NEWLINE | ORJSON_OPTIONS


class JsonWriter:
    """``{"schema": …, "results": [...], "complete": …, "summary": …}``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.sink = _Sink(stream)
        self.count = 0
        generated = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        # As data, not text: text is flushed at once, and a file that cannot take it (a full
        # disk) must fail while results are written, once the run is recording them.
        head = f'{{\n  "schema": "{SCHEMA}",\n  "generated_at": "{generated}",\n  "results": ['
        self.sink.data(head.encode())

    def write(self, result: CheckResult) -> None:
        """Append one result to the array."""
        try:
            data = result_dict(result, for_orjson=True, fragments=_ITEM_INDENT)
            nested = orjson.dumps([[data]], option=_PRETTY)
        except (orjson.JSONEncodeError, TypeError):  # orjson is stricter than json: fall back
            text = _dumps(result_dict(result), pretty=True).replace("\n", "\n    ")
            self.sink.text(("," if self.count else "") + "\n    " + text)
        else:
            item = nested[_NEST_HEAD:_NEST_TAIL]
            self.sink.data(b"," + item if self.count else item)
        self.count += 1

    def flush(self) -> None:
        """Push the results written so far to the file."""
        self.sink.flush()

    def close(self, complete: bool, summary: Mapping[str, Any]) -> None:
        """Close the array and add ``complete`` and ``summary``."""
        tail = _dumps(dict(summary), pretty=True).replace("\n", "\n  ")
        end = "\n  " if self.count else ""
        self.sink.text(f'{end}],\n  "complete": {_dumps(complete)},\n  "summary": {tail}\n}}\n')


class JsonlWriter:
    """One JSON object per line, each with its ``schema``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.sink = _Sink(stream)

    def write(self, result: CheckResult) -> None:
        """Write one line."""
        try:
            data = {
                "schema": RESULT_SCHEMA,
                **result_dict(result, for_orjson=True, fragments=COMPACT),
            }
            line = orjson.dumps(data, option=_LINE)
        except (orjson.JSONEncodeError, TypeError):  # orjson is stricter than json: fall back
            self.sink.text(_dumps({"schema": RESULT_SCHEMA, **result_dict(result)}) + "\n")
        else:
            self.sink.data(line)

    def flush(self) -> None:
        """Push the lines written so far to the file."""
        self.sink.flush()

    def close(self, complete: bool, summary: Mapping[str, Any]) -> None:
        """Push the last lines: every line is complete on its own."""
        self.sink.flush()


CSV_COLUMNS = (
    "label",
    "provider",
    "kind",
    "key",
    "fingerprint",
    "base_url",
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
    "rpm",
    "tpm",
    "organization",
    "tier",
    "checked_at",
)
_NUMERIC = frozenset({"available", "granted", "used", "spend", "rpm", "tpm", "token_uncapped"})


def balances_cell(balances: list[dict[str, Any]]) -> str | None:
    """Every balance in one cell, by currency: ``CNY 81.69; USD 0.00`` (never summed); a
    relay token without a cap reads ``USD unknown (token uncapped)``."""
    if not balances:
        return None
    items = []
    for b in balances:
        figure = b["available"] if b["available"] is not None else "unknown"
        items.append(
            f"{b['currency']} {figure}" + (" (token uncapped)" if b["token_uncapped"] else "")
        )
    return "; ".join(items)


class CsvWriter:
    """A header row, then one row per result."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(CSV_COLUMNS)

    def write(self, result: CheckResult) -> None:
        """Write one row."""
        data = result_dict(result)
        balance = data["balance"] or {}
        spend = data["spend"] or {}
        limits = data["rate_limits"] or {}
        account = data["account"] or {}
        row: dict[str, Any] = {
            **{k: data[k] for k in ("label", "provider", "kind", "key", "fingerprint", "base_url")},
            "status": data["status"],
            "reason": data["reason"],
            "currency": balance.get("currency"),
            "available": balance.get("available"),
            "granted": balance.get("granted"),
            "used": balance.get("used"),
            "token_uncapped": ("true" if balance["token_uncapped"] else "false")
            if balance
            else None,
            "balances": balances_cell(data["balances"]),
            "balance_source": balance.get("source"),
            "balance_reason": data["balance_reason"],
            "next_expiry": balance.get("next_expiry"),
            "spend": spend.get("amount"),
            "spend_currency": spend.get("currency"),
            "rpm": limits.get("requests_limit"),
            "tpm": limits.get("tokens_limit"),
            "organization": account.get("organization"),
            "tier": data["tier"],
            "checked_at": data["checked_at"],
        }
        self.writer.writerow(
            [
                "" if row[c] is None else (str(row[c]) if c in _NUMERIC else csv_safe(str(row[c])))
                for c in CSV_COLUMNS
            ]
        )

    def flush(self) -> None:
        """Push the rows written so far to the file."""
        self.stream.flush()

    def close(self, complete: bool, summary: Mapping[str, Any]) -> None:
        """Nothing to add: CSV has no trailer."""


class Format(enum.StrEnum):
    """Output formats of ``keyledger check``."""

    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"

    def writer(self, stream: TextIO) -> Writer | None:
        """The streaming writer for this format (``None`` for the table)."""
        if self is Format.TABLE:
            return None
        if self is Format.JSON:
            return JsonWriter(stream)
        if self is Format.JSONL:
            return JsonlWriter(stream)
        if self is Format.CSV:
            return CsvWriter(stream)
        assert_never(self)
