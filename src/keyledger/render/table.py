"""The terminal view: a rich table sorted and coloured by status, then totals.

The table fits the terminal (:mod:`keyledger.render.fit`): columns give way in the order
of :data:`DROP_PRIORITY`, values are shortened (:data:`REASON_SHORT`, compact money, the
primary balance with ``+N more`` for other currencies); ``wide`` shows everything.

Every remote or user string is neutralised and markup-escaped before it reaches rich.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from keyledger.models import STATUS_ORDER, Balance, CheckResult, Status
from keyledger.money import fmt_money
from keyledger.render.fit import Column, build, compact_count, compact_money, fit
from keyledger.render.serialize import balances_of
from keyledger.render.summary import Summary
from keyledger.sanitize import neutralise

STATUS_STYLE: dict[Status, str] = {
    Status.OK: "green",
    Status.NO_QUOTA: "red",
    Status.BILLING_INACTIVE: "red",
    Status.DEACTIVATED: "bold red",
    Status.INVALID: "bold red",
    Status.RESTRICTED: "magenta",
    Status.RATE_LIMITED: "yellow",
    Status.UNREACHABLE: "yellow",
    Status.UNKNOWN: "yellow",
}


def safe(text: str | None) -> Text:
    """Untrusted text as a rich ``Text``: controls neutralised, markup never parsed."""
    return Text(neutralise(text or ""))


def sort_key(result: CheckResult) -> tuple[int, str]:
    """Worst status first, then by label."""
    return STATUS_ORDER.index(result.status), result.key.label.lower()


# Reasons as the table shortens them when it is narrow (``--wide`` and every other output
# keep the full reason). A reason not listed reads with spaces for underscores.
REASON_SHORT: dict[str, str] = {
    "account_deactivated": "deactivated",
    "access_terminated": "terminated",
    "invalid_api_key": "invalid key",
    "unrecognized_key": "unknown key",
    "key_expired": "expired",
    "billing_not_active": "billing off",
    "insufficient_quota": "no quota",
    "insufficient_balance": "no balance",
    "balance_exhausted": "exhausted",
    "key_limit_exhausted": "limit used",
    "zero_balance": "zero balance",
    "missing_scopes": "scopes",
    "rate_limit_exceeded": "rate limit",
    "unsupported_country_region_territory": "region",
    "unexpected_body": "odd body",
    "server_error": "server error",
    "probe_rejected_as_expected": "probe ok",
    "not_available": "n/a",
    "proxy_auth": "proxy auth",
    "bad_request": "bad request",
}


def short_reason(reason: str) -> str:
    """``reason`` as the narrow table shows it (:data:`REASON_SHORT`, else spaced)."""
    return REASON_SHORT.get(reason, reason.replace("_", " "))


def _reason_cell(result: CheckResult, now: datetime, compact: bool) -> Text:
    if not compact:
        cell = safe(result.reason or "")
        if result.retry_at is not None:
            cell.append(f"\nretry after {result.retry_at:%Y-%m-%d %H:%M} UTC", style="dim")
        return cell
    cell = safe(short_reason(result.reason or ""))
    if result.retry_at is not None:
        same_day = abs(result.retry_at - now) < timedelta(hours=20)
        when = f"{result.retry_at:%H:%M}Z" if same_day else f"{result.retry_at:%m-%d}"
        cell.append(f" · retry {when}", style="dim")
    return cell


def balance_text(balance: Balance) -> str:
    """One balance in a cell: ``81.69 CNY``, ``available / granted / used``, or a relay token
    without a cap as ``token uncapped (spent X)`` (its wallet is unknown, never unlimited)."""
    if balance.token_uncapped:
        spent = fmt_money(balance.used, balance.currency)
        return "token uncapped" + (f" (spent {spent})" if balance.used is not None else "")
    text = fmt_money(balance.available, balance.currency)
    if balance.available is None:
        text = f"unknown {balance.currency.upper()}"
    if balance.granted is not None:
        text += f" / {fmt_money(balance.granted)} / {fmt_money(balance.used)}"
    for part in balance.parts:
        text += f" ({neutralise(part.name)} {fmt_money(part.amount)})"
    return text


def short_balance_text(balance: Balance) -> str:
    """One balance, narrow: the available money only, compact (``1.2k USD``)."""
    if balance.token_uncapped:
        return "token uncapped"
    if balance.available is None:
        return f"unknown {balance.currency.upper()}"
    return compact_money(balance.available, balance.currency)


def _ordered_balances(result: CheckResult) -> list[Balance]:
    primary = result.balance
    return sorted(balances_of(result), key=lambda b: (b is not primary, b.currency))


def _money_cell(result: CheckResult, compact: bool) -> Text:
    if result.balance is not None or result.balances:
        ordered = _ordered_balances(result)
        if compact:  # the primary balance, then how many other currencies the key holds
            cell = Text(neutralise(short_balance_text(ordered[0])))
            if len(ordered) > 1:
                cell.append(f" +{len(ordered) - 1} more", style="dim")
            return cell
        cell = Text("\n".join(neutralise(balance_text(b)) for b in ordered))
        for balance in ordered:
            stale = balance.reported_available
            if stale is not None and balance.available is not None and stale != balance.available:
                cell.append(f"\nAPI total {fmt_money(stale)} incl. expired", style="dim")
        return cell
    if result.spend is not None:
        spend = result.spend
        money = compact_money if compact else fmt_money
        amount = money(spend.amount, spend.currency)
        if spend.truncated:  # paging stopped early: the sum is only a lower bound
            if compact:
                return Text(f"spent ≥ {amount}", style="yellow")
            cell = Text(f"spent ≥ {amount} this month")
            cell.append("\npartial: too many pages", style="yellow")
            return cell
        return Text(f"spent {amount}" + ("" if compact else " this month"))
    reason = result.balance_reason
    if compact:
        return Text("-" if not reason else "n/a", style="dim")
    return Text("-" if not reason else f"n/a: {reason.replace('_', ' ')}", style="dim")


def _expiry_cell(result: CheckResult, now: datetime, warn: timedelta, compact: bool) -> Text:
    expiry = result.balance.next_expiry if result.balance else None
    if expiry is None:
        return Text("-", style="dim")
    left = expiry - now
    if left.total_seconds() <= 0:
        return Text("expired" if compact else f"{expiry:%Y-%m-%d} (expired)", style="bold red")
    label = f"{left.days}d" if compact else f"{expiry:%Y-%m-%d} ({left.days}d)"
    return Text(label, style="bold yellow" if left <= warn else "")


def _limits_cell(result: CheckResult, compact: bool) -> Text:
    limits = result.rate_limits
    if limits is None or (limits.requests_limit is None and limits.tokens_limit is None):
        return Text("-", style="dim")
    if compact:
        return Text(
            f"{compact_count(limits.requests_limit)} / {compact_count(limits.tokens_limit)}"
        )
    rpm = "-" if limits.requests_limit is None else f"{limits.requests_limit:,}"
    tpm = "-" if limits.tokens_limit is None else f"{limits.tokens_limit:,}"
    return Text(f"{rpm} / {tpm}")


# Which columns give way first when the terminal is narrow (lower goes first). Label, Status,
# Reason and the money are always kept; the key moves under the label as a last resort.
DROP_PRIORITY: dict[str, int] = {
    "RPM / TPM": 1,
    "Trend": 2,
    "Expires": 3,
    "Kind": 4,
    "Tier": 5,
    "Since last": 6,
    "Burn · runway": 7,
}
EXTRA_DROP = 8  # any other extra column


class CheckTable:
    """The ``check`` table for a result set, fitted once to a width (see
    :mod:`keyledger.render.fit`), then drawn whole or in chunks with the same columns."""

    def __init__(
        self,
        results: Sequence[CheckResult],
        *,
        now: datetime,
        warn_days: int = 7,
        extra_columns: Mapping[str, Mapping[str, Text]] | None = None,
        width: int | None = None,
        wide: bool = False,
    ) -> None:
        self.wide = wide or width is None
        compact = not self.wide
        self.rows = sorted(results, key=sort_key)
        self.index = {id(result): n for n, result in enumerate(self.rows)}
        warn = timedelta(days=warn_days)
        money = "Available / Granted / Used" if self.wide else "Available"
        columns = [
            Column(
                "Label",
                shrink=True,
                min_width=12,
                soft_max=24,
                max_width=None if compact else 32,
            ),
            Column("Key", merge_into="Label"),
            Column("Kind", drop=DROP_PRIORITY["Kind"]),
            Column("Status"),
            Column("Reason", shrink=True, min_width=10, soft_max=24),
            Column(money),
            Column("Expires", drop=DROP_PRIORITY["Expires"]),
            Column("RPM / TPM", drop=DROP_PRIORITY["RPM / TPM"], justify="right"),
            Column("Tier", drop=DROP_PRIORITY["Tier"]),
        ]
        extra = extra_columns or {}
        for header, cells in extra.items():
            column = Column(header, drop=DROP_PRIORITY.get(header, EXTRA_DROP))
            column.cells = [cells.get(r.key.fingerprint, Text("")) for r in self.rows]
            columns.append(column)
        label, key, kind, status, reason, cash, expires, limits, tier = columns[:9]
        for result in self.rows:
            label_cell = safe(result.key.label)
            if result.key.aliases:
                label_cell.append(f" (+{len(result.key.aliases)})", style="dim")
            label.cells.append(label_cell)
            key.cells.append(Text(result.key.masked))
            kind.cells.append(Text(result.key.kind.value))
            status.cells.append(Text(result.status.value, style=STATUS_STYLE[result.status]))
            reason.cells.append(_reason_cell(result, now, compact))
            cash.cells.append(_money_cell(result, compact))
            expires.cells.append(_expiry_cell(result, now, warn, compact))
            limits.cells.append(_limits_cell(result, compact))
            tier.cells.append(safe(result.tier) if result.tier else Text("-", style="dim"))
        self.columns = fit(columns, width, wide=self.wide)

    @property
    def headers(self) -> list[str]:
        """The headers of the columns shown."""
        return [c.header for c in self.columns]

    def table(
        self, results: Sequence[CheckResult] | None = None, show_header: bool = True
    ) -> Table:
        """The rich table of ``results`` (some of this set), or of all of them, worst first."""
        rows = None
        if results is not None:
            rows = sorted(self.index[id(r)] for r in results)
        return build(self.columns, wide=self.wide, show_header=show_header, rows=rows)


def results_table(
    results: Sequence[CheckResult],
    *,
    now: datetime,
    warn_days: int = 7,
    extra_columns: Mapping[str, Mapping[str, Text]] | None = None,
    show_header: bool = True,
    width: int | None = None,
    wide: bool = False,
) -> Table:
    """The main table, worst first. ``extra_columns`` maps a header to cells by key
    fingerprint. Fitted to ``width`` (see :class:`CheckTable`); with ``wide`` or no width,
    every column with full values."""
    view = CheckTable(
        results,
        now=now,
        warn_days=warn_days,
        extra_columns=extra_columns,
        width=width,
        wide=wide,
    )
    return view.table(show_header=show_header)


def totals_view(summary: Summary) -> RenderableType:
    """Status counts, money per currency, and accounts shared by several keys."""
    parts: list[RenderableType] = []
    counts = ", ".join(
        f"[{STATUS_STYLE[s]}]{summary.counts[s.value]} {s.value}[/]"
        for s in STATUS_ORDER
        if summary.counts[s.value]
    )
    parts.append(Text.from_markup(f"{summary.keys} keys, {summary.accounts} accounts: {counts}"))
    if summary.currencies:
        totals = Table(title=None, header_style="bold", box=None, padding=(0, 2))
        for header in ("Currency", "Available", "Granted", "Used", "Spent (month)", "Accounts"):
            totals.add_column(header, justify="right" if header != "Currency" else "left")
        for total in sorted(summary.currencies.values(), key=lambda t: t.currency):
            accounts = str(total.accounts) + (
                f" ({total.unknown} unknown)" if total.unknown else ""
            )
            totals.add_row(
                escape(total.currency),
                fmt_money(total.available),
                fmt_money(total.granted),
                fmt_money(total.used),
                ("≥ " if total.spend_truncated else "") + fmt_money(total.spend),
                accounts,
            )
        parts.append(totals)
        unknown = sum(t.unknown for t in summary.currencies.values())
        if unknown:
            parts.append(
                Text(
                    f"{unknown} balance(s) with unknown available money (such as a relay token "
                    "without a cap) are counted as unknown, not in Available.",
                    style="dim",
                )
            )
    shared = summary.shared_accounts
    if shared:
        lines = Text("Shared accounts (counted once):", style="bold")
        for account, names in sorted(shared.items()):
            labels = ", ".join(neutralise(name) for name in names)
            lines.append(f"\n  {neutralise(account)}: {labels}", style="")
        parts.append(lines)
    return Group(*parts)
