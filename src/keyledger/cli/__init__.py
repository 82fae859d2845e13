"""The ``keyledger`` command line: parsing, printing and exit codes live here only."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Any

import click

from keyledger import __version__
from keyledger.cli.alerts_cmd import alerts
from keyledger.cli.check import check
from keyledger.cli.demo import demo
from keyledger.cli.ledger_cmds import LEDGER_COMMANDS
from keyledger.cli.metrics_cmd import metrics
from keyledger.cli.output import silence_stdout
from keyledger.cli.providers_cmd import providers
from keyledger.cli.serve import serve
from keyledger.cli.signals import Terminated, exit_code, install
from keyledger.cli.simulate import simulate
from keyledger.cli.watch import watch
from keyledger.exitcodes import ExitCode
from keyledger.sanitize import redact_user_text

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
        exc.message = redact_user_text(exc.message)
        if isinstance(exc, click.FileError):
            exc.ui_filename = redact_user_text(exc.ui_filename)
        raise


class _Group(click.Group):
    """The command group: errors are redacted; a closed output pipe ends any command quietly
    with 141, and Ctrl-C, SIGTERM or SIGHUP at any point with 130, 143 or 129.

    (Click itself would turn them into exit 1 and "Aborted!", so they are handled before Click
    sees them.)
    """

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


cli.add_command(alerts)
cli.add_command(check)
cli.add_command(demo)
cli.add_command(simulate)
cli.add_command(providers)
cli.add_command(watch)
cli.add_command(metrics)
cli.add_command(serve)
for _command in LEDGER_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Console entry point: a closed pipe, Ctrl-C, SIGTERM or SIGHUP never ends in a traceback."""
    install()
    try:
        cli.main(prog_name="keyledger", standalone_mode=True)
    except KeyboardInterrupt:
        raise _stopped(signal.SIGINT) from None
    except Terminated as stop:
        raise _stopped(stop.signum) from None


__all__ = ["cli", "main"]
