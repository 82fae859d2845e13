"""What a provider declares: the one small interface every vendor module implements.

A provider is a class with a few class attributes (its name, default base URL, the key shapes
it claims, its auth style, the response headers it keeps, its error rules, what it can tell)
and one coroutine, :meth:`Provider.check`. Everything else (routing, redaction, ``--help``,
the simulator's routing) is built from these declarations by the registry.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from keyledger.classify import Rule, Rules, table
from keyledger.models import CheckResult, Key, Kind
from keyledger.transport import Request

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

AuthStyle = Literal["bearer", "x-api-key", "x-goog-api-key"]


@dataclass(frozen=True, slots=True)
class KeyShape:
    """A key shape a provider recognises.

    ``prefix`` is public (shown in masked keys, used by the redactor). ``pattern``, when set,
    must match the whole key. A shape that ``claims`` its keys routes them to the provider with
    no pinning; a shape that does not is only a hint: such keys (DeepSeek's ``sk-`` + 32 hex,
    shared with relays) stay ``ambiguous_provider`` unless pinned, and are candidates for
    ``--detect-provider``.
    """

    prefix: str
    kind: Kind = Kind.SECRET
    pattern: re.Pattern[str] | None = None
    claims: bool = True

    def matches(self, value: str) -> bool:
        """Whether ``value`` has this shape."""
        if not value.startswith(self.prefix):
            return False
        return self.pattern is None or self.pattern.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can tell about a key, and the calls it makes (for docs and ``--help``)."""

    status: str
    balance: str
    spend: str = "no"
    expiry: str = "no"
    calls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderOption:
    """A provider-specific switch (``--whoami`` for OpenAI), declared by the provider.

    The CLI turns each into a flag; checks read it with :meth:`CheckOptions.option`. A
    ``secret_env`` option instead takes the NAME of an environment variable holding a second
    secret (``--xai-management-key-env NAME``): the CLI edge reads the variable and the check
    gets a :class:`~keyledger.secret.Secret` (or ``None`` when the option is not given).
    """

    name: str  # the flag without dashes, e.g. "whoami"; the value's key in CheckOptions
    help: str
    default: bool | None = False
    secret_env: bool = False


# The time now, in UTC: ``datetime.now(UTC)`` called straight from C (a check asks twice per
# key: when a balance was read and when the check finished), no Python frame of its own.
_utcnow: Callable[[], datetime] = functools.partial(datetime.now, UTC)


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """What a check may do; built once at the edge and passed in.

    ``provider_options`` maps a provider name to its own options
    (``{"openai": {"whoami": True}}``); a provider reads only its own, through :meth:`option`.
    """

    base_urls: Mapping[str, str] = field(default_factory=dict)  # provider -> default base URL
    provider_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    now: Callable[[], datetime] = _utcnow
    # Models a key must reach (``--require-model``): a key whose model list is known and lacks
    # one becomes ``restricted``/``model_missing``. ``PROVIDER:MODEL`` applies to that
    # provider's keys only; a plain id to every key whose provider lists models.
    required_models: tuple[str, ...] = ()

    def option(self, provider: str, name: str, default: Any = None) -> Any:
        """``provider``'s option ``name``, or ``default``."""
        return self.provider_options.get(provider, {}).get(name, default)


@functools.lru_cache(maxsize=1024)
def host_of(url: str) -> str:
    """``host[:port]`` of ``url``, lower-cased."""
    return (urllib.parse.urlsplit(url).netloc or "").lower()


# id(shapes) -> (shapes, ordered): each provider's shapes are sorted once, not once per key.
# The tuple itself is kept, so its id cannot be reused while the entry lives.
_SHAPE_ORDER: dict[int, tuple[object, tuple[KeyShape, ...]]] = {}


def longest_first(shapes: tuple[KeyShape, ...]) -> tuple[KeyShape, ...]:
    """``shapes`` by prefix length, longest first (stable): the order :meth:`kind_of` tries."""
    known = _SHAPE_ORDER.get(id(shapes))
    if known is not None and known[0] is shapes:
        return known[1]
    ordered = tuple(sorted(shapes, key=lambda s: -len(s.prefix)))
    if len(_SHAPE_ORDER) < 256:
        _SHAPE_ORDER[id(shapes)] = (shapes, ordered)
    return ordered


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: for endpoints outside the base URL's path."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Provider:
    """Base class of every provider; subclasses set the class attributes and ``check``."""

    name: ClassVar[str]
    title: ClassVar[str]
    default_base_url: ClassVar[str]
    currency: ClassVar[str | None] = None  # the currency of its balances, when fixed
    key_shapes: ClassVar[tuple[KeyShape, ...]] = ()
    auth: ClassVar[AuthStyle] = "bearer"
    extra_headers: ClassVar[Mapping[str, str]] = {}
    kept_headers: ClassVar[tuple[str, ...]] = ()
    rules: ClassVar[Rules] = ()
    first_rules: ClassVar[Rules] = ()  # before the shared head; rare (a lying HTTP status)
    capabilities: ClassVar[Capabilities]
    options: ClassVar[tuple[ProviderOption, ...]] = ()
    # Hosts that serve this provider (default base URL's host is always one): a key pinned to
    # ``base_url=https://api.deepseek.com`` with no provider goes to DeepSeek.
    hosts: ClassVar[tuple[str, ...]] = ()
    # The module of the built-in simulator that emulates this provider (``ROUTES``,
    # ``SCENARIOS`` and optionally ``decorate``), if any.
    simulator: ClassVar[str | None] = None

    def __init__(self) -> None:
        self._table = table(self.rules, self.first_rules)
        self._kept = frozenset(h.lower() for h in self.kept_headers)

    def __repr__(self) -> str:
        return f"<provider {self.name}>"

    @property
    def classification(self) -> tuple[Rule, ...]:
        """The whole rule table used for this provider's answers."""
        return self._table

    def kind_of(self, value: str) -> Kind:
        """The kind of ``value`` by this provider's shapes (longest prefix first)."""
        for shape in longest_first(self.key_shapes):
            if shape.matches(value):
                return shape.kind
        return Kind.SECRET

    def served_hosts(self) -> frozenset[str]:
        """Hosts that identify this provider."""
        return frozenset((host_of(self.default_base_url), *(h.lower() for h in self.hosts)))

    def base_url(self, key: Key, settings: CheckOptions) -> str:
        """Where this key's requests go: its own base URL, else the configured or default."""
        return (key.base_url or settings.base_urls.get(self.name) or self.default_base_url).rstrip(
            "/"
        )

    def request(
        self,
        method: str,
        url: str,
        key: Key,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Request:
        """A request carrying ``key`` the way this provider expects, classified by its rules."""
        merged = {**self.extra_headers, **(headers or {})}
        return Request(
            method,
            url,
            key.secret,
            auth=self.auth,
            json_body=json_body,
            headers=merged,
            rules=self._table,
            keep_headers=self._kept,
        )

    def option(self, options: CheckOptions, name: str) -> Any:
        """This provider's option ``name`` from ``options``, or its declared default."""
        default = next((o.default for o in self.options if o.name == name), None)
        return options.option(self.name, name, default)

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        """Check one key; remote trouble is a status on the result, never an exception."""
        raise NotImplementedError
