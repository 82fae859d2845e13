"""Anthropic admin keys (``sk-ant-admin…``): month-to-date spend from the cost report.

``GET /v1/organizations/cost_report`` (provider-apis.md §4.5) answers day buckets whose
``results[].amount`` is a decimal string in the currency's lowest unit ("123.45" USD is
$1.23); we divide by 100 exactly and sum per ``workspace_id`` (``null`` is the default
workspace), following ``has_more``/``next_page`` up to :data:`MAX_PAGES` pages.

The newer Analytics API (``/v1/organizations/analytics/cost``, beta since 2026-10-29,
providers-2026.md §3.5) also reports cost, but needs a beta header whose shape may still
change; the cost report is the documented, stable one, so it is what we read.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote

from keyledger.models import CheckResult, Key, ProjectSpend, Spend, Status
from keyledger.money import WIDE, MoneyError, money_field
from keyledger.providers.base import Clean, ResultBuilder, json_object, month_start
from keyledger.transport import Reply

if TYPE_CHECKING:
    from keyledger.client import Client
    from keyledger.providers.spec import Provider

COST_REPORT = "/v1/organizations/cost_report"
MAX_PAGES = 40
DEFAULT_WORKSPACE = "default"


def add_page(
    data: dict[str, object],
    totals: dict[str, Decimal],
    workspaces: dict[tuple[str, str], Decimal],
    clean: Clean,
) -> bool:
    """Add one cost-report page (amounts in cents) to the totals; ``False`` if malformed.

    Raises:
        MoneyError: an ``amount`` is not bounded money.
    """
    buckets = data.get("data")
    if not isinstance(buckets, list):
        return False
    for bucket in buckets:
        results = bucket.get("results") if isinstance(bucket, dict) else None
        if not isinstance(results, list):
            return False
        for item in results:
            if not isinstance(item, dict):
                return False
            cents = money_field(item, "amount", "amount")
            if cents is None:
                return False
            dollars = cents.scaleb(-2)  # lowest currency unit -> currency, exact
            currency = str(item.get("currency") or "USD").upper()[:8]
            totals[currency] = WIDE.add(totals[currency], dollars)
            workspace = item.get("workspace_id")
            name = clean(workspace, 64) if isinstance(workspace, str) and workspace else None
            slot = (name or DEFAULT_WORKSPACE, currency)
            workspaces[slot] = WIDE.add(workspaces[slot], dollars)
    return True


async def check_admin(
    client: Client, key: Key, root: str, provider: Provider, out: ResultBuilder
) -> CheckResult:
    """Sum the organization's costs from the first of the month until now, per workspace."""
    now = out.options.now()
    start = month_start(now)
    query = (
        f"starting_at={quote(start.strftime('%Y-%m-%dT%H:%M:%SZ'), safe='')}"
        "&bucket_width=1d&limit=31&group_by%5B%5D=workspace_id"
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    workspaces: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    page: str | None = None
    truncated = True
    for _ in range(MAX_PAGES):
        url = f"{root}{COST_REPORT}?{query}" + (f"&page={quote(page, safe='')}" if page else "")
        exchange = await client.call(provider.request("GET", url, key))
        verdict = out.record(exchange, "cost_report")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        data = json_object(exchange.outcome)
        try:
            readable = data is not None and add_page(data, totals, workspaces, out.clean)
        except MoneyError as exc:
            verdict = out.unexpected(exchange, "cost_report", message=str(exc))
            return out.finish(verdict.status, verdict.reason)
        if data is None or not readable:
            verdict = out.unexpected(exchange, "cost_report")
            return out.finish(verdict.status, verdict.reason)
        next_page = data.get("next_page")
        if not data.get("has_more") or not isinstance(next_page, str) or not next_page:
            truncated = False
            break
        page = next_page
    currency = max(totals, key=lambda c: totals[c]) if totals else "USD"
    out.spend = Spend(
        amount=totals.get(currency, Decimal(0)),
        currency=currency,
        period_start=start,
        period_end=now,
        source=COST_REPORT,
        read_at=now,
        by_project=tuple(
            ProjectSpend(name, amount)
            for (name, cur), amount in sorted(workspaces.items(), key=lambda kv: (-kv[1], kv[0]))
            if cur == currency
        ),
        truncated=truncated,
    )
    out.balance_reason = "costs_truncated" if truncated else "admin_key_reports_spend"
    return out.finish(Status.OK, None)
