"""Admin keys (``sk-admin-…``): month-to-date spend from ``/v1/organization/costs``.

The costs API has no balance; it reports money spent per day bucket (``amount.value`` in
dollars), paginated by ``next_page``. We sum the month so far, per currency and project.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote

from keyledger.models import CheckResult, Key, ProjectSpend, Spend, Status
from keyledger.money import WIDE, MoneyError, money_field
from keyledger.providers.base import Clean, json_object, month_start
from keyledger.providers.openai_common import base_url, builder, get, organization
from keyledger.providers.spec import CheckOptions
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

COSTS = "/v1/organization/costs"
MAX_PAGES = 40


def add_bucket_costs(
    data: dict[str, object],
    totals: dict[str, Decimal],
    projects: dict[tuple[str, str], Decimal],
    clean: Clean,
) -> bool:
    """Add one costs page to the running totals; ``False`` if the page is malformed.

    Raises:
        MoneyError: an ``amount.value`` is not bounded money (see :mod:`keyledger.money`).
    """
    buckets = data.get("data")
    if not isinstance(buckets, list):
        return False
    for bucket in buckets:
        results = bucket.get("results") if isinstance(bucket, dict) else None
        if not isinstance(results, list):
            return False
        for item in results:
            amount = item.get("amount") if isinstance(item, dict) else None
            if not isinstance(amount, dict):
                return False
            value = money_field(amount, "value", "amount.value")
            if value is None:
                return False
            currency = str(amount.get("currency") or "usd").upper()[:8]
            totals[currency] = WIDE.add(totals[currency], value)  # exact over every page
            project = item.get("project_id") if isinstance(item, dict) else None
            if isinstance(project, str) and project:
                slot = (clean(project, 64), currency)
                projects[slot] = WIDE.add(projects[slot], value)
    return True


async def check_admin(client: Client, key: Key, options: CheckOptions) -> CheckResult:
    """Read the organization's month-to-date costs, following every page."""
    out = builder(key, options)
    now = options.now()
    start = month_start(now)
    root = base_url(key, options)
    query = f"start_time={int(start.timestamp())}&bucket_width=1d&limit=31&group_by=project_id"
    totals: dict[str, Decimal] = defaultdict(Decimal)
    projects: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    page: str | None = None
    for _ in range(MAX_PAGES):
        url = f"{root}{COSTS}?{query}" + (f"&page={quote(page, safe='')}" if page else "")
        exchange = await client.call(get(key, url))
        verdict = out.record(exchange, "costs")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        out.account = organization(exchange.outcome.headers, out.account, out.clean)
        data = json_object(exchange.outcome)
        try:
            readable = data is not None and add_bucket_costs(data, totals, projects, out.clean)
        except MoneyError as exc:
            verdict = out.unexpected(exchange, "costs", message=str(exc))
            return out.finish(verdict.status, verdict.reason)
        if data is None or not readable:
            verdict = out.unexpected(exchange, "costs")
            return out.finish(verdict.status, verdict.reason)
        next_page = data.get("next_page")
        if not data.get("has_more") or not isinstance(next_page, str) or not next_page:
            break
        page = next_page
    else:  # still more pages after MAX_PAGES: what was summed is only a lower bound
        out.balance_reason = "costs_truncated"
    currency = max(totals, key=lambda c: totals[c]) if totals else "USD"
    out.spend = Spend(
        amount=totals.get(currency, Decimal(0)),
        currency=currency,
        period_start=start,
        period_end=now,
        source=COSTS,
        read_at=now,
        by_project=tuple(
            ProjectSpend(project, amount)
            for (project, cur), amount in sorted(projects.items(), key=lambda kv: -kv[1])
            if cur == currency
        ),
        truncated=out.balance_reason == "costs_truncated",
    )
    out.balance_reason = out.balance_reason or "admin_key_reports_spend"
    return out.finish(Status.OK, None)
