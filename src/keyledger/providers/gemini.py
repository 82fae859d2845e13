"""Google Gemini (generativelanguage.googleapis.com): status and billing tier, no balance.

The key travels only in the ``x-goog-api-key`` header, never in the URL (Google accepts
``?key=``, which would leak it into logs and proxies).

1. ``GET /v1beta/models``: 200 live; 400 ``API_KEY_INVALID`` invalid; 403 a real key whose
   project has no Gemini access (``restricted``) (providers-2026.md §3.7).
2. The free billing probe: Imagen ``predict`` with an empty prompt, rejected at validation.
   400 "Imagen API is only accessible to billed users at this time." means the free tier; any
   other 400 means the project is billed (tier ``paid``).

Google exposes no balance or spend for an API key (billing lives in Cloud Billing, which needs
cloud credentials): ``balance_reason`` is ``not_exposed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from keyledger.classify import ErrorInfo, Rule, Rules, has
from keyledger.models import CheckResult, Key, Status
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.providers.spec import Capabilities, CheckOptions, KeyShape, Provider
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

MODELS = "/v1beta/models?pageSize=1000"
IMAGEN_PROBE = "/v1beta/models/imagen-4.0-generate-001:predict"
MAX_MODELS_KEPT = 500
FINAL = frozenset({Status.INVALID, Status.DEACTIVATED, Status.BILLING_INACTIVE, Status.NO_QUOTA})


def _free_tier_quota(i: ErrorInfo) -> bool:
    return i.http_status == 429 and "freetier" in (i.quota_id or "").lower()


def _free_tier_reason(i: ErrorInfo) -> str:
    daily = "perday" in (i.quota_id or "").lower()
    return "free_tier_daily_limit" if daily else "free_tier_rate_limit"


RULES: Rules = (
    # 400 INVALID_ARGUMENT, details[0].reason API_KEY_INVALID: "API key not valid…",
    # "API Key not found…"
    Rule(
        "invalid-key",
        lambda i: (
            i.code == "API_KEY_INVALID"
            or "api key not valid" in i.text
            or "api key not found" in i.text
        ),
        Status.INVALID,
        "invalid_api_key",
    ),
    # The Imagen billing probe: the free tier cannot use Imagen. The key itself is fine.
    Rule("free-tier", has("only accessible to billed users"), Status.OK, "free_tier"),
    # "GenerateContent request limit per minute for a region": a zero quota that never recovers
    Rule(
        "no-generate-quota",
        lambda i: i.http_status == 429 and "request limit per minute for a region" in i.text,
        Status.RESTRICTED,
        "no_generate_quota",
    ),
    # 429 "You exceeded your current quota…" with quotaId …-FreeTier: a free-tier rate limit,
    # not money (the text is OpenAI's no-quota text; classify on quotaId).
    Rule("free-tier-quota", _free_tier_quota, Status.RATE_LIMITED, _free_tier_reason, retry=True),
    Rule(
        "resource-exhausted",
        lambda i: i.http_status == 429 and i.type == "RESOURCE_EXHAUSTED",
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        retry=True,
    ),
    # The same quota text without quotaId or status: still Gemini's rate limit, never no_quota
    Rule(
        "quota-text-429",
        lambda i: i.http_status == 429 and "exceeded your current quota" in i.text,
        Status.RATE_LIMITED,
        "rate_limit_exceeded",
        retry=True,
    ),
    # 403 PERMISSION_DENIED / SERVICE_DISABLED: a real Google key without Gemini access
    Rule("no-gemini-access", lambda i: i.http_status == 403, Status.RESTRICTED, "no_gemini_access"),
)


def parse_models(data: dict[str, object] | None, out: ResultBuilder) -> tuple[str, ...] | None:
    """Model ids (without ``models/``) from a ``models.list`` page, cleaned."""
    items = data.get("models") if data is not None else None
    if not isinstance(items, list):
        return None
    raw = [
        m["name"].removeprefix("models/")[:96]
        for m in items[:MAX_MODELS_KEPT]
        if isinstance(m, dict) and isinstance(m.get("name"), str)
    ]
    return tuple(sorted({i for i in out.clean_many(raw) if i}))


class GeminiProvider(Provider):
    """The Gemini API with AI Studio keys: status, model list and billing tier."""

    name: ClassVar[str] = "gemini"
    title: ClassVar[str] = "Google Gemini"
    default_base_url: ClassVar[str] = "https://generativelanguage.googleapis.com"
    currency: ClassVar[str | None] = None
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (KeyShape("AIza"),)
    auth = "x-goog-api-key"
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_gemini"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (models list)",
        balance="no (not exposed; tier free/paid from a free probe)",
        spend="no",
        expiry="no",
        calls=(
            "GET /v1beta/models",
            "POST /v1beta/models/imagen-4.0-generate-001:predict (empty prompt, rejected)",
        ),
    )

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Liveness from the model list, then the billing tier from the Imagen probe."""
        out = ResultBuilder(key, options, self.classification)
        out.balance_reason = "not_exposed"
        root = self.base_url(key, options)
        exchange = await client.call(self.request("GET", root + MODELS, key))
        verdict = out.record(exchange, "models")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        out.models = parse_models(json_object(exchange.outcome), out)
        if out.models is None:
            verdict = out.unexpected(exchange, "models")
            return out.finish(verdict.status, verdict.reason)
        body = {"instances": [{"prompt": ""}]}
        exchange = await client.call(self.request("POST", root + IMAGEN_PROBE, key, json_body=body))
        probe = out.record(exchange, "billing_probe")
        status = exchange.outcome.status if isinstance(exchange.outcome, Reply) else None
        if probe is not None and probe.reason == "free_tier":
            out.tier = "free"
        elif probe is not None and status == 400 and probe.reason == "bad_request":
            out.tier = "paid"  # validation rejected the empty prompt: Imagen is open to it
        elif probe is not None and probe.status in FINAL:
            return out.finish(probe.status, probe.reason)
        return out.finish(Status.OK, None)
