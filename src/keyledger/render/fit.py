"""Tables that fit the terminal: columns dropped or merged by priority, values shortened.

A responsive table is a list of :class:`Column` (header, one ``Text`` cell per row, a drop
priority). :func:`fit` keeps every row on one line at the given width:

1. long labels and reasons are first held to a comfortable width (``soft_max``);
   columns with a ``drop`` priority are dropped, lowest number first, until the table fits;
2. then the ``shrink`` columns (labels, reasons) are narrowed, the widest first, down to
   their ``min_width``, their values ending in ``…`` (never broken mid-word, never wrapped);
3. then a column with ``merge_into`` (the masked key) moves under another column's value
   (a second line per row: the only case where a row takes two lines, at about 80 columns);
4. room left over goes back to the shortened columns.

With ``wide`` nothing is dropped, shortened or merged: every column is shown, and cells wrap
as they need to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.table import Column as RichColumn
from rich.table import Table
from rich.text import Text

from keyledger.money import fmt_money

ELLIPSIS = "…"


@dataclass
class Column:
    """One column: ``drop`` (lower goes first; ``None`` = always kept), ``shrink`` to at
    least ``min_width`` with an ellipsis (starting from ``soft_max``: one long label does not
    push other columns out), or ``merge_into`` another column as a second line."""

    header: str
    cells: list[Text] = field(default_factory=list)
    drop: int | None = None
    justify: JustifyMethod = "left"
    shrink: bool = False
    min_width: int = 8
    soft_max: int | None = None
    merge_into: str | None = None
    max_width: int | None = None

    @property
    def natural(self) -> int:
        """The width this column needs to show every cell on one line, header included."""
        widest = cell_len(self.header)
        for cell in self.cells:
            for line in cell.plain.split("\n"):
                widest = max(widest, cell_len(line))
        return widest

    @property
    def width(self) -> int:
        """The width the column takes: its natural width, capped by ``max_width``."""
        natural = self.natural
        return natural if self.max_width is None else min(natural, self.max_width)


def table_width(columns: Sequence[Column]) -> int:
    """The width of a boxed rich table of ``columns``: cells, 1+1 padding, the rules."""
    return sum(c.width for c in columns) + 3 * len(columns) + 1


def _shrink(columns: list[Column], width: int) -> None:
    """Narrow the ``shrink`` columns, the widest first, until the table fits ``width`` or
    each is down to its ``min_width``."""
    shrinkable = [c for c in columns if c.shrink]
    for column in shrinkable:
        column.max_width = column.soft_max
    widths = {id(c): c.width for c in shrinkable}
    excess = table_width(columns) - width
    while excess > 0:
        widest = max(shrinkable, key=lambda c: widths[id(c)] - c.min_width, default=None)
        if widest is None or widths[id(widest)] <= widest.min_width:
            break
        widths[id(widest)] -= 1
        widest.max_width = widths[id(widest)]
        excess -= 1


def _grow(columns: list[Column], width: int) -> None:
    """Give room left over to the shortened columns, up to their natural width."""
    spare = width - table_width(columns)
    for column in columns:
        if spare <= 0:
            return
        if column.shrink and column.max_width is not None:
            extra = min(spare, column.natural - column.max_width)
            if extra > 0:
                column.max_width += extra
                spare -= extra


def _merge(columns: list[Column], merged: Column) -> list[Column]:
    target = next(c for c in columns if c.header == merged.merge_into)
    cells = []
    for above, below in zip(target.cells, merged.cells, strict=True):
        cell = above.copy()
        if below.plain:
            cell.append("\n")
            tail = below.copy()
            tail.stylize("dim")
            cell.append_text(tail)
        cells.append(cell)
    joined = replace(target, cells=cells, max_width=None)
    return [joined if c is target else c for c in columns if c is not merged]


def fit(columns: Sequence[Column], width: int | None, *, wide: bool = False) -> list[Column]:
    """The columns to show at ``width`` (see the module doc); all of them with ``wide``."""
    kept = [replace(c) for c in columns]
    if wide or width is None:
        return kept
    for column in kept:
        if column.shrink:
            column.max_width = column.soft_max
    for column in sorted(
        (c for c in kept if c.drop is not None and c.merge_into is None),
        key=lambda c: c.drop or 0,
    ):
        if table_width(kept) <= width:
            break
        kept.remove(column)
    _shrink(kept, width)
    for column in [c for c in kept if c.merge_into is not None]:
        if table_width(kept) <= width:
            break
        kept = _merge(kept, column)
        _shrink(kept, width)
    _grow(kept, width)
    return kept


def build(
    columns: Sequence[Column],
    *,
    wide: bool = False,
    show_header: bool = True,
    title: str | None = None,
    rows: Sequence[int] | None = None,
) -> Table:
    """A rich table of ``columns`` (already :func:`fit`), for ``rows`` (all by default).

    Fitted cells never wrap: a cell wider than its column ends in ``…``. With ``wide``, cells
    wrap at word boundaries (a word longer than its column folds).
    """
    table = Table(
        *(
            RichColumn(
                c.header,
                justify=c.justify,
                no_wrap=not wide,
                overflow="fold" if wide else "ellipsis",
                max_width=None if wide else c.max_width,
            )
            for c in columns
        ),
        header_style="bold",
        title=title,
        show_header=show_header,
    )
    count = len(columns[0].cells) if columns else 0
    for index in rows if rows is not None else range(count):
        table.add_row(*(c.cells[index] for c in columns))
    return table


_SCALES = (
    (Decimal("1e12"), "T"),
    (Decimal("1e9"), "B"),
    (Decimal("1e6"), "M"),
    (Decimal(1000), "k"),
)


def compact_money(value: Decimal | None, currency: str = "") -> str:
    """Money short enough for a narrow column: ``49.25 USD`` below 1,000, then ``1.2k USD``,
    ``3.4M USD``, ``5.6B USD``, ``7.8T USD`` (one decimal, rounded for display only);
    ``-`` when unknown, as :func:`~keyledger.money.fmt_money`."""
    if value is None or not value.is_finite():
        return fmt_money(value, currency)
    for scale, suffix in _SCALES:
        if abs(value) >= scale and abs(value).adjusted() <= 15:
            text = f"{value / scale:.1f}".removesuffix(".0") + suffix
            return f"{text} {currency.upper()}".strip()
    return fmt_money(value, currency)


def compact_count(value: int | None) -> str:
    """A count such as a rate limit: ``5k``, ``2M``, ``450``; ``-`` when unknown."""
    if value is None:
        return "-"
    return compact_money(Decimal(value)).removesuffix(".00")
