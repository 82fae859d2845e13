"""Anthropic (api.anthropic.com): liveness, credit and tier with free calls; admin-key spend.

API keys (``sk-ant-api…``):

1. ``GET /v1/models``: 200 means the key is live; 401 and 404 mean it is not; a 400 is
   inconclusive (providers-2026.md §3.5).
2. ``POST /v1/messages/count_tokens`` (free): answers 400 "credit balance is too low", the
   organization-disabled and spend-limit texts without spending anything. Its
   ``anthropic-ratelimit-*`` headers give the rate limits and the usage tier.

Admin keys (``sk-ant-admin…``) read month-to-date spend from the cost report
(:mod:`keyledger.providers.anthropic_admin`). Anthropic exposes no balance for either kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from keyledger.classify import Verdict, error_info
from keyledger.models import CheckResult, Key, Kind, RateLimits, Status
from keyledger.providers.anthropic_admin import check_admin
from keyledger.providers.anthropic_rules import RULES, regain_at
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.providers.spec import Capabilities, CheckOptions, KeyShape, Provider
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

MODELS = "/v1/models?limit=1000"
COUNT_TOKENS = "/v1/messages/count_tokens"
FALLBACK_MODEL = "claude-sonnet-4-5"
PREFERRED = ("haiku", "sonnet", "opus")
MAX_MODELS_KEPT = 500
FINAL = frozenset({Status.INVALID, Status.DEACTIVATED, Status.BILLING_INACTIVE, Status.NO_QUOTA})
# Requests per minute -> usage tier, from Anthropic's rate-limit page (tiers 1-4).
TIERS = {50: "tier 1", 1000: "tier 2", 2000: "tier 3", 4000: "tier 4"}
RATE_HEADERS = (
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-tokens-reset",
)


def header_int(value: str | None) -> int | None:
    """A header's positive integer of at most 18 ASCII digits; ``None`` otherwise."""
    value = (value or "").strip()
    ok = 0 < len(value) <= 18 and value.isascii() and value.isdigit()
    return int(value) if ok else None


def tier_of(requests_limit: int | None) -> str | None:
    """The usage tier a requests-per-minute limit stands for (``"N rpm"`` if not a known one)."""
    if requests_limit is None:
        return None
    return TIERS.get(requests_limit, f"{requests_limit} rpm")


def read_limits(headers: Mapping[str, str], out: ResultBuilder) -> None:
    """Rate limits and tier from the ``anthropic-ratelimit-*`` headers, when present."""
    pre = "anthropic-ratelimit-"
    limits = RateLimits(
        requests_limit=header_int(headers.get(pre + "requests-limit")),
        tokens_limit=header_int(headers.get(pre + "tokens-limit")),
        requests_remaining=header_int(headers.get(pre + "requests-remaining")),
        tokens_remaining=header_int(headers.get(pre + "tokens-remaining")),
        requests_reset=out.clean(headers[pre + "requests-reset"], 32)
        if pre + "requests-reset" in headers
        else None,
        tokens_reset=out.clean(headers[pre + "tokens-reset"], 32)
        if pre + "tokens-reset" in headers
        else None,
    )
    if limits != RateLimits():
        out.rate_limits = limits
        out.tier = tier_of(limits.requests_limit) or out.tier


def parse_models(data: dict[str, object] | None, out: ResultBuilder) -> tuple[str, ...] | None:
    """Model ids from a ``/v1/models`` page, cleaned."""
    items = data.get("data") if data is not None else None
    if not isinstance(items, list):
        return None
    raw = [
        m["id"][:96]
        for m in items[:MAX_MODELS_KEPT]
        if isinstance(m, dict) and isinstance(m.get("id"), str)
    ]
    return tuple(sorted({i for i in out.clean_many(raw) if i}))


def probe_model(models: tuple[str, ...] | None) -> str:
    """A model the key lists for count_tokens (the cheapest family first)."""
    for family in PREFERRED:
        for model in sorted(models or (), reverse=True):
            if family in model:
                return model
    return (models or (FALLBACK_MODEL,))[0]


class AnthropicProvider(Provider):
    """api.anthropic.com: API keys (status, credit, tier) and admin keys (spend)."""

    name: ClassVar[str] = "anthropic"
    title: ClassVar[str] = "Anthropic"
    default_base_url: ClassVar[str] = "https://api.anthropic.com"
    currency: ClassVar[str | None] = "USD"
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (
        KeyShape("sk-ant-admin01-", Kind.ADMIN),
        KeyShape("sk-ant-admin", Kind.ADMIN),
        KeyShape("sk-ant-api03-"),
        KeyShape("sk-ant-"),
    )
    auth = "x-api-key"
    extra_headers: ClassVar[Mapping[str, str]] = {"anthropic-version": "2023-06-01"}
    kept_headers: ClassVar[tuple[str, ...]] = RATE_HEADERS
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_anthropic"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (models list + free count_tokens)",
        balance="no (not exposed)",
        spend="admin keys: month to date, per workspace",
        expiry="no",
        calls=(
            "GET /v1/models",
            "POST /v1/messages/count_tokens (free)",
            "GET /v1/organizations/cost_report (admin)",
        ),
    )

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Check ``key``: admin keys read spend, API keys liveness, credit and tier."""
        out = ResultBuilder(key, options, self.classification)
        root = self.base_url(key, options)
        if key.kind is Kind.ADMIN:
            return await check_admin(client, key, root, self, out)
        out.balance_reason = "not_exposed"
        exchange = await client.call(self.request("GET", root + MODELS, key))
        verdict = out.record(exchange, "models")
        reply = exchange.outcome if isinstance(exchange.outcome, Reply) else None
        if verdict is None and reply is not None:
            read_limits(reply.headers, out)
            out.models = parse_models(json_object(reply), out)
            if out.models is None:
                out.unexpected(exchange, "models")
        elif reply is not None and reply.status == 404 and error_info(404, reply.body).type:
            # providers-2026 §3.5: a 404 in Anthropic's envelope means the key is not live.
            return out.finish(Status.INVALID, "key_not_found")
        elif verdict is not None and (
            verdict.status in FINAL or verdict.status is Status.UNREACHABLE
        ):
            return out.finish(verdict.status, verdict.reason)
        probe = await self._count_tokens(client, key, root, out)
        return out.finish(probe.status, None if probe.status is Status.OK else probe.reason)

    async def _count_tokens(
        self, client: Client, key: Key, root: str, out: ResultBuilder
    ) -> Verdict:
        body = {"model": probe_model(out.models), "messages": [{"role": "user", "content": "hi"}]}
        exchange = await client.call(self.request("POST", root + COUNT_TOKENS, key, json_body=body))
        verdict = out.record(exchange, "count_tokens")
        reply = exchange.outcome if isinstance(exchange.outcome, Reply) else None
        if reply is not None:
            read_limits(reply.headers, out)
        if verdict is None:
            counted = reply is not None and "input_tokens" in (json_object(reply) or {})
            return Verdict(Status.OK, "ok") if counted else out.unexpected(exchange, "count_tokens")
        if verdict.reason == "usage_limit_reached" and reply is not None:
            out.retry_at = regain_at(error_info(reply.status, reply.body)) or out.retry_at
        return verdict
