"""The simulator's OpenRouter endpoints (``/api/v1/key``, ``/auth/key``, ``/credits``).

Bodies and error texts are the published ones (provider-apis.md §4.2, providers-2026.md §3.2):
``/key`` wrapped in ``{"data": …}``, integer ``error.code``, and ``/credits`` answering an
ordinary key with a 200 of zeros that is not a balance.
"""

from __future__ import annotations

from typing import Any

from keyledger.models import Kind, Status
from keyledger.simulator.responses import Responder, json_reply
from keyledger.simulator.scenario import Scenario

ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/key"): "openrouter_key",
    ("GET", "/api/v1/auth/key"): "openrouter_legacy_path",
    ("GET", "/api/v1/credits"): "openrouter_credits",
}

KEY_PREFIX = "sk-or-v1-"


def _key(**fields: Any) -> Responder:
    data: dict[str, Any] = {
        "label": "sk-or-v1-0fa...240",
        "limit": None,
        "limit_remaining": None,
        "limit_reset": None,
        "usage": 0.65017511,
        "is_free_tier": False,
        "is_management_key": False,
        "is_provisioning_key": False,
        "expires_at": None,
        "rate_limit": {"requests": 40, "interval": "10s"},
    }
    data.update(fields)
    return json_reply({"data": data})


def _error(status: int, message: str) -> Responder:
    return json_reply({"error": {"message": message, "code": status}}, status)


MANAGEMENT_ONLY = _error(403, "Only management keys can perform this operation")
ZERO_CREDITS = json_reply({"total_credits": 0, "total_usage": 0})


def _scenario(
    name: str, desc: str, expect: Status, reason: str | None, **answers: Responder
) -> Scenario:
    endpoints = {"openrouter_credits": MANAGEMENT_ONLY, **answers}
    kind = Kind.MANAGEMENT if name == "openrouter_management" else Kind.SECRET
    return Scenario(
        name,
        kind,
        desc,
        expect,
        reason,
        endpoints,
        provider="openrouter",
        key_prefix=KEY_PREFIX,
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _scenario(
            "openrouter_ok",
            "OpenRouter: a key capped at 25 USD with 17.50 left",
            Status.OK,
            None,
            openrouter_key=_key(limit=25, usage=7.5, limit_remaining=17.5),
        ),
        _scenario(
            "openrouter_no_limit",
            "OpenRouter: no per-key cap; the account's credit needs a management key",
            Status.OK,
            None,
            openrouter_key=_key(),
        ),
        _scenario(
            "openrouter_free_tier",
            "OpenRouter: a free-tier key that never bought credits",
            Status.OK,
            None,
            openrouter_key=_key(usage=0, is_free_tier=True),
        ),
        _scenario(
            "openrouter_limit_used",
            "OpenRouter: the key's own 10 USD cap is used up",
            Status.NO_QUOTA,
            "key_limit_exhausted",
            openrouter_key=_key(limit=10, usage=10, limit_remaining=0),
        ),
        _scenario(
            "openrouter_no_credits",
            "OpenRouter: 402 Insufficient credits (never purchased)",
            Status.NO_QUOTA,
            "insufficient_balance",
            openrouter_key=_error(
                402,
                "Insufficient credits. This account never purchased credits. Make sure your key "
                "is on the correct account or org, and if so, purchase more at "
                "https://openrouter.ai/settings/credits",
            ),
        ),
        _scenario(
            "openrouter_invalid",
            "OpenRouter: 401 User not found.",
            Status.INVALID,
            "invalid_api_key",
            openrouter_key=_error(401, "User not found."),
        ),
        _scenario(
            "openrouter_management",
            "OpenRouter: a management key reads the account's credit (100.50 - 25.75)",
            Status.OK,
            None,
            openrouter_key=_key(label="ops", usage=0, is_management_key=True),
            openrouter_credits=json_reply({"data": {"total_credits": 100.5, "total_usage": 25.75}}),
        ),
        _scenario(
            "openrouter_zero_credits",
            "OpenRouter: an ordinary key whose /credits answers 200 with zeros (not a balance)",
            Status.OK,
            None,
            openrouter_key=_key(),
            openrouter_credits=ZERO_CREDITS,
        ),
        _scenario(
            "openrouter_legacy_path",
            "OpenRouter: only the older /auth/key path, unwrapped (a 2025 capture)",
            Status.OK,
            None,
            openrouter_legacy_path=json_reply(
                {
                    "label": "sk-or-v1-0fa...240",
                    "limit": None,
                    "usage": 0.65017511,
                    "limit_remaining": None,
                    "is_free_tier": False,
                    "rate_limit": {"requests": 40, "interval": "10s"},
                }
            ),
        ),
    )
}
