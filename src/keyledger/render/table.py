"""The terminal view: a rich table sorted and coloured by status, then totals.

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


def _reason_cell(result: CheckResult) -> Text:
    cell = safe(result.reason or "")
    if result.retry_at is not None:
        cell.append(f"\nretry after {result.retry_at:%Y-%m-%d %H:%M} UTC", style="dim")
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


def _money_cell(result: CheckResult) -> Text:
    if result.balance is not None or result.balances:
        primary = result.balance
        ordered = sorted(balances_of(result), key=lambda b: (b is not primary, b.currency))
        cell = Text("\n".join(neutralise(balance_text(b)) for b in ordered))
        for balance in ordered:
            stale = balance.reported_available
            if stale is not None and balance.available is not None and stale != balance.available:
                cell.append(f"\nAPI total {fmt_money(stale)} incl. expired", style="dim")
        return cell
    if result.spend is not None:
        spend = result.spend
        amount = fmt_money(spend.amount, spend.currency)
        if spend.truncated:  # paging stopped early: the sum is only a lower bound
            cell = Text(f"spent ≥ {amount} this month")
            cell.append("\npartial: too many pages", style="yellow")
            return cell
        return Text(f"spent {amount} this month")
    reason = result.balance_reason
    return Text("-" if not reason else f"n/a: {reason.replace('_', ' ')}", style="dim")


def _expiry_cell(result: CheckResult, now: datetime, warn: timedelta) -> Text:
    expiry = result.balance.next_expiry if result.balance else None
    if expiry is None:
        return Text("-", style="dim")
    left = expiry - now
    if left.total_seconds() <= 0:
        return Text(f"{expiry:%Y-%m-%d} (expired)", style="bold red")
    label = f"{expiry:%Y-%m-%d} ({left.days}d)"
    return Text(label, style="bold yellow" if left <= warn else "")


def _limits_cell(result: CheckResult) -> Text:
    limits = result.rate_limits
    if limits is None or (limits.requests_limit is None and limits.tokens_limit is None):
        return Text("-", style="dim")
    rpm = "-" if limits.requests_limit is None else f"{limits.requests_limit:,}"
    tpm = "-" if limits.tokens_limit is None else f"{limits.tokens_limit:,}"
    return Text(f"{rpm} / {tpm}")


def results_table(
    results: Sequence[CheckResult],
    *,
    now: datetime,
    warn_days: int = 7,
    extra_columns: Mapping[str, Mapping[str, Text]] | None = None,
    show_header: bool = True,
) -> Table:
    """The main table. ``extra_columns`` maps a header to cells by key fingerprint."""
    table = Table(
        title=None, header_style="bold", expand=False, show_lines=False, show_header=show_header
    )
    table.add_column("Label", overflow="fold", max_width=32)
    table.add_column("Key", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Reason", overflow="fold")
    table.add_column("Available / Granted / Used", overflow="fold")
    table.add_column("Expires")
    table.add_column("RPM / TPM", justify="right")
    table.add_column("Tier", no_wrap=True)
    extra = extra_columns or {}
    for header in extra:
        table.add_column(header)
    warn = timedelta(days=warn_days)
    for result in sorted(results, key=sort_key):
        key = result.key
        label = safe(key.label)
        if key.aliases:
            label.append(f" (+{len(key.aliases)})", style="dim")
        style = STATUS_STYLE[result.status]
        table.add_row(
            label,
            Text(key.masked),
            Text(key.kind.value),
            Text(result.status.value, style=style),
            _reason_cell(result),
            _money_cell(result),
            _expiry_cell(result, now, warn),
            _limits_cell(result),
            safe(result.tier) if result.tier else Text("-", style="dim"),
            *(cells.get(key.fingerprint, Text("")) for cells in extra.values()),
        )
    return table


def totals_view(summary: Summary) -> RenderableType:
    """Status counts, money per currency, and accounts shared by several keys."""
    parts: list[RenderableType] = []
    counts = ", ".join(
        f"[{STATUS_STYLE[s]}]{summary.counts[s.value]} {s.value}[/]"
        for s in STATUS_ORDER
        if summary.counts[s.value]
    )
    parts.append(
        Text.from_markup(f"{summary.keys} keys, {len(summary.accounts)} accounts: {counts}")
    )
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
        for account, results in sorted(shared.items()):
            labels = ", ".join(neutralise(r.key.label) for r in results)
            lines.append(f"\n  {neutralise(account)}: {labels}", style="")
        parts.append(lines)
    return Group(*parts)
