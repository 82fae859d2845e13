"""The ``keyledger`` command line: parsing, printing and exit codes live here only.

Commands are registered lazily: each command's module (and with it aiohttp, rich, the
providers, the ledger…) is imported only when that command runs, so ``keyledger --help`` and
``--version`` start in a fraction of the time (docs/benchmarks.md). The one-line help of each
command is listed here for ``--help``; a test keeps it equal to the command's own.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
from collections.abc import Iterator
from typing import Any

import click
from click.utils import make_default_short_help

from keyledger import __version__
from keyledger.cli.gcpolicy import no_collections
from keyledger.cli.signals import Terminated, exit_code, install
from keyledger.exitcodes import ExitCode

# name -> (module, attribute, one-line help): imported on first use only.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "alerts": (
        "keyledger.cli.alerts_cmd",
        "alerts",
        "List active alerts and the latest alerts and recoveries from the ledger.",
    ),
    "backup": (
        "keyledger.cli.ledger_cmds",
        "backup",
        "Back up the ledger to FILE, a new SQLite file (created 0600).",
    ),
    "check": (
        "keyledger.cli.check",
        "check",
        "Check keys: which work, how much is left, and why the others fail.",
    ),
    "demo": (
        "keyledger.cli.demo",
        "demo",
        "Check a built-in set of demo keys against the built-in simulator.",
    ),
    "export": (
        "keyledger.cli.ledger_cmds",
        "export",
        "Export the whole ledger: every run and every recorded check.",
    ),
    "history": (
        "keyledger.cli.ledger_cmds",
        "history",
        "Show status and balance over time, per key or per account.",
    ),
    "metrics": (
        "keyledger.cli.metrics_cmd",
        "metrics",
        "Serve /metrics for Prometheus from the ledger's latest results.",
    ),
    "plot": (
        "keyledger.cli.ledger_cmds",
        "plot",
        "Draw available balance and spend over time, one line per key and currency, as a PNG.",
    ),
    "pool": (
        "keyledger.cli.ledger_cmds",
        "pool",
        "Print the keys that are usable now, best first, for rotation.",
    ),
    "providers": (
        "keyledger.cli.providers_cmd",
        "providers",
        "List the providers keyledger can check, the keys each claims and what it can tell.",
    ),
    "serve": (
        "keyledger.cli.serve",
        "serve",
        "Serve a dashboard of the ledger at http://127.0.0.1:8765/.",
    ),
    "simulate": (
        "keyledger.cli.simulate",
        "simulate",
        "Serve the built-in simulator of every API keyledger reads.",
    ),
    "watch": (
        "keyledger.cli.watch",
        "watch",
        "Check keys on a schedule, record every run, and alert once per crossing.",
    ),
}


def load_command(name: str) -> click.Command:
    """Import the module of command ``name`` (no cyclic GC meanwhile: see
    :func:`keyledger.cli.gcpolicy.no_collections`) and return its command."""
    module, attribute, _ = COMMANDS[name]
    with no_collections():
        command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    return command


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _stopped(signum: int) -> SystemExit:
    """Say so on stderr (never a traceback) and exit with the signal's code."""
    try:
        sys.stderr.write("keyledger: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return SystemExit(exit_code(signum))


@contextlib.contextmanager
def redacted_errors() -> Iterator[None]:
    """Every usage error on its way out loses anything key-shaped it quotes (F4).

    Click's own errors (a bad ``-f`` or ``KEYLEDGER_CONCURRENCY`` value, a missing file) and
    keyledger's :class:`~keyledger.cli.keys_input.UsageExit` all quote what the user typed;
    this is the one place they pass before Click prints them.
    """
    try:
        yield
    except click.ClickException as exc:
        from keyledger.sanitize import redact_user_text

        exc.message = redact_user_text(exc.message)
        if isinstance(exc, click.FileError):
            exc.ui_filename = redact_user_text(exc.ui_filename)
        raise


class _Group(click.Group):
    """The command group: errors are redacted; a closed output pipe ends any command quietly
    with 141, and Ctrl-C, SIGTERM or SIGHUP at any point with 130, 143 or 129.

    (Click itself would turn them into exit 1 and "Aborted!", so they are handled before Click
    sees them.) Commands are imported when they are looked up (:data:`COMMANDS`), and the
    command list in ``--help`` comes from :data:`COMMANDS` without importing any.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, make_default_short_help(t, limit)) for name, t in rows])

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with redacted_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> object:
        try:
            with redacted_errors():
                return super().invoke(ctx)
        except BrokenPipeError:
            from keyledger.cli.output import silence_stdout

            silence_stdout()
            raise SystemExit(ExitCode.BROKEN_PIPE) from None
        except KeyboardInterrupt:
            raise _stopped(signal.SIGINT) from None
        except Terminated as stop:
            raise _stopped(stop.signum) from None


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="keyledger")
def cli() -> None:
    """Check many LLM API keys at once: which work, what is left, and why the rest fail.

    \b
    Start here:
      keyledger demo                 see it work against the built-in simulator
      keyledger check keys.txt       check your own keys (text, CSV or TOML file)
      keyledger check -              read keys from standard input
      keyledger serve --demo         the dashboard, on the demo ledger

    Keys are never printed in full, never taken from the command line, and sent only
    in headers, only to their own provider.
    """


def _failed_in_click_echo(exc: OSError) -> bool:
    """Whether ``exc`` was raised writing text Click prints itself (``--help``, ``--version``):
    its innermost frame is ``click.utils.echo``. Every command's own output goes through
    :func:`keyledger.cli.write_errors.writing_stdout` instead."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    frame = tb.tb_frame
    return frame.f_code.co_name == "echo" and frame.f_globals.get("__name__") == "click.utils"


def main() -> None:
    """Console entry point: a closed pipe, Ctrl-C, SIGTERM or SIGHUP never ends in a traceback,
    nor does text Click writes itself (``--help``, ``--version``) to a stdout that refuses it."""
    install()
    try:
        cli.main(prog_name="keyledger", standalone_mode=True)
    except KeyboardInterrupt:
        raise _stopped(signal.SIGINT) from None
    except Terminated as stop:
        raise _stopped(stop.signum) from None
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) or not _failed_in_click_echo(exc):
            raise
        from keyledger.cli.write_errors import write_failure

        failure = write_failure(None, exc.strerror or "OS error")
        failure.show()
        from keyledger.cli.output import silence_stdout

        silence_stdout()
        raise SystemExit(failure.exit_code) from None


__all__ = ["cli", "main"]
