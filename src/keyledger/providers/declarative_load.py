"""Declarative provider definitions: read from TOML, validated, registered.

Built-in definitions ship in ``keyledger/providers/defs/*.toml``; users add theirs in
``<config dir>/providers/*.toml`` or with ``--providers FILE`` (``check``, ``watch``, ``serve``,
``providers``). One file is one provider. Every mistake is a
:class:`~keyledger.errors.ConfigError` reading ``file:line: message``; messages name keys,
never values, and a definition holding anything shaped like an API key is refused
(a definition describes keys, it never holds one).
The format is documented in ``docs/providers.md`` ("Declarative providers").
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from keyledger.config import Config, config_dir, load_config, parse_config
from keyledger.errors import ConfigError
from keyledger.models import Kind, Status
from keyledger.money import MoneyError, parse_money
from keyledger.providers.declarative import (
    BalanceSpec,
    Definition,
    ErrorRule,
    JsonPath,
    PathError,
    SimScenario,
    Unusable,
    provider_from,
)
from keyledger.providers.registry import Registry
from keyledger.providers.spec import KeyShape

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{1,31}")
_REASON = re.compile(r"[a-z][a-z0-9_]{0,47}")
_SCENARIO = re.compile(r"[a-z0-9][a-z0-9_]{1,63}")
_PREFIX = re.compile(r"[A-Za-z0-9_\-]{2,24}")
_CURRENCY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,15}")
_HEADER = re.compile(r"[A-Za-z0-9-]{1,64}")
_AUTH_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "cookie"})
_TOP = {"name", "title", "base_url", "auth", "hosts", "notes", "keys", "request", "balances"}
_TOP |= {"unusable", "errors", "simulator", "empty_is_no_quota"}
_STATUSES = {s.value for s in Status if s is not Status.OK}


def _scan_for_keys(cfg: Config, value: object, path: tuple[str | int, ...]) -> None:
    from keyledger.sanitize import looks_like_key

    if isinstance(value, str) and looks_like_key(value):
        raise cfg.error(
            path, "holds something shaped like an API key; a definition never holds one"
        )
    if isinstance(value, Mapping):
        for name, item in value.items():
            if looks_like_key(str(name)):
                raise cfg.error(path, "a table key is shaped like an API key")
            _scan_for_keys(cfg, item, (*path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _scan_for_keys(cfg, item, (*path, index))


class _Reader:
    """Typed access to one definition's TOML with ``file:line`` errors."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def table(
        self, data: Mapping[str, Any], path: tuple[str | int, ...], allowed: set[str]
    ) -> Mapping[str, Any]:
        """``data``, refused when it holds a setting not in ``allowed`` (a typo)."""
        unknown = sorted(set(data) - allowed)
        if unknown:
            where = (*path, unknown[0])
            if isinstance(data[unknown[0]], list):  # an array of tables: its first header
                where = (*where, 0)
            raise self.cfg.error(where, f"unknown setting {unknown[0]!r}")
        return data

    def tables(
        self, data: Mapping[str, Any], name: str, path: tuple[str | int, ...] = ()
    ) -> list[Mapping[str, Any]]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.cfg.error((*path, name), f"{name} must be an array of tables ([[{name}]])")
        return cast(list[Mapping[str, Any]], value)

    def text(
        self,
        data: Mapping[str, Any],
        path: tuple[str | int, ...],
        pattern: re.Pattern[str] | None = None,
        *,
        required: bool = False,
    ) -> str | None:
        value = data.get(str(path[-1]))
        if value is None:
            if required:
                raise self.cfg.error(path[:-1], f"{path[-1]} is required")
            return None
        if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            shape = f" matching {pattern.pattern}" if pattern is not None else ""
            raise self.cfg.error(path, f"{path[-1]} must be a string{shape}")
        return value

    def json_path(self, data: Mapping[str, Any], path: tuple[str | int, ...]) -> JsonPath | None:
        text = self.text(data, path)
        if text is None:
            return None
        try:
            return JsonPath.parse(text)
        except PathError as exc:
            raise self.cfg.error(path, f"{path[-1]}: {exc}") from None

    def status(self, data: Mapping[str, Any], path: tuple[str | int, ...]) -> Status:
        value = data.get(str(path[-1]))
        if value not in _STATUSES:
            raise self.cfg.error(path, f"{path[-1]} must be one of {', '.join(sorted(_STATUSES))}")
        return Status(value)

    def strings(self, data: Mapping[str, Any], path: tuple[str | int, ...]) -> tuple[str, ...]:
        value = data.get(str(path[-1]), [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.cfg.error(path, f"{path[-1]} must be a list of non-empty strings")
        return tuple(value)


def _key_shapes(
    r: _Reader, data: Mapping[str, Any], taken: Mapping[str, str]
) -> tuple[KeyShape, ...]:
    shapes = []
    for i, item in enumerate(r.tables(data, "keys")):
        at: tuple[str | int, ...] = ("keys", i)
        r.table(item, at, {"prefix", "pattern", "claims", "kind"})
        prefix = r.text(item, (*at, "prefix"), _PREFIX, required=True)
        assert prefix is not None
        for other, owner in sorted(taken.items(), key=lambda t: (-len(t[0]), t)):
            if prefix.startswith(other) or other.startswith(prefix):
                raise r.cfg.error(
                    (*at, "prefix"),
                    f"prefix overlaps a key shape of provider {owner!r}; "
                    "pin such keys to this definition (provider=) instead",
                )
        pattern = r.text(item, (*at, "pattern"))
        compiled = None
        if pattern is not None:
            try:
                compiled = re.compile(pattern)
            except re.error:
                raise r.cfg.error(
                    (*at, "pattern"), "pattern is not a valid regular expression"
                ) from None
        claims = item.get("claims", compiled is not None)
        if not isinstance(claims, bool):
            raise r.cfg.error((*at, "claims"), "claims must be true or false")
        if claims and compiled is None:
            raise r.cfg.error((*at, "claims"), "a shape that claims keys needs a pattern")
        kind = item.get("kind", "secret")
        if kind not in ("secret", "admin", "management"):
            raise r.cfg.error((*at, "kind"), "kind must be secret, admin or management")
        shapes.append(KeyShape(prefix, Kind(kind), compiled, claims))
    return tuple(shapes)


def _balances(r: _Reader, data: Mapping[str, Any]) -> tuple[BalanceSpec, ...]:
    specs = []
    fields = {"available", "granted", "used", "expires", "currency_path"}
    for i, item in enumerate(r.tables(data, "balances")):
        at: tuple[str | int, ...] = ("balances", i)
        r.table(item, at, fields | {"currency", "divisor", "negate", "parts", "note"})
        paths = {name: r.json_path(item, (*at, name)) for name in fields}
        currency = r.text(item, (*at, "currency"), _CURRENCY)
        if currency is None and paths["currency_path"] is None:
            raise r.cfg.error(at, "a balance needs currency (fixed) or currency_path")
        parts_raw = item.get("parts", {})
        if not isinstance(parts_raw, Mapping):
            raise r.cfg.error((*at, "parts"), "parts must be a table of name = JSON path")
        parts = tuple(
            (str(n), p) for n in parts_raw if (p := r.json_path(parts_raw, (*at, "parts", n)))
        )
        if not parts and paths["available"] is None and paths["granted"] is None:
            raise r.cfg.error(at, "a balance needs available, granted or parts")
        try:
            divisor = parse_money(item.get("divisor", 1))
        except MoneyError:
            divisor = None
        if divisor is None or not Decimal(0) < divisor <= Decimal(10) ** 12:
            raise r.cfg.error((*at, "divisor"), "divisor must be a number above 0 and at most 1e12")
        negate = item.get("negate", False)
        if not isinstance(negate, bool):
            raise r.cfg.error((*at, "negate"), "negate must be true or false")
        specs.append(
            BalanceSpec(
                currency=currency.upper() if currency and len(currency) == 3 else currency,
                currency_path=paths["currency_path"],
                available=paths["available"],
                granted=paths["granted"],
                used=paths["used"],
                expires=paths["expires"],
                divisor=divisor,
                negate=negate,
                parts=parts,
                note=r.text(item, (*at, "note"), _REASON),
            )
        )
    return tuple(specs)


def _rules(
    r: _Reader, data: Mapping[str, Any]
) -> tuple[tuple[Unusable, ...], tuple[ErrorRule, ...]]:
    flags = []
    for i, item in enumerate(r.tables(data, "unusable")):
        at: tuple[str | int, ...] = ("unusable", i)
        r.table(item, at, {"path", "equals", "status", "reason"})
        path = r.json_path(item, (*at, "path"))
        equals = item.get("equals")
        if path is None or not isinstance(equals, (bool, int, str)):
            raise r.cfg.error(
                at, "unusable needs path and equals (true, false, a number or a string)"
            )
        reason = r.text(item, (*at, "reason"), _REASON, required=True)
        flags.append(Unusable(path, equals, r.status(item, (*at, "status")), reason or ""))
    errors = []
    for i, item in enumerate(r.tables(data, "errors")):
        at = ("errors", i)
        r.table(item, at, {"http", "contains", "codes", "status", "reason"})
        http = item.get("http", [])
        http = [http] if isinstance(http, int) else http
        if not isinstance(http, list) or not all(
            isinstance(h, int) and 100 <= h <= 599 for h in http
        ):
            raise r.cfg.error((*at, "http"), "http must be an HTTP status or a list of them")
        contains, codes = r.strings(item, (*at, "contains")), r.strings(item, (*at, "codes"))
        if not (http or contains or codes):
            raise r.cfg.error(at, "an error needs http, contains or codes")
        reason = r.text(item, (*at, "reason"), _REASON, required=True) or ""
        errors.append(
            ErrorRule(r.status(item, (*at, "status")), reason, tuple(http), contains, codes)
        )
    return tuple(flags), tuple(errors)


def _scenarios(r: _Reader, data: Mapping[str, Any], name: str) -> tuple[SimScenario, ...]:
    sim = data.get("simulator", {})
    if not isinstance(sim, Mapping):
        raise r.cfg.error(("simulator",), "simulator must be a table")
    r.table(sim, ("simulator",), {"scenarios"})
    found = []
    for i, item in enumerate(r.tables(sim, "scenarios", ("simulator",))):
        at: tuple[str | int, ...] = ("simulator", "scenarios", i)
        r.table(item, at, {"name", "description", "http", "body", "expect", "expect_reason"})
        scenario = r.text(item, (*at, "name"), _SCENARIO, required=True) or ""
        if not scenario.startswith(name.replace("-", "_") + "_"):
            raise r.cfg.error(
                (*at, "name"), f"a scenario name starts with {name.replace('-', '_')}_"
            )
        http = item.get("http", 200)
        if not isinstance(http, int) or not 100 <= http <= 599:
            raise r.cfg.error((*at, "http"), "http must be an HTTP status")
        expect = item.get("expect")
        if expect not in {s.value for s in Status}:
            raise r.cfg.error((*at, "expect"), "expect must be a status name")
        found.append(
            SimScenario(
                scenario,
                r.text(item, (*at, "description")) or scenario,
                item.get("body", {}),
                http,
                Status(expect),
                r.text(item, (*at, "expect_reason"), _REASON),
            )
        )
    return tuple(found)


def definition_from(
    cfg: Config, *, trusted: bool = False, taken: Mapping[str, str] | None = None
) -> Definition:
    """A validated :class:`Definition` from a parsed TOML file.

    ``trusted`` (built-in definitions) skips the key-shape scan, which needs the registry.
    ``taken`` (prefix -> provider) holds the prefixes built-in and plugin providers declare:
    a key shape whose prefix equals, extends or is extended by one of them is refused, so a
    definition cannot take another provider's keys (such keys are pinned to it instead).

    Raises:
        ConfigError: ``file:line: message`` for the first mistake found.
    """
    data = cfg.data
    if not trusted:
        _scan_for_keys(cfg, data, ())
    r = _Reader(cfg)
    r.table(data, (), _TOP)
    name = r.text(data, ("name",), _NAME, required=True) or ""
    base_url = r.text(data, ("base_url",), required=True) or ""
    if not re.fullmatch(r"https://[A-Za-z0-9.\-]+(:\d+)?(/[A-Za-z0-9._~\-/]*)?", base_url):
        raise cfg.error(("base_url",), "base_url must be an https:// URL without query")
    auth = data.get("auth", "bearer")
    if auth not in ("bearer", "x-api-key", "x-goog-api-key"):
        raise cfg.error(("auth",), "auth must be bearer, x-api-key or x-goog-api-key")
    request = data.get("request")
    if not isinstance(request, Mapping):
        raise cfg.error((), "[request] is required (method, path, headers, body)")
    r.table(request, ("request",), {"method", "path", "headers", "body"})
    method = (r.text(request, ("request", "method")) or "GET").upper()
    if method not in ("GET", "POST"):
        raise cfg.error(("request", "method"), "method must be GET or POST")
    path = (
        r.text(
            request, ("request", "path"), re.compile(r"[A-Za-z0-9._~\-/?=&%]{1,200}"), required=True
        )
        or ""
    )
    headers = request.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
        isinstance(v, str) and _HEADER.fullmatch(k) for k, v in headers.items()
    ):
        raise cfg.error(("request", "headers"), "headers must be a table of name = string")
    for header in headers:
        if header.lower() in _AUTH_HEADERS:
            raise cfg.error(("request", "headers", header), "the key is sent by auth, not headers")
    hosts = r.strings(data, ("hosts",))
    empty = data.get("empty_is_no_quota", True)
    if not isinstance(empty, bool):
        raise cfg.error(("empty_is_no_quota",), "empty_is_no_quota must be true or false")
    unusable, errors = _rules(r, data)
    definition = Definition(
        name=name,
        title=r.text(data, ("title",)) or name,
        base_url=base_url.rstrip("/"),
        path=path,
        method=method,
        auth=auth,
        headers=tuple((str(k), str(v)) for k, v in headers.items()),
        body=request.get("body"),
        key_shapes=_key_shapes(r, data, taken or {}),
        hosts=tuple(h.lower() for h in hosts),
        balances=_balances(r, data),
        unusable=unusable,
        errors=errors,
        scenarios=_scenarios(r, data, name),
        empty_is_no_quota=empty,
        notes=r.text(data, ("notes",)) or "",
        source=cfg.name,
    )
    if not definition.balances and not definition.unusable:
        raise cfg.error((), "a definition needs [[balances]] or [[unusable]]")
    return definition


def parse_definition(
    text: str, source: str = "<definition>", *, trusted: bool = False
) -> Definition:
    """A definition from TOML ``text`` (``source`` names it in errors)."""
    return definition_from(parse_config(text, Path(source)), trusted=trusted)


def load_definition(path: Path, taken: Mapping[str, str] | None = None) -> Definition:
    """A definition from the TOML file at ``path`` (``taken``: see :func:`definition_from`)."""
    return definition_from(load_config(path, required=True), taken=taken)


def builtin_definition(filename: str) -> Definition:
    """The definition shipped as ``keyledger/providers/defs/<filename>``."""
    file = importlib.resources.files("keyledger.providers") / "defs" / filename
    return parse_definition(file.read_text("utf-8"), f"defs/{filename}", trusted=True)


def builtin_definitions() -> list[Definition]:
    """The definitions shipped with keyledger (``keyledger/providers/defs/*.toml``), by file
    name."""
    folder = importlib.resources.files("keyledger.providers") / "defs"
    found = sorted(f.name for f in folder.iterdir() if f.name.endswith(".toml"))
    return [builtin_definition(name) for name in found]


def user_definition_files(environ: Mapping[str, str]) -> list[Path]:
    """``<config dir>/providers/*.toml``, sorted (none when the folder is absent)."""
    folder = config_dir(environ) / "providers"
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


def register_definitions(
    registry: Registry, definitions: Iterable[Definition], *, user: bool = False
) -> list[str]:
    """Register each definition's provider; the names registered (an identical one is skipped).

    ``user`` marks user-defined providers (they lose every routing tie to built-ins).

    Raises:
        ConfigError: another provider already has the name.
    """
    from keyledger.providers.declarative import DeclarativeProvider

    names = []
    for definition in definitions:
        present = registry.find(definition.name)
        if isinstance(present, DeclarativeProvider) and present.definition == definition:
            continue
        if present is not None:
            raise ConfigError(f"{definition.source}: provider {definition.name!r} already exists")
        registry.register(provider_from(definition), user=user)
        names.append(definition.name)
    return names


def register_user_providers(
    registry: Registry, environ: Mapping[str, str], files: Iterable[Path] = ()
) -> list[str]:
    """Load the config directory's definitions and ``files``, and register them.

    A definition's key shape may not overlap a prefix a built-in or plugin provider declares.
    """
    paths = [*user_definition_files(environ), *files]
    taken = registry.declared_prefixes()
    return register_definitions(registry, [load_definition(p, taken) for p in paths], user=True)
