"""Frozen values that flow through keyledger: keys in, results out.

A check never raises for a bad key or a bad server: its outcome is a :class:`CheckResult`
whose :class:`Status` is one of a fixed set (``docs/json-output.md`` documents them).
"""

from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from keyledger.secret import Secret

_T = TypeVar("_T")


def quick_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass an ``__init__`` that stores each field through its
    slot directly (what the generated one does through ``object.__setattr__`` per field,
    about twice as slow): same parameters, defaults and values. It is built at the class's
    first construction, so importing the class costs nothing more.

    Classes with a ``__post_init__``, a default factory, keyword-only or non-init fields keep
    the generated ``__init__``.
    """
    known = fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or any(
        f.default_factory is not MISSING or not f.init or f.kw_only for f in known
    ):
        return cls
    generated = cls.__init__

    def first_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init = _slot_init(cls, [f.name for f in known], generated)
        cls.__init__ = init  # type: ignore[method-assign]
        init(self, *args, **kwargs)

    first_init.__wrapped__ = generated  # type: ignore[attr-defined]  # its signature
    first_init.__qualname__ = generated.__qualname__
    first_init.__doc__ = generated.__doc__
    first_init.__annotations__ = generated.__annotations__
    cls.__init__ = first_init  # type: ignore[method-assign]
    return cls


def _slot_init(cls: type, names: list[str], generated: Any) -> Any:
    """The slot-storing ``__init__`` of ``cls`` (see :func:`quick_init`)."""
    namespace: dict[str, Any] = {f"_set_{n}": getattr(cls, n).__set__ for n in names}
    body = "".join(f"    _set_{n}(self, {n})\n" for n in names)
    exec(f"def __init__(self, {', '.join(names)}):\n{body}", namespace)
    init = namespace["__init__"]
    init.__defaults__ = generated.__defaults__
    init.__qualname__ = generated.__qualname__
    init.__doc__ = generated.__doc__
    init.__annotations__ = generated.__annotations__
    return init


class Status(enum.StrEnum):
    """The outcome of one key check (the contract in the vision document)."""

    OK = "ok"
    NO_QUOTA = "no_quota"
    BILLING_INACTIVE = "billing_inactive"
    DEACTIVATED = "deactivated"
    INVALID = "invalid"
    RESTRICTED = "restricted"
    RATE_LIMITED = "rate_limited"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"

    @property
    def determinate(self) -> bool:
        """Whether the provider gave a definite answer about the key."""
        return self not in (Status.UNREACHABLE, Status.UNKNOWN, Status.RATE_LIMITED)


# Worst first: used to sort tables and to combine several calls' verdicts.
STATUS_ORDER: tuple[Status, ...] = (
    Status.INVALID,
    Status.DEACTIVATED,
    Status.BILLING_INACTIVE,
    Status.NO_QUOTA,
    Status.RESTRICTED,
    Status.RATE_LIMITED,
    Status.UNREACHABLE,
    Status.UNKNOWN,
    Status.OK,
)


class Kind(enum.StrEnum):
    """What a key can do, detected from its shape."""

    SESSION = "session"
    SECRET = "secret"
    ADMIN = "admin"
    MANAGEMENT = "management"
    UNRECOGNIZED = "unrecognized"


@quick_init
@dataclass(frozen=True, slots=True)
class Key:
    """One key to check. ``secret`` is masked in every printable form."""

    secret: Secret
    fingerprint: str
    label: str
    provider: str = "openai"
    kind: Kind = Kind.SECRET
    base_url: str | None = None
    aliases: tuple[str, ...] = ()
    source: str = ""
    problem: str | None = None  # set when the key must not be sent anywhere (e.g. placeholder)

    @property
    def masked(self) -> str:
        """Display form of the key."""
        return self.secret.masked


_ZERO = Decimal(0)


@quick_init
@dataclass(frozen=True, slots=True)
class Grant:
    """One OpenAI credit grant (session keys)."""

    amount: Decimal
    used: Decimal
    effective_at: datetime | None
    expires_at: datetime | None
    expired: bool
    grant_id: str | None = None

    @property
    def remaining(self) -> Decimal:
        """What is left on this grant, never below zero."""
        left = self.amount - self.used
        return left if left > _ZERO else _ZERO  # what max(_ZERO, left) gives, without a call


@quick_init
@dataclass(frozen=True, slots=True)
class BalancePart:
    """One named component of a balance (Moonshot's ``cash`` and ``voucher``; a debt is < 0)."""

    name: str
    amount: Decimal


@quick_init
@dataclass(frozen=True, slots=True)
class Balance:
    """Money on an account, exact, in the provider's currency; a missing value is ``None``.

    ``token_uncapped`` marks a relay token that has no cap of its own (one-api/new-api's
    ``100000000``): it says nothing about the wallet behind the token, so ``available`` is then
    ``None`` (unknown), never infinite. ``reading`` says how the figures were read when a
    provider has several readings (a relay's token-usage endpoint or its legacy billing pair).
    """

    currency: str
    source: str
    read_at: datetime
    granted: Decimal | None = None
    used: Decimal | None = None
    available: Decimal | None = None
    reported_available: Decimal | None = None
    grants: tuple[Grant, ...] = ()
    expires_at: datetime | None = None  # when the whole balance lapses (a relay token's expiry)
    token_uncapped: bool = False
    reading: str | None = None
    parts: tuple[BalancePart, ...] = ()

    @property
    def next_expiry(self) -> datetime | None:
        """The nearest expiry among unexpired grants with money left, or the balance's own."""
        dates = [
            # ``g.remaining`` is truthy exactly when this holds (without a property call or a
            # subtraction: a difference rounded to the context's digits keeps its sign)
            g.expires_at
            for g in self.grants
            if not g.expired and g.expires_at and g.amount > g.used
        ]
        if self.expires_at is not None:
            dates.append(self.expires_at)
        return min(dates) if dates else None


def primary_balance(balances: tuple[Balance, ...] | list[Balance]) -> Balance | None:
    """The balance to show first: the funded one; USD when several are funded; else the first.

    Providers such as DeepSeek answer several currencies in no stable order, so the choice
    never depends on the order.
    """
    if not balances:
        return None
    funded = [b for b in balances if b.available is not None and b.available > 0]
    pool = funded or list(balances)
    for balance in pool:
        if balance.currency.upper() == "USD":
            return balance
    return sorted(pool, key=lambda b: b.currency)[0] if len(pool) > 1 else pool[0]


@dataclass(frozen=True, slots=True)
class ProjectSpend:
    """Spend of one project within a :class:`Spend` period."""

    project_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Spend:
    """Money spent over a period (admin keys: the organization costs API)."""

    amount: Decimal
    currency: str
    period_start: datetime
    period_end: datetime
    source: str
    read_at: datetime
    by_project: tuple[ProjectSpend, ...] = ()
    truncated: bool = False  # paging stopped early: ``amount`` is a lower bound


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Limits read from ``x-ratelimit-*`` headers."""

    requests_limit: int | None = None
    tokens_limit: int | None = None
    requests_remaining: int | None = None
    tokens_remaining: int | None = None
    requests_reset: str | None = None
    tokens_reset: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Account:
    """Who a key belongs to, as far as the provider says."""

    organization: str | None = None
    name: str | None = None
    plan: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Evidence:
    """What one endpoint answered, sanitised: never a key, never a raw HTML page."""

    endpoint: str
    http_status: int | None
    error_type: str | None = None
    error_code: str | None = None
    message: str | None = None
    attempts: int = 1
    outcome: str | None = None  # the status or reason this answer pointed to


@quick_init
@dataclass(frozen=True, slots=True)
class CheckResult:
    """Everything one check learned about one key."""

    key: Key
    status: Status
    reason: str | None
    checked_at: datetime
    balance: Balance | None = None  # the primary balance (the funded one; USD among several)
    balance_reason: str | None = None
    spend: Spend | None = None
    rate_limits: RateLimits | None = None
    models: tuple[str, ...] | None = None
    account: Account | None = None
    evidence: tuple[Evidence, ...] = ()
    attempts: int = 0
    duration_ms: int = 0
    retry_at: datetime | None = None
    balances: tuple[Balance, ...] = ()  # every balance read, one per currency; includes balance
    tier: str | None = None  # the usage tier, where the provider reveals it
