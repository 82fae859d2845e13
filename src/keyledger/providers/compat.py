"""OpenAI-compatible vendors checked for free: ``GET /models``, then a chat probe that
validation must reject (``max_tokens: -1``).

A vendor module subclasses :class:`CompatProvider`, declares its base URL, key shapes, probe
models and its own rules (its published "no money" and "bad key" texts), and is done. None of
these vendors exposes a balance to an API key, so every result says ``balance_reason:
not_exposed`` and never a made-up 0.

How a check decides:

1. ``GET {base}/models`` (when the vendor has it): a definite verdict (invalid, deactivated,
   restricted, no money) or an unreachable host ends the check; a 2xx gives the model list.
2. The probe ``POST {base}/chat/completions`` with ``max_tokens: -1`` (when the vendor declares
   probe models). Its answer decides: a vendor rule may say "no money"; a 400/422 that no rule
   explains is the validation rejection we asked for, so the key authenticated (``ok``).
3. Without a probe, a listed model set means ``ok``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from keyledger.classify import DecodeError, Rule, Rules, Verdict, code_or_type, parse_json
from keyledger.models import CheckResult, Key, Status
from keyledger.providers.base import ResultBuilder, json_object, worst
from keyledger.providers.openai_common import KEPT_HEADERS, rate_limits
from keyledger.providers.openai_secret import parse_models
from keyledger.providers.spec import CheckOptions, Provider
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

NOT_EXPOSED = "not_exposed"
# Verdicts that settle the key's fate, whichever call gave them.
DEFINITE = frozenset(
    {
        Status.INVALID,
        Status.DEACTIVATED,
        Status.BILLING_INACTIVE,
        Status.NO_QUOTA,
        Status.RESTRICTED,
    }
)
# What the shared tail calls a 400, and the fallback for a 422 no rule explains: on the probe
# these are the validation rejection the probe asks for (auth failures are 401/403).
VALIDATION_REASONS = frozenset({"bad_request", "http_422"})
PROBE_OK = "probe_rejected_as_expected"

# The OpenAI envelope's ``invalid_api_key`` (Groq's code, DashScope's code, Together's code).
INVALID_API_KEY = Rule(
    "invalid-api-key", code_or_type("invalid_api_key"), Status.INVALID, "invalid_api_key"
)
COMMON: Rules = (INVALID_API_KEY,)


def probe_body(model: str) -> dict[str, Any]:
    """The zero-cost chat request: ``max_tokens: -1`` must be rejected at validation."""
    return {"model": model, "max_tokens": -1, "messages": [{"role": "user", "content": "hi"}]}


class CompatProvider(Provider):
    """An OpenAI-compatible vendor: subclasses declare attributes, rarely code."""

    auth = "bearer"
    kept_headers: ClassVar[tuple[str, ...]] = KEPT_HEADERS
    models_path: ClassVar[str | None] = "/models"
    chat_path: ClassVar[str] = "/chat/completions"
    # Models the probe names, in preference order; empty means no probe.
    probe_models: ClassVar[tuple[str, ...]] = ()
    # A pinned ``base_url`` loses a trailing ``/v1`` when it is normalised; vendors whose
    # documented base ends in ``/v1`` get it back, so both spellings reach the same routes.
    version_suffix: ClassVar[str] = ""

    def api_root(self, key: Key, options: CheckOptions) -> str:
        """The documented base URL for this key (its pin, the configured one or the default)."""
        root = self.base_url(key, options)
        if self.version_suffix and not root.endswith(self.version_suffix):
            root += self.version_suffix
        return root

    def choose_probe(self, models: tuple[str, ...] | None) -> str:
        """The probe's model: the first preferred one the key lists, else the first preferred."""
        listed = set(models or ())
        return next((m for m in self.probe_models if m in listed), self.probe_models[0])

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Models list, then the validation-rejected probe; no balance is exposed."""
        out = ResultBuilder(key, options, self.classification)
        out.balance_reason = NOT_EXPOSED
        root = self.api_root(key, options)
        listed = False
        if self.models_path is not None:
            exchange = await client.call(self.request("GET", root + self.models_path, key))
            verdict = out.record(exchange, "models")
            if verdict is None and isinstance(exchange.outcome, Reply):
                items = _list_body(exchange.outcome)
                data: dict[str, object] | None = (
                    {"data": items} if items is not None else json_object(exchange.outcome)
                )
                out.models = parse_models(data, out.clean_many)
                if out.models is None:
                    out.unexpected(exchange, "models")
                listed = out.models is not None
            elif verdict is not None and (
                verdict.status in DEFINITE or verdict.status is Status.UNREACHABLE
            ):
                return out.finish(verdict.status, verdict.reason)
        if not self.probe_models:
            return self._decide(out, None, listed)
        model = self.choose_probe(out.models)
        exchange = await client.call(
            self.request("POST", root + self.chat_path, key, json_body=probe_body(model))
        )
        probe = out.record(exchange, "probe")
        if isinstance(exchange.outcome, Reply):
            out.rate_limits = rate_limits(exchange.outcome.headers, out.clean) or out.rate_limits
            if probe is None:  # 2xx: served only if it really is a completion
                served = "choices" in (json_object(exchange.outcome) or {})
                probe = (
                    Verdict(Status.OK, "probe_served")
                    if served
                    else out.unexpected(exchange, "probe")
                )
        assert probe is not None
        if probe.status is Status.UNKNOWN and probe.reason in VALIDATION_REASONS:
            probe = Verdict(Status.OK, PROBE_OK)
        return self._decide(out, probe, listed)

    def _decide(self, out: ResultBuilder, probe: Verdict | None, listed: bool) -> CheckResult:
        definite = [s.verdict for s in out.signals if s.verdict.status in DEFINITE]
        if definite:
            final = worst(definite)
            return out.finish(final.status, final.reason)
        if probe is not None and probe.status is Status.OK:
            return out.finish(Status.OK, None)
        if probe is not None and probe.status is not Status.UNKNOWN:
            return out.finish(probe.status, probe.reason)
        if probe is None and listed:
            return out.finish(Status.OK, None)
        others = [s.verdict for s in out.signals if s.verdict.status is not Status.OK]
        if probe is not None:
            return out.finish(probe.status, probe.reason)
        if others:
            final = worst(others)
            return out.finish(final.status, final.reason)
        return out.finish(Status.UNKNOWN, "unexpected_body")


def _list_body(reply: Reply) -> list[Any] | None:
    """A models answer that is a bare JSON array (Together), else ``None``."""
    try:
        data = parse_json(reply.body)
    except DecodeError:
        return None
    return data if isinstance(data, list) else None
