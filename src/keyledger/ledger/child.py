"""The ledger's writer process: commits a run's batches so the checking process need not.

SQLite's work (and the interpreter-lock hand-overs of a writer thread) would otherwise cost
the process that checks keys about as much CPU as the checks themselves. :class:`WriterProcess`
starts ``python -S -P -c … keyledger.ledger.child.main(DB)``: a fresh interpreter that
imports only :mod:`sqlite3`, :mod:`json`, the parent's :mod:`orjson` (its directory is put
last on the path; frames are decoded with it) and the ledger's write side
(:mod:`keyledger.ledger.records`, :mod:`keyledger.ledger.write`), opens its own connection
with the ledger's settings (WAL lets the parent's connection stay open), builds each batch's
rows from the records it is sent and commits them in one transaction. When every result of
a batch is new (the usual case) the rows' values are built once, their result ids in place
(:func:`~keyledger.ledger.records.flat_rows`, inserted by
:meth:`~keyledger.ledger.bulk.BulkInsert.run_flat`: the same statements and values as
:func:`~keyledger.ledger.write.write_rows`); when one is not (its key already has a result
in this run), that transaction is rolled back and the batch goes through ``write_rows`` in
a fresh one. It binds ``None`` through an :mod:`sqlite3` adapter that is a builtin (the
same ``NULL``, far cheaper than the module's search for a way to adapt it, and no Python
frame per value).

- **Frames:** a 4-byte big-endian length, then the payload. A batch is JSON,
  ``[run_id, records]`` (:func:`keyledger.ledger.recorder.encode`; a record holds plain
  values: a key travels as its fingerprint and masked form, never its secret); the answer is
  :mod:`marshal` bytes of ``(added, None)`` or ``(0, error text)`` for a
  :class:`~keyledger.errors.StoreError` (a full disk, say). The parent sends a frame in one
  write and reads the answer in one read where the pipe allows (each call a hand-over of its
  interpreter lock).
- **Signals:** the process sits in its own process group (POSIX) and ignores SIGINT, SIGTERM
  and SIGHUP (those the platform has): Ctrl-C at the terminal reaches only the parent, which
  then finishes normally (drains, closes the pipe, closes the run).
- **End:** at end of input (the parent closed the pipe or died, even by SIGKILL) it commits
  every complete batch it has read, drops an incomplete one, and exits; a parent that is gone
  gets no answer, and nothing is left hanging.
- **Failure:** if the process cannot start or dies, :meth:`WriterProcess.write` raises
  :class:`WriterGone` and the recorder writes in-process instead (a batch may then be written
  twice: the ledger keeps a key's first result of a run, so nothing doubles).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import sqlite3
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from keyledger.errors import StoreError
from keyledger.ledger.records import Record, flat_rows, rows_of
from keyledger.ledger.write import (
    BUSY_TIMEOUT_MS,
    INSERT_BALANCE,
    INSERT_EVIDENCE,
    INSERT_GRANT,
    INSERT_RESULT,
    MAX_ID,
    UPSERT_KEY,
    configure,
    transaction,
    write_rows,
)

if TYPE_CHECKING:
    import subprocess

_loads: Callable[[bytes], Any]
try:  # the parent's orjson (its directory is passed on: see WriterProcess.start)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a dependency; the same values either way
    from json import loads as _loads

_HEADER = struct.Struct(">I")
_READ_MAX = 1 << 20
_REPLY_READ = 4096
# Run as ``python -S -P -c _BOOT ROOT DB [DIR]``: the keyledger that started it, no site
# packages; DIR is the one holding the parent's orjson. Both go after the standard library on
# the path: in a plain install ROOT is site-packages itself, where a module named like one of
# the standard library's must not stand in for it.
_BOOT = (
    "import sys; sys.path.append(sys.argv[1]); sys.path.extend(sys.argv[3:]); "
    "from keyledger.ledger.child import main; main(sys.argv[2])"
)
CLOSE_TIMEOUT = 30.0  # seconds the parent waits for the process to exit after the last batch


class WriterGone(Exception):
    """The writer process is gone (or never started): write in-process instead."""


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (a pipe may take it in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``, or ``None`` at end of input before that many."""
    parts: list[bytes] = []
    left = size
    while left:
        chunk = os.read(fd, min(left, _READ_MAX))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_frame(fd: int) -> bytes | None:
    """One frame's payload, or ``None`` at end of input (an incomplete frame included)."""
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        return None
    return _read_exact(fd, _HEADER.unpack(head)[0])


def read_reply(fd: int) -> bytes | None:
    """The payload of the one frame ``fd`` will carry before the next request (a small
    answer): read in as few calls as it arrives in, each a wait without the interpreter lock
    and a hand-over of it after; ``None`` at end of input before the frame is complete."""
    data = b""
    while True:
        chunk = os.read(fd, _REPLY_READ)
        if not chunk:
            return None
        data += chunk
        if len(data) >= _HEADER.size:
            end = _HEADER.size + _HEADER.unpack_from(data)[0]
            if len(data) >= end:
                return data[_HEADER.size : end]


def write_frame(fd: int, payload: bytes) -> None:
    """Send ``payload`` as one frame (one write where the pipe takes it all)."""
    write_all(fd, _HEADER.pack(len(payload)) + payload)


def _orjson_dir() -> list[str]:
    """The directory holding the orjson this process loaded (none if it loaded none)."""
    where = getattr(sys.modules.get("orjson"), "__file__", None)
    if not where:
        return []
    found = Path(where).parent  # orjson/__init__.py (a package) or orjson.*.so (a module)
    return [str(found.parent if found.name == "orjson" else found)]


class WriterProcess:
    """The parent's end: sends batches to a writer process and reads its answers (called from
    the recorder's writer thread, which waits in ``os.read`` without the interpreter lock)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        assert proc.stdin is not None and proc.stdout is not None
        self._to: IO[bytes] = proc.stdin
        self._from: IO[bytes] = proc.stdout

    @classmethod
    def start(cls, path: Path) -> WriterProcess | None:
        """Start a writer process for the ledger at ``path``; ``None`` if it cannot start."""
        import subprocess

        if not sys.executable or getattr(sys, "frozen", False):
            return None  # a frozen app's executable is the app itself, not an interpreter
        root = str(Path(__file__).resolve().parents[2])  # the directory holding keyledger/
        try:
            proc = subprocess.Popen(
                [sys.executable, "-S", "-P", "-c", _BOOT, root, str(path), *_orjson_dir()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                process_group=0,
            )
        except (OSError, ValueError, subprocess.SubprocessError):
            return None
        return cls(proc)

    def write(self, payload: bytes) -> int:
        """Commit the batch ``payload`` encodes (``[run_id, records]`` as JSON, see
        :func:`keyledger.ledger.recorder.encode`) in the writer process; returns results added.

        Raises:
            StoreError: the writer process could not commit it.
            WriterGone: the process is gone; the batch may or may not have been committed.
        """
        try:
            write_frame(self._to.fileno(), payload)
            answer = read_reply(self._from.fileno())
        except (OSError, ValueError):  # a broken pipe, or a pipe closed by close()
            raise WriterGone from None
        if answer is None:
            raise WriterGone
        try:
            added, error = marshal.loads(answer)
        except (ValueError, EOFError, TypeError):
            raise WriterGone from None
        if error is not None:
            raise StoreError(str(error))
        return int(added)

    def close(self) -> None:
        """Close the pipe (the process commits what it has and exits) and reap it."""
        import subprocess

        for pipe in (self._to, self._from):
            with contextlib.suppress(OSError):
                pipe.close()
        try:
            self.proc.wait(CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _NotAllNew(Exception):
    """Some result of the batch was not inserted (its key already has one in this run)."""


def write_new(conn: sqlite3.Connection, run_id: int, records: list[Record]) -> int:
    """:func:`~keyledger.ledger.write.write_rows` of :func:`rows_of` ``(run_id, records)``
    (inside the caller's transaction) for a batch whose results are all new, the usual case:
    the rows' values are built once, their result ids in place (:func:`flat_rows`), and go
    in with the same statements. Returns results added.

    Raises:
        _NotAllNew: a result was not inserted; the caller rolls back and uses write_rows.
    """
    if not records:
        return 0
    before = conn.execute(MAX_ID).fetchone()[0]
    keys, results, balances, evidence, grants = flat_rows(run_id, records, before + 1)
    UPSERT_KEY.run_flat(conn, keys)
    changes = conn.total_changes
    last = INSERT_RESULT.run_flat(conn, results)
    added = len(records)
    if conn.total_changes - changes != added or last != before + added:
        raise _NotAllNew
    INSERT_BALANCE.run_flat(conn, balances)
    INSERT_EVIDENCE.run_flat(conn, evidence)
    INSERT_GRANT.run_flat(conn, grants)
    return added


def commit(conn: sqlite3.Connection, path: str, run_id: int, records: list[Record]) -> int:
    """Commit one batch in one transaction (:func:`write_new`, or when a result of it is
    not new, :func:`~keyledger.ledger.write.write_rows` in a fresh one); results added."""
    try:
        with transaction(conn, path):
            return write_new(conn, run_id, records)
    except _NotAllNew:  # rolled back: nothing of the batch is in
        pass
    with transaction(conn, path):
        return write_rows(conn, rows_of(run_id, records))


def serve(conn: sqlite3.Connection, path: str, fd_in: int, fd_out: int) -> None:
    """Commit each batch read from ``fd_in``, answering on ``fd_out``, until end of input."""
    answering = True
    while (frame := read_frame(fd_in)) is not None:
        run_id, records = _loads(frame)
        try:
            answer: tuple[int, str | None] = (commit(conn, path, run_id, records), None)
        except StoreError as exc:
            answer = (0, str(exc))
        if answering:
            try:
                write_frame(fd_out, marshal.dumps(answer))
            except OSError:  # the parent is gone: commit what it sent, then stop at the end
                answering = False


_NOTHING: dict[None, None] = {}
# ``None`` as a parameter: SQL ``NULL``, as sqlite3 binds it without an adapter. A method of
# an empty dict that answers None for any key: a C call, no Python frame per value.
_null: Callable[[None], None] = _NOTHING.get


def main(path: str) -> None:
    """The writer process: serve stdin/stdout for the ledger at ``path``."""
    # sqlite3 binds None only after failing to find a way to adapt it (two attribute
    # lookups, an AttributeError made and dropped): a batch of session keys binds about a
    # dozen a result. An adapter binds the same NULL in a fraction of the time. The
    # registry is global to the process: this one is the ledger's alone.
    sqlite3.register_adapter(type(None), _null)
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # Windows has no SIGHUP
        if (sig := getattr(signal, name, None)) is not None:
            signal.signal(sig, signal.SIG_IGN)
    uri = f"{Path(path).resolve().as_uri()}?mode=rw"  # the parent made the file: never create one
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        configure(conn, path)
        serve(conn, path, sys.stdin.fileno(), sys.stdout.fileno())
    finally:
        conn.close()


__all__ = ["WriterGone", "WriterProcess", "main", "read_frame", "serve", "write_frame"]
