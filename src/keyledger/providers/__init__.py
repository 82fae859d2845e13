"""The provider registry: one entry per API family."""

from __future__ import annotations

import difflib

from keyledger.errors import ConfigError
from keyledger.providers.base import CheckOptions, Provider
from keyledger.providers.openai import OpenAIProvider

PROVIDERS: dict[str, Provider] = {
    OpenAIProvider.name: OpenAIProvider(),
}


def get_provider(name: str) -> Provider:
    """The registered provider called ``name``.

    Raises:
        ConfigError: no such provider (the message suggests the closest name).
    """
    try:
        return PROVIDERS[name]
    except KeyError:
        close = difflib.get_close_matches(name, PROVIDERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigError(f"unknown provider {name!r}{hint}; known: {known}") from None


__all__ = ["PROVIDERS", "CheckOptions", "Provider", "get_provider"]
