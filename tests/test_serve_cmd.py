"""``keyledger serve`` as a process, and the wheel carrying the dashboard's files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PIP = (sys.executable, "-m", "pip")
ROOT = Path(__file__).resolve().parent.parent
STATIC_FILES = (
    "keyledger/web/static/app.js",
    "keyledger/web/static/app.css",
    "keyledger/web/static/key.js",
    "keyledger/web/static/vendor/uplot/uPlot.iife.min.js",
    "keyledger/web/static/vendor/uplot/uPlot.min.css",
    "keyledger/web/static/vendor/uplot/LICENSE",
    "keyledger/web/templates/base.html",
    "keyledger/web/templates/overview.html",
    "keyledger/web/templates/key.html",
)


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, list[str]]]:
    """Start ``keyledger serve ARGS`` and yield its URL and the lines it printed first."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyledger", "serve", "--port", "0", "--no-open", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        while not lines or "Ctrl-C" not in lines[-1]:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "no output"
            lines.append(line.rstrip("\n"))
        found = re.search(r"at (http://\S+/)", lines[0])
        assert found is not None
        yield found.group(1), lines
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serves_on_loopback_by_default(run_cli: object) -> None:
    """Without --host the dashboard is at 127.0.0.1, needs no token, and stops on Ctrl-C."""
    with serving() as (url, lines):
        assert url.startswith("http://127.0.0.1:")
        assert _get(url) == 200
        assert _get(url + "api/v1/overview") == 200
        assert not any("token" in line for line in lines)


def test_other_address_prints_a_one_time_link(run_cli: object) -> None:
    """Bound to 127.0.0.2 it warns, needs the token, and prints a login link for it once."""
    with serving("--host", "127.0.0.2") as (url, lines):
        assert url.startswith("http://127.0.0.2:")
        assert any("warning" in line for line in lines)
        links = [line for line in lines if "login?token=" in line]
        assert len(links) == 1
        token = links[0].split("login?token=")[1]
        assert sum(token in line for line in lines) == 1
        assert _get(url + "api/v1/keys") == 401
        assert _get(url + "api/v1/keys", {"Authorization": f"Bearer {token}"}) == 200


def test_token_from_the_environment_is_not_printed(run_cli: object) -> None:
    """With KEYLEDGER_SERVE_TOKEN set, that token works and is never printed."""
    token = "env-token-" + "k" * 30
    with serving("--host", "127.0.0.2", env={"KEYLEDGER_SERVE_TOKEN": token}) as (url, lines):
        assert not any(token in line for line in lines)
        assert _get(url + "api/v1/keys", {"Authorization": f"Bearer {token}"}) == 200


def test_demo_and_files_together_is_a_usage_error(run_cli: object, tmp_path: Path) -> None:
    """``--demo`` with key files exits 2 with a message."""
    keys = tmp_path / "keys.txt"
    keys.write_text("x\n")
    done = subprocess.run(
        [sys.executable, "-m", "keyledger", "serve", "--demo", str(keys)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--demo" in done.stderr


@pytest.mark.slow
def test_wheel_ships_and_serves_the_static_files(tmp_path: Path) -> None:
    """The built wheel holds templates, scripts and uPlot's licence, and serves them installed."""
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling (test extra)")
    dist = tmp_path / "dist"
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("keyledger-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(STATIC_FILES) <= names
    site = tmp_path / "site"
    subprocess.run(
        [*PIP, "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        timeout=300,
    )
    script = """
import asyncio, sys, keyledger
from pathlib import Path
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from keyledger.web import Guard, create_app
from keyledger.web.app import GUARD

async def main():
    app = create_app(Path(sys.argv[1]), Guard("127.0.0.1", 0))
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    app[GUARD].port = server.port
    async with ClientSession() as s:
        for path in sys.argv[2:]:
            async with s.get(f"http://127.0.0.1:{server.port}{path}") as r:
                print(path, r.status, len(await r.read()))
    await server.close()
print(keyledger.__file__)
asyncio.run(main())
"""
    paths = ["/", "/static/app.js", "/static/vendor/uplot/uPlot.iife.min.js"]
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "ledger.db"), *paths],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0].startswith(str(site))  # the installed copy, not the source tree
    for path, line in zip(paths, out[1:], strict=True):
        name, status, size = line.split()
        assert name == path and status == "200" and int(size) > 1000
