"""Third-party providers load from the ``keyledger.providers`` entry-point group (issue 8 §1)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from keyledger.client import Client
from keyledger.engine import Engine
from keyledger.models import Key, Status
from keyledger.providers import CheckOptions, build_registry, default_registry
from keyledger.secret import Secret
from keyledger.simulator import Simulator, scenarios, server
from keyledger.simulator.server import SimState

PLUGIN_DIR = Path(__file__).parent / "plugin_pkg"
BODY = "Zr4Tq8Wm2Xn6Yb0Vc3Ud7Se1Rf5Qg9Ph"


@pytest.fixture
def plugin_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example plugin on ``sys.path`` (its .dist-info declares the entry point)."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    default_registry.cache_clear()
    yield
    default_registry.cache_clear()
    for name in [m for m in sys.modules if m.startswith("keyledger_acme")]:
        del sys.modules[name]


@pytest.mark.usefixtures("plugin_installed")
def test_plugin_is_registered_and_routed() -> None:
    """The entry point adds ``acme``; its claiming shape routes ``acme-`` keys to it."""
    registry = build_registry()
    assert {"acme", "openai"} <= set(registry.names())
    route = registry.route("acme-" + BODY, None, None)
    assert (route.provider, route.problem) == ("acme", None)
    gateway = registry.route("acme-" + BODY, None, "https://gateway.example/acme")
    assert (gateway.provider, gateway.problem) == ("acme", None)  # its own dialect, elsewhere
    assert "acme" not in build_registry(plugins=False).names()


def _python(code: str, with_plugin: bool) -> str:
    """Output of ``python -c code`` in a fresh process (optionally with the plugin installed)."""
    import os

    paths = [os.environ.get("PYTHONPATH", "")]
    if with_plugin:
        paths.insert(0, str(PLUGIN_DIR))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_plugin_key_prefix_is_redacted_and_listed_in_help() -> None:
    """Installed, the plugin's prefix is redacted everywhere and ``--help`` names it."""
    code = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from keyledger.cli import cli\n"
        "from keyledger.sanitize import redact\n"
        f"shown = redact('echoed acme-{BODY} back')\n"
        "help_text = CliRunner().invoke(cli, ['check', '--help'], terminal_width=200).output\n"
        "print(json.dumps([shown, help_text]))\n"
    )
    shown, help_text = json.loads(_python(code, with_plugin=True))
    assert BODY not in shown and "[REDACTED]" in shown
    assert "acme," in " ".join(help_text.split()) and "Known:" in help_text
    shown, help_text = json.loads(_python(code, with_plugin=False))
    assert BODY in shown  # without the plugin nothing knows the prefix: the test can fail
    assert "Known:" in help_text and "acme" not in help_text


@pytest.mark.usefixtures("plugin_installed")
@pytest.mark.parametrize(
    ("scenario", "status", "reason", "available"),
    [
        ("acme_ok", Status.OK, None, Decimal("12.50")),
        ("acme_no_credit", Status.NO_QUOTA, "insufficient_balance", None),
    ],
)
async def test_plugin_checks_keys_against_its_simulator_scenarios(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    scenario: str,
    status: Status,
    reason: str | None,
    available: Decimal | None,
) -> None:
    """The plugin's own simulator module is gathered and its check runs through the engine."""
    gathered_scenarios, routes, decorators = scenarios._gather()
    assert ("GET", "/v1/me") in routes and scenario in gathered_scenarios
    monkeypatch.setattr(server, "SCENARIOS", gathered_scenarios)
    monkeypatch.setattr(server, "ROUTES", routes)
    monkeypatch.setattr(server, "DECORATORS", decorators)
    value = f"acme-KLSIM__{scenario}__{BODY}"
    route = default_registry().route(value, None, None)
    key = Key(Secret(value), "fp0001", "acme", route.provider, route.kind, problem=route.problem)
    async with Simulator(SimState()) as sim:
        options = CheckOptions(base_urls=scenarios.provider_base_urls(sim.url))
        (result,) = [r async for r in Engine(client, options).run([key])]
        assert [r.path for r in sim.state.requests] == ["/v1/me"]
    assert (result.key.provider, result.status, result.reason) == ("acme", status, reason)
    assert (result.balance.available if result.balance else None) == available


def _dist(root: Path, name: str, entries: str) -> None:
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[keyledger.providers]\n{entries}\n")


def test_broken_plugins_are_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin that fails to import, is not a Provider or reuses a name is only a warning."""
    (tmp_path / "kl_dup.py").write_text(
        "from keyledger.providers.openai import OpenAIProvider\n"
        "class Again(OpenAIProvider):\n    pass\n"
    )
    _dist(
        tmp_path,
        "kl_broken",
        "missing = kl_no_such_module:Provider\nnotone = json:dumps\nagain = kl_dup:Again",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="keyledger.providers"):
        registry = build_registry()
    assert registry.names() == build_registry(plugins=False).names()
    warned = sorted(r.getMessage() for r in caplog.records)
    assert len(warned) == 3
    assert all(m.startswith("provider plugin ") and "not loaded" in m for m in warned)
    assert any("'missing'" in m and "ModuleNotFoundError" in m for m in warned)
    assert any("'notone'" in m and "TypeError" in m for m in warned)
    assert any("'again'" in m and "registered twice" in m for m in warned)
