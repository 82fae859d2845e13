"""The ``history`` tables: every recorded check, then each key's burn rate and runway.

Both fit the terminal like the ``check`` table (:mod:`keyledger.render.fit`): columns give
way in the order of :data:`HISTORY_DROP`, reasons and money are shortened, labels end in
``…``; ``wide`` shows every column in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from rich.table import Table
from rich.text import Text

from keyledger.ledger.analysis import Basis, burn_rate, burn_rates, runway_days
from keyledger.ledger.insights import BURN_WINDOW_DAYS
from keyledger.ledger.rows import ResultRow
from keyledger.models import Status
from keyledger.money import fmt_money
from keyledger.render.fit import Column, build, compact_money, fit
from keyledger.render.table import STATUS_STYLE, safe, short_reason

# Which history columns give way first when the terminal is narrow (lower goes first); the
# key moves under the label as a last resort.
# When Spend gives way, a key without a balance (an admin key) shows ``spent X`` under
# Available instead.
HISTORY_DROP: dict[str, int] = {"Account": 1, "Spend": 2, "Change": 3}


def signed(value: Decimal, currency: str | None = None) -> str:
    """``+1.50 USD`` / ``-1.50`` / ``±0.00``."""
    text = fmt_money(abs(value), currency or "")
    return ("+" if value > 0 else "-" if value < 0 else "±") + text


def days_text(value: Decimal) -> str:
    """A runway in days: ``4.5d`` below ten, else whole days."""
    return f"{value:.1f}d" if value < 10 else f"{int(value):,}d"


def _status_style(status: str) -> str:
    try:
        return STATUS_STYLE[Status(status)]
    except ValueError:
        return ""


def available_text(row: ResultRow, *, compact: bool = False) -> str:
    """Every balance of ``row``, primary first: ``81.69 CNY · 0.00 USD``; a relay token
    without a cap is ``token uncapped`` (its wallet is unknown, never unlimited). Compact:
    the primary alone, then ``+N more`` for the other currencies."""
    ordered = sorted(row.balances, key=lambda b: (b.currency != row.currency, b.currency))
    if not ordered:
        return fmt_money(None)
    money = compact_money if compact else fmt_money
    texts = [
        "token uncapped" if b.token_uncapped else money(b.available, b.currency) for b in ordered
    ]
    if compact and len(texts) > 1:
        return f"{texts[0]} +{len(texts) - 1} more"
    return " · ".join(texts)


def _spend_text(row: ResultRow, compact: bool) -> str:
    if row.spend is None:
        return "-"
    money = compact_money if compact else fmt_money
    return ("≥ " if row.spend_truncated else "") + money(row.spend, row.spend_currency or "")


def _change_cell(row: ResultRow, previous: ResultRow | None) -> Text:
    delta = Text("")
    for balance in row.balances:  # each currency against itself, never summed
        earlier = previous.balance_in(balance.currency) if previous is not None else None
        if earlier is None or not earlier.known or not balance.known:
            continue
        assert earlier.available is not None and balance.available is not None
        moved = balance.available - earlier.available
        if moved:
            text = signed(moved) + (f" {balance.currency}" if len(row.balances) > 1 else "")
            delta.append((" " if delta else "") + text, style="green" if moved > 0 else "red")
    return delta


def history_table(
    rows: Sequence[ResultRow], *, width: int | None = None, wide: bool = False
) -> Table:
    """Every row (oldest first), fitted to ``width``; with ``wide`` or no width, in full."""
    wide = wide or width is None
    compact = not wide
    columns = [
        Column("Checked (UTC)"),
        Column("Label", shrink=True, min_width=12, soft_max=24),
        Column("Key", merge_into="Label"),
        Column("Status"),
        Column("Reason", shrink=True, min_width=10, soft_max=24),
        Column("Available", justify="right"),
        Column("Change", drop=HISTORY_DROP["Change"], justify="right"),
        Column("Spend", drop=HISTORY_DROP["Spend"], justify="right"),
        Column("Account", drop=HISTORY_DROP["Account"], shrink=True, min_width=8, soft_max=20),
    ]
    checked, label, key, status, reason, available, change, spend, account = columns
    with_spend: list[Text] = []  # Available when the Spend column gave way: admin keys' spend
    before: dict[str, ResultRow] = {}
    for row in rows:
        previous = before.get(row.fingerprint)
        before[row.fingerprint] = row
        checked.cells.append(
            Text(f"{row.checked_at:%m-%d %H:%M}" if compact else f"{row.checked_at:%Y-%m-%d %H:%M}")
        )
        label.cells.append(safe(row.label))
        key.cells.append(Text(row.masked))
        status.cells.append(Text(row.status, style=_status_style(row.status)))
        text = row.reason or ""
        reason.cells.append(safe(short_reason(text) if compact else text))
        available.cells.append(Text(available_text(row, compact=compact)))
        with_spend.append(
            Text(f"spent {_spend_text(row, compact)}")
            if not row.balances and row.spend is not None
            else available.cells[-1]
        )
        change.cells.append(_change_cell(row, previous))
        spend.cells.append(Text(_spend_text(row, compact)))
        account.cells.append(safe(row.organization or "-"))
    fitted = fit(columns, width, wide=wide)
    if all(c.header != "Spend" for c in fitted):
        for column in fitted:
            if column.header == "Available":
                column.cells = with_spend
    return build(fitted, wide=wide)


def burn_table(
    rows: Sequence[ResultRow], *, width: int | None = None, wide: bool = False
) -> Table | None:
    """Each key's burn rate and runway over its last :data:`BURN_WINDOW_DAYS` days of
    ``rows``, one line per currency it spends; ``None`` when no key is spending."""
    wide = wide or width is None
    series: dict[str, list[ResultRow]] = {}
    for row in rows:
        series.setdefault(row.fingerprint, []).append(row)
    columns = [
        Column("Label", shrink=True, min_width=12, soft_max=32),
        Column("Key", merge_into="Label"),
        Column("Available", justify="right"),
        Column("Burn", justify="right"),
        Column("Runway", justify="right"),
    ]
    label, key, available_col, burn_col, runway_col = columns
    money = fmt_money if wide else compact_money
    for history_rows in series.values():
        latest = history_rows[-1]
        recent = [
            r
            for r in history_rows
            if r.checked_at >= latest.checked_at - timedelta(days=BURN_WINDOW_DAYS)
        ]
        burns = burn_rates(recent)  # one burn rate and runway per currency
        headline = burn_rate(recent)  # an admin key's spend when it holds no balance
        if not burns and headline is not None and headline.basis is Basis.SPEND:
            burns = {headline.currency: headline}
        for currency, burn in sorted(burns.items()):
            if burn.per_day <= 0:
                continue
            balance = latest.balance_in(currency)
            available = balance.available if balance is not None and balance.known else None
            runway = runway_days(available, burn)
            label.cells.append(safe(latest.label))
            key.cells.append(Text(latest.masked))
            available_col.cells.append(
                Text(money(available, currency) if balance is not None else "-")
            )
            burn_col.cells.append(Text(f"{money(burn.per_day, burn.currency)}/d"))
            runway_col.cells.append(
                Text("-" if runway is None else ("empty" if runway <= 0 else days_text(runway)))
            )
    if not label.cells:
        return None
    return build(
        fit(columns, width, wide=wide), wide=wide, title="Burn rate and runway (last 30 days)"
    )
