"""The OpenAI provider: routes each key kind to its free check."""

from __future__ import annotations

from typing import ClassVar

from keyledger.client import Client
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers.base import CheckOptions, ResultBuilder
from keyledger.providers.openai_admin import check_admin
from keyledger.providers.openai_common import OPENAI_BASE_URL
from keyledger.providers.openai_secret import check_secret
from keyledger.providers.openai_session import check_session


class OpenAIProvider:
    """api.openai.com and OpenAI-compatible relays (one-api/new-api)."""

    name: ClassVar[str] = "openai"
    default_base_url: ClassVar[str] = OPENAI_BASE_URL

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Check ``key`` according to its kind."""
        if key.kind is Kind.SESSION:
            return await check_session(client, key, options)
        if key.kind is Kind.ADMIN:
            return await check_admin(client, key, options)
        if key.kind is Kind.SECRET:
            return await check_secret(client, key, options)
        return ResultBuilder(key, options).finish(Status.UNKNOWN, "unrecognized_key")
