"""Charts of the ledger: available balance and spend over time, one line per key and
currency.

matplotlib is an optional extra (``pip install 'keyledger[plot]'``); it is imported only
when a chart is drawn, always through the non-interactive Agg canvas (no display, no
global pyplot state). Values become floats here only, for drawing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from keyledger.errors import KeyledgerError
from keyledger.ledger.rows import ResultRow
from keyledger.sanitize import clean_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_LINES = 20


class PlotError(KeyledgerError):
    """A chart cannot be drawn (matplotlib missing, or nothing to draw)."""


@dataclass
class Line:
    """One key's points on one chart."""

    label: str
    currency: str
    points: list[tuple[datetime, Decimal]] = field(default_factory=list)


@dataclass
class Chart:
    """What to draw: balances and spend, one line per key."""

    balances: list[Line] = field(default_factory=list)
    spend: list[Line] = field(default_factory=list)
    left_out: int = 0

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return not self.balances and not self.spend


def _latest_by_currency(
    rows: Sequence[ResultRow],
) -> dict[str, list[tuple[datetime, Decimal]]]:
    """Each currency's known available money over ``rows``: one series per currency."""
    series: dict[str, list[tuple[datetime, Decimal]]] = {}
    for row in rows:
        for balance in row.balances:
            if balance.known and balance.available is not None and balance.currency:
                series.setdefault(balance.currency, []).append((row.checked_at, balance.available))
    return series


def chart_data(series: Mapping[str, Sequence[ResultRow]], max_lines: int = MAX_LINES) -> Chart:
    """Lines from each key's rows (oldest first): one line per key and currency, for every
    currency a key holds. Keeps the ``max_lines`` lines with the most money (latest value);
    the rest are counted in :attr:`Chart.left_out`."""
    balances: list[tuple[Decimal, Line]] = []
    spend: list[tuple[Decimal, Line]] = []
    for rows in series.values():
        if not rows:
            continue
        label = clean_label(rows[-1].label, 40)
        for currency, points in sorted(_latest_by_currency(rows).items()):
            balances.append((points[-1][1], Line(label, currency, points)))
        spent: dict[str, list[tuple[datetime, Decimal]]] = {}
        for row in rows:
            if row.spend is not None:
                spent.setdefault(row.spend_currency or "", []).append((row.checked_at, row.spend))
        for currency, points in sorted(spent.items()):
            spend.append((points[-1][1], Line(label, currency, points)))
    chart = Chart()
    for source, target in ((balances, chart.balances), (spend, chart.spend)):
        source.sort(key=lambda pair: pair[0], reverse=True)
        target.extend(line for _, line in source[:max_lines])
        chart.left_out += max(0, len(source) - max_lines)
    return chart


def render_png(chart: Chart, *, title: str = "keyledger", dpi: int = 100) -> bytes:
    """The chart as PNG bytes.

    Raises:
        PlotError: matplotlib is not installed, or there is nothing to draw.
    """
    figure = build_figure(chart, title=title, dpi=dpi)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def build_figure(chart: Chart, *, title: str = "keyledger", dpi: int = 100) -> Figure:
    """The chart as a matplotlib figure on the Agg canvas. Dates on the x axis are labelled
    to fit the span (matplotlib's ``AutoDateLocator`` and ``ConciseDateFormatter``): minutes
    for a run of a few minutes, days or months for weeks of history, never raw seconds.

    Raises:
        PlotError: matplotlib is not installed, or there is nothing to draw.
    """
    if chart.empty:
        raise PlotError("nothing to plot: no balances or spend recorded yet")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError("plotting needs matplotlib: pip install 'keyledger[plot]'") from None
    panels = [
        (name, lines)
        for name, lines in (("Available", chart.balances), ("Spend", chart.spend))
        if lines
    ]
    figure = Figure(figsize=(10, 3.6 * len(panels) + 0.6), dpi=dpi)
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    for axes, (name, lines) in zip(axes_list, panels, strict=True):
        for line in lines:
            times = [t for t, _ in line.points]
            values = [float(v) for _, v in line.points]
            axes.plot(
                times,
                values,
                marker="o",
                markersize=3,
                drawstyle="steps-post",
                label=f"{line.label} ({line.currency.upper()})",
            )
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(
            ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
        )
        axes.set_ylabel(name)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    axes_list[0].set_title(title)
    figure.tight_layout()
    return figure
