"""Providers described by data, not code: one balance endpoint and one JSON shape.

Relays and small vendors each answer one balance request with one JSON shape. A
:class:`Definition` (validated from TOML by :mod:`keyledger.providers.declarative_load`) says
where to ask, how to read the answer and which error texts mean what; :func:`provider_from`
turns it into a :class:`~keyledger.providers.spec.Provider` subclass, so routing, redaction,
classification, the simulator and the docs treat it exactly like a provider written in Python.

JSON paths are tiny on purpose: names separated by dots, each optionally followed by ``[N]``
indexes (``data.balances[0].usd``). Names hold letters, digits, ``_`` and ``-``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from keyledger.classify import ErrorInfo, Rule
from keyledger.models import Balance, BalancePart, CheckResult, Key, Status
from keyledger.money import WIDE, MoneyError, from_iso, from_unix, parse_money
from keyledger.providers.base import ResultBuilder, json_object
from keyledger.providers.spec import (
    AuthStyle,
    Capabilities,
    CheckOptions,
    KeyShape,
    Provider,
    origin_of,
)
from keyledger.transport import Reply

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

_NAME = r"[A-Za-z0-9_\-]+"
_STEP = re.compile(rf"({_NAME})((?:\[\d{{1,6}}\])*)")
_INDEX = re.compile(r"\[(\d+)\]")
_MONEY_PLACES = Decimal("1e-12")
MISSING = object()


class PathError(ValueError):
    """A JSON path that is not ``name(.name|[N])*``."""


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed JSON path: object keys (``str``) and list indexes (``int``)."""

    text: str
    steps: tuple[str | int, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        """Parse ``data.balances[0].usd`` once.

        Raises:
            PathError: not a path of the documented syntax.
        """
        steps: list[str | int] = []
        if not text or len(text) > 200:
            raise PathError("a JSON path is 1 to 200 characters")
        for part in text.split("."):
            found = _STEP.fullmatch(part)
            if found is None:
                raise PathError(f"bad JSON path step {part[:40]!r} (use name, name[0], a.b)")
            steps.append(found.group(1))
            steps.extend(int(i) for i in _INDEX.findall(found.group(2)))
        return cls(text, tuple(steps))

    def get(self, data: object) -> object:
        """The value at this path in ``data``, or :data:`MISSING`."""
        value = data
        for step in self.steps:
            if isinstance(step, int) and isinstance(value, list) and step < len(value):
                value = value[step]
                continue
            if not (isinstance(step, str) and isinstance(value, dict) and step in value):
                return MISSING
            value = value[step]
        return value


@dataclass(frozen=True, slots=True)
class BalanceSpec:
    """How to read one currency's balance from the answer."""

    currency: str | None = None  # fixed currency, else read from currency_path
    currency_path: JsonPath | None = None
    available: JsonPath | None = None
    granted: JsonPath | None = None
    used: JsonPath | None = None
    expires: JsonPath | None = None
    divisor: Decimal = Decimal(1)
    negate: bool = False  # a negative figure is credit (DeepInfra's stripe_balance)
    parts: tuple[tuple[str, JsonPath], ...] = ()
    note: str | None = None  # kept as the balance's ``reading`` (e.g. "currency_unstated")


@dataclass(frozen=True, slots=True)
class Unusable:
    """A flag in the answer that makes a funded account unusable (``canConsume: false``)."""

    path: JsonPath
    equals: object
    status: Status
    reason: str


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """An error answer mapped to a status: HTTP status, and message texts or codes."""

    status: Status
    reason: str
    http: tuple[int, ...] = ()
    contains: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()

    def matches(self, info: ErrorInfo) -> bool:
        """Whether ``info`` is this error (every condition given holds)."""
        if self.http and info.http_status not in self.http:
            return False
        if not self.contains and not self.codes:
            return True
        text = any(c.lower() in info.text for c in self.contains)
        return text or info.code in self.codes or info.type in self.codes


@dataclass(frozen=True, slots=True)
class SimScenario:
    """A canned answer of the balance endpoint and what keyledger must make of it."""

    name: str
    description: str
    body: Any
    http: int
    expect: Status
    expect_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Definition:
    """A validated declarative provider."""

    name: str
    title: str
    base_url: str
    path: str  # relative to base_url, or from the host root when it starts with "/"
    method: str = "GET"
    auth: AuthStyle = "bearer"
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None
    key_shapes: tuple[KeyShape, ...] = ()
    hosts: tuple[str, ...] = ()
    balances: tuple[BalanceSpec, ...] = ()
    unusable: tuple[Unusable, ...] = ()
    errors: tuple[ErrorRule, ...] = ()
    scenarios: tuple[SimScenario, ...] = ()
    empty_is_no_quota: bool = True  # no money left means no_quota (not for postpaid accounts)
    notes: str = ""
    source: str = field(default="", compare=False)  # the file it came from

    def url(self, base: str) -> str:
        """The balance endpoint for a key whose base URL is ``base``."""
        if self.path.startswith("/"):
            return origin_of(base) + self.path
        return f"{base.rstrip('/')}/{self.path}"


def _scaled(value: Decimal, spec: BalanceSpec) -> Decimal:
    """``value`` divided by the unit divisor (and negated), at most 12 decimal places."""
    result = value if spec.divisor == 1 else WIDE.divide(value, spec.divisor)
    if spec.negate:
        result = WIDE.minus(result)
    exponent = result.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -12:
        result = result.quantize(_MONEY_PLACES, context=WIDE).normalize(WIDE)
        if result.as_tuple().exponent > 0:  # type: ignore[operator]
            result = result.quantize(Decimal(1), context=WIDE)
    return result if result else Decimal(0)


def _money(data: object, path: JsonPath | None, spec: BalanceSpec) -> Decimal | None:
    if path is None:
        return None
    value = path.get(data)
    if value is MISSING:
        return None
    try:
        number = parse_money(value)
    except MoneyError as exc:
        raise MoneyError(f"{path.text}: {exc}") from None
    return None if number is None else _scaled(number, spec)


def _expiry(data: object, path: JsonPath | None) -> datetime | None:
    """The expiry at ``path``: Unix seconds or ISO 8601, in UTC; ``None`` for none or never."""
    value = MISSING if path is None else path.get(data)
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return from_iso(value)
    return None if value is MISSING else from_unix(value)


def read_balances(definition: Definition, data: object, now: datetime) -> list[Balance]:
    """Every balance the definition reads from ``data`` (none found: an empty list).

    Raises:
        MoneyError: a figure is present but not bounded money (the message names its path).
    """
    balances = []
    for spec in definition.balances:
        figures = [_money(data, p, spec) for p in (spec.available, spec.granted, spec.used)]
        parts = tuple(
            BalancePart(name, amount)
            for name, path in spec.parts
            if (amount := _money(data, path, spec)) is not None
        )
        if all(f is None for f in figures) and not parts:
            continue
        currency = spec.currency
        if spec.currency_path is not None:
            found = spec.currency_path.get(data)
            if isinstance(found, str) and re.fullmatch(r"[A-Za-z]{2,12}", found):
                currency = found.upper()
        available, granted, used = figures
        if available is None and granted is not None and used is not None:
            available = granted - used
        balances.append(
            Balance(
                currency=currency or "unstated",
                source=definition.name,
                read_at=now,
                granted=granted,
                used=used,
                available=available,
                expires_at=_expiry(data, spec.expires),
                reading=spec.note,
                parts=parts,
            )
        )
    return balances


class DeclarativeProvider(Provider):
    """A provider whose class attributes and check come from a :class:`Definition`."""

    definition: ClassVar[Definition]
    _simulated: Any = None

    def simulated(self) -> Any:
        """Its simulator pieces (``ROUTES``, ``SCENARIOS``), generated from the definition."""
        from keyledger.simulator.sim_declarative import simulated

        if self._simulated is None:
            self._simulated = simulated(self.definition, self.default_base_url)
        return self._simulated

    def base_url(self, key: Key, settings: CheckOptions) -> str:
        """As for every provider; a key's ``base_url=`` pin loses a trailing ``/v1`` when it is
        read (relay roots), so it is put back when the default base URL ends in ``/v1``."""
        root = super().base_url(key, settings)
        if key.base_url and self.default_base_url.endswith("/v1") and not root.endswith("/v1"):
            root += "/v1"
        return root

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """One balance request; its answer read by the definition's paths and flags."""
        spec = self.definition
        out = ResultBuilder(key, options, self.classification)
        url = spec.url(self.base_url(key, options))
        request = self.request(
            spec.method, url, key, json_body=spec.body, headers=dict(spec.headers)
        )
        exchange = await client.call(request)
        verdict = out.record(exchange, "balance")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        assert isinstance(exchange.outcome, Reply)
        data = json_object(exchange.outcome)
        if data is None:
            verdict = out.unexpected(exchange, "balance")
            return out.finish(verdict.status, verdict.reason)
        try:
            balances = read_balances(spec, data, options.now())
        except MoneyError as exc:
            verdict = out.unexpected(exchange, "balance", message=out.clean(str(exc), 160))
            return out.finish(verdict.status, verdict.reason)
        out.set_balances(balances)
        flagged = next((u for u in spec.unusable if u.path.get(data) == u.equals), None)
        if not balances and flagged is None:
            verdict = out.unexpected(exchange, "balance", message="no balance field found")
            return out.finish(verdict.status, verdict.reason)
        if flagged is not None:
            return out.finish(flagged.status, flagged.reason)
        known = [b.available for b in balances if b.available is not None]
        if spec.empty_is_no_quota and known and all(amount <= 0 for amount in known):
            return out.finish(Status.NO_QUOTA, "balance_exhausted")
        return out.finish(Status.OK, None)


def _rule(spec: ErrorRule, index: int, provider: str) -> Rule:
    return Rule(f"{provider}-{index}-{spec.reason}", spec.matches, spec.status, spec.reason)


def _capabilities(spec: Definition) -> Capabilities:
    currencies = sorted({b.currency or "read from the answer" for b in spec.balances})
    balance = "yes (" + ", ".join(currencies) + ")" if spec.balances else "no"
    expiry = "yes" if any(b.expires for b in spec.balances) else "no"
    return Capabilities(
        status="from the balance call (no free validity probe)",
        balance=balance,
        spend="used" if any(b.used for b in spec.balances) else "no",
        expiry=expiry,
        calls=(f"{spec.method} {spec.path}",),
    )


def provider_from(spec: Definition) -> DeclarativeProvider:
    """A provider instance of a new :class:`DeclarativeProvider` subclass built from ``spec``."""
    fixed = {b.currency for b in spec.balances}
    attributes: Mapping[str, object] = {
        "definition": spec,
        "name": spec.name,
        "title": spec.title,
        "default_base_url": spec.base_url,
        "currency": fixed.pop() if len(fixed) == 1 else None,
        "key_shapes": spec.key_shapes,
        "auth": spec.auth,
        "hosts": spec.hosts,
        "rules": tuple(_rule(r, i, spec.name) for i, r in enumerate(spec.errors)),
        "capabilities": _capabilities(spec),
        "__doc__": f"{spec.title} (declared in {spec.source or 'a definition'}).",
    }
    cls = type(f"Declared_{spec.name.replace('-', '_')}", (DeclarativeProvider,), dict(attributes))
    return cls()  # type: ignore[no-any-return]
