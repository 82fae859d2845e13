"""xAI's team prepaid balance from the Management API (providers-2026.md §3.6).

``GET https://management-api.x.ai/v1/billing/teams/{team_id}/prepaid/balance`` with a
management key answers ``total.val``: the posted prepaid ledger in cents, **negative** for
credit (a $10 top-up reads ``"-1000"``). No ``total`` is an error, never $0; 404 means the
team is not the management key's. The posted ledger lags live credit by spend not yet
posted, so the figure is an upper bound of what is left.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from keyledger.classify import Rules
from keyledger.models import Balance, Status
from keyledger.money import MoneyError, money_field
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.secret import Secret
from keyledger.transport import Reply, Request

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

MANAGEMENT_BASE_URL = "https://management-api.x.ai"
SOURCE = "/v1/billing/teams/{team_id}/prepaid/balance"


async def read_prepaid(
    client: Client, url: str, management: Secret, rules: Rules, out: ResultBuilder
) -> None:
    """Set ``out``'s balance (or its ``balance_reason``) from the team's prepaid balance.

    The answer never changes the key's status: it comes from another credential.
    """
    exchange = await client.call(Request("GET", url, management, rules=rules))
    verdict = out.record(exchange, "prepaid_balance")
    # The management call's verdict is about the management key, not this key.
    out.signals = [s for s in out.signals if s.call != "prepaid_balance"]
    reply = exchange.outcome if isinstance(exchange.outcome, Reply) else None
    if verdict is not None:
        if reply is not None and reply.status == 404:
            out.balance_reason = "wrong_team"
        elif verdict.status is Status.INVALID:
            out.balance_reason = "management_key_invalid"
        else:
            out.balance_reason = f"balance_{verdict.reason}"
        return
    assert reply is not None
    data = json_object(reply)
    total = data.get("total") if data is not None else None
    try:
        cents = money_field(total, "val", "total.val") if isinstance(total, dict) else None
    except MoneyError as exc:
        out.unexpected(exchange, "prepaid_balance", message=str(exc))
        out.balance_reason = "balance_unreadable"
        return
    if cents is None:
        out.unexpected(exchange, "prepaid_balance", message="no total.val")
        out.balance_reason = "balance_unreadable"
        return
    now = out.options.now()
    out.set_balances(
        [
            Balance(
                currency="USD",
                source=SOURCE,
                read_at=now,
                available=(Decimal(0) - cents).scaleb(-2),
            )
        ]
    )
    out.balance_reason = None
