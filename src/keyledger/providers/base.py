"""Helpers every provider's check uses: collecting evidence and building the result."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from keyledger.classify import (
    DecodeError,
    ErrorInfo,
    Rules,
    Verdict,
    classify,
    error_info,
    looks_like_html,
    parse_json,
)
from keyledger.models import (
    STATUS_ORDER,
    Account,
    Balance,
    BalancePart,
    CheckResult,
    Evidence,
    Key,
    RateLimits,
    Spend,
    Status,
    primary_balance,
)
from keyledger.money import MoneyError, money_field
from keyledger.providers.spec import CheckOptions
from keyledger.sanitize import Redactor, clean_message, neutralise
from keyledger.transport import Fault, Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Exchange

# Cleans an untrusted string (redacts the key, neutralises controls) to at most N characters.
Clean = Callable[[str, int], str]

# Transport faults that mean "could not reach the provider" rather than "odd answer".
UNREACHABLE_FAULTS = frozenset({"connect", "dns", "timeout", "reset", "protocol", "tls", "network"})


# The evidence of a plain success is the same value for every key that asked the same
# endpoint: one shared (frozen) value per cleaned endpoint, status and attempts.
_OK_EVIDENCE: dict[tuple[str, int, int], Evidence] = {}
OK_EVIDENCE_SIZE = 1024  # emptied when full


def ok_evidence(endpoint: str, status: int, attempts: int) -> Evidence:
    """``Evidence(endpoint, status, attempts=attempts, outcome="ok")``, shared."""
    found = _OK_EVIDENCE.get((endpoint, status, attempts))
    if found is None:
        if len(_OK_EVIDENCE) >= OK_EVIDENCE_SIZE:
            _OK_EVIDENCE.clear()
        found = Evidence(endpoint, status, attempts=attempts, outcome="ok")
        _OK_EVIDENCE[(endpoint, status, attempts)] = found
    return found


@dataclass(frozen=True, slots=True)
class Signal:
    """One call's verdict, named after the call."""

    call: str
    verdict: Verdict


class ResultBuilder:
    """Collects what the calls of one check learned, then makes the :class:`CheckResult`."""

    # What a check has not learned yet: class-level (immutable) values, read until the check
    # sets its own. Most checks set few of them; none is set per key for nothing.
    attempts: int = 0
    balance: Balance | None = None
    balances: Sequence[Balance] = ()
    balance_reason: str | None = None
    tier: str | None = None
    spend: Spend | None = None
    rate_limits: RateLimits | None = None
    models: tuple[str, ...] | None = None
    account: Account | None = None
    retry_at: datetime | None = None

    def __init__(self, key: Key, options: CheckOptions, rules: Rules | None = None) -> None:
        self.key = key
        self.options = options
        self.rules = rules  # the provider's classification table
        self.redactor = Redactor.of(key.secret)
        self.started = time.monotonic()
        self.evidence: list[Evidence] = []
        self.signals: list[Signal] = []

    def record(self, exchange: Exchange, call: str) -> Verdict | None:
        """Keep evidence of ``exchange``; return its verdict if it was not a success."""
        self.attempts += exchange.attempts
        if exchange.retry_at is not None:
            self.retry_at = exchange.retry_at
        outcome = exchange.outcome
        if isinstance(outcome, Fault):
            status = Status.UNREACHABLE if outcome.reason in UNREACHABLE_FAULTS else Status.UNKNOWN
            verdict = Verdict(status, outcome.reason)
            self.evidence.append(
                Evidence(
                    self.endpoint(exchange),
                    None,
                    attempts=exchange.attempts,
                    outcome=outcome.reason,
                )
            )
            self.signals.append(Signal(call, verdict))
            return verdict
        success = 200 <= outcome.status < 300
        # A plain success needs no classifying: its answer is not picked apart.
        info = (
            None
            if success and plain_success(outcome.body)
            else error_info(outcome.status, outcome.body)
        )
        if info is not None and success and info.body_kind not in ("json", "empty"):
            # A page is an unexpected body (captive portal) unless it claims to be JSON.
            claims_json = "json" in outcome.headers.get("content-type", "").lower()
            page = info.body_kind == "html" and not claims_json
            verdict = Verdict(Status.UNKNOWN, "unexpected_body" if page else "decode")
            self.evidence.append(self._evidence(exchange, outcome, info, verdict))
            self.signals.append(Signal(call, verdict))
            return verdict
        if info is None or (success and not info.has_error_object):
            self.evidence.append(
                ok_evidence(self.endpoint(exchange), outcome.status, exchange.attempts)
            )
            return None
        _, verdict = classify(info, self.rules)
        if outcome.status in (301, 302, 303, 307, 308):
            verdict = Verdict(Status.UNKNOWN, "redirect")
        self.evidence.append(self._evidence(exchange, outcome, info, verdict))
        self.signals.append(Signal(call, verdict))
        return verdict

    def endpoint(self, exchange: Exchange) -> str:
        """The exchange's endpoint as kept in evidence: cleaned like any untrusted text, since
        a path can carry what a server answered (xAI's team id is put into a URL)."""
        return clean_message(exchange.endpoint, self.redactor, 240)

    def clean(self, text: str, limit: int = 96) -> str:
        """Untrusted text from the provider made safe to keep: no key, no controls, bounded."""
        return clean_message(text, self.redactor, limit)

    def clean_many(self, texts: list[str]) -> list[str]:
        """Many short untrusted strings cleaned in one pass (e.g. a long model list)."""
        joined = "\n".join(" ".join(t.split()) for t in texts)  # one line each
        lines = neutralise(self.redactor(joined), keep_newlines=True).split("\n")
        return lines if len(lines) == len(texts) else [self.clean(t) for t in texts]

    def unexpected(
        self,
        exchange: Exchange,
        call: str,
        reason: str = "unexpected_body",
        message: str | None = None,
    ) -> Verdict:
        """Note a 2xx answer whose body was not the documented shape (``message`` says how:
        our own words, e.g. which money field was out of bounds, never the provider's text)."""
        verdict = Verdict(Status.UNKNOWN, reason)
        if self.evidence and self.evidence[-1].endpoint == self.endpoint(exchange):
            last = self.evidence.pop()
            self.evidence.append(
                Evidence(
                    last.endpoint,
                    last.http_status,
                    message=message,
                    attempts=last.attempts,
                    outcome=reason,
                )
            )
        self.signals.append(Signal(call, verdict))
        return verdict

    def _evidence(
        self, exchange: Exchange, reply: Reply, info: ErrorInfo, verdict: Verdict
    ) -> Evidence:
        message = None
        if info.message:
            message = self.clean(info.message, 200)
        elif info.body_kind == "html":
            message = "HTML page"
        if verdict.reason == "redirect":
            location = reply.headers.get("location", "")
            target = location.split("://", 1)[-1].split("/", 1)[0] if "://" in location else ""
            message = f"redirect to {self.clean(target, 120)}".strip()
        return Evidence(
            endpoint=self.endpoint(exchange),
            http_status=reply.status,
            error_type=self.clean(info.type, 80) if info.type else None,
            error_code=self.clean(info.code, 80) if info.code else None,
            message=message,
            attempts=exchange.attempts,
            outcome=verdict.reason,
        )

    def set_balances(self, balances: list[Balance]) -> None:
        """Keep every balance read; the primary one is chosen by :func:`primary_balance`."""
        kept = list(balances)
        self.balances = kept
        self.balance = primary_balance(kept)

    def read_balance(
        self,
        exchange: Exchange,
        call: str,
        data: Mapping[str, object],
        *,
        available: str,
        parts: Mapping[str, str],
        currency: str,
        source: str,
    ) -> Balance | Verdict:
        """One balance from a provider's JSON object: the ``available`` field and the named
        ``parts`` (``{"cash": "cash_balance"}``), every amount bounded by :mod:`keyledger.money`.

        Kept as this check's balance and returned; an out-of-bounds or missing total is noted as
        an unexpected body and its verdict returned instead.
        """
        try:
            total = money_field(data, available)
            amounts = {name: money_field(data, field) for name, field in parts.items()}
        except MoneyError as exc:
            return self.unexpected(exchange, call, message=str(exc))
        if total is None:
            return self.unexpected(exchange, call, message=f"{available} missing")
        balance = Balance(
            currency=currency,
            source=source,
            read_at=self.options.now(),
            available=total,
            parts=tuple(BalancePart(n, a) for n, a in amounts.items() if a is not None),
        )
        self.set_balances([balance])
        return balance

    def required_models(self) -> list[str]:
        """The required models that apply to this key's provider.

        ``PROVIDER:MODEL`` (``openai:gpt-4o``, PROVIDER a registered provider) applies only to
        that provider's keys; a plain id (``llama3:8b`` too) applies to every key whose
        provider lists models.
        """
        from keyledger.providers.registry import default_registry

        applying = []
        for entry in self.options.required_models:
            head, sep, model = entry.partition(":")
            if sep and model and head in default_registry():
                if head == self.key.provider:
                    applying.append(model)
            else:
                applying.append(entry)
        return applying

    def missing_models(self) -> list[str]:
        """Required models (``CheckOptions.required_models``) absent from a known model list.

        Ids are compared exactly, ignoring a ``models/`` prefix (Gemini lists ``models/…``).
        """
        if self.models is None or not self.options.required_models:
            return []
        listed = {m.removeprefix("models/") for m in self.models}
        return [m for m in self.required_models() if m.removeprefix("models/") not in listed]

    def finish(self, status: Status, reason: str | None) -> CheckResult:
        """The result, with ``status`` and ``reason`` as decided by the provider.

        A key that lacks a required model becomes ``restricted``/``model_missing`` (with
        evidence naming the models) unless its status is already worse.
        """
        # No model list or no required model: nothing can be missing (no call to find out).
        missing = self.missing_models() if self.models is not None else None
        if missing and STATUS_ORDER.index(status) > STATUS_ORDER.index(Status.RESTRICTED):
            status, reason = Status.RESTRICTED, "model_missing"
            names = self.clean(", ".join(missing), 200)
            self.evidence.append(
                Evidence("required_models", None, message=f"missing: {names}", outcome=reason)
            )
        balance = self.balance
        balances = tuple(self.balances)
        if balance is not None and balance not in balances:
            balances = (balance, *(b for b in balances if b.currency != balance.currency))
        # Positional: the fields in CheckResult's order.
        return CheckResult(
            self.key,
            status,
            reason,
            self.options.now(),
            balance,
            self.balance_reason,
            self.spend,
            self.rate_limits,
            self.models,
            self.account,
            tuple(self.evidence),
            self.attempts,
            int((time.monotonic() - self.started) * 1000),
            self.retry_at,
            balances,
            self.tier,
        )


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first day of ``now``'s month."""
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def is_missing_path(exchange: Exchange) -> bool:
    """Whether the server said the path does not exist (404/405, whatever the body)."""
    return isinstance(exchange.outcome, Reply) and exchange.outcome.status in (404, 405)


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most severe verdict by :data:`STATUS_ORDER`."""
    return min(verdicts, key=lambda v: STATUS_ORDER.index(v.status))


def plain_success(body: bytes) -> bool:
    """Whether a 2xx answer's ``body`` is one :func:`error_info` would call a plain success
    (empty, or JSON that is not an object holding ``error``); ``False`` leaves the question to
    :func:`error_info` itself (an HTML page, broken JSON, an ``error`` member of any kind)."""
    stripped = body.strip()
    if not stripped:
        return True
    # Only a body starting with "<" can look like HTML (a JSON body is not asked).
    if stripped[0] == 0x3C and looks_like_html(stripped):
        return False
    try:
        data = parse_json(stripped)
    except DecodeError:
        return False
    return not (isinstance(data, dict) and "error" in data)


def json_object(reply: Reply) -> dict[str, object] | None:
    """The reply's body as a JSON object, or ``None``."""
    try:
        data = parse_json(reply.body)
    except DecodeError:
        return None
    return data if isinstance(data, dict) else None
