"""The history tables fit the terminal like check's: one line a row, --wide shows all."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table

from keyledger.ledger.rows import BalanceRow, ResultRow
from keyledger.render.history import HISTORY_DROP, burn_table, history_table

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LONG = "finance team shared production key for the quarterly batch reports"
HEADERS = ["Checked (UTC)", "Label", "Key", "Status", "Reason", "Available", "Change"]
HEADERS += ["Spend", "Account"]


def _row(n: int, fp: str, label: str, **extra: Any) -> ResultRow:
    """A ledger row of key ``fp`` checked on day ``n``."""
    fields: dict[str, Any] = {
        "id": n,
        "run_id": n,
        "fingerprint": fp,
        "masked": f"sk-proj-…{fp[:4]}",
        "provider": "openai",
        "kind": "session",
        "label": label,
        "base_url": None,
        "checked_at": T0 + timedelta(days=n),
        "status": "ok",
        "reason": None,
        "organization": "org-acme-research-and-development",
    }
    fields.update(extra)
    return ResultRow(**fields)


def _rows() -> list[ResultRow]:
    """Three keys over five days: one spending USD and CNY, one admin, one that died."""
    rows = []
    for n in range(5):
        two = (
            BalanceRow("USD", Decimal("1234567.89") - 100 * n),
            BalanceRow("CNY", Decimal("81.69") - n),
        )
        rows.append(
            _row(n, "aaaa1", LONG, currency="USD", available=two[0].available, balance_rows=two)
        )
        rows.append(
            _row(
                n,
                "bbbb2",
                "org-admin",
                kind="admin",
                spend=Decimal(31 + 4 * n),
                spend_currency="USD",
            )
        )
        status = "ok" if n < 3 else "deactivated"
        reason = None if n < 3 else "account_deactivated"
        rows.append(
            _row(
                n,
                "cccc3",
                "intern-laptop",
                status=status,
                reason=reason,
                currency="USD",
                available=Decimal(50 - 5 * n),
            )
        )
    return rows


def _text(table: Table, width: int) -> str:
    """``table`` drawn on a recording console ``width`` columns wide."""
    console = Console(record=True, width=width, color_system=None, file=io.StringIO())
    console.print(table)
    return console.export_text()


def _lines_per_row(text: str) -> list[int]:
    """How many physical lines each body row takes (a row starts with a check time)."""
    lines = text.splitlines()
    body = lines[lines.index(next(line for line in lines if line.startswith("┡"))) + 1 : -1]
    counts: list[int] = []
    for line in body:
        if line.split("│")[1].strip()[:1].isdigit():
            counts.append(1)
        else:
            counts[-1] += 1
    return counts


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_history_rows_fit_at_every_width(width: int) -> None:
    """Each history row takes one line (two at most at 80) and no line is too wide."""
    rows = _rows()
    text = _text(history_table(rows, width=width), width)
    assert all(len(line) <= width for line in text.splitlines())
    counts = _lines_per_row(text)
    assert len(counts) == len(rows)
    assert max(counts) <= (2 if width < 100 else 1), text
    assert LONG in text or "finance team" in text  # ellipsised, not broken
    assert "1.2M USD +1 more" in text
    assert "spent 47" in text or "47.00 USD" in text  # the admin key's spend stays in view


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_burn_table_fits(width: int) -> None:
    """The burn and runway table fits too, one line per key and currency."""
    table = burn_table(_rows(), width=width)
    assert table is not None
    text = _text(table, width)
    assert all(len(line) <= width for line in text.splitlines())
    assert "/d" in text


def test_history_columns_give_way_in_order_and_wide_keeps_them() -> None:
    """Account goes first, then Spend, then Change; --wide keeps every column in full."""
    order = sorted(HISTORY_DROP, key=HISTORY_DROP.__getitem__)
    for width in (80, 100, 120, 200):
        shown = [c.header for c in history_table(_rows(), width=width).columns]
        dropped = [h for h in order if h not in shown]
        assert dropped == order[: len(dropped)]
        wide = history_table(_rows(), width=width, wide=True)
        assert [str(c.header) for c in wide.columns] == HEADERS
    text = _text(history_table(_rows(), width=80, wide=True), 400)
    assert "81.69 CNY" in text and "account_deactivated" in text and LONG in text
