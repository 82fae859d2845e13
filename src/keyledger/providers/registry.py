"""The provider registry: built-in providers, plugins, and what is derived from them.

Built-ins are listed in :data:`BUILTINS` (adding a vendor is one line there), or written as a
declarative definition in ``providers/defs/*.toml`` (adding one is one file). Third-party
providers register through the entry-point group ``keyledger.providers`` (the way ``llm`` and
``pytest`` load plugins): each entry point names a :class:`~keyledger.providers.spec.Provider`
subclass. From the registry come key routing (which provider a key goes to), the key prefixes
that masking and redaction know, the provider list in ``--help``, and host matching for
``base_url=`` pins.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from keyledger import keyshapes
from keyledger.errors import ConfigError
from keyledger.models import Kind
from keyledger.providers.spec import KeyShape, Provider, host_of

log = logging.getLogger("keyledger.providers")

ENTRY_POINT_GROUP = "keyledger.providers"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a key goes: its provider and kind, or the reason it goes nowhere."""

    provider: str
    kind: Kind
    problem: str | None = None


class Registry:
    """Providers by name, and the routing built from their declared key shapes."""

    def __init__(self, providers: Iterable[Provider] = ()) -> None:
        self._providers: dict[str, Provider] = {}
        self._user: set[str] = set()  # user-defined (TOML) providers: they lose every tie
        # Derived from the providers, built on first use and dropped when they change: every
        # shape in match order, and host -> provider (routing asks both once per key).
        self._shapes: tuple[tuple[KeyShape, Provider], ...] | None = None
        self._hosts: dict[str, Provider] | None = None
        # Public key prefix -> the claiming shapes a key with that prefix may have, and the
        # known prefixes (keyshapes) those were worked out with.
        self._by_prefix: dict[str, tuple[tuple[KeyShape, Provider], ...]] = {}
        self._known: tuple[str, ...] = ()
        for provider in providers:
            self.register(provider)

    def register(self, provider: Provider, *, user: bool = False) -> None:
        """Add ``provider``; its key prefixes become known to masking and redaction.

        ``user`` marks a user-defined provider (a TOML definition from the config directory or
        ``--providers``): a built-in or plugin provider wins any tie on a key's shape.

        Raises:
            ValueError: a provider of that name is already registered, or it has no name.
        """
        name = getattr(provider, "name", "")
        if not name or not isinstance(name, str):
            raise ValueError(f"{provider!r} has no name")
        if name in self._providers:
            raise ValueError(f"provider {name!r} is registered twice")
        self._providers[name] = provider
        if user:
            self._user.add(name)
        self._forget()
        keyshapes.register_prefixes([s.prefix for s in provider.key_shapes])

    def unregister(self, name: str) -> None:
        """Remove the provider called ``name`` (tests; a plugin host swapping providers)."""
        self._providers.pop(name, None)
        self._user.discard(name)
        self._forget()

    def _forget(self) -> None:
        """Drop what was derived from the providers (they changed)."""
        self._shapes = None
        self._hosts = None
        self._by_prefix = {}

    def declared_prefixes(self) -> dict[str, str]:
        """Key prefix -> provider name, for every built-in and plugin provider's shapes."""
        return {
            shape.prefix: provider.name
            for provider in self._providers.values()
            if provider.name not in self._user
            for shape in provider.key_shapes
        }

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def __len__(self) -> int:
        return len(self._providers)

    def names(self) -> list[str]:
        """Registered provider names, sorted."""
        return sorted(self._providers)

    def find(self, name: str) -> Provider | None:
        """The provider called ``name``, or ``None``."""
        return self._providers.get(name)

    def get(self, name: str) -> Provider:
        """The provider called ``name``.

        Raises:
            ConfigError: no such provider (the message suggests the closest name).
        """
        provider = self._providers.get(name)
        if provider is not None:
            return provider
        import difflib  # for this error only: not loaded by every run

        close = difflib.get_close_matches(name, self._providers, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown provider {name!r}{hint}; known: {', '.join(self.names())}"
        ) from None

    def _ordered_shapes(self) -> tuple[tuple[KeyShape, Provider], ...]:
        """Every (shape, provider), longest prefix first; among equals, claiming shapes, then
        built-in and plugin providers before user ones, then by provider name."""
        shapes = self._shapes
        if shapes is None:
            shapes = tuple(
                sorted(
                    (
                        (shape, provider)
                        for provider in self._providers.values()
                        for shape in provider.key_shapes
                    ),
                    key=lambda m: (
                        -len(m[0].prefix),
                        not m[0].claims,
                        m[1].name in self._user,
                        m[1].name,
                    ),
                )
            )
            self._shapes = shapes
        return shapes

    def _matches(self, value: str) -> list[tuple[int, bool, Provider]]:
        """(prefix length, claims, provider) for every shape ``value`` has, longest first;
        among equals, claiming shapes, then built-in and plugin providers before user ones."""
        return [
            (len(shape.prefix), shape.claims, provider)
            for shape, provider in self._ordered_shapes()
            if shape.matches(value)
        ]

    def _claiming(self, prefix: str) -> tuple[tuple[KeyShape, Provider], ...]:
        """The claiming shapes, in match order, that a key whose public prefix
        (:func:`keyshapes.public_prefix`) is ``prefix`` may have: those whose own prefix
        starts ``prefix``. A key starts with a shape's prefix exactly when its public prefix
        does, as long as every shape's prefix is a known public prefix; if one is not, every
        shape is returned (still right, only longer to try)."""
        known = keyshapes.prefixes()
        if known is not self._known:
            self._known, self._by_prefix = known, {}
        found = self._by_prefix.get(prefix)
        if found is None:
            shapes = self._ordered_shapes()
            names = set(known)
            if all(not shape.prefix or shape.prefix in names for shape, _ in shapes):
                found = tuple(
                    (shape, provider)
                    for shape, provider in shapes
                    if shape.claims and prefix.startswith(shape.prefix)
                )
            else:
                found = shapes
            if len(self._by_prefix) < 256:
                self._by_prefix[prefix] = found
        return found

    def claimant(self, value: str, prefix: str | None = None) -> Provider | None:
        """The one provider whose claiming shape ``value`` has (the longest prefix wins).

        ``prefix``: ``value``'s public prefix when already found; only the shapes it allows
        are then tried (a run of keys sharing a prefix skips all the others).
        """
        shapes = self._ordered_shapes() if prefix is None else self._claiming(prefix)
        for shape, provider in shapes:
            if (
                shape.claims
                and value.startswith(shape.prefix)
                and (shape.pattern is None or shape.pattern.fullmatch(value) is not None)
            ):  # shape.matches(value), inlined: asked for every shape of every key
                return provider
        return None

    def owner(self, value: str) -> str | None:
        """The name of the provider that claims ``value`` by shape (checkable or not)."""
        claimant = self.claimant(value)
        return claimant.name if claimant is not None else None

    def candidates(self, value: str) -> list[str]:
        """Providers whose shapes (claiming or hinting) ``value`` has: the longest matching
        prefix first, then by name (the order ``--detect-provider`` tries them in)."""
        seen: list[str] = []
        for _, _, provider in self._matches(value):
            if provider.name not in seen:
                seen.append(provider.name)
        return seen

    def for_host(self, url: str) -> Provider | None:
        """The provider serving the host of ``url`` (for a ``base_url=`` pin without a name)."""
        hosts = self._hosts
        if hosts is None:
            hosts = {}
            for provider in self._providers.values():  # the first registered serving it wins
                for host in provider.served_hosts():
                    hosts.setdefault(host, provider)
            self._hosts = hosts
        return hosts.get(host_of(url))

    def route(
        self, value: str, provider: str | None, base_url: str | None, prefix: str | None = None
    ) -> Route:
        """Decide where ``value`` may be sent; never guesses.

        A pinned provider is obeyed. A pinned base URL alone goes to the provider serving that
        host, else to the provider whose shape claims the key, else to ``openai``
        (one-api/new-api relays speak its dialect). Otherwise the key
        goes to the provider whose shape claims it; a key that only hints at providers (an
        ``sk-`` key of unknown origin) goes nowhere (``ambiguous_provider``), and any other
        shape goes nowhere (``unrecognized_key``). ``prefix``: ``value``'s public prefix,
        when already found (see :meth:`claimant`).
        """
        if provider is not None:
            chosen = self._providers.get(provider)
            if chosen is None:
                return Route(provider, Kind.UNRECOGNIZED, "unsupported_provider")
            return Route(chosen.name, chosen.kind_of(value))
        if base_url is not None:
            chosen = (
                self.for_host(base_url)
                or self.claimant(value, prefix)
                or self._providers.get("openai")
            )
            if chosen is None:
                return Route("openai", Kind.UNRECOGNIZED, "unsupported_provider")
            return Route(chosen.name, chosen.kind_of(value))
        claimant = self.claimant(value, prefix)
        if claimant is not None:
            return Route(claimant.name, claimant.kind_of(value))
        if self.candidates(value):  # shapes several vendors share: sent nowhere unless pinned
            return Route("openai", Kind.SECRET, "ambiguous_provider")
        return Route("openai", Kind.UNRECOGNIZED, "unrecognized_key")


BUILTINS: tuple[str, ...] = (
    "keyledger.providers.openai:OpenAIProvider",
    "keyledger.providers.deepseek:DeepSeekProvider",
    "keyledger.providers.openrouter:OpenRouterProvider",
    "keyledger.providers.groq:GroqProvider",
    "keyledger.providers.mistral:MistralProvider",
    "keyledger.providers.zhipu:ZhipuProvider",
    "keyledger.providers.zai:ZaiProvider",
    "keyledger.providers.dashscope:DashScopeProvider",
    "keyledger.providers.ark:ArkProvider",
    "keyledger.providers.minimax:MiniMaxProvider",
    "keyledger.providers.together:TogetherProvider",
    "keyledger.providers.fireworks:FireworksProvider",
    "keyledger.providers.perplexity:PerplexityProvider",
    "keyledger.providers.cohere:CohereProvider",
    "keyledger.providers.moonshot:MoonshotProvider",
    "keyledger.providers.moonshot:MoonshotGlobalProvider",
    "keyledger.providers.siliconflow:SiliconFlowProvider",
    "keyledger.providers.siliconflow:SiliconFlowGlobalProvider",
    "keyledger.providers.anthropic:AnthropicProvider",
    "keyledger.providers.xai:XAIProvider",
    "keyledger.providers.gemini:GeminiProvider",
)


def _load(spec: str) -> Provider:
    module_name, _, attr = spec.partition(":")
    module = __import__(module_name, fromlist=[attr])
    cls = getattr(module, attr)
    return cls() if isinstance(cls, type) else cls  # type: ignore[no-any-return]


def _plugins() -> Iterator[tuple[str, Provider]]:
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
            provider = loaded() if isinstance(loaded, type) else loaded
            if not isinstance(provider, Provider):
                raise TypeError("not a keyledger Provider")
        except Exception as exc:  # a broken plugin must not break keyledger
            log.warning("provider plugin %r not loaded: %s", entry.name, type(exc).__name__)
            continue
        yield entry.name, provider


def build_registry(*, plugins: bool = True) -> Registry:
    """A registry of the built-in providers and, with ``plugins``, the installed plugins."""
    from keyledger.providers.declarative_load import builtin_definitions, register_definitions

    registry = Registry(_load(spec) for spec in BUILTINS)
    register_definitions(registry, builtin_definitions())  # providers/defs/*.toml
    if plugins:
        for entry_name, provider in _plugins():
            try:
                registry.register(provider)
            except ValueError as exc:
                log.warning("provider plugin %r not loaded: %s", entry_name, exc)
    return registry


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry (built once)."""
    return build_registry()
