"""The lazy provider registry: its manifest is the providers' own declarations, and routing,
shapes, hosts, names and switches answered from it are the eager registry's answers."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyledger.providers import manifest
from keyledger.providers.manifest_data import PROVIDERS
from keyledger.providers.registry import Registry, build_registry, default_registry
from keyledger.simulator.scenarios import SCENARIOS, make_key

from .test_declarative import TOML_ONLY


@pytest.fixture(scope="module")
def eager() -> Registry:
    """Every built-in provider made now (the manifest's source of truth)."""
    return build_registry(plugins=False, lazy=False)


@pytest.fixture
def lazy() -> Registry:
    """A fresh lazy registry of the built-ins (nothing made yet)."""
    return build_registry(plugins=False)


def test_manifest_is_up_to_date() -> None:
    """manifest_data.py equals what the providers declare now (else regenerate it)."""
    assert [tuple(row) for row in PROVIDERS] == manifest.rows(), (
        f"providers/manifest_data.py is stale: run `{manifest.COMMAND}`"
    )
    assert manifest.DATA_FILE.read_text("utf-8") == manifest.render(), (
        f"providers/manifest_data.py is stale: run `{manifest.COMMAND}`"
    )


def test_check_mode_reports_a_stale_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--check`` exits 0 on the shipped file, 1 (naming the command) on a stale copy, and
    ``--write`` makes it current."""
    assert manifest.main(["--check"]) == 0
    stale = tmp_path / "manifest_data.py"
    stale.write_text("PROVIDERS = ()\n")
    monkeypatch.setattr(manifest, "DATA_FILE", stale)
    assert manifest.main(["--check"]) == 1
    assert manifest.COMMAND in capsys.readouterr().err
    assert manifest.main(["--write"]) == 0
    assert manifest.main(["--check"]) == 0


def test_entries_equal_the_made_providers(eager: Registry, lazy: Registry) -> None:
    """Each entry (name, title, shapes, hosts, switches, order) equals its provider's, before
    and after the provider is made, and the made provider is the eager one's kind."""
    assert [e.name for e in lazy.entries()] == [p.name for p in eager]
    assert not any(e.loaded for e in lazy.entries())
    for entry, provider in zip(lazy.entries(), eager, strict=True):
        assert entry.title == provider.title
        assert entry.key_shapes == provider.key_shapes
        assert entry.served_hosts() == provider.served_hosts()
        assert entry.options == provider.options
        made = lazy.get(entry.name)
        assert entry.loaded and made.key_shapes == entry.key_shapes
        assert type(made).__qualname__ == type(provider).__qualname__
    assert lazy.names() == eager.names() and lazy.declared_prefixes() == eager.declared_prefixes()


def _keys() -> Iterator[str]:
    """One key per simulator scenario, plus shapes no provider claims."""
    for scenario in SCENARIOS:
        yield make_key(scenario, 3)
    yield "sk-" + "0123456789abcdef" * 2  # DeepSeek's hint shape: ambiguous
    yield "sk-" + "Ab3dEf6hIj9kLm2nOp5q"  # a bare sk-: ambiguous
    yield "zz-" + "Ab3dEf6hIj9kLm2nOp5q"  # nobody's


def test_routing_of_every_simulator_key_is_the_eager_registrys(
    eager: Registry, lazy: Registry
) -> None:
    """Every scenario key routes the same (bare, pinned to each provider, pinned to each
    provider's host and to an unknown host) without making any provider."""
    hosts = sorted({h for p in eager for h in p.served_hosts()})
    pins: list[tuple[str | None, str | None]] = [(None, None), (None, "https://elsewhere.example")]
    pins += [(None, f"https://{host}/v1") for host in hosts]
    pins += [(name, None) for name in [*eager.names(), "no-such-provider"]]
    for value in _keys():
        for provider, base_url in pins:
            assert lazy.route(value, provider, base_url) == eager.route(value, provider, base_url)
        assert lazy.owner(value) == eager.owner(value)
        assert lazy.candidates(value) == eager.candidates(value)
    assert not any(e.loaded for e in lazy.entries())


def test_a_provider_is_made_only_for_what_needs_it(lazy: Registry) -> None:
    """Routing a session key makes nothing; asking for its provider makes only that one."""
    value = make_key("grants", 1)
    assert lazy.route(value, None, None).provider == "openai"
    assert not any(e.loaded for e in lazy.entries())
    assert lazy.find("openai") is lazy.claimant(value)
    assert [e.name for e in lazy.entries() if e.loaded] == ["openai"]
    assert lazy.for_host("https://api.stepfun.com/v1").name == "stepfun"  # type: ignore[union-attr]
    assert [e.name for e in lazy.entries() if e.loaded] == ["openai", "stepfun"]


def test_no_plugin_means_no_entry_point_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no distribution naming the group, the registry never calls entry_points()."""

    def refuse(**_: object) -> None:
        raise AssertionError("entry_points() called with no plugin installed")

    monkeypatch.setattr(importlib.metadata, "entry_points", refuse)
    assert "openai" in build_registry()


@pytest.fixture
def fresh_default() -> Iterator[None]:
    """The process-wide registry rebuilt around the test (it registers user providers)."""
    default_registry.cache_clear()
    yield
    default_registry.cache_clear()


@pytest.mark.usefixtures("fresh_default")
def test_config_directory_definitions_still_load_for_commands(isolated_env: Path) -> None:
    """A definition in ``<config dir>/providers/`` is registered by the commands' loader; an
    empty config directory registers nothing."""
    from keyledger.cli.user_providers import register_user_definitions

    assert register_user_definitions() == []
    folder = isolated_env.parent / "home/.config/keyledger/providers"
    folder.mkdir(parents=True)
    (folder / "relay.toml").write_text(TOML_ONLY)
    assert register_user_definitions() == ["trelay"]
    assert "trelay" in default_registry()


def test_a_session_key_check_imports_only_the_openai_provider(tmp_path: Path) -> None:
    """A 1-session-key `check --format json -q` run imports the openai provider's modules
    only: no other provider module, and neither the definition machinery nor the config
    reader (no user TOML)."""
    keys = tmp_path / "keys.csv"
    keys.write_text("label,key,base_url\nk," + make_key("grants", 1) + ",http://127.0.0.1:1/v1\n")
    keys.chmod(0o600)
    argv = ["keyledger", "check", str(keys), "--format", "json", "-q", "--attempts", "1"]
    probe = (
        "import sys, runpy\n"
        f"sys.argv = {argv!r}\n"
        "try:\n"
        "    runpy.run_module('keyledger', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    print('EXIT:' + str(exc.code))\n"
        "print('CONFIG:' + str('keyledger.config' in sys.modules))\n"
        "print('PROVIDERS:' + ','.join(sorted(m.rpartition('.')[2] for m in sys.modules "
        "if m.startswith('keyledger.providers.'))))\n"
    )
    env = {**os.environ, "KEYLEDGER_HOME": str(tmp_path / "home")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    lines = done.stdout.strip().splitlines()
    assert lines[-3:-1] == ["EXIT:4", "CONFIG:False"], done.stderr
    loaded = set(lines[-1].removeprefix("PROVIDERS:").split(","))
    allowed = {"base", "spec", "registry", "manifest_data", "plugin_files"}
    assert {m for m in loaded if not m.startswith("openai")} <= allowed
    assert "openai" in loaded


def test_no_built_in_answers_kind_or_hosts_beyond_its_declarations(eager: Registry) -> None:
    """A built-in's kind_of and served_hosts are the base Provider's (its declared shapes and
    hosts), so the manifest's copies of those declarations answer as the provider would."""
    from keyledger.providers.spec import Provider

    for provider in eager:
        cls = type(provider)
        assert getattr(cls, "kind_of", None) is Provider.kind_of, provider.name
        assert getattr(cls, "served_hosts", None) is Provider.served_hosts, provider.name
