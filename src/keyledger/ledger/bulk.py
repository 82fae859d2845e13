"""Insert many rows with few SQLite steps: up to :data:`CHUNK` rows per ``INSERT`` statement.

``executemany`` steps its statement once per row, and Python's sqlite3 module lets go of the
interpreter lock around every step and takes it back after. On the ledger's writer thread that
means a hand-over of the lock to and from the event loop for every row: a commit of 500
session-key results (about 3,500 rows) stalls the loop thousands of times, and the writer
falls behind. ``INSERT … VALUES (…), (…), …`` with many rows binds them all at once and
writes them in one step. The values are bound exactly as ``executemany`` binds them, and the
rows are inserted in order, so the stored bytes and the rowids are the same.

SQLite compiles each statement text once, and Python's sqlite3 module keeps the 128 it used
last: rows beyond the last full chunk go as at most two statements, a multiple of
:data:`STEP` rows and fewer than :data:`STEP`, so a table needs at most
``CHUNK / STEP + STEP - 1`` texts (15) and a run does not compile a statement for every batch
size it meets.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

CHUNK = 64  # rows per statement, at most (fewer if the columns would pass SQLite's limit)
STEP = 8  # the rows after the last full chunk: a multiple of STEP, then fewer than STEP


@dataclass(frozen=True, slots=True)
class BulkInsert:
    """An ``INSERT`` into ``table``'s ``columns`` for many rows at once."""

    table: str
    columns: str  # "a, b, c"
    conflict: str = ""
    _sql: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    def sql(self, rows: int) -> str:
        """The statement for ``rows`` rows (built once per row count)."""
        text = self._sql.get(rows)
        if text is None:
            one = "(" + ", ".join("?" for _ in self.columns.split(",")) + ")"
            text = (
                f"INSERT INTO {self.table} ({self.columns}) "
                f"VALUES {', '.join([one] * rows)} {self.conflict}"
            )
            self._sql[rows] = text
        return text

    def chunk(self, conn: sqlite3.Connection) -> int:
        """Rows per statement: :data:`CHUNK`, or fewer when that many rows' values would pass
        the connection's limit on variables (999 before SQLite 3.32, 32,766 since)."""
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return max(1, min(CHUNK, limit // len(self.columns.split(","))))

    def _ends(self, conn: sqlite3.Connection, total: int) -> list[int]:
        """Where each statement's rows end, for ``total`` rows (see the module's text)."""
        size = self.chunk(conn)
        full = total - total % size
        rest = total - full
        ends = list(range(size, full + 1, size))
        if rest > STEP and rest % STEP:
            ends.append(total - rest % STEP)
        if rest:
            ends.append(total)
        return ends

    def run(self, conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> int | None:
        """Insert ``rows`` (each in column order), :meth:`chunk` rows a statement (the rest
        as at most two: see the module's text); returns the last statement's
        ``lastrowid`` (``None`` for no rows)."""
        last: int | None = None
        start = 0
        for end in self._ends(conn, len(rows)):
            part = rows[start:end]
            last = conn.execute(self.sql(end - start), tuple(chain.from_iterable(part))).lastrowid
            start = end
        return last

    def run_flat(self, conn: sqlite3.Connection, values: list[Any]) -> int | None:
        """:meth:`run` for rows given as one list of their values, row after row: the same
        statements with the same values (each a slice of ``values``, or ``values`` itself)."""
        width = self.columns.count(",") + 1
        total = len(values) // width
        last: int | None = None
        start = 0
        for end in self._ends(conn, total):
            part = values if end - start == total else values[start * width : end * width]
            last = conn.execute(self.sql(end - start), part).lastrowid
            start = end
        return last


__all__ = ["CHUNK", "STEP", "BulkInsert"]
