"""The ledger chart: one line per key and currency, dates labelled to fit the span."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from keyledger.ledger.plot import build_figure, chart_data
from keyledger.ledger.rows import BalanceRow, ResultRow

pytest.importorskip("matplotlib")

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _row(n: int, at: datetime, balances: tuple[BalanceRow, ...], **extra: Any) -> ResultRow:
    """A ledger row of key ``fp`` holding ``balances``."""
    return ResultRow(
        id=n,
        run_id=n,
        fingerprint="fp",
        masked="sk-…abcd",
        provider="deepseek",
        kind="secret",
        label="wallet",
        base_url=None,
        checked_at=at,
        status="ok",
        reason=None,
        currency=balances[0].currency if balances else None,
        available=balances[0].available if balances else None,
        balance_rows=balances,
        **extra,
    )


def _series(step: timedelta, count: int = 6) -> dict[str, list[ResultRow]]:
    """One key holding CNY and USD, checked ``count`` times ``step`` apart."""
    rows = [
        _row(
            n,
            T0 + n * step,
            (BalanceRow("CNY", Decimal(100 - n)), BalanceRow("USD", Decimal(5) - n)),
        )
        for n in range(count)
    ]
    return {"fp": rows}


def _tick_labels(step: timedelta) -> tuple[list[str], str]:
    """The x tick labels and the offset text of a chart over ``count`` checks ``step`` apart."""
    figure = build_figure(chart_data(_series(step)))
    figure.canvas.draw()
    axes = figure.axes[0]
    labels = [t.get_text() for t in axes.get_xticklabels() if t.get_text()]
    return labels, axes.xaxis.get_offset_text().get_text()


def test_every_currency_of_a_key_is_its_own_line() -> None:
    """A key with CNY and USD balances is drawn as two lines, one per currency."""
    chart = chart_data(_series(timedelta(hours=1)))
    assert sorted((line.label, line.currency) for line in chart.balances) == [
        ("wallet", "CNY"),
        ("wallet", "USD"),
    ]
    usd = next(line for line in chart.balances if line.currency == "USD")
    assert [v for _, v in usd.points] == [Decimal(5) - n for n in range(6)]
    figure = build_figure(chart)
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["wallet (CNY)", "wallet (USD)"]


def test_a_short_span_is_labelled_in_hours_and_minutes() -> None:
    """Checks a few minutes apart get HH:MM ticks, never raw seconds with microseconds."""
    labels, offset = _tick_labels(timedelta(minutes=8))
    assert labels
    assert all(re.fullmatch(r"\d{2}:\d{2}|[A-Z][a-z]{2}-\d{2}|\d{2}", t) for t in labels), labels
    assert not any("." in t for t in labels)
    assert "2026" in offset  # the date goes once into the offset, not into every tick


def test_a_long_span_is_labelled_in_days_or_months() -> None:
    """Checks over weeks get day or month ticks, no time of day."""
    labels, _ = _tick_labels(timedelta(days=9))
    assert labels
    assert all(re.fullmatch(r"\d{2}|[A-Z][a-z]{2}|\d{4}", t) for t in labels), labels


def test_the_formatter_is_concise_dates() -> None:
    """Every panel's x axis uses matplotlib's ConciseDateFormatter and AutoDateLocator."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    figure = build_figure(chart_data(_series(timedelta(minutes=1))))
    for axes in figure.axes:
        assert isinstance(axes.xaxis.get_major_formatter(), ConciseDateFormatter)
        assert isinstance(axes.xaxis.get_major_locator(), AutoDateLocator)
