"""The simulator's DeepSeek endpoint (``GET /user/balance`` at the host root) and scenarios.

Bodies and error texts are the published ones (provider-apis.md §4.1, providers-2026.md §3.1),
including DeepSeek's swapped ``type``/``code`` roles and the unstable order of currency rows.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from keyledger.models import Kind, Status
from keyledger.simulator.responses import Ctx, Responder, dynamic, json_reply
from keyledger.simulator.scenario import Scenario

ROUTES: dict[tuple[str, str], str] = {("GET", "/user/balance"): "deepseek_balance"}

KEY_PREFIX = "sk-"


def _row(currency: str, total: Any, granted: Any, topped_up: Any) -> dict[str, Any]:
    return {
        "currency": currency,
        "total_balance": total,
        "granted_balance": granted,
        "topped_up_balance": topped_up,
    }


def _balance(available: bool, *rows: dict[str, Any]) -> Responder:
    return json_reply({"is_available": available, "balance_infos": list(rows)})


def _error(status: int, message: str, type_: str) -> Responder:
    # DeepSeek puts the kind in ``type`` and a fixed ``invalid_request_error`` in ``code``.
    body = {
        "error": {"message": message, "type": type_, "param": None, "code": "invalid_request_error"}
    }
    return json_reply(body, status)


CNY_ROW = _row("CNY", "81.69", "1.69", "80.00")  # strings, as real captures send them
USD_ROW = _row("USD", 8.76, 0, 8.76)  # numbers, as the older doc page shows them


def _swapping(request: web.Request, ctx: Ctx) -> Responder:
    """CNY first on odd calls, USD first on even ones (the captured instability)."""
    rows = (CNY_ROW, USD_ROW) if ctx.calls % 2 else (USD_ROW, CNY_ROW)
    return _balance(True, *rows)


def _scenario(
    name: str, desc: str, expect: Status, reason: str | None, answer: Responder
) -> Scenario:
    return Scenario(
        name,
        Kind.SECRET,
        desc,
        expect,
        reason,
        {"deepseek_balance": answer},
        provider="deepseek",
        key_prefix=KEY_PREFIX,
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _scenario(
            "deepseek_ok",
            "DeepSeek: 110 CNY (10 granted + 100 topped up), as the vendor doc shows",
            Status.OK,
            None,
            _balance(True, _row("CNY", "110.00", "10.00", "100.00")),
        ),
        _scenario(
            "deepseek_multi_currency",
            "DeepSeek: CNY and USD rows, their order swapping from one call to the next",
            Status.OK,
            None,
            dynamic(_swapping),
        ),
        _scenario(
            "deepseek_unavailable",
            "DeepSeek: is_available false with 5 CNY still on the account",
            Status.NO_QUOTA,
            "not_available",
            _balance(False, _row("CNY", "5.00", "5.00", "0.00")),
        ),
        _scenario(
            "deepseek_insufficient",
            "DeepSeek: 402 Insufficient Balance",
            Status.NO_QUOTA,
            "insufficient_balance",
            _error(402, "Insufficient Balance", "unknown_error"),
        ),
        _scenario(
            "deepseek_invalid",
            "DeepSeek: 401 Authentication Fails (no such user)",
            Status.INVALID,
            "invalid_api_key",
            _error(401, "Authentication Fails (no such user)", "authentication_error"),
        ),
    )
}
