"""Acme AI: a minimal third-party keyledger provider (the example of docs/plugins.md).

Acme keys look like ``acme-`` + 32 letters and digits and go in ``Authorization: Bearer``.
``GET /v1/me`` is free and answers ``{"credit": "12.50"}`` (USD) for a working key.
"""

from __future__ import annotations

from typing import ClassVar

from keyledger.classify import Rule, Rules, has
from keyledger.client import Client
from keyledger.models import Balance, CheckResult, Key, Kind, Status
from keyledger.money import MoneyError, money_field
from keyledger.providers import Capabilities, CheckOptions, KeyShape, Provider
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.transport import Reply


class AcmeProvider(Provider):
    """Acme AI keys: status and balance from ``GET /v1/me``."""

    name: ClassVar[str] = "acme"
    title: ClassVar[str] = "Acme AI"
    default_base_url: ClassVar[str] = "https://api.acme.example"
    currency: ClassVar[str | None] = "USD"
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (KeyShape("acme-", Kind.SECRET),)
    # Acme's own error texts, between the shared head and tail (first match wins).
    rules: ClassVar[Rules] = (
        Rule("acme-no-credit", has("out of credit"), Status.NO_QUOTA, "insufficient_balance"),
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        status="yes", balance="yes (USD)", calls=("GET /v1/me",)
    )
    simulator: ClassVar[str | None] = "keyledger_acme.sim"

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """One free call: the account's remaining credit."""
        out = ResultBuilder(key, options, self.classification)
        url = self.base_url(key, options) + "/v1/me"
        exchange = await client.call(self.request("GET", url, key))
        verdict = out.record(exchange, "me")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)  # record() returned no verdict: a 2xx
        data = json_object(exchange.outcome)
        try:
            credit = money_field(data, "credit") if data is not None else None
        except MoneyError:
            credit = None
        if credit is None:
            out.unexpected(exchange, "me")
            return out.finish(Status.UNKNOWN, "unexpected_body")
        out.set_balances(
            [Balance(currency="USD", source="/v1/me", read_at=options.now(), available=credit)]
        )
        return out.finish(Status.OK, None)
