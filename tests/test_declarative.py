"""Declarative providers: the TOML format, its validation, the shipped definitions, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tests.test_provider_contract import TOML_ONLY

from keyledger.errors import ConfigError
from keyledger.models import Status
from keyledger.providers import Registry, default_registry
from keyledger.providers.declarative import (
    MISSING,
    DeclarativeProvider,
    JsonPath,
    PathError,
    read_balances,
)
from keyledger.providers.declarative_load import (
    builtin_definitions,
    parse_definition,
    register_definitions,
    register_user_providers,
)
from keyledger.simulator import SimState
from keyledger.simulator.responses import json_reply
from keyledger.simulator.scenario import Scenario
from keyledger.simulator.scenarios import make_key

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def test_json_path_reads_keys_and_indexes() -> None:
    """``data.balances[0].usd`` walks objects and lists; anything absent is MISSING."""
    path = JsonPath.parse("data.balances[0].usd")
    assert path.get({"data": {"balances": [{"usd": 3}]}}) == 3
    assert path.get({"data": {"balances": []}}) is MISSING
    assert path.get({"data": {"balances": {"0": 1}}}) is MISSING


@pytest.mark.parametrize("bad", ["", "a..b", "a[x]", "a.[0]", "$.a", "a b"])
def test_json_path_refuses_other_syntax(bad: str) -> None:
    """Only dotted names with [N] indexes are paths."""
    with pytest.raises(PathError):
        JsonPath.parse(bad)


def test_divisor_negate_and_parts() -> None:
    """Quota units are divided, a negative credit is negated, parts are kept."""
    spec = parse_definition(
        TOML_ONLY.replace("divisor = 100", 'divisor = 500000\nnegate = true\nparts = { a = "x" }')
    )
    data = {"data": {"wallets": [{"cents": -1250000}]}, "x": "7"}
    (balance,) = read_balances(spec, data, NOW)
    assert balance.available == Decimal("2.5")
    assert balance.parts[0].name == "a" and balance.parts[0].amount == Decimal("-0.000014")


def test_absurd_money_is_refused() -> None:
    """Money goes through parse_money: an unbounded figure is an error naming its path."""
    from keyledger.money import MoneyError

    spec = parse_definition(TOML_ONLY)
    with pytest.raises(MoneyError, match=r"data\.wallets\[0\]\.cents"):
        read_balances(spec, {"data": {"wallets": [{"cents": "1e99"}]}}, NOW)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('auth = "x-api-key"', 'auth = "cookie"'), "auth must be"),
        (('method = "POST"', 'method = "DELETE"'), "method must be GET or POST"),
        (("divisor = 100", "divisor = 0"), "divisor must be"),
        (('status = "no_quota"', 'status = "fine"'), "status must be one of"),
        (('available = "data', 'available = "$data'), "bad JSON path"),
        (("[[errors]]", "[[errorz]]"), "unknown setting 'errorz'"),
        (("headers = {", 'headers = { Authorization = "x", '), "sent by auth"),
        (('expect = "ok"', 'expect = "great"'), "expect must be"),
    ],
)
def test_mistakes_are_reported_with_file_and_line(change: tuple[str, str], message: str) -> None:
    """Each mistake reads ``file:line: message``, the line being the one with the mistake."""
    text = TOML_ONLY.replace(*change, 1)
    assert text != TOML_ONLY
    line = next(n for n, t in enumerate(text.splitlines(), 1) if change[1] in t)
    with pytest.raises(ConfigError) as caught:
        parse_definition(text, "my.toml")
    assert str(caught.value).startswith(f"my.toml:{line}: "), str(caught.value)
    assert message in str(caught.value)


def test_a_definition_holding_a_key_is_refused_without_echoing_it() -> None:
    """Something key-shaped in a definition is refused, and the error never quotes it."""
    key = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1w"
    text = TOML_ONLY.replace('Accept = "application/json"', f'X-Token = "{key}"')
    with pytest.raises(ConfigError) as caught:
        parse_definition(text, "leak.toml")
    assert "leak.toml:14:" in str(caught.value) and "API key" in str(caught.value)
    assert key not in str(caught.value) and "Ab3dEf6h" not in str(caught.value)


def test_builtin_definitions_are_registered_and_hold_no_key() -> None:
    """The shipped TOML definitions are providers of the default registry, key-free."""
    names = {d.name for d in builtin_definitions()}
    assert {"stepfun", "302ai", "api2d", "venice", "deepinfra"} <= names
    for definition in builtin_definitions():
        assert isinstance(default_registry().find(definition.name), DeclarativeProvider)
        source = Path(__file__).parent.parent / "src/keyledger/providers" / definition.source
        parse_definition(source.read_text("utf-8"), str(source))  # the untrusted path: key scan


def test_a_pinned_host_routes_to_the_declared_provider() -> None:
    """A ``base_url=`` pin on a definition's host goes to it; its claimed shape routes too."""
    route = default_registry().route("a" * 40, None, "https://api.stepfun.com/v1")
    assert route.provider == "stepfun" and route.problem is None
    registry = Registry([])
    register_definitions(registry, [parse_definition(TOML_ONLY)])
    assert registry.route("trl-" + "Ab3dEf6hIj9kLm2nOp5q", None, None).provider == "trelay"


def test_registering_twice_is_harmless_but_a_clash_is_an_error() -> None:
    """The same definition again is skipped; another one under a taken name is refused."""
    registry = Registry([])
    spec = parse_definition(TOML_ONLY, "a.toml")
    assert register_definitions(registry, [spec]) == ["trelay"]
    assert register_definitions(registry, [spec]) == []
    with pytest.raises(ConfigError, match="already exists"):
        register_definitions(registry, [replace(spec, title="other")])


def test_definitions_load_from_the_config_directory(isolated_env: Path) -> None:
    """``<config dir>/providers/*.toml`` is read (XDG_CONFIG_HOME in tests)."""
    folder = isolated_env.parent / "home/.config/keyledger/providers"
    folder.mkdir(parents=True)
    (folder / "relay.toml").write_text(TOML_ONLY)
    registry = Registry([])
    import os

    assert register_user_providers(registry, os.environ) == ["trelay"]


def _relay_state() -> SimState:
    spec = parse_definition(TOML_ONLY)
    scenarios = {
        s.name: Scenario(
            s.name,
            default_registry().find("openai").kind_of("x"),
            s.description,
            s.expect,  # type: ignore[union-attr]
            s.expect_reason,
            endpoints={"*": json_reply(s.body, s.http)},
            provider="trelay",
        )
        for s in spec.scenarios
    }
    return SimState(extra_scenarios=scenarios)


def test_cli_checks_a_provider_given_with_providers_file(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """``--providers FILE`` registers the definition; its keys are checked like any other."""
    from keyledger.cli.demo import simulator_thread

    definition = tmp_path / "relay.toml"
    definition.write_text(TOML_ONLY)
    with simulator_thread(_relay_state()) as sim:
        keys = tmp_path / "keys.txt"
        keys.write_text(
            f"good {make_key('trelay_ok')} provider=trelay base_url={sim.url}/api\n"
            f"empty {make_key('trelay_empty')} provider=trelay base_url={sim.url}/api\n"
            f"venice {make_key('venice_ok')} provider=venice base_url={sim.url}/api/v1\n"
        )
        proc = run_cli(
            "check", str(keys), "--providers", str(definition), "--no-record", "-f", "json"
        )
    rows = {r["label"]: r for r in json.loads(proc.stdout)["results"]}
    assert rows["good"]["provider"] == "trelay" and rows["good"]["status"] == "ok"
    assert Decimal(rows["good"]["balance"]["available"]) == Decimal("12.5")
    assert (rows["empty"]["status"], rows["empty"]["reason"]) == ("no_quota", "wallet_empty")
    assert rows["venice"]["status"] == "ok"
    assert make_key("trelay_ok") not in proc.stdout + proc.stderr


def test_cli_reports_a_bad_definition_as_a_usage_error(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A broken definition stops the run with exit 2 and ``file:line: message``."""
    definition = tmp_path / "bad.toml"
    definition.write_text(TOML_ONLY.replace("divisor = 100", "divisor = -1"))
    proc = run_cli("check", "--providers", str(definition), "--no-record", stdin="")
    assert proc.code == 2
    assert f"{definition}:20: divisor must be" in proc.stderr


def test_unusable_flag_wins_over_money() -> None:
    """A funded account flagged unusable gets the flag's status (Venice canConsume false)."""
    venice = default_registry().find("venice")
    assert isinstance(venice, DeclarativeProvider)
    flag = venice.definition.unusable[0]
    assert (flag.status, flag.reason) == (Status.NO_QUOTA, "cannot_consume")


_EVIL = TOML_ONLY.replace('name = "trelay"', 'name = "evil"').replace("trelay_", "evil_")


@pytest.mark.parametrize("prefix", ["sk-or-v1-", "sk-or-v1-x", "sk-or-"])
def test_a_user_shape_overlapping_a_builtin_prefix_is_refused(tmp_path: Path, prefix: str) -> None:
    """A user definition may not declare, extend or shorten a prefix a built-in declares."""
    path = tmp_path / "evil.toml"
    path.write_text(_EVIL.replace('"trl-"', f'"{prefix}"').replace("trl-[", f"{prefix}["))
    registry = Registry([])
    register_definitions(registry, builtin_definitions())
    registry.register(default_registry().get("openrouter"))
    with pytest.raises(ConfigError) as caught:
        register_user_providers(registry, {"XDG_CONFIG_HOME": str(tmp_path / "none")}, [path])
    assert f"{path}:8:" in str(caught.value) and "'openrouter'" in str(caught.value)
    assert "evil" not in registry


def test_builtins_win_a_shape_tie_against_user_providers() -> None:
    """On an equal prefix, a built-in provider claims the key before a user-defined one."""
    evil = parse_definition(_EVIL.replace('"trl-"', '"sk-or-v1-"').replace("trl-[", "sk-or-v1-["))
    registry = Registry([default_registry().get("openrouter")])
    register_definitions(registry, [evil], user=True)
    key = "sk-or-v1-" + "a1b2c3d4" * 8
    assert registry.owner(key) == "openrouter"
    assert registry.candidates(key)[0] == "openrouter"


def test_cli_refuses_a_definition_taking_openrouter_keys(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """``check --providers`` stops with exit 2 on a shape that would take built-in keys."""
    definition = tmp_path / "evil.toml"
    definition.write_text(_EVIL.replace('"trl-"', '"sk-or-v1-"').replace("trl-[", "sk-or-v1-["))
    proc = run_cli("check", "--providers", str(definition), "--no-record", stdin="")
    assert proc.code == 2
    assert f"{definition}:8: prefix overlaps" in proc.stderr


def test_providers_lists_user_definitions(isolated_env: Path, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """``keyledger providers`` lists config-directory definitions and ``--providers`` files."""
    folder = isolated_env.parent / "home/.config/keyledger/providers"
    folder.mkdir(parents=True)
    (folder / "relay.toml").write_text(TOML_ONLY)
    other = tmp_path / "other.toml"
    other.write_text(TOML_ONLY.replace('"trelay"', '"orelay"').replace("trelay_", "orelay_"))
    proc = run_cli("providers", "--providers", str(other), "-f", "json")
    assert proc.code == 0, proc.stderr
    names = {row["name"] for row in json.loads(proc.stdout)}
    assert {"trelay", "orelay", "openai", "venice"} <= names


def test_watch_checks_a_provider_given_with_providers_file(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """``watch --providers FILE`` checks keys pinned to the definition and records them."""
    import sqlite3

    from keyledger.cli.demo import simulator_thread

    definition = tmp_path / "relay.toml"
    definition.write_text(TOML_ONLY)
    with simulator_thread(_relay_state()) as sim:
        keys = tmp_path / "keys.txt"
        keys.write_text(f"good {make_key('trelay_ok')} provider=trelay base_url={sim.url}/api\n")
        proc = run_cli(
            "watch", str(keys), "--providers", str(definition), "--max-runs", "1", "--no-alerts"
        )
    assert proc.code == 0, proc.stderr
    with sqlite3.connect(tmp_path / "klhome" / "ledger.db") as conn:
        rows = conn.execute("SELECT status, available FROM results").fetchall()
    assert len(rows) == 1 and rows[0][0] == "ok" and Decimal(rows[0][1]) == Decimal("12.5")


def test_serve_refuses_a_broken_config_directory_definition(isolated_env: Path) -> None:
    """``serve`` loads ``<config dir>/providers/*.toml``: a broken one stops it (exit 2)."""
    import os
    import subprocess
    import sys

    folder = isolated_env.parent / "home/.config/keyledger/providers"
    folder.mkdir(parents=True)
    (folder / "bad.toml").write_text(TOML_ONLY.replace("divisor = 100", "divisor = -1"))
    done = subprocess.run(
        [sys.executable, "-m", "keyledger", "serve", "--port", "0", "--no-open"],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ),
    )
    assert done.returncode == 2
    assert f"{folder / 'bad.toml'}:20: divisor must be" in done.stderr
