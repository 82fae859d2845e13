"""User-defined providers for every command that checks or lists keys: one option, one loader.

Definitions come from ``<config dir>/providers/*.toml`` and ``--providers FILE`` (repeatable);
``check``, ``watch``, ``serve`` and ``providers`` all register them the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import click

from keyledger.cli.keys_input import UsageExit
from keyledger.errors import ConfigError
from keyledger.home import config_dir  # not keyledger.config: its TOML reader stays unloaded

F = TypeVar("F", bound=Callable[..., object])


def providers_option(func: F) -> F:
    """The ``--providers FILE`` option (repeatable), passed as ``provider_files``."""
    return click.option(
        "--providers",
        "provider_files",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="A declarative provider definition (TOML; repeatable), added to those in "
        "<config dir>/providers/*.toml. See docs/providers.md.",
    )(func)


def register_user_definitions(files: Iterable[Path] = ()) -> list[str]:
    """Register the config directory's definitions and ``files`` in the default registry.

    Raises:
        UsageExit: a definition is broken or clashes (``file:line: message``; exit 2).
    """
    files = list(files)
    if not files and not has_user_definitions(os.environ):
        return []  # nearly every run: the TOML reader and the definition machinery stay unloaded
    from keyledger.providers import default_registry
    from keyledger.providers.declarative_load import register_user_providers

    try:
        return register_user_providers(default_registry(), os.environ, files)
    except ConfigError as exc:
        raise UsageExit(str(exc)) from None


def has_user_definitions(environ: Mapping[str, str]) -> bool:
    """Whether ``<config dir>/providers/`` holds a ``*.toml`` definition."""
    folder = config_dir(environ) / "providers"
    return folder.is_dir() and any(folder.glob("*.toml"))
