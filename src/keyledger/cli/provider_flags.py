"""Command-line switches that providers declare for themselves (``--whoami`` for OpenAI).

Each :class:`~keyledger.providers.spec.ProviderOption` becomes a ``--NAME/--no-NAME`` flag
(``--PROVIDER-NAME`` when two providers declare the same name); the values are handed to the
checks as ``CheckOptions.provider_options``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from keyledger.providers import default_registry
from keyledger.secret import Secret

F = TypeVar("F", bound=Callable[..., Any])
_PREFIX = "provider_opt__"
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")  # upper case: a key is never all upper case


def provider_flags(command: F) -> F:
    """Add every registered provider's switches to ``command`` (from the registry's entries:
    no provider module is imported for them)."""
    declared = [(e.name, o) for e in default_registry().entries() for o in e.options]
    clashes = Counter(option.name for _, option in declared)
    for provider, option in reversed(declared):
        if option.secret_env:  # always named after its provider: --xai-management-key-env
            command = click.option(
                f"--{provider}-{option.name.replace('_', '-')}",
                f"{_PREFIX}{provider}__{option.name}",
                default=None,
                metavar="NAME",
                help=f"[{provider}] {option.help[:1].upper()}{option.help[1:]}.",
            )(command)
            continue
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


def provider_options(
    switches: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """The parsed switches as ``{provider: {option: value}}``.

    A ``secret_env`` option's value names an environment variable; it becomes a
    :class:`~keyledger.secret.Secret` of that variable's value.

    Raises:
        click.UsageError: a named environment variable is unset or empty.
    """
    secret_env = {
        (e.name, o.name): e.title
        for e in default_registry().entries()
        for o in e.options
        if o.secret_env
    }
    env = os.environ if environ is None else environ
    options: dict[str, dict[str, Any]] = {}
    for name, value in switches.items():
        if name.startswith(_PREFIX):
            provider, _, option = name[len(_PREFIX) :].partition("__")
            if (provider, option) in secret_env:
                if value is None:
                    continue
                # Named in words, not as --xai-…: a flag shaped like a key prefix would be cut
                # by the redactor that guards every message ("--[REDACTED] takes …").
                words = option.removesuffix("_env").replace("_", " ")
                flag = f"the {secret_env[provider, option]} {words} option"
                if not _ENV_NAME.fullmatch(value):  # never echoed: it may be a pasted key
                    raise click.UsageError(f"{flag} takes the NAME of an environment variable")
                if not env.get(value):
                    raise click.UsageError(f"{flag}: environment variable {value} is not set")
                value = Secret(env[value])
            options.setdefault(provider, {})[option] = value
    return options
