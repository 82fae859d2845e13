"""The progress bar on stderr: done of total, keys/s and the time left (ETA)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from keyledger.cli.consoles import ProgressBar
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.secret import Secret


def _result(n: int) -> CheckResult:
    """An ok result for key ``n``."""
    key = Key(Secret(f"sk-proj-progress{n:08d}abcdefghij"), f"fp{n}", f"k{n}", kind=Kind.SECRET)
    return CheckResult(key, Status.OK, None, datetime(2026, 1, 1, tzinfo=UTC))


def test_progress_shows_keys_per_second_and_eta() -> None:
    """After 500 of 2,000 keys in 5 s: 100 keys/s and 15 s left (0:00:15) are shown."""
    clock = [0.0]
    console = Console(
        record=True, width=160, force_terminal=True, color_system=None, file=io.StringIO()
    )
    progress = ProgressBar(2000, console, get_time=lambda: clock[0])
    for n in range(500):
        clock[0] = (n + 1) / 100
        progress.add(_result(n))
    console.print(progress.bar.get_renderable())
    text = console.export_text()
    assert "500/2000" in text
    assert "100 keys/s" in text
    assert "ETA 0:00:15" in text
    assert "500 ok" in text


def test_progress_before_any_result_has_no_rate() -> None:
    """Before the first result the rate reads -- keys/s (never a made-up number)."""
    console = Console(record=True, width=160, color_system=None, file=io.StringIO())
    progress = ProgressBar(10, console, get_time=lambda: 0.0)
    console.print(progress.bar.get_renderable())
    assert "-- keys/s" in console.export_text()
