"""The ledger: one SQLite file that remembers every check (reliability D1-D6).

- **Where:** ``ledger.db`` in :func:`keyledger.home.home_dir` (``$KEYLEDGER_HOME``, else the
  user data directory). The directory is 0700; the file is created 0600 with
  ``O_CREAT|O_EXCL`` *before* SQLite opens it, so the umask never decides its mode, and a
  looser pre-existing file (and its ``-wal``/``-shm``) is tightened. SQLite gives the
  ``-wal`` and ``-shm`` files the database file's mode.
- **Settings:** WAL, ``synchronous=FULL`` (a commit survives power loss), a 5 s busy
  timeout and foreign keys on.
- **Refusals:** a file at the path that is not SQLite, is corrupt, belongs to another
  program, or was written by a newer keyledger is refused with :class:`StoreError` and
  never overwritten.
- **Identity:** a key is stored only as its fingerprint and masked form. Only parameterised
  SQL is used.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal

from keyledger import __version__
from keyledger.errors import StoreError
from keyledger.home import create_private_file, ensure_private_dir, home_dir, tighten, writable
from keyledger.ledger.codecs import to_text
from keyledger.ledger.migrations import MIGRATIONS, check_version, migrate, schema_version
from keyledger.ledger.records import BalanceRecord, Record, rows_of
from keyledger.ledger.write import (
    BUSY_TIMEOUT_MS,
    BatchRows,
    configure,
    transaction,
    write_rows,
)
from keyledger.models import Balance, CheckResult, Grant
from keyledger.render.serialize import balances_of, shown_url

if TYPE_CHECKING:  # the rows read back are loaded by the reading methods: a run only writes
    from keyledger.ledger.rows import DbRow, EvidenceRow, GrantRow, ResultRow, RunRow

DB_NAME: Final = "ledger.db"
SQLITE_HEADER: Final = b"SQLite format 3\x00"
RunStatus = Literal["running", "complete", "interrupted"]

_RESULT_COLUMNS = """
    r.id, r.run_id, r.fingerprint, k.masked, k.provider, k.kind, r.label, r.base_url,
    r.checked_at, r.status, r.reason, r.currency, r.granted, r.used, r.available,
    r.unlimited, r.balance_source, r.balance_reason, r.balance_expires_at, r.next_expiry,
    r.spend, r.spend_currency, r.spend_start, r.spend_end, r.organization, r.attempts,
    r.duration_ms, r.tier, (
        SELECT json_group_array(json_array(
            b.currency, b.granted, b.used, b.available, b.token_uncapped, b.reading, b.source,
            b.parts
        )) FROM balances b WHERE b.result_id = r.id
    ) AS balances
"""
_RESULTS_FROM = (
    f"SELECT {_RESULT_COLUMNS} FROM results r JOIN keys k ON k.fingerprint = r.fingerprint"
)
# A key selector matches a label, a whole fingerprint or a prefix of 6+ characters, or an
# account (organization), so history can be per key or per account.
_SELECTOR = """(
    :sel IS NULL OR r.label = :sel OR r.organization = :sel
    OR (length(:sel) >= 6 AND substr(r.fingerprint, 1, length(:sel)) = :sel)
)"""


def ledger_path(environ: Mapping[str, str]) -> Path:
    """Where the ledger lives: ``ledger.db`` in the keyledger home directory."""
    return home_dir(environ) / DB_NAME


def _tighten(path: Path) -> None:
    """Remove group and other bits from ``path`` if it exists (POSIX only); add none."""
    with contextlib.suppress(FileNotFoundError):
        tighten(path)


def _prepare_file(path: Path, create: bool) -> bool:
    """Create the database file 0600, or check an existing one; returns whether it is new.

    An existing file is only read here: nothing about it changes before :func:`_inspect` has
    found it to be a keyledger ledger.
    """
    if create:
        ensure_private_dir(path.parent)
    if create and writable(path.parent):
        try:
            create_private_file(path)
            return True
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror or 'OS error'}") from None
    try:
        info = path.lstat()
    except FileNotFoundError:
        if create:
            raise StoreError(f"cannot create {path}: {path.parent} is read-only") from None
        raise StoreError(f"no ledger at {path} yet: `keyledger check` records one") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or 'OS error'}") from None
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path} is not a regular file; refusing to use it as the ledger")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or 'OS error'}") from None
    if header and header != SQLITE_HEADER:
        raise StoreError(
            f"{path} is not a SQLite database; it was left untouched. "
            "Move it away (or set KEYLEDGER_HOME) to start a new ledger."
        )
    return not header


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection that writes nothing (falls back to ``immutable`` when SQLite
    cannot create the ``-shm`` file of a WAL database in a read-only directory)."""
    uri = path.resolve().as_uri()
    last: sqlite3.Error | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        try:
            conn = sqlite3.connect(
                f"{uri}?{query}",
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            last = exc
            continue
        conn.row_factory = sqlite3.Row
        return conn
    if last is not None and not isinstance(last, sqlite3.OperationalError):
        raise _unusable(path, last)  # corrupt, not merely unopenable
    raise StoreError(f"cannot open the ledger {path} to read it: {last}")


def _inspect(path: Path) -> None:
    """Read-only: refuse another program's database, a corrupt one, or an impossible or newer
    schema version, before anything is changed."""
    conn = _connect_read_only(path)
    try:
        _check_ownership(conn, path)
        check_version(conn, path)
    except sqlite3.DatabaseError as exc:
        raise _unusable(path, exc) from None
    finally:
        conn.close()


# SQLite's primary result codes of a write the disk or another process refused (a full disk,
# a lock held too long, a read-only file): the ledger is not damaged, only not written.
_NOT_WRITTEN: Final = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL}
)


def _unusable(path: Path, exc: Exception) -> StoreError:
    return StoreError(
        f"{path} is not a usable ledger ({exc}); it was left untouched. "
        "Move it away (or set KEYLEDGER_HOME) to start a new ledger."
    )


def _is_alive(pid: int) -> bool:
    """Whether process ``pid`` still exists (POSIX); elsewhere, assume it does."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _balance_record(b: Balance) -> BalanceRecord:
    granted, used, available = b.granted, b.used, b.available
    return (
        b.currency,
        None if granted is None else str(granted),
        None if used is None else str(used),
        None if available is None else str(available),
        b.token_uncapped,
        b.reading,
        b.source,
        [(p.name, str(p.amount)) for p in b.parts] if b.parts else (),
    )


def _when(at: datetime | None) -> datetime | None:
    """A time the writer process reads back exactly: in UTC, as the ledger stores it (a naive
    time is UTC). orjson writes an offset in whole minutes only, dropping its seconds."""
    if at is None or at.tzinfo is UTC:
        return at
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at).astimezone(UTC)


def record_of(result: CheckResult) -> Record:
    """``result`` as a :data:`~keyledger.ledger.records.Record`: plain values read off it
    (an amount as its ``str``, a time as it is), a key as its fingerprint and masked form,
    never its secret; :func:`~keyledger.ledger.records.rows_of` makes its rows."""
    key = result.key
    balance = result.balance
    if balance is None:
        primary = None
        others: list[BalanceRecord] | None = [_balance_record(b) for b in balances_of(result)]
        grants: tuple[Grant, ...] = ()
    else:
        primary = (_balance_record(balance), _when(balance.expires_at), _when(balance.next_expiry))
        given = result.balances  # the common case: the primary balance is the only one
        single = len(given) == 1 and given[0] is balance
        others = None if single else [_balance_record(b) for b in balances_of(result)]
        grants = balance.grants
    spend = result.spend
    account = result.account
    base_url = key.base_url
    return (
        (
            key.fingerprint,
            key.masked,
            key.provider,
            key.kind._value_,  # what .value answers, without the enum's property call
            key.label,
            shown_url(base_url) if base_url else None,
        ),
        _when(result.checked_at),
        result.status._value_,
        result.reason,
        result.balance_reason,
        None if account is None else account.organization,
        result.attempts,
        result.duration_ms,
        result.tier,
        primary,
        others,
        None
        if spend is None
        else (
            str(spend.amount),
            spend.currency,
            _when(spend.period_start),
            _when(spend.period_end),
        ),
        [
            (
                e.endpoint,
                e.http_status,
                e.error_type,
                e.error_code,
                e.message,
                e.attempts,
                e.outcome,
            )
            for e in result.evidence
        ],
        [
            (
                g.grant_id,
                str(g.amount),
                str(g.used),
                _when(g.effective_at),
                _when(g.expires_at),
                g.expired,
            )
            for g in grants
        ],
    )


def batch_rows(run_id: int, results: Iterable[CheckResult]) -> BatchRows:
    """The rows :func:`~keyledger.ledger.write.write_rows` commits for ``results`` of run
    ``run_id``: plain values, a key as its fingerprint and masked form (never its secret)."""
    return rows_of(run_id, [record_of(r) for r in results])


class Store:
    """An open ledger. Use :meth:`open`; close it (or use ``with``) when done.

    Reading methods return :class:`ResultRow`/:class:`RunRow`; writing methods commit before
    they return. Every failure is a :class:`StoreError` whose text is safe to show.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, read_only: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.read_only = read_only
        self.damaged = 0  # rows read so far that were damaged beyond use and skipped

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Store:
        """Open (creating if ``create``) the ledger at ``path`` and bring its schema up to date.

        An existing file is first inspected read-only; only a keyledger ledger is then
        switched to WAL, tightened and migrated. A ledger that may not be written (its
        directory or file lacks the owner's write bit, or access is denied) is opened
        read-only instead (:attr:`read_only`); writing to it raises :class:`StoreError`.

        Raises:
            StoreError: the file cannot be created or read, is not a keyledger ledger, is
                corrupt, or comes from a newer keyledger. The file is never overwritten.
        """
        new = _prepare_file(path, create)
        if not new:
            _inspect(path)
        try:
            for suffix in ("", "-wal", "-shm"):
                _tighten(Path(f"{path}{suffix}"))
        except OSError as exc:
            raise StoreError(f"cannot tighten {path}: {exc.strerror or 'OS error'}") from None
        if not writable(path.parent) or not writable(path):
            return cls._open_read_only(path)
        try:
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the ledger {path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        try:
            configure(conn, path)
            _check_ownership(conn, path)
            migrate(conn)
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _NOT_WRITTEN:  # the file is fine
                raise StoreError(f"cannot write the ledger {path}: {exc}") from None
            raise _unusable(path, exc) from None
        for suffix in ("-wal", "-shm"):
            _tighten(Path(f"{path}{suffix}"))
        return cls(conn, path)

    @classmethod
    def _open_read_only(cls, path: Path) -> Store:
        conn = _connect_read_only(path)
        try:
            version = schema_version(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _unusable(path, exc) from None
        if version != len(MIGRATIONS):
            conn.close()
            raise StoreError(
                f"{path} is read-only and needs an upgrade (schema version {version} of "
                f"{len(MIGRATIONS)}); make it writable once"
            )
        return cls(conn, path, read_only=True)

    @classmethod
    def open_default(cls, environ: Mapping[str, str], *, create: bool = True) -> Store:
        """The ledger of this install (see :func:`ledger_path`)."""
        return cls.open(ledger_path(environ), create=create)

    def close(self) -> None:
        """Close the connection (every write was already committed)."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any error."""
        return transaction(self.conn, self.path)

    def _query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the ledger {self.path}: {exc}") from None

    # -- identity ------------------------------------------------------------------------

    def secret_id(self) -> str | None:
        """The check value of the install secret this ledger's fingerprints were made with."""
        rows = self._query("SELECT value FROM meta WHERE name = 'secret_id'")
        value = rows[0][0] if rows else None
        return value if isinstance(value, str) else None

    def bind_identity(self, secret_id: str, *, fresh_secret: bool, replace: bool = False) -> None:
        """Make sure this ledger's fingerprints were made with the secret named ``secret_id``.

        A ledger that names no secret yet adopts this one, unless it already holds checks and
        the secret was just created (then the old secret was lost). ``replace`` starts a new
        identity on purpose: the old checks stay, but no key will match them again.

        Raises:
            StoreError: the ledger's checks were fingerprinted with another secret.
        """
        recorded = self.secret_id()
        if recorded == secret_id:
            return
        if not replace and (recorded is not None or (fresh_secret and self.count_results())):
            raise StoreError(
                f"the install-secret next to {self.path.name} is "
                f"{'new' if recorded is None else 'not the one'} its checks were "
                "fingerprinted with, so every key would look new and lose its history. "
                "Restore install-secret from a backup of the keyledger home, or run "
                "`keyledger check --new-identity` to start over with a new identity (old "
                "checks stay in the ledger but match no key again)"
            )
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('secret_id', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (secret_id,),
            )

    # -- writing -------------------------------------------------------------------------

    def begin_run(self, keys_total: int, *, now: datetime | None = None) -> int:
        """Start a run (status ``running``) and return its id.

        Runs still marked ``running`` whose process is gone (killed) become ``interrupted``.
        """
        started = to_text(now or datetime.now(UTC))
        me = os.getpid()
        with self._transaction() as conn:
            stale = conn.execute("SELECT id, pid FROM runs WHERE status = 'running'").fetchall()
            for row in stale:
                pid = row["pid"]
                if pid is not None and pid != me and not _is_alive(pid):
                    self._close_run(conn, row["id"], "interrupted", None)
            cursor = conn.execute(
                "INSERT INTO runs (started_at, status, keys_total, pid, tool_version) "
                "VALUES (?, 'running', ?, ?, ?)",
                (started, keys_total, me, __version__),
            )
        run_id = cursor.lastrowid
        assert run_id is not None
        return run_id

    def record(self, run_id: int, results: Iterable[CheckResult]) -> int:
        """Commit ``results`` of run ``run_id`` in one transaction; returns rows added.

        A key already recorded in this run (or twice in ``results``) is recorded once: the
        first result wins. The rows are built by :func:`batch_rows` and written by
        :func:`~keyledger.ledger.write.write_rows` (multi-row ``INSERT`` statements, table
        by table).
        """
        return self.write_rows(batch_rows(run_id, results))

    def write_rows(self, batch: BatchRows) -> int:
        """Commit rows built by :func:`batch_rows` in one transaction; returns rows added."""
        if not batch[2]:
            return 0
        with self._transaction() as conn:
            return write_rows(conn, batch)

    def finish_run(self, run_id: int, status: RunStatus, *, now: datetime | None = None) -> None:
        """Mark run ``run_id`` ``complete`` or ``interrupted`` with its result count."""
        with self._transaction() as conn:
            self._close_run(conn, run_id, status, now or datetime.now(UTC))

    @staticmethod
    def _close_run(
        conn: sqlite3.Connection, run_id: int, status: str, now: datetime | None
    ) -> None:
        conn.execute(
            "UPDATE runs SET status = ?, finished_at = ?, "
            "results_recorded = (SELECT count(*) FROM results WHERE run_id = ?) WHERE id = ?",
            (status, to_text(now), run_id, run_id),
        )

    def backup(self, target: Path) -> None:
        """Copy the whole ledger, consistently, to a new 0600 file with ``VACUUM INTO``.

        Raises:
            StoreError: ``target`` exists, or the copy failed (the partial file is removed).
        """
        try:
            create_private_file(target)
        except FileExistsError:
            raise StoreError(f"{target} already exists; choose a new file name") from None
        except OSError as exc:
            raise StoreError(f"cannot create {target}: {exc.strerror or 'OS error'}") from None
        try:
            self.conn.execute("VACUUM INTO ?", (str(target),))
        except sqlite3.Error as exc:
            with contextlib.suppress(OSError):
                target.unlink()
            raise StoreError(f"backup to {target} failed: {exc}") from None

    # -- reading -------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The schema version (``PRAGMA user_version``)."""
        return schema_version(self.conn)

    def integrity(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a sound database."""
        return "\n".join(str(row[0]) for row in self._query("PRAGMA integrity_check"))

    def _runs(self, rows: Iterable[DbRow]) -> list[RunRow]:
        """Rows as runs; damaged ones are skipped and counted in :attr:`damaged`."""
        from keyledger.ledger.rows import run_from_db

        out: list[RunRow] = []
        for row in rows:
            run = run_from_db(row)
            if run is None:
                self.damaged += 1
            else:
                out.append(run)
        return out

    def _results(self, rows: Iterable[DbRow]) -> Iterator[ResultRow]:
        """Rows as results; damaged ones are skipped and counted in :attr:`damaged`."""
        from keyledger.ledger.rows import result_from_db

        for row in rows:
            result = result_from_db(row)
            if result is None:
                self.damaged += 1
            else:
                yield result

    def runs(self) -> list[RunRow]:
        """Every run, oldest first."""
        return self._runs(self._query("SELECT * FROM runs ORDER BY id"))

    def run(self, run_id: int) -> RunRow | None:
        """One run, or ``None``."""
        runs = self._runs(self._query("SELECT * FROM runs WHERE id = ?", (run_id,)))
        return runs[0] if runs else None

    def previous_run(self, run_id: int) -> RunRow | None:
        """The latest run started before ``run_id`` that recorded anything."""
        rows = self._query(
            "SELECT * FROM runs WHERE id < ? AND EXISTS "
            "(SELECT 1 FROM results WHERE results.run_id = runs.id) ORDER BY id DESC LIMIT 1",
            (run_id,),
        )
        runs = self._runs(rows)
        return runs[0] if runs else None

    def count_results(self) -> int:
        """How many results the ledger holds."""
        return int(self._query("SELECT count(*) FROM results")[0][0])

    def results_of_run(self, run_id: int) -> list[ResultRow]:
        """The results recorded for run ``run_id``."""
        rows = self._query(f"{_RESULTS_FROM} WHERE r.run_id = ? ORDER BY r.id", (run_id,))
        return list(self._results(rows))

    def latest(
        self, fingerprints: Collection[str] | None = None, *, before_run: int | None = None
    ) -> dict[str, ResultRow]:
        """The most recent result of each key (only ``fingerprints`` if given).

        ``before_run`` looks only at runs older than that one ("the last run before this").
        """
        sql = f"""
            WITH ranked AS (
                SELECT r.id, row_number() OVER (
                    PARTITION BY r.fingerprint ORDER BY r.checked_at DESC, r.id DESC
                ) AS n
                FROM results r
                WHERE (:all OR r.fingerprint IN (SELECT value FROM json_each(:fps)))
                  AND (:before IS NULL OR r.run_id < :before)
            )
            {_RESULTS_FROM} WHERE r.id IN (SELECT id FROM ranked WHERE n = 1)
        """
        rows = self._query(sql, _fp_params(fingerprints) | {"before": before_run})
        return {result.fingerprint: result for result in self._results(rows)}

    def series(
        self, fingerprints: Collection[str] | None = None, *, since: datetime | None = None
    ) -> dict[str, list[ResultRow]]:
        """Each key's results since ``since``, oldest first."""
        sql = f"""
            {_RESULTS_FROM}
            WHERE (:all OR r.fingerprint IN (SELECT value FROM json_each(:fps)))
              AND (:since IS NULL OR r.checked_at >= :since)
            ORDER BY r.fingerprint, r.checked_at, r.id
        """
        out: dict[str, list[ResultRow]] = {}
        rows = self._query(sql, _fp_params(fingerprints) | {"since": to_text(since)})
        for result in self._results(rows):
            out.setdefault(result.fingerprint, []).append(result)
        return out

    def grants(self, result_ids: Collection[int]) -> dict[int, list[GrantRow]]:
        """The credit grants recorded with each of ``result_ids``."""
        rows = self._query(
            "SELECT * FROM grants WHERE result_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY result_id, id",
            (json.dumps(sorted(result_ids)),),
        )
        from keyledger.ledger.rows import grant_from_db

        out: dict[int, list[GrantRow]] = {}
        for row in rows:
            grant = grant_from_db(row)
            if grant is None:
                self.damaged += 1
                continue
            out.setdefault(grant.result_id, []).append(grant)
        return out

    def evidence(self, result_ids: Collection[int]) -> dict[int, list[EvidenceRow]]:
        """What the endpoints answered in each of ``result_ids``, in call order (a result
        recorded before the ledger kept evidence has none)."""
        rows = self._query(
            "SELECT * FROM evidence WHERE result_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY result_id, position",
            (json.dumps(sorted(result_ids)),),
        )
        from keyledger.ledger.rows import evidence_from_db

        out: dict[int, list[EvidenceRow]] = {}
        for row in rows:
            item = evidence_from_db(row)
            if item is None:
                self.damaged += 1
                continue
            out.setdefault(item.result_id, []).append(item)
        return out

    def iter_results(
        self, selector: str | None = None, *, since: datetime | None = None, chunk: int = 500
    ) -> Iterator[ResultRow]:
        """Results matching ``selector`` (label, fingerprint or prefix, or organization) since
        ``since``, oldest first, read in chunks so a large ledger streams."""
        sql = f"""
            {_RESULTS_FROM}
            WHERE {_SELECTOR} AND (:since IS NULL OR r.checked_at >= :since)
            ORDER BY r.checked_at, r.id
        """
        try:
            cursor = self.conn.execute(sql, {"sel": selector, "since": to_text(since)})
            while rows := cursor.fetchmany(chunk):
                yield from self._results(rows)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the ledger {self.path}: {exc}") from None


def _fp_params(fingerprints: Collection[str] | None) -> dict[str, Any]:
    if fingerprints is None:
        return {"all": 1, "fps": "[]"}
    return {"all": 0, "fps": json.dumps(sorted(fingerprints))}


def _check_ownership(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a SQLite database that some other program made."""
    if schema_version(conn) != 0:
        return
    tables = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchone()[0]
    if tables:
        raise StoreError(
            f"{path} is a SQLite database but not a keyledger ledger; it was left untouched"
        )


__all__ = ["DB_NAME", "MIGRATIONS", "RunStatus", "Store", "batch_rows", "ledger_path"]
