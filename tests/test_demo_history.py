"""The demo's own ledger: weeks of clocked history, kept apart from the user's ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from keyledger.ledger import Store
from keyledger.simulator.demo import DEMO_ACCOUNTS
from keyledger.simulator.demo_history import HISTORY_DAYS, demo_epoch, ensure_demo_ledger

NOW = datetime(2026, 4, 22, 9, 30, tzinfo=UTC)


def test_history_is_daily_exact_and_filled_once(tmp_path: Path) -> None:
    """21 daily runs at their simulated times, spending exactly; a second call adds nothing,
    a later one adds the missed days only."""
    home = tmp_path / "home"
    path = ensure_demo_ledger(home, now=NOW)

    assert path == home / "demo" / "ledger.db"
    assert (home / "demo" / "install-secret").exists() and not (home / "ledger.db").exists()
    with Store.open(path, create=False) as store:
        runs = store.runs()
        latest = {r.label: r for r in store.latest().values()}
    start = NOW - timedelta(days=HISTORY_DAYS)
    assert [r.started_at for r in runs] == [start + timedelta(days=n) for n in range(21)]
    expected = len(DEMO_ACCOUNTS) + 1  # every demo account and the unreachable host
    assert all(r.status == "complete" and r.results_recorded == expected for r in runs)
    assert latest["relay-metered"].available == Decimal("44.66")  # 74.66 - 20 days x 1.50
    assert latest["team-credits (session)"].available == Decimal("60.000000")
    assert latest["intern-laptop"].status == "deactivated"
    assert demo_epoch(path) == start

    ensure_demo_ledger(home, now=NOW)
    ensure_demo_ledger(home, now=NOW + timedelta(days=3))
    with Store.open(path, create=False) as store:
        added = [r.started_at for r in store.runs()[21:]]
    assert added == [NOW, NOW + timedelta(days=1), NOW + timedelta(days=2)]


def test_stale_demo_story_starts_afresh(tmp_path: Path) -> None:
    """A demo ledger whose story began over 60 days ago is rebuilt, not extended for months."""
    home = tmp_path / "home"
    ensure_demo_ledger(home, now=NOW - timedelta(days=90))
    path = ensure_demo_ledger(home, now=NOW)

    with Store.open(path, create=False) as store:
        assert len(store.runs()) == HISTORY_DAYS
    assert demo_epoch(path) == NOW - timedelta(days=HISTORY_DAYS)


def test_demo_then_history_and_plot_with_demo_flag(run_cli: Any, isolated_env: Path) -> None:
    """`keyledger demo` records its history and today's run in its own ledger; `history
    --demo` then shows burn rates and runways; the user's ledger is never created."""
    demo = run_cli("demo", timeout=120)
    table = run_cli("history", "--demo")
    rows = json.loads(run_cli("history", "relay-metered", "--demo", "-f", "json").stdout)["rows"]
    plot = run_cli("plot", "--demo", "-o", str(isolated_env.parent / "demo.png"))
    mine = run_cli("history")

    assert demo.code == 0, demo.stderr
    assert "keyledger history --demo" in demo.stdout and "Recorded as run #22" in demo.stdout
    assert "Burn rate and runway" in table.stdout
    assert "1.50 USD/d" in table.stdout and "2.50 USD/d" in table.stdout
    assert len(rows) == 22 and Decimal(rows[-1]["balance"]["available"]) == Decimal("43.16")
    assert plot.code == 0, plot.stderr
    assert "no ledger yet" in mine.stderr and not (isolated_env / "ledger.db").exists()
