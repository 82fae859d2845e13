"""The check and history tables fit the terminal: one line a row, values shortened, --wide."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from keyledger.cli.demo import simulator_thread
from keyledger.engine import RunOptions
from keyledger.models import Balance, CheckResult
from keyledger.providers import CheckOptions
from keyledger.render.fit import compact_money
from keyledger.render.table import DROP_PRIORITY, REASON_SHORT, CheckTable
from keyledger.runner import run_checks
from keyledger.simulator.clock import SimClock
from keyledger.simulator.demo_history import demo_keys
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.simulator.server import SimState
from keyledger.transport import HttpOptions

WIDTHS = (80, 100, 120, 200)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONG_LABEL = "finance team shared production key for the quarterly batch reports"


def _run_demo(home: Path) -> list[CheckResult]:
    """The demo key set checked once by the real engine against the simulator."""
    with simulator_thread(SimState(clock=SimClock(NOW))) as sim:
        keys = demo_keys(home, sim.url, "http://127.0.0.1:9")
        report = asyncio.run(
            run_checks(
                keys,
                http=HttpOptions(attempt_deadline=5.0, connect_timeout=1.0, backoff_base=0.01),
                check=CheckOptions(base_urls=provider_base_urls(sim.url), now=lambda: NOW),
                run=RunOptions(concurrency=16),
            )
        )
    return list(report.results)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[CheckResult]:
    """The demo's real results, plus a key with a long label, a tier, and two currencies."""
    found = _run_demo(tmp_path_factory.mktemp("home"))
    funded = next(r for r in found if r.balance is not None and r.balance.available)
    assert funded.balance is not None
    cny = Balance(currency="CNY", source="test", read_at=NOW, available=Decimal("81.69"))
    big = replace(funded.balance, available=Decimal("1234567.89"))
    found.append(
        replace(
            funded,
            key=replace(funded.key, label=LONG_LABEL, fingerprint="long"),
            balance=big,
            balances=(big, cny),
            tier="tier-5 enterprise",
        )
    )
    return found


def _extra(results: Sequence[CheckResult]) -> dict[str, dict[str, Text]]:
    """The ledger's extra columns as check shows them, one cell per key."""
    fps = [r.key.fingerprint for r in results]
    return {
        "Since last": {fp: Text("quota→ok +12.50 USD") for fp in fps},
        "Trend": {fp: Text("█▇▆▆▅▄▄▃▂▂▁▁") for fp in fps},
        "Burn · runway": {fp: Text("2.50/d · 22d") for fp in fps},
    }


def _render(results: Sequence[CheckResult], width: int, *, wide: bool = False) -> str:
    """The check table drawn on a recording console ``width`` columns wide."""
    console = Console(record=True, width=width, color_system=None, file=io.StringIO())
    view = CheckTable(results, now=NOW, extra_columns=_extra(results), width=width, wide=wide)
    console.print(view.table())
    return console.export_text()


def _body_rows(text: str) -> list[list[str]]:
    """The physical lines of each table row: a row starts where its Status cell has text."""
    lines = text.splitlines()
    header = [h.strip() for h in lines[1].split("┃")]
    status = header.index("Status")
    body = lines[lines.index(next(line for line in lines if line.startswith("┡"))) + 1 : -1]
    rows: list[list[str]] = []
    for line in body:
        if line.split("│")[status].strip():
            rows.append([line])
        else:
            rows[-1].append(line)
    return rows


@pytest.mark.parametrize("width", WIDTHS)
def test_every_row_fits_on_one_line_or_two_at_80(results: list[CheckResult], width: int) -> None:
    """At 80, 100, 120 and 200 columns no line is wider than the terminal and each row takes
    one line (two at most at 80, where the key moves under the label)."""
    text = _render(results, width)
    assert all(len(line) <= width for line in text.splitlines())
    rows = _body_rows(text)
    assert len(rows) == len(results)
    most = 2 if width < 100 else 1
    assert max(len(row) for row in rows) <= most, text


@pytest.mark.parametrize("width", WIDTHS)
def test_labels_and_reasons_are_shortened_never_broken(
    results: list[CheckResult], width: int
) -> None:
    """A label or reason is shown whole or cut with an ellipsis; never split across lines."""
    text = _render(results, width)
    for row in _body_rows(text):
        label = row[0].split("│")[1].strip()
        assert label.endswith("…") or any(label == r.key.label for r in results), label
    reasons = {
        REASON_SHORT.get(r.reason or "", (r.reason or "").replace("_", " ")) for r in results
    }
    header = text.splitlines()[1].split("┃")
    column = [h.strip() for h in header].index("Reason")
    for row in _body_rows(text):
        cell = row[0].split("│")[column].strip().split(" · retry")[0]
        assert cell in reasons or cell.endswith("…"), cell


def test_columns_give_way_in_the_documented_order(results: list[CheckResult]) -> None:
    """Narrower terminals drop RPM/TPM first, then Trend, Expires, Kind, Tier…; Label,
    Status, Reason and the money stay at every width."""
    order = sorted(DROP_PRIORITY, key=DROP_PRIORITY.__getitem__)
    extra = _extra(results)
    for width in WIDTHS:
        shown = CheckTable(results, now=NOW, extra_columns=extra, width=width).headers
        dropped = [h for h in order if h not in shown]
        assert dropped == order[: len(dropped)], (width, dropped)
        assert {"Label", "Status", "Reason", "Available"} <= set(shown)
    assert "RPM / TPM" not in CheckTable(results, now=NOW, extra_columns=extra, width=120).headers
    assert CheckTable(results, now=NOW, extra_columns=extra, width=80).headers[:1] == ["Label"]


def test_wide_shows_every_column_and_full_values(results: list[CheckResult]) -> None:
    """--wide keeps every column at any width, with full reasons and every currency."""
    every = ["Label", "Key", "Kind", "Status", "Reason", "Available / Granted / Used"]
    every += ["Expires", "RPM / TPM", "Tier", "Since last", "Trend", "Burn · runway"]
    for width in WIDTHS:
        view = CheckTable(results, now=NOW, extra_columns=_extra(results), width=width, wide=True)
        assert view.headers == every
    text = _render(results, 400, wide=True)
    assert "81.69 CNY" in text and "invalid_api_key" in text and LONG_LABEL in text


def test_a_multi_currency_balance_is_one_line_when_narrow(results: list[CheckResult]) -> None:
    """A key holding two currencies shows the primary, compact, and ``+1 more``."""
    text = _render(results, 100)
    assert "1.2M USD +1 more" in text
    assert "81.69 CNY" not in text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("49.25", "49.25 USD"),
        ("999.99", "999.99 USD"),
        ("1234.56", "1.2k USD"),
        ("1000", "1k USD"),
        ("2500000", "2.5M USD"),
        ("-1500", "-1.5k USD"),
        (None, "-"),
    ],
)
def test_compact_money(value: str | None, shown: str) -> None:
    """Amounts are compacted for narrow columns: below 1,000 exact to the cent, then k/M."""
    assert compact_money(None if value is None else Decimal(value), "usd") == shown


def test_chunks_share_one_layout(results: list[CheckResult]) -> None:
    """Drawn in chunks (a deadline), every chunk has the same columns as the whole."""
    view = CheckTable(results, now=NOW, extra_columns=_extra(results), width=100)
    rows = view.rows
    assert len(view.table(rows[:3]).columns) == len(view.table(rows[3:]).columns)
    assert view.table(rows[:3]).row_count == 3


def test_retry_after_joins_the_reason_line(results: list[CheckResult]) -> None:
    """A rate-limited key's retry time stays on the reason's line when narrow."""
    limited = [r for r in results if r.retry_at is not None]
    assert limited
    text = _render(limited, 100)
    assert re.search(r"rate limit · retry \S+", text), text
