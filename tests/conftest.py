"""Shared fixtures: an isolated home and environment, the simulator, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from keyledger.client import Client, make_session
from keyledger.engine import Engine, RunOptions
from keyledger.providers import CheckOptions, Provider, default_registry
from keyledger.simulator import SimState, Simulator
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.transport import HttpOptions

# Fast limits for tests: short deadlines, tiny backoff.
FAST = HttpOptions(attempt_deadline=3.0, connect_timeout=1.0, backoff_base=0.01, backoff_cap=0.05)

_SCRUB = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "COLUMNS",
    "NO_COLOR",
    "FORCE_COLOR",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own KEYLEDGER_HOME, HOME and XDG dirs, and no proxy or key env."""
    home = tmp_path / "home"
    home.mkdir()
    for name in _SCRUB:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("KEYLEDGER_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("KEYLEDGER_HOME", str(tmp_path / "klhome"))
    return tmp_path / "klhome"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """The simulator on a free loopback port, in the test's event loop."""
    async with Simulator(SimState()) as simulator:
        yield simulator


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """A client with fast test limits."""
    async with make_session(FAST, 32) as session:
        yield Client(session, FAST)


def engine_for(client: Client, sim_url: str, **run: object) -> Engine:
    """An engine whose every provider's default base URL is on the simulator."""

    options = CheckOptions(base_urls=provider_base_urls(sim_url))
    return Engine(client, options, RunOptions(**run))  # type: ignore[arg-type]


@dataclass
class Proc:
    """A finished CLI subprocess."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture
def register() -> Iterator[Callable[[Provider], None]]:
    """Registers test providers for one test, then removes them."""
    added: list[str] = []

    def add(provider: Provider) -> None:
        default_registry().register(provider)
        added.append(provider.name)

    yield add
    for name in added:
        default_registry().unregister(name)


@pytest.fixture
def run_cli(isolated_env: Path) -> Iterator[object]:
    """Run ``python -m keyledger ARGS`` in a subprocess with the isolated environment."""

    def run(
        *args: str, stdin: str | None = None, timeout: float = 60, env: dict[str, str] | None = None
    ) -> Proc:
        merged = {**os.environ, **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "keyledger", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=merged,
        )
        return Proc(done.returncode, done.stdout, done.stderr)

    yield run


@pytest.fixture
def live_sim() -> Iterator[Simulator]:
    """The simulator in a background thread, for CLI subprocesses to reach."""
    from keyledger.cli.demo import simulator_thread

    with simulator_thread(SimState()) as simulator:
        yield simulator
