"""The simulator's Moonshot / Kimi China platform (api.moonshot.cn, CNY).

Bodies and texts are the published ones (``provider-apis.md`` §4.3, ``providers-2026.md``
§3.3); ids elided there (``org-…``) are filled with simulator ids. :func:`region_scenarios`
builds the same set for the global platform (:mod:`sim_moonshot_global`).
"""

from __future__ import annotations

from typing import Any

from keyledger.models import Kind, Status
from keyledger.simulator.responses import Responder, json_reply, sequence
from keyledger.simulator.scenario import Scenario

BALANCE = "moonshot_balance"
ROUTES: dict[tuple[str, str], str] = {("GET", "/v1/users/me/balance"): BALANCE}


def balance(available: str, voucher: str, cash: str) -> Responder:
    """The documented 200 answer with these amounts (JSON numbers, as Moonshot sends them; a float's
    shortest text is the written amount)."""
    data = {
        "available_balance": float(available),
        "voucher_balance": float(voucher),
        "cash_balance": float(cash),
    }
    return json_reply({"code": 0, "data": data, "scode": "0x0", "status": True})


def error(status: int, type_: str, message: str) -> Responder:
    """Moonshot's error envelope: ``{"error": {"message", "type"}}``."""
    body: dict[str, Any] = {"error": {"message": message, "type": type_}}
    return json_reply(body, status)


INVALID = error(401, "invalid_authentication_error", "Invalid Authentication")
SUSPENDED = error(
    429,
    "exceeded_current_quota_error",
    "Your account org-sim0001 <ak-sim0001> is suspended due to insufficient balance, please "
    "recharge your account or check your plan and billing details",
)
NEVER_FUNDED = error(
    403,
    "exceeded_current_quota_error",
    "Your account sim0001> is not active, organization <sim0001> exceeded current quota, "
    "please check your plan and billing details",
)


def rate_limited(docs_host: str) -> Responder:
    """The retryable 429 (TPM limit), with no Retry-After."""
    return error(
        429,
        "rate_limit_reached_error",
        "Your account org-sim0001 request reached project TPM rate limit, current: 1410, "
        f"limit: 100, see https://{docs_host}/docs/pricing/limits",
    )


def region_scenarios(prefix: str, provider: str, docs_host: str) -> dict[str, Scenario]:
    """Every Moonshot scenario for one region: names start with ``prefix``."""

    def make(
        suffix: str, description: str, expect: Status, reason: str | None, answer: Responder
    ) -> Scenario:
        return Scenario(
            f"{prefix}_{suffix}",
            Kind.SECRET,
            description,
            expect,
            reason,
            endpoints={BALANCE: answer},
            provider=provider,
            key_prefix="sk-",
        )

    ok = balance("49.58894", "46.58893", "3.00001")
    found = [
        make("ok", "funded: cash and voucher", Status.OK, None, ok),
        make(
            "debt_covered",
            "cash in debt, vouchers still pay: available = voucher",
            Status.OK,
            None,
            balance("20", "20", "-5.5"),
        ),
        make(
            "debt",
            "cash in debt, nothing available (published capture)",
            Status.NO_QUOTA,
            "balance_in_debt",
            balance("0", "0", "-31.14918"),
        ),
        make(
            "exhausted",
            "available balance 0: calls are blocked",
            Status.NO_QUOTA,
            "balance_exhausted",
            balance("0", "0", "0"),
        ),
        make(
            "suspended",
            "429 exceeded_current_quota_error: suspended, never retried",
            Status.NO_QUOTA,
            "account_suspended",
            SUSPENDED,
        ),
        make(
            "never_funded",
            "403 exceeded_current_quota_error: account never funded",
            Status.NO_QUOTA,
            "account_not_active",
            NEVER_FUNDED,
        ),
        make(
            "rate_limited",
            "429 rate_limit_reached_error once, then the balance",
            Status.OK,
            None,
            sequence([rate_limited(docs_host), ok]),
        ),
        make(
            "invalid",
            "401 invalid_authentication_error",
            Status.INVALID,
            "invalid_api_key",
            INVALID,
        ),
    ]
    return {s.name: s for s in found}


SCENARIOS: dict[str, Scenario] = region_scenarios("moonshot", "moonshot", "platform.moonshot.cn")
