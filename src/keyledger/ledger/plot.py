"""Charts of the ledger: available balance and spend over time, one line per key.

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

from keyledger.errors import KeyledgerError
from keyledger.ledger.rows import ResultRow
from keyledger.sanitize import clean_label

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


def chart_data(series: Mapping[str, Sequence[ResultRow]], max_lines: int = MAX_LINES) -> Chart:
    """Lines from each key's rows (oldest first); keeps the ``max_lines`` keys with the most
    money, the rest are counted in :attr:`Chart.left_out`."""
    balances: list[tuple[Decimal, Line]] = []
    spend: list[tuple[Decimal, Line]] = []
    for rows in series.values():
        if not rows:
            continue
        label = clean_label(rows[-1].label, 40)
        money = [r for r in rows if r.available is not None and r.currency and not r.token_uncapped]
        if money:
            currency = money[-1].currency or ""
            line = Line(
                label,
                currency,
                [
                    (r.checked_at, r.available)
                    for r in money
                    if r.available is not None and r.currency == currency
                ],
            )
            balances.append((money[-1].available or Decimal(0), line))
        spent = [r for r in rows if r.spend is not None]
        if spent:
            currency = spent[-1].spend_currency or ""
            line = Line(
                label, currency, [(r.checked_at, r.spend) for r in spent if r.spend is not None]
            )
            spend.append((spent[-1].spend or Decimal(0), line))
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
    if chart.empty:
        raise PlotError("nothing to plot: no balances or spend recorded yet")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
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
        axes.set_ylabel(name)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    axes_list[0].set_title(title)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
