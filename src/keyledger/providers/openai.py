"""The OpenAI provider: api.openai.com and OpenAI-compatible relays (one-api/new-api).

Each key kind goes to its free check: session keys read credit grants, secret and project keys
the models list, the zero-cost probe and the legacy billing pair, admin keys the costs API.
"""

from __future__ import annotations

import re
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers.openai_admin import check_admin
from keyledger.providers.openai_common import KEPT_HEADERS, OPENAI_BASE_URL, builder
from keyledger.providers.openai_rules import RULES
from keyledger.providers.openai_secret import check_secret
from keyledger.providers.openai_session import check_session
from keyledger.providers.spec import Capabilities, CheckOptions, KeyShape, Provider, ProviderOption

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

# Every legacy OpenAI secret key carries this marker (base64 of "OpenAI"); without it a plain
# ``sk-`` key may belong to any of a dozen vendors and relays.
OPENAI_MARKER = "T3BlbkFJ"
_LEGACY = re.compile(rf"sk-[A-Za-z0-9_\-]*{OPENAI_MARKER}[A-Za-z0-9_\-]*")


class OpenAIProvider(Provider):
    """api.openai.com and OpenAI-compatible relays (one-api/new-api)."""

    name: ClassVar[str] = "openai"
    title: ClassVar[str] = "OpenAI and OpenAI-compatible relays"
    default_base_url: ClassVar[str] = OPENAI_BASE_URL
    currency: ClassVar[str | None] = "USD"
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (
        KeyShape("sess-", Kind.SESSION),
        KeyShape("sk-admin-", Kind.ADMIN),
        KeyShape("sk-proj-"),
        KeyShape("sk-svcacct-"),
        KeyShape("sk-service-"),
        KeyShape("sk-None-"),
        KeyShape("sk-", pattern=_LEGACY),
        KeyShape("sk-", claims=False),  # any other sk- key may be a relay token
    )
    kept_headers: ClassVar[tuple[str, ...]] = KEPT_HEADERS
    rules = RULES
    simulator: ClassVar[str | None] = "keyledger.simulator.sim_openai"
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes (free probe)",
        balance="session keys: credit grants; relays: token or wallet balance",
        spend="admin keys: month to date, per project; relays: token spend",
        expiry="session keys: every grant; relays: token expiry",
        calls=(
            "GET /dashboard/billing/credit_grants (session)",
            "GET /v1/models",
            "POST /v1/chat/completions (max_tokens -1, rejected at validation)",
            "GET /api/status (relays, without the key)",
            "GET /api/usage/token/ (new-api relays)",
            "GET /v1/dashboard/billing/subscription + /usage",
            "GET /v1/organization/costs (admin)",
        ),
    )
    options: ClassVar[tuple[ProviderOption, ...]] = (
        ProviderOption("whoami", "also ask /v1/me for the organization (secret keys)", False),
        ProviderOption("billing", "read the legacy billing endpoints (relay balances)", True),
    )

    def check(
        self, client: Client, key: Key, options: CheckOptions
    ) -> Coroutine[Any, Any, CheckResult]:
        """Check ``key`` according to its kind: the check of that kind itself, so that the
        common path adds no coroutine of its own."""
        if key.kind is Kind.SESSION:
            return check_session(client, key, options)
        if key.kind is Kind.ADMIN:
            return check_admin(client, key, options)
        if key.kind is Kind.SECRET:
            return check_secret(client, key, options)
        return _unrecognized(key, options)


async def _unrecognized(key: Key, options: CheckOptions) -> CheckResult:
    return builder(key, options).finish(Status.UNKNOWN, "unrecognized_key")
