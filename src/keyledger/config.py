"""The TOML config file: alert rules (``[[rules]]``) and channels (``[channels.NAME]``).

Where: ``--config FILE``, else ``$KEYLEDGER_CONFIG``, else ``config.toml`` in the user config
directory (``$XDG_CONFIG_HOME/keyledger`` on Linux). A missing default file is an empty
config; a missing file that was named explicitly is an error.

``tomllib`` gives values without positions, so :meth:`Config.where` finds the line of a table
or key by scanning the text: every error then reads ``file:line: message``. Messages name
tables and keys, never values (a value may be a secret).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyledger.errors import ConfigError
from keyledger.home import config_dir as config_dir  # re-exported: it lived here

CONFIG_NAME = "config.toml"
MAX_CONFIG_BYTES = 1_000_000

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*=""")
_PART = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)""")
_DECODE_LINE = re.compile(r"\(at line (\d+), column \d+\)")

PathPart = str | int


def config_path(environ: Mapping[str, str], explicit: Path | None = None) -> Path:
    """The config file to read: ``explicit``, ``$KEYLEDGER_CONFIG``, or the default."""
    if explicit is not None:
        return explicit
    override = environ.get("KEYLEDGER_CONFIG", "").strip()
    if override:
        return Path(override).expanduser()
    return config_dir(environ) / CONFIG_NAME


def _parts(dotted: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in _PART.finditer(dotted)]


def _line_index(text: str) -> dict[tuple[PathPart, ...], int]:
    """Line number (1-based) of every table header and key, by its path in the document."""
    index: dict[tuple[PathPart, ...], int] = {}
    counts: dict[tuple[PathPart, ...], int] = {}
    table: tuple[PathPart, ...] = ()
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline is not None:  # inside a ''' or """ string: no keys here
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER.match(line)
        if header is not None:
            names: tuple[PathPart, ...] = tuple(_parts(header.group(2)))
            if header.group(1) == "[[":
                position = counts.get(names, 0)
                counts[names] = position + 1
                table = (*names, position)
            else:
                table = names
            index.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key is not None:
            index.setdefault((*table, *_parts(key.group(1))), number)
            rest = line[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
    return index


@dataclass(frozen=True)
class Config:
    """A parsed config file and the line of each table and key in it."""

    path: Path | None
    data: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[tuple[PathPart, ...], int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """How errors name the file."""
        return str(self.path) if self.path is not None else "<config>"

    def where(self, dotted: str | Sequence[PathPart]) -> str:
        """``file:line`` of ``dotted`` (``"rules.0.amount"``, ``"channels.ops"``), or of the
        nearest enclosing table found; ``file`` alone when nothing is found."""
        if isinstance(dotted, str):
            path: list[PathPart] = [int(p) if p.isdigit() else p for p in _parts(dotted)]
        else:
            path = list(dotted)
        while path:
            line = self.lines.get(tuple(path))
            if line is not None:
                return f"{self.name}:{line}"
            path.pop()
        return self.name

    def error(self, dotted: str | Sequence[PathPart], message: str) -> ConfigError:
        """A :class:`ConfigError` reading ``file:line: message``."""
        return ConfigError(f"{self.where(dotted)}: {message}")

    def table(self, name: str) -> Mapping[str, Any]:
        """A top-level table (``{}`` when absent)."""
        value = self.data.get(name, {})
        if not isinstance(value, Mapping):
            raise self.error(name, f"{name} must be a table")
        return value


def parse_config(text: str, path: Path | None = None) -> Config:
    """Parse config ``text``.

    Raises:
        ConfigError: not valid TOML (``file:line: message``).
    """
    name = str(path) if path is not None else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _DECODE_LINE.search(message)
        if found:
            line = f":{found.group(1)}"
        elif "end of document" in message:
            line = f":{max(1, len(text.splitlines()))}"
        else:
            line = ""
        reason = _DECODE_LINE.sub("", message).replace("(at end of document)", "").strip()
        raise ConfigError(f"{name}{line}: not valid TOML: {reason}") from None
    except RecursionError:  # tomllib recurses once per nested array/table
        raise ConfigError(f"{name}: not valid TOML (nested too deeply)") from None
    return Config(path, data, _line_index(text))


def load_config(path: Path, *, required: bool) -> Config:
    """Read the config at ``path``; a missing file is an empty config unless ``required``.

    Raises:
        ConfigError: unreadable, too large, not UTF-8 or not valid TOML.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such config file") from None
        return Config(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or 'OS error'}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config file too large (over {MAX_CONFIG_BYTES} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8 text") from None
    return parse_config(text, path)
