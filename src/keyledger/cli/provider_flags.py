"""Command-line switches that providers declare for themselves (``--whoami`` for OpenAI).

Each :class:`~keyledger.providers.spec.ProviderOption` becomes a ``--NAME/--no-NAME`` flag
(``--PROVIDER-NAME`` when two providers declare the same name); the values are handed to the
checks as ``CheckOptions.provider_options``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from keyledger.providers import default_registry

F = TypeVar("F", bound=Callable[..., Any])
_PREFIX = "provider_opt__"


def provider_flags(command: F) -> F:
    """Add every registered provider's switches to ``command``."""
    declared = [(p.name, o) for p in default_registry() for o in p.options]
    clashes = Counter(option.name for _, option in declared)
    for provider, option in reversed(declared):
        flag = option.name if clashes[option.name] == 1 else f"{provider}-{option.name}"
        command = click.option(
            f"--{flag}/--no-{flag}",
            f"{_PREFIX}{provider}__{option.name}",
            default=option.default,
            show_default=True,
            help=f"[{provider}] {option.help[:1].upper()}{option.help[1:]}.",
        )(command)
    return command


def provider_names() -> str:
    """The registered providers (built-ins and plugins), for ``--help``."""
    return ", ".join(default_registry().names())


def provider_options(switches: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The parsed switches as ``{provider: {option: value}}``."""
    options: dict[str, dict[str, Any]] = {}
    for name, value in switches.items():
        if name.startswith(_PREFIX):
            provider, _, option = name[len(_PREFIX) :].partition("__")
            options.setdefault(provider, {})[option] = value
    return options
