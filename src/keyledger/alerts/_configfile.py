"""A minimal reader of the config file, for ``keyledger alerts test`` until the shared
loader (``keyledger.config``) is in place.

The file is ``--config FILE``, else ``$KEYLEDGER_CONFIG``, else ``config.toml`` in
``platformdirs.user_config_dir("keyledger")`` (which honours ``XDG_CONFIG_HOME``).
:meth:`ConfigFile.where` finds the line of a dotted key by scanning the text, for
``file:line`` error messages.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from keyledger.errors import ConfigError

CONFIG_NAME = "config.toml"
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_ARRAY = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def config_path(explicit: str | Path | None, environ: Mapping[str, str]) -> Path:
    """Where the config file is looked for."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = environ.get("KEYLEDGER_CONFIG", "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return Path(platformdirs.user_config_dir("keyledger", appauthor=False)) / CONFIG_NAME


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip('"').strip("'") for p in dotted.split(".")]


@dataclass(frozen=True)
class ConfigFile:
    """A parsed config file and its text (for :meth:`where`)."""

    path: Path
    data: dict[str, Any]
    lines: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        """Read and parse ``path``.

        Raises:
            ConfigError: missing, unreadable or not TOML (the message names the line).
        """
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no config file (give --config FILE)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path}: cannot read the config file: {type(exc).__name__}"
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None)
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"{where}: not valid TOML") from None
        return cls(path, data, tuple(text.splitlines()))

    def where(self, dotted: str) -> str:
        """``file:line`` of ``dotted`` (a table or a key in a table), else of its table."""
        wanted = _parts(dotted)
        best = 0
        table: list[str] = []
        for number, line in enumerate(self.lines, start=1):
            if _ARRAY.match(line):
                table = ["[[array]]"]  # keys of an array of tables are never channel keys
                continue
            header = _HEADER.match(line)
            if header:
                table = _parts(header.group(1))
                if table == wanted:
                    return f"{self.path}:{number}"
                if table == wanted[:-1] and not best:
                    best = number
                continue
            key = _KEY.match(line)
            if key and [*table, *_parts(key.group(1))] == wanted:
                return f"{self.path}:{number}"
        return f"{self.path}:{best or 1}"


__all__ = ["ConfigFile", "config_path"]
