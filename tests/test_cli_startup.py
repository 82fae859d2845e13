"""The CLI starts light: --help and --version import no heavy module; commands load lazily."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from keyledger.cli import COMMANDS, cli, load_command

HEAVY = (
    "aiohttp",
    "rich",
    "jinja2",
    "prometheus_client",
    "keyledger.providers.registry",
    "keyledger.simulator",
    "keyledger.engine",
    "keyledger.ledger",
)


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_no_heavy_module(flag: str) -> None:
    """`keyledger --help`/`--version` leave aiohttp, rich, jinja2, the providers etc. unloaded."""
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['keyledger', {flag!r}]\n"
        "try:\n"
        "    runpy.run_module('keyledger', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('LOADED:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "LOADED:"


def test_listed_help_is_each_commands_own() -> None:
    """The one-line help --help lists (without importing) equals each command's own help."""
    for name, (_, _, text) in COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        assert (command.short_help or command.help or "").split("\n")[0].strip() == text


def test_every_command_is_reachable() -> None:
    """Each listed command resolves through the group (imported on demand)."""
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        assert isinstance(cli.get_command(ctx, name), click.Command)
    assert cli.get_command(ctx, "no-such-command") is None


CHECK_HEAVY = tuple(m for m in HEAVY if m != "keyledger.providers.registry")


def _session_key_file(tmp_path: Path) -> Path:
    """One session key on an unreachable loopback port (every request fails fast)."""
    keys = tmp_path / "keys.csv"
    keys.write_text("label,key,base_url\nk,sess-" + "A1b2C3d4" * 4 + ",http://127.0.0.1:1/v1\n")
    keys.chmod(0o600)
    return keys


def _run_check(tmp_path: Path, argv: list[str], *, before: str = "", after: str = "") -> list[str]:
    """Run ``keyledger check`` with ``argv`` in a fresh interpreter: ``before`` runs first (it
    may wrap ``Client.call``), then the command, whose exit prints ``EXIT:<code>``, then
    ``after``; the printed lines are returned."""
    probe = (
        "import sys, runpy\n" + before + f"sys.argv = {['keyledger', 'check', *argv]!r}\n"
        "try:\n"
        "    runpy.run_module('keyledger', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    print('EXIT:' + str(exc.code))\n" + after
    )
    env = {**os.environ, "KEYLEDGER_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.stdout.strip(), done.stderr
    return done.stdout.strip().splitlines()


def _at_first_request(check: str) -> str:
    """Probe code: ``seen`` gets what ``check`` (an expression) says at the first request."""
    return (
        "import keyledger.client as client\n"
        "seen = []\n"
        "real = client.Client.call\n"
        "async def call(self, *args, **kwargs):\n"
        "    if not seen:\n"
        f"        seen.append({check})\n"
        "    return await real(self, *args, **kwargs)\n"
        "client.Client.call = call\n"
    )


JSON_RUN = ["-f", "json", "-q", "--attempts", "1"]


def test_check_reads_and_routes_keys_before_loading_the_http_client(tmp_path: Path) -> None:
    """`check` reads, validates and routes keys (every built-in provider, from the registry's
    manifest: no provider module is imported) with aiohttp, rich, the engine, the ledger and
    the simulator still unloaded; an input error exits then."""
    keys = tmp_path / "keys.txt"
    keys.write_text(
        "sk-proj-" + "A1b2C3d4" * 6 + "\nsk-ant-api03-" + "Zq8Wm3Xr" * 11 + "\nnot a key\n"
    )
    keys.chmod(0o600)
    lines = _run_check(
        tmp_path,
        [str(keys), "--strict", "--no-record", "-q"],
        after="made = ('keyledger.providers.openai', 'keyledger.providers.anthropic')\n"
        "print('ROUTED:' + str('keyledger.providers.registry' in sys.modules "
        "and not any(m in sys.modules for m in made)))\n"
        f"print('LOADED:' + ','.join(m for m in {CHECK_HEAVY!r} if m in sys.modules))\n",
    )
    assert lines[-3:] == ["EXIT:2", "ROUTED:True", "LOADED:"]


def test_check_without_alerts_never_loads_the_alerts_machinery(tmp_path: Path) -> None:
    """A `check` run without --alerts sends its requests with keyledger.alerts unloaded."""
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        after="print('ENGINE:' + str('keyledger.engine' in sys.modules))\n"
        "print('ALERTS:' + ','.join(m for m in sys.modules if m.startswith('keyledger.alerts')))\n",
    )
    assert lines[-3:] == ["EXIT:4", "ENGINE:True", "ALERTS:"]


@pytest.mark.parametrize("module", ["rich", "tenacity", "tomllib"])
def test_check_sends_its_first_request_before_loading(tmp_path: Path, module: str) -> None:
    """`check -f json` has aiohttp loaded but neither rich (output), tenacity (retries only)
    nor tomllib (TOML accounts files only) when its first request goes out."""
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=_at_first_request(
            f"any(m == {module!r} or m.startswith({module + '.'!r}) for m in sys.modules)"
        ),
        after="print('LOADED AT FIRST REQUEST:' + str(seen))\n",
    )
    assert lines[-2:] == ["EXIT:4", "LOADED AT FIRST REQUEST:[False]"]


READ_BACK = (
    "keyledger.ledger.rows",  # the rows read back; writing needs only keyledger.ledger.codecs
    "keyledger.cli.ledger_cmds",
    "keyledger.ledger.analysis",
    "keyledger.ledger.insights",
    "keyledger.ledger.pool",
    "keyledger.ledger.export",
    "keyledger.ledger.plot",
)


def test_check_records_its_first_request_without_the_ledger_read_back_side(
    tmp_path: Path,
) -> None:
    """`check -f json` (ledger on) sends its first request with the ledger opened and the
    run begun, but the rows read back, the ledger commands, analysis, insights, pool, export
    and plot unloaded."""
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=_at_first_request(
            f"([m for m in {READ_BACK!r} if m in sys.modules], "
            "'keyledger.ledger.store' in sys.modules)"
        ),
        after="print('AT FIRST REQUEST:' + repr(seen))\n",
    )
    assert lines[-2:] == ["EXIT:4", "AT FIRST REQUEST:[([], True)]"]
    assert (tmp_path / "home").is_dir()


def test_check_starts_opening_the_ledger_before_loading_the_engine(tmp_path: Path) -> None:
    """`check` (ledger on) starts opening the ledger on a worker thread before importing the
    engine and aiohttp, so a new ledger's fsyncs overlap those imports."""
    probe = (
        "import threading\n"
        "import keyledger.cli.ledger_open as opening\n"
        "from keyledger.ledger.store import Store\n"
        "marks = []\n"
        "real_start = opening.LedgerOpening.start.__func__\n"
        "def start(cls, *args, **kwargs):\n"
        "    loaded = [m for m in ('keyledger.engine', 'aiohttp') if m in sys.modules]\n"
        "    marks.append(('start', loaded))\n"
        "    return real_start(cls, *args, **kwargs)\n"
        "opening.LedgerOpening.start = classmethod(start)\n"
        "real_open = Store.open.__func__\n"
        "def open_(cls, *args, **kwargs):\n"
        "    marks.append(('open', threading.current_thread() is threading.main_thread()))\n"
        "    return real_open(cls, *args, **kwargs)\n"
        "Store.open = classmethod(open_)\n"
    )
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=probe,
        after="print('MARKS:' + repr(marks))\n",
    )
    assert lines[-2:] == ["EXIT:4", "MARKS:[('start', []), ('open', False)]"]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_quiet_machine_output_never_loads_rich(tmp_path: Path, fmt: str) -> None:
    """`check -f json|jsonl|csv -q` prints nothing through rich, so it never imports it
    (nor the table), start to end."""
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), "-f", fmt, "-q", "--attempts", "1"],
        after="print('LOADED:' + ','.join(m for m in ('rich', 'keyledger.render.table') "
        "if m in sys.modules))\n",
    )
    assert lines[-2:] == ["EXIT:4", "LOADED:"]


def test_machine_output_still_prints_its_totals_line(tmp_path: Path) -> None:
    """Without -q, `check -f json` still prints the totals on stderr (through rich)."""
    keys = _session_key_file(tmp_path)
    env = {**os.environ, "KEYLEDGER_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "keyledger", "check", str(keys), "-f", "json", "--attempts", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 4
    assert "1 keys, 1 accounts: 1 unreachable" in done.stderr


def test_check_sends_its_first_request_without_difflib(tmp_path: Path) -> None:
    """difflib (only for the "did you mean" of an unknown provider) is not loaded by the
    time `check --format json` sends its first request (click loads it to parse a short
    option such as -q, so only long options here)."""
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), "--format", "json", "--quiet", "--attempts", "1"],
        before=_at_first_request("'difflib' in sys.modules"),
        after="print('LOADED AT FIRST REQUEST:' + str(seen))\n",
    )
    assert lines[-2:] == ["EXIT:4", "LOADED AT FIRST REQUEST:[False]"]


def test_an_unknown_provider_still_gets_a_suggestion() -> None:
    """`get_provider` of a misspelt name still suggests the closest one (difflib, loaded then)."""
    from keyledger.errors import ConfigError
    from keyledger.providers import get_provider

    with pytest.raises(ConfigError, match="did you mean 'openai'"):
        get_provider("opneai")


def test_an_http_run_sends_its_first_request_without_reading_the_ca_store(
    tmp_path: Path,
) -> None:
    """`check` of a key with an http:// base URL sends its first request with aiohttp's
    verified context's CA store still unread (it is read at a first TLS handshake only)."""
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=_at_first_request(
            "__import__('ssl').SSLContext.cert_store_stats("
            "sys.modules['aiohttp.connector']._SSL_CONTEXT_VERIFIED)['x509_ca']"
        ),
        after="print('CAS AT FIRST REQUEST:' + str(seen))\n",
    )
    assert lines[-2:] == ["EXIT:4", "CAS AT FIRST REQUEST:[0]"]


def test_check_sends_its_first_request_without_importlib_metadata(tmp_path: Path) -> None:
    """With no provider plugin installed, `check` looks for one without importing
    importlib.metadata (nor email): neither is loaded when its first request goes out."""
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=_at_first_request("'importlib.metadata' in sys.modules"),
        after="print('LOADED AT FIRST REQUEST:' + str(seen))\n",
    )
    assert lines[-2:] == ["EXIT:4", "LOADED AT FIRST REQUEST:[False]"]


def test_check_imports_its_modules_with_the_cyclic_gc_off(tmp_path: Path) -> None:
    """`check` imports its command module, the ledger side and the engine with automatic
    garbage collection off (nothing to collect there), and turns it on again for the run."""
    watch = (
        "import gc\n"
        "class Watch:\n"
        "    seen = {}\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('keyledger.cli.check', 'keyledger.cli.check_ledger',\n"
        "                    'keyledger.engine'):\n"
        "            self.seen.setdefault(name, gc.isenabled())\n"
        "        return None\n"
        "sys.meta_path.insert(0, Watch())\n"
    )
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=watch + _at_first_request("gc.isenabled()"),
        after="print('GC ON IMPORT:' + repr(sorted(Watch.seen.items())) + repr(seen))\n",
    )
    expected = (
        "GC ON IMPORT:[('keyledger.cli.check', False), ('keyledger.cli.check_ledger', False), "
        "('keyledger.engine', False)][True]"
    )
    assert lines[-2:] == ["EXIT:4", expected]


def test_check_imports_aiohttp_and_the_engine_on_a_fresh_thread_stack(tmp_path: Path) -> None:
    """`check` imports the engine and aiohttp on a new thread (its frame stack starts empty, so
    ``re``'s deep recursion does not map and unmap stack chunks), with the cyclic GC off."""
    watch = (
        "import gc, threading\n"
        "class Watch:\n"
        "    seen = {}\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('aiohttp', 'keyledger.engine'):\n"
        "            main = threading.current_thread() is threading.main_thread()\n"
        "            self.seen.setdefault(name, (main, gc.isenabled()))\n"
        "        return None\n"
        "sys.meta_path.insert(0, Watch())\n"
    )
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=watch,
        after="print('ON MAIN THREAD:' + repr(sorted(Watch.seen.items())))\n",
    )
    expected = "ON MAIN THREAD:[('aiohttp', (False, False)), ('keyledger.engine', (False, False))]"
    assert lines[-2:] == ["EXIT:4", expected]
