"""The simulator's Gemini endpoints and scenarios (provider-apis.md §4.6, providers-2026.md
§3.7): the model list and the Imagen billing probe. Keys arrive in ``x-goog-api-key``."""

from __future__ import annotations

from keyledger.models import Kind, Status
from keyledger.simulator.responses import Responder, json_reply
from keyledger.simulator.scenario import Scenario

ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/v1beta/models"): "gemini_models",
    ("POST", "/v1beta/models/imagen-4.0-generate-001:predict"): "gemini_predict",
}
PREFIX = "AIza"


def google_error(
    status: int, rpc_status: str, message: str, details: list[object] | None = None
) -> Responder:
    """An error in Google's RPC envelope."""
    error: dict[str, object] = {"code": status, "message": message, "status": rpc_status}
    if details is not None:
        error["details"] = details
    return json_reply({"error": error}, status)


def _reason(reason: str) -> list[object]:
    return [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "googleapis.com",
        }
    ]


MODELS = json_reply(
    {
        "models": [
            {"name": f"models/{m}", "displayName": m}
            for m in ("gemini-2.5-flash", "gemini-2.5-pro", "imagen-4.0-generate-001")
        ]
    }
)
INVALID = google_error(
    400,
    "INVALID_ARGUMENT",
    "API key not valid. Please pass a valid API key.",
    _reason("API_KEY_INVALID"),
)
NOT_FOUND = google_error(
    400,
    "INVALID_ARGUMENT",
    "API Key not found. Please pass a valid API key.",
    _reason("API_KEY_INVALID"),
)
NO_ACCESS = google_error(
    403,
    "PERMISSION_DENIED",
    "Generative Language API has not been used in project 123 before or it is disabled.",
    _reason("SERVICE_DISABLED"),
)
FREE_TIER_ONLY = google_error(
    400, "INVALID_ARGUMENT", "Imagen API is only accessible to billed users at this time."
)
BILLED = google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
FREE_TIER_429 = google_error(
    429,
    "RESOURCE_EXHAUSTED",
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/"
                    "generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"},
    ],
)


def _scenario(
    name: str, description: str, expect: Status, reason: str | None, **endpoints: Responder
) -> Scenario:
    return Scenario(
        name,
        Kind.SECRET,
        description,
        expect,
        reason,
        endpoints=endpoints,
        provider="gemini",
        key_prefix=PREFIX,
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _scenario(
            "gemini_free",
            "live key on the free tier",
            Status.OK,
            None,
            gemini_models=MODELS,
            gemini_predict=FREE_TIER_ONLY,
        ),
        _scenario(
            "gemini_paid",
            "live key on a billed project",
            Status.OK,
            None,
            gemini_models=MODELS,
            gemini_predict=BILLED,
        ),
        _scenario(
            "gemini_invalid",
            "400 API_KEY_INVALID",
            Status.INVALID,
            "invalid_api_key",
            gemini_models=INVALID,
        ),
        _scenario(
            "gemini_key_not_found",
            "400 API Key not found",
            Status.INVALID,
            "invalid_api_key",
            gemini_models=NOT_FOUND,
        ),
        _scenario(
            "gemini_no_access",
            "403: a Google key without Gemini access",
            Status.RESTRICTED,
            "no_gemini_access",
            gemini_models=NO_ACCESS,
        ),
        _scenario(
            "gemini_free_tier_limited",
            "429 free-tier quota: a rate limit, not money",
            Status.RATE_LIMITED,
            "free_tier_rate_limit",
            gemini_models=FREE_TIER_429,
        ),
    )
}
