"""The provider registry: built-in providers, plugins, and what is derived from them.

Built-ins are listed in :data:`BUILTINS` (adding a vendor is one line there), or written as a
declarative definition in ``providers/defs/*.toml`` (adding one is one file); either way,
``python -m keyledger.providers.manifest --write`` then regenerates the manifest. Third-party
providers register through the entry-point group ``keyledger.providers`` (the way ``llm`` and
``pytest`` load plugins): each entry point names a :class:`~keyledger.providers.spec.Provider`
subclass. From the registry come key routing (which provider a key goes to), the key prefixes
that masking and redaction know, the provider list in ``--help``, and host matching for
``base_url=`` pins.

The built-ins are registered from a generated manifest (:mod:`keyledger.providers.manifest`):
their names, titles, key shapes, hosts and switches, so that routing and the rest need no
provider module imported and no TOML parsed; a built-in is made when a key goes to it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keyledger import keyshapes
from keyledger.errors import ConfigError
from keyledger.models import Kind
from keyledger.providers.spec import KeyShape, Provider, ProviderOption, host_of, longest_first

if TYPE_CHECKING:
    import importlib.metadata

log = logging.getLogger("keyledger.providers")

ENTRY_POINT_GROUP = "keyledger.providers"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a key goes: its provider and kind, or the reason it goes nowhere."""

    provider: str
    kind: Kind
    problem: str | None = None


class Entry:
    """What the registry knows of one provider: its name, title, key shapes, hosts and
    switches, and the provider itself, made on first use.

    A built-in's entry comes from the generated manifest
    (:mod:`keyledger.providers.manifest_data`), so routing, redaction, ``--help`` and the
    provider switches need no provider module imported and no TOML parsed; a plugin's or a
    user definition's entry wraps its already-made provider.
    """

    __slots__ = ("_hosts", "_load", "_provider", "key_shapes", "name", "options", "title")

    def __init__(
        self,
        name: str,
        title: str,
        key_shapes: tuple[KeyShape, ...],
        options: tuple[ProviderOption, ...],
        *,
        hosts: frozenset[str] | None = None,
        load: Callable[[], Provider] | None = None,
        provider: Provider | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.key_shapes = key_shapes
        self.options = options
        self._hosts = hosts
        self._load = load
        self._provider = provider

    @classmethod
    def of(cls, provider: Provider) -> Entry:
        """The entry of an already-made provider."""
        return cls(
            provider.name,
            getattr(provider, "title", provider.name),
            provider.key_shapes,
            provider.options,
            provider=provider,
        )

    @property
    def loaded(self) -> bool:
        """Whether the provider itself has been made (its module imported)."""
        return self._provider is not None

    def provider(self) -> Provider:
        """The provider, made (its module imported, or its definition built) on first use."""
        provider = self._provider
        if provider is None:
            assert self._load is not None  # an entry has a provider or a way to make one
            provider = self._provider = self._load()
        return provider

    def kind_of(self, value: str) -> Kind:
        """The kind of ``value`` (see :meth:`Provider.kind_of`), without making the provider."""
        if self._provider is not None:
            return self._provider.kind_of(value)
        for shape in longest_first(self.key_shapes):
            if shape.matches(value):
                return shape.kind
        return Kind.SECRET

    def served_hosts(self) -> frozenset[str]:
        """The hosts that identify this provider (see :meth:`Provider.served_hosts`)."""
        if self._hosts is not None:
            return self._hosts
        return self.provider().served_hosts()


class Registry:
    """Providers by name, and the routing built from their declared key shapes.

    Routing, key shapes, hosts, names and switches are answered from each provider's
    :class:`Entry`; a provider itself is made only when it is asked for (:meth:`find`,
    :meth:`get`, iteration), so a run of OpenAI keys imports no other provider module.
    """

    def __init__(self, providers: Iterable[Provider] = ()) -> None:
        self._entries: dict[str, Entry] = {}
        self._user: set[str] = set()  # user-defined (TOML) providers: they lose every tie
        # Derived from the entries, built on first use and dropped when they change: every
        # shape in match order, and host -> entry (routing asks both once per key).
        self._shapes: tuple[tuple[KeyShape, Entry], ...] | None = None
        self._hosts: dict[str, Entry] | None = None
        # Public key prefix -> the claiming shapes a key with that prefix may have, and the
        # known prefixes (keyshapes) those were worked out with.
        self._by_prefix: dict[str, tuple[tuple[KeyShape, Entry], ...]] = {}
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
        self.add(Entry.of(provider), user=user)

    def add(self, entry: Entry, *, user: bool = False) -> None:
        """Add a provider by its entry (its provider may be made later).

        Raises:
            ValueError: a provider of that name is already registered.
        """
        self.add_all([entry], user=user)

    def add_all(self, entries: Iterable[Entry], *, user: bool = False) -> None:
        """Add several entries; their key prefixes are handed to masking in one go.

        Raises:
            ValueError: a provider of one of those names is already registered (the entries
                before it are added).
        """
        prefixes: list[str] = []
        try:
            for entry in entries:
                if entry.name in self._entries:
                    raise ValueError(f"provider {entry.name!r} is registered twice")
                self._entries[entry.name] = entry
                if user:
                    self._user.add(entry.name)
                prefixes.extend(s.prefix for s in entry.key_shapes)
        finally:
            self._forget()
            if prefixes:
                keyshapes.register_prefixes(prefixes)

    def unregister(self, name: str) -> None:
        """Remove the provider called ``name`` (tests; a plugin host swapping providers)."""
        self._entries.pop(name, None)
        self._user.discard(name)
        self._forget()

    def _forget(self) -> None:
        """Drop what was derived from the providers (they changed)."""
        self._shapes = None
        self._hosts = None
        self._by_prefix = {}

    def entries(self) -> list[Entry]:
        """Every provider's entry, in registration order (no provider is made)."""
        return list(self._entries.values())

    def declared_prefixes(self) -> dict[str, str]:
        """Key prefix -> provider name, for every built-in and plugin provider's shapes."""
        return {
            shape.prefix: entry.name
            for entry in self._entries.values()
            if entry.name not in self._user
            for shape in entry.key_shapes
        }

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Provider]:
        """Every provider, in registration order (each is made, if it was not yet)."""
        return (entry.provider() for entry in list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Registered provider names, sorted."""
        return sorted(self._entries)

    def find(self, name: str) -> Provider | None:
        """The provider called ``name`` (made now if need be), or ``None``."""
        entry = self._entries.get(name)
        return entry.provider() if entry is not None else None

    def get(self, name: str) -> Provider:
        """The provider called ``name``.

        Raises:
            ConfigError: no such provider (the message suggests the closest name).
        """
        provider = self.find(name)
        if provider is not None:
            return provider
        import difflib  # for this error only: not loaded by every run

        close = difflib.get_close_matches(name, self._entries, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown provider {name!r}{hint}; known: {', '.join(self.names())}"
        ) from None

    def _ordered_shapes(self) -> tuple[tuple[KeyShape, Entry], ...]:
        """Every (shape, entry), longest prefix first; among equals, claiming shapes, then
        built-in and plugin providers before user ones, then by provider name."""
        shapes = self._shapes
        if shapes is None:
            shapes = tuple(
                sorted(
                    (
                        (shape, entry)
                        for entry in self._entries.values()
                        for shape in entry.key_shapes
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

    def _claiming_shapes(self, prefix: str) -> tuple[tuple[KeyShape, Entry], ...]:
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
                    (shape, entry)
                    for shape, entry in shapes
                    if shape.claims and prefix.startswith(shape.prefix)
                )
            else:
                found = shapes
            if len(self._by_prefix) < 256:
                self._by_prefix[prefix] = found
        return found

    def _claiming(self, value: str, prefix: str | None = None) -> Entry | None:
        """The entry of the one provider whose claiming shape ``value`` has. ``prefix``:
        ``value``'s public prefix when already found; only the shapes it allows are then
        tried (a run of keys sharing a prefix skips all the others)."""
        shapes = self._ordered_shapes() if prefix is None else self._claiming_shapes(prefix)
        for shape, entry in shapes:
            if (
                shape.claims
                and value.startswith(shape.prefix)
                and (shape.pattern is None or shape.pattern.fullmatch(value) is not None)
            ):  # shape.matches(value), inlined: asked for every shape of every key
                return entry
        return None

    def claimant(self, value: str, prefix: str | None = None) -> Provider | None:
        """The one provider whose claiming shape ``value`` has (the longest prefix wins);
        ``prefix`` as for :meth:`_claiming`."""
        entry = self._claiming(value, prefix)
        return entry.provider() if entry is not None else None

    def owner(self, value: str) -> str | None:
        """The name of the provider that claims ``value`` by shape (checkable or not)."""
        entry = self._claiming(value)
        return entry.name if entry is not None else None

    def candidates(self, value: str) -> list[str]:
        """Providers whose shapes (claiming or hinting) ``value`` has: the longest matching
        prefix first, then by name (the order ``--detect-provider`` tries them in)."""
        seen: list[str] = []
        for shape, entry in self._ordered_shapes():
            if shape.matches(value) and entry.name not in seen:
                seen.append(entry.name)
        return seen

    def _serving(self, url: str) -> Entry | None:
        """The entry of the provider serving the host of ``url``."""
        hosts = self._hosts
        if hosts is None:
            hosts = {}
            for entry in self._entries.values():  # the first registered serving it wins
                for host in entry.served_hosts():
                    hosts.setdefault(host, entry)
            self._hosts = hosts
        return hosts.get(host_of(url))

    def for_host(self, url: str) -> Provider | None:
        """The provider serving the host of ``url`` (for a ``base_url=`` pin without a name)."""
        entry = self._serving(url)
        return entry.provider() if entry is not None else None

    def route(
        self, value: str, provider: str | None, base_url: str | None, prefix: str | None = None
    ) -> Route:
        """Decide where ``value`` may be sent; never guesses.

        A pinned provider is obeyed. A pinned base URL alone goes to the provider serving that
        host, else to the provider whose shape claims the key, else to ``openai``
        (one-api/new-api relays speak its dialect). Otherwise the key
        goes to the provider whose shape claims it; a key that only hints at providers (an
        ``sk-`` key of unknown origin) goes nowhere (``ambiguous_provider``), and any other
        shape goes nowhere (``unrecognized_key``). No provider is made to answer.
        ``prefix``: ``value``'s public prefix, when already found (see :meth:`claimant`).
        """
        if provider is not None:
            chosen = self._entries.get(provider)
            if chosen is None:
                return Route(provider, Kind.UNRECOGNIZED, "unsupported_provider")
            return Route(chosen.name, chosen.kind_of(value))
        if base_url is not None:
            chosen = (
                self._serving(base_url)
                or self._claiming(value, prefix)
                or self._entries.get("openai")
            )
            if chosen is None:
                return Route("openai", Kind.UNRECOGNIZED, "unsupported_provider")
            return Route(chosen.name, chosen.kind_of(value))
        claimant = self._claiming(value, prefix)
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


def _load_source(source: str) -> Provider:
    """The built-in provider ``source`` names: ``module:Class``, or ``defs/NAME.toml``."""
    if source.startswith("defs/"):
        from keyledger.providers.declarative import provider_from
        from keyledger.providers.declarative_load import builtin_definition

        return provider_from(builtin_definition(source.removeprefix("defs/")))
    return _load(source)


def builtin_entries() -> list[Entry]:
    """The built-in providers' entries, from the generated manifest (no provider is made).

    ``python -m keyledger.providers.manifest --write`` regenerates the manifest from the
    providers themselves; a test fails when it is stale.
    """
    from keyledger.providers.manifest_data import PROVIDERS

    entries = []
    for name, title, source, shapes, hosts, options in PROVIDERS:
        entries.append(
            Entry(
                name,
                title,
                tuple(
                    KeyShape(
                        prefix,
                        Kind(kind),
                        None if pattern is None else re.compile(pattern[0], pattern[1]),
                        claims,
                    )
                    for prefix, kind, pattern, claims in shapes
                ),
                tuple(ProviderOption(*option) for option in options),
                hosts=frozenset(hosts),
                load=functools.partial(_load_source, source),
            )
        )
    return entries


def _plugin_entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    """The installed ``keyledger.providers`` entry points.

    ``entry_points(group=...)`` parses every installed distribution's ``entry_points.txt``;
    the group's name appearing in none of them (nearly always: no plugin installed) means no
    entry point, and reading the files (:func:`~keyledger.providers.plugin_files.may_name_group`,
    without even importing ``importlib.metadata``) is several times cheaper than parsing them.
    """
    from keyledger.providers.plugin_files import may_name_group

    if not may_name_group(ENTRY_POINT_GROUP):
        return ()
    import importlib.metadata

    for dist in importlib.metadata.distributions():
        text = dist.read_text("entry_points.txt")
        if text and ENTRY_POINT_GROUP in text:
            return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return ()


def _plugins() -> Iterator[tuple[str, Provider]]:
    for entry in _plugin_entry_points():
        try:
            loaded = entry.load()
            provider = loaded() if isinstance(loaded, type) else loaded
            if not isinstance(provider, Provider):
                raise TypeError("not a keyledger Provider")
        except Exception as exc:  # a broken plugin must not break keyledger
            log.warning("provider plugin %r not loaded: %s", entry.name, type(exc).__name__)
            continue
        yield entry.name, provider


def build_registry(*, plugins: bool = True, lazy: bool = True) -> Registry:
    """A registry of the built-in providers and, with ``plugins``, the installed plugins.

    ``lazy`` (the default) takes the built-ins from the generated manifest and makes each
    only when asked for; without it every built-in is made now, from its module or TOML
    definition (what the manifest is generated from).
    """
    registry = Registry()
    if lazy:
        registry.add_all(builtin_entries())
    else:
        from keyledger.providers.declarative_load import (
            builtin_definitions,
            register_definitions,
        )

        for spec in BUILTINS:
            registry.register(_load(spec))
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
