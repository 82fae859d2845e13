"""Providers: one module per API family, one small interface, one registry.

See :mod:`keyledger.providers.spec` for the interface and :mod:`keyledger.providers.registry`
for how built-in and plugin providers are found.
"""

from __future__ import annotations

from keyledger.providers.registry import Registry, Route, build_registry, default_registry
from keyledger.providers.spec import (
    Capabilities,
    CheckOptions,
    KeyShape,
    Provider,
    ProviderOption,
)


def get_provider(name: str) -> Provider:
    """The registered provider called ``name``.

    Raises:
        ConfigError: no such provider (the message suggests the closest name).
    """
    return default_registry().get(name)


__all__ = [
    "Capabilities",
    "CheckOptions",
    "KeyShape",
    "Provider",
    "ProviderOption",
    "Registry",
    "Route",
    "build_registry",
    "default_registry",
    "get_provider",
]
