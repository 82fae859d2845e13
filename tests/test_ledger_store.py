"""The SQLite ledger: file modes, settings, migrations, refusals, writes, secrets, backup."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from keyledger.errors import StoreError
from keyledger.ledger import EvidenceRow, LedgerRecorder, Store, ledger_path, run_insights
from keyledger.ledger.migrations import MIGRATIONS
from keyledger.ledger.store import DB_NAME
from keyledger.models import (
    Account,
    Balance,
    CheckResult,
    Evidence,
    Grant,
    Key,
    Kind,
    Spend,
    Status,
)
from keyledger.secret import Fingerprinter, Secret

FP = Fingerprinter(b"k" * 32)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")

# The schema as migration 1 left it: a frozen copy, so this fixture never follows the code.
V1_SCHEMA = (
    """CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
       status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted')),
       keys_total INTEGER NOT NULL, results_recorded INTEGER, pid INTEGER, tool_version TEXT)""",
    """CREATE TABLE keys (fingerprint TEXT PRIMARY KEY, masked TEXT NOT NULL,
       provider TEXT NOT NULL, kind TEXT NOT NULL, first_seen TEXT NOT NULL,
       last_seen TEXT NOT NULL)""",
    """CREATE TABLE results (id INTEGER PRIMARY KEY,
       run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
       fingerprint TEXT NOT NULL REFERENCES keys (fingerprint), label TEXT NOT NULL,
       base_url TEXT, checked_at TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
       currency TEXT, granted TEXT, used TEXT, available TEXT, unlimited INTEGER,
       balance_source TEXT, balance_reason TEXT, balance_expires_at TEXT, next_expiry TEXT,
       spend TEXT, spend_currency TEXT, spend_start TEXT, spend_end TEXT, organization TEXT,
       UNIQUE (run_id, fingerprint))""",
    "CREATE INDEX results_by_key ON results (fingerprint, checked_at)",
)

FINAL_COLUMNS = {
    "runs": [
        "id", "started_at", "finished_at", "status", "keys_total", "results_recorded", "pid",
        "tool_version",
    ],
    "keys": ["fingerprint", "masked", "provider", "kind", "first_seen", "last_seen"],
    "results": [
        "id", "run_id", "fingerprint", "label", "base_url", "checked_at", "status", "reason",
        "currency", "granted", "used", "available", "unlimited", "balance_source",
        "balance_reason", "balance_expires_at", "next_expiry", "spend", "spend_currency",
        "spend_start", "spend_end", "organization", "attempts", "duration_ms", "calls", "tier",
    ],
    "balances": [
        "id", "result_id", "currency", "granted", "used", "available", "token_uncapped",
        "reading", "source", "parts",
    ],
    "grants": [
        "id", "result_id", "grant_id", "amount", "used", "effective_at", "expires_at", "expired",
    ],
    "meta": ["name", "value"],
    "alert_state": [
        "rule", "subject", "active", "streak", "crossings", "changed_at", "updated_at",
    ],
    "alert_events": [
        "event_id", "run_id", "rule", "kind", "subject", "fingerprint", "masked_key", "provider",
        "account", "status", "reason", "summary", "at", "figures", "submitted",
    ],
    "alert_outbox": [
        "id", "event_id", "channel", "event_json", "created_at", "attempts", "next_attempt_at",
        "delivered_at", "last_error",
    ],
    "evidence": [
        "result_id", "position", "endpoint", "http_status", "error_type", "error_code",
        "message", "attempts", "outcome",
    ],
}  # fmt: skip


def make_key(label: str, n: int = 0) -> Key:
    """A key whose secret body is unique to ``label``/``n``."""
    value = f"sk-proj-LEDGERTEST{n:04d}{label.encode().hex()[:12]}Zq8Wm3Xr7Tb2"
    return Key(secret=Secret(value), fingerprint=FP(value), label=label, kind=Kind.SECRET)


def result(
    key: Key,
    *,
    status: Status = Status.OK,
    available: str | None = "10.00",
    at: datetime = NOW,
    grants: tuple[Grant, ...] = (),
    spend: Spend | None = None,
) -> CheckResult:
    """A result with a USD balance (``available`` None: no balance at all)."""
    balance = None
    if available is not None:
        balance = Balance(
            currency="USD",
            source="/dashboard/billing/credit_grants",
            read_at=at,
            granted=Decimal("100.00"),
            used=Decimal("100.00") - Decimal(available),
            available=Decimal(available),
            grants=grants,
        )
    return CheckResult(
        key=key,
        status=status,
        reason=None if status is Status.OK else "insufficient_quota",
        checked_at=at,
        balance=balance,
        spend=spend,
        account=Account(organization="org-test"),
        attempts=1,
        duration_ms=12,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def test_ledger_lives_in_keyledger_home(isolated_env: Path) -> None:
    """The ledger is ledger.db in $KEYLEDGER_HOME."""
    assert ledger_path(os.environ) == isolated_env / DB_NAME


def test_migrations_from_empty_reach_the_final_schema(tmp_path: Path) -> None:
    """A new ledger gets every migration, in order, and exactly the documented schema."""
    with Store.open(tmp_path / "l.db") as store:
        assert store.version == len(MIGRATIONS) == 9
        for table, expected in FINAL_COLUMNS.items():
            assert columns(store.conn, table) == expected
    names = [m.__name__ for m in MIGRATIONS]
    assert names == sorted(names) and all(
        n.startswith(f"m{i + 1:03d}_") for i, n in enumerate(names)
    )


def test_migrations_from_a_version_1_ledger_keep_its_rows(tmp_path: Path) -> None:
    """An older ledger (schema 1, with data) is migrated in place and keeps every row."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in V1_SCHEMA:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO runs VALUES (1, '2025-01-01T00:00:00.000000Z', "
        "'2025-01-01T00:00:05.000000Z', 'complete', 1, 1, 1, '0.0.9')"
    )
    conn.execute(
        "INSERT INTO keys VALUES ('abcd1234abcd1234', 'sess-…wxyz', 'openai', 'session', "
        "'2025-01-01T00:00:01.000000Z', '2025-01-01T00:00:01.000000Z')"
    )
    conn.execute(
        "INSERT INTO results (run_id, fingerprint, label, checked_at, status, currency, "
        "available) VALUES (1, 'abcd1234abcd1234', 'old', '2025-01-01T00:00:01.000000Z', "
        "'ok', 'USD', '12.34')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.version == len(MIGRATIONS)
        for table, expected in FINAL_COLUMNS.items():
            assert columns(store.conn, table) == expected
        (row,) = store.iter_results()
        assert (row.label, row.available, row.attempts) == ("old", Decimal("12.34"), None)
        assert store.runs()[0].tool_version == "0.0.9"
        assert store.integrity() == "ok"


def test_a_failing_migration_rolls_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration that fails leaves the ledger at its previous version, unchanged."""
    path = tmp_path / "l.db"
    Store.open(path).close()

    def m999_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        raise sqlite3.OperationalError("boom")

    monkeypatch.setattr("keyledger.ledger.migrations.MIGRATIONS", [*MIGRATIONS, m999_broken])
    with pytest.raises(StoreError):
        Store.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half'").fetchall()
    conn.close()


def test_a_ledger_from_a_newer_keyledger_is_refused(tmp_path: Path) -> None:
    """A schema version above what this keyledger knows is refused, not downgraded."""
    path = tmp_path / "l.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(path)


@pytest.mark.parametrize(
    "content",
    [b"not a database at all\n" * 10, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["text", "corrupt-sqlite"],
)
def test_a_non_sqlite_or_corrupt_file_is_refused_and_left_untouched(
    tmp_path: Path, content: bytes
) -> None:
    """A file that is not a usable SQLite database is refused clearly and never overwritten."""
    path = tmp_path / DB_NAME
    path.write_bytes(content)
    with pytest.raises(StoreError, match="left untouched"):
        Store.open(path)
    assert path.read_bytes() == content
    assert not Path(f"{path}-wal").exists()


def test_another_programs_sqlite_database_is_refused(tmp_path: Path) -> None:
    """A SQLite database with foreign tables and no keyledger version is not taken over."""
    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a keyledger ledger"):
        Store.open(path)


def test_sqlite_settings_are_wal_full_sync_busy_timeout_foreign_keys(tmp_path: Path) -> None:
    """WAL, synchronous=FULL, busy_timeout >= 5000 and foreign keys are on (D2)."""
    with Store.open(tmp_path / "l.db") as store:
        pragma = lambda name: store.conn.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2
        assert pragma("busy_timeout") >= 5000
        assert pragma("foreign_keys") == 1


@posix_only
def test_db_wal_and_shm_are_0600_in_a_0700_dir_whatever_the_umask(tmp_path: Path) -> None:
    """Under umask 000 the ledger directory is 0700 and db, -wal and -shm are 0600 (D1)."""
    home = tmp_path / "home"
    old = os.umask(0)
    try:
        with Store.open(home / DB_NAME) as store:
            run = store.begin_run(1)
            store.record(run, [result(make_key("a"))])
            for suffix in ("", "-wal", "-shm"):
                assert mode(Path(f"{store.path}{suffix}")) == 0o600, suffix
    finally:
        os.umask(old)
    assert mode(home) == 0o700


@posix_only
def test_a_looser_existing_ledger_and_dir_are_tightened(tmp_path: Path) -> None:
    """A pre-existing 0644 ledger in a 0755 directory becomes 0600 in 0700."""
    home = tmp_path / "home"
    Store.open(home / DB_NAME).close()
    home.chmod(0o755)
    (home / DB_NAME).chmod(0o644)
    Store.open(home / DB_NAME).close()
    assert mode(home / DB_NAME) == 0o600
    assert mode(home) == 0o700


def test_results_round_trip_with_exact_money_as_text_and_null_for_missing(tmp_path: Path) -> None:
    """Money is stored as exact TEXT and read back equal; a missing balance is NULL, not 0."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(2)
        store.record(
            run,
            [
                result(make_key("cents"), available="0.10"),
                result(make_key("none", 1), available=None),
            ],
        )
        store.finish_run(run, "complete")
        types = store.conn.execute(
            "SELECT label, typeof(available), typeof(granted) FROM results ORDER BY label"
        ).fetchall()
        assert [tuple(t) for t in types] == [("cents", "text", "text"), ("none", "null", "null")]
        rows = {r.label: r for r in store.iter_results()}
        assert rows["cents"].available == Decimal("0.10")
        assert rows["cents"].used == Decimal("99.90")
        assert rows["none"].available is None and rows["none"].currency is None
        assert store.runs()[0].status == "complete" and store.runs()[0].results_recorded == 2


def test_sql_injection_in_a_label_round_trips_intact(tmp_path: Path) -> None:
    """A label such as '); DROP TABLE results;-- is stored and found verbatim (D4)."""
    label = "'); DROP TABLE results;--"
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(1)
        store.record(run, [result(make_key(label))])
        (found,) = store.iter_results(label)
        assert found.label == label
        assert store.count_results() == 1


def test_every_result_references_its_run_and_a_key_once_per_run(tmp_path: Path) -> None:
    """Foreign keys hold, and the same key is recorded once per run."""
    key = make_key("a")
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(1)
        assert store.record(run, [result(key)]) == 1
        assert store.record(run, [result(key)]) == 0
        with pytest.raises(StoreError):
            store.record(run + 100, [result(make_key("b"))])
        assert store.count_results() == 1


def test_evidence_round_trips_in_call_order_once_per_result(tmp_path: Path) -> None:
    """Each result's evidence is recorded with it in call order, read back whole, and a key
    recorded twice in a run keeps its first evidence only."""
    key, quiet = make_key("a"), make_key("b", 1)
    answers = (
        Evidence("/v1/models", 429, "rate_limit", "rl_1", "slow down", 3, "rate_limited"),
        Evidence("/v1/dashboard/billing/credit_grants", 200, outcome="balance"),
    )
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(2)
        first = dataclasses.replace(result(key), evidence=answers)
        store.record(run, [first, result(quiet)])
        store.record(run, [dataclasses.replace(first, evidence=answers[:1])])
        ids = {r.label: r.id for r in store.results_of_run(run)}
        found = store.evidence(ids.values())
    assert found == {
        ids["a"]: [
            EvidenceRow(ids["a"], 0, "/v1/models", 429, "rate_limit", "rl_1", "slow down", 3,
                        "rate_limited"),
            EvidenceRow(ids["a"], 1, "/v1/dashboard/billing/credit_grants", 200,
                        outcome="balance"),
        ]
    }  # fmt: skip


def test_a_damaged_evidence_row_is_skipped_and_counted(tmp_path: Path) -> None:
    """An evidence row whose endpoint is not text is left out and counted, never raised."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(1)
        answer = Evidence("/v1/models", 401, message="bad key")
        store.record(run, [dataclasses.replace(result(make_key("a")), evidence=(answer,) * 2)])
        (row,) = store.results_of_run(run)
        store.conn.execute("UPDATE evidence SET endpoint = x'07' WHERE position = 1")
        found = store.evidence([row.id])
        assert [e.message for e in found[row.id]] == ["bad key"]
        assert store.damaged == 1


def test_stale_running_run_of_a_dead_process_becomes_interrupted(tmp_path: Path) -> None:
    """A run left 'running' by a killed process is marked interrupted by the next run."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with Store.open(tmp_path / "l.db") as store:
        old = store.begin_run(3)
        store.conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (int(dead.stdout), old))
        store.begin_run(1)
        assert [r.status for r in store.runs()] == ["interrupted", "running"]


def test_no_key_nor_any_8_char_window_of_its_body_is_stored(tmp_path: Path) -> None:
    """Only fingerprints and masked keys reach the db, -wal and -shm bytes and the dump (S1, S3)."""
    keys = [make_key(f"k{i}", i) for i in range(20)]
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(len(keys))
        store.record(run, [result(k) for k in keys])
        blobs = [Path(f"{store.path}{s}").read_bytes() for s in ("", "-wal", "-shm")]
        blobs.append("\n".join(store.conn.iterdump()).encode())
        fingerprints = {r[0] for r in store.conn.execute("SELECT fingerprint FROM keys")}
    assert fingerprints == {k.fingerprint for k in keys}
    for key in keys:
        body = key.secret.reveal()[len("sk-proj-") :]
        windows = {body[i : i + 8].encode() for i in range(len(body) - 7)}
        for blob in blobs:
            assert key.secret.reveal().encode() not in blob
            assert not [w for w in windows if w in blob]


def test_recorder_commits_in_batches_of_at_most_50(tmp_path: Path) -> None:
    """120 results arrive: they are committed 50, 50, then 20 when the run finishes."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(120)
        recorder = LedgerRecorder(store, run, clock=lambda: 0.0)
        for i in range(120):
            recorder.add(result(make_key("k", i)))
            if i == 49:
                recorder.drain()
                assert store.count_results() == 50
        recorder.drain()
        assert (store.count_results(), recorder.batches) == (100, 2)
        recorder.finish("complete")
        assert (store.count_results(), recorder.batches) == (120, 3)
        assert store.runs()[0].status == "complete"


async def test_recorder_commits_a_lone_result_within_the_delay(tmp_path: Path) -> None:
    """A result followed by no other is committed by the timer, seen from another connection."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(2)
        recorder = LedgerRecorder(store, run, max_delay=0.05)
        recorder.add(result(make_key("alone")))
        reader = sqlite3.connect(store.path)
        try:
            for _ in range(200):
                if reader.execute("SELECT count(*) FROM results").fetchone()[0]:
                    break
                await asyncio.sleep(0.02)
            assert reader.execute("SELECT count(*) FROM results").fetchone()[0] == 1
        finally:
            reader.close()


def test_a_full_disk_stops_recording_cleanly_and_keeps_what_was_committed(tmp_path: Path) -> None:
    """With the database unable to grow, the recorder keeps committed rows and reports (D6)."""
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(400)
        recorder = LedgerRecorder(store, run, max_rows=10, clock=lambda: 0.0)
        for i in range(10):
            recorder.add(result(make_key("k", i)))
        recorder.drain()
        assert store.count_results() == 10
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")
        for i in range(10, 400):
            recorder.add(result(make_key("k", i)))
        recorder.finish("complete")
        assert recorder.error is not None and "full" in str(recorder.error)
        assert 10 <= recorder.recorded < 400
        assert recorder.recorded + recorder.dropped == 400
        assert store.count_results() == recorder.recorded
        assert store.integrity() == "ok"


def test_backup_uses_vacuum_into_a_new_0600_file(tmp_path: Path) -> None:
    """backup writes a complete, sound copy to a new file and refuses to overwrite one (D6)."""
    target = tmp_path / "backup.db"
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(3)
        store.record(run, [result(make_key("k", i)) for i in range(3)])
        store.backup(target)
        with pytest.raises(StoreError, match="already exists"):
            store.backup(target)
    if os.name == "posix":
        assert mode(target) == 0o600
    with Store.open(target) as copy:
        assert copy.count_results() == 3 and copy.integrity() == "ok"


def test_run_insights_show_changes_burn_runway_and_expiring_grants(tmp_path: Path) -> None:
    """Three recorded runs a day apart give the delta, 5/day burn, 2-day runway and warnings."""
    key, other = make_key("trial"), make_key("steady", 1)
    grant = Grant(
        Decimal(20), Decimal(10), NOW - timedelta(days=30), NOW + timedelta(days=4), False, "g1"
    )
    with Store.open(tmp_path / "l.db") as store:
        for day, available in enumerate(("20.00", "15.00", "10.00")):
            at = NOW - timedelta(days=2 - day)
            run = store.begin_run(2, now=at)
            store.record(
                run,
                [result(key, available=available, at=at, grants=(grant,)), result(other, at=at)],
            )
            store.finish_run(run, "complete", now=at)
        insights = run_insights(store, run, now=NOW, warn_days=7)
    trial = insights.keys[key.fingerprint]
    assert trial.change.balance_delta == Decimal("-5.00")
    assert trial.burn is not None and trial.burn.per_day == Decimal(5)
    assert trial.runway == Decimal(2)
    assert trial.spark == "█▄▁"
    assert insights.keys[other.fingerprint].runway is None
    assert (insights.balance_changes, insights.new_keys, insights.status_changes) == (1, 0, 0)
    assert insights.previous_run is not None and insights.previous_run.id == run - 1
    assert [(w.label, w.what, w.left) for w in insights.warnings] == [
        ("trial", "grant", Decimal(10)),
    ]


class _CountingConn:
    """A connection proxy that counts ``execute``/``executemany`` calls."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.calls = conn, 0

    def execute(self, *args: object) -> sqlite3.Cursor:
        self.calls += 1
        return self.conn.execute(*args)  # type: ignore[arg-type]

    def executemany(self, *args: object) -> sqlite3.Cursor:
        self.calls += 1
        return self.conn.executemany(*args)  # type: ignore[arg-type]

    def getlimit(self, category: int) -> int:
        return self.conn.getlimit(category)

    @property
    def total_changes(self) -> int:
        return self.conn.total_changes


def test_a_batch_is_written_with_a_fixed_number_of_statements(tmp_path: Path) -> None:
    """Recording 40 results issues as many statements as recording 2 (one per table)."""
    grant = Grant(Decimal(20), Decimal(10), NOW - timedelta(days=3), NOW, False, "g1")
    answer = Evidence("/v1/models", 200, outcome="ok")
    counts = []
    with Store.open(tmp_path / "l.db") as store:
        for size in (2, 40):
            run = store.begin_run(size)
            counting = _CountingConn(store.conn)
            store.conn = counting  # type: ignore[assignment]
            batch = [
                dataclasses.replace(result(make_key(f"k{size}", n), grants=(grant,)),
                                    evidence=(answer,))
                for n in range(size)
            ]  # fmt: skip
            assert store.record(run, batch) == size
            store.conn = counting.conn
            counts.append(counting.calls)
    assert counts[0] == counts[1]


def test_batched_rows_attach_to_their_own_result_and_the_first_duplicate_wins(
    tmp_path: Path,
) -> None:
    """In one batch each result's balance, grants and evidence go to its own row; a key
    twice in the batch, or already in the run, is recorded once (the first result)."""
    keys = [make_key("k", n) for n in range(5)]
    batch = []
    for n, key in enumerate(keys):
        grant = Grant(Decimal(n + 1), Decimal(0), NOW - timedelta(days=1), None, False, f"g{n}")
        answer = Evidence(f"/call/{n}", 200, outcome="ok")
        one = result(key, available=f"{n}.00", grants=(grant,))
        batch.append(dataclasses.replace(one, evidence=(answer,)))
    late = dataclasses.replace(result(keys[1], available="99.00"), evidence=())
    with Store.open(tmp_path / "l.db") as store:
        run = store.begin_run(6)
        assert store.record(run, batch[:1]) == 1
        assert store.record(run, [*batch, late, batch[0]]) == 4
        rows = {r.fingerprint: r for r in store.results_of_run(run)}
        ids = [r.id for r in rows.values()]
        grants, evidence = store.grants(ids), store.evidence(ids)
    assert len(rows) == 5
    for n, key in enumerate(keys):
        row = rows[key.fingerprint]
        assert row.available == Decimal(f"{n}.00")
        assert [(g.grant_id, g.amount) for g in grants[row.id]] == [(f"g{n}", Decimal(n + 1))]
        assert [e.endpoint for e in evidence[row.id]] == [f"/call/{n}"]
