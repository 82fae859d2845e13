"""The ``keyledger`` command line: parsing, printing and exit codes live here only."""

from __future__ import annotations

import signal
import sys

import click

from keyledger import __version__
from keyledger.cli.check import check
from keyledger.cli.demo import demo
from keyledger.cli.ledger_cmds import LEDGER_COMMANDS
from keyledger.cli.output import silence_stdout
from keyledger.cli.signals import Terminated, exit_code, install
from keyledger.cli.simulate import simulate
from keyledger.exitcodes import ExitCode

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _stopped(signum: int) -> SystemExit:
    """Say so on stderr (never a traceback) and exit with the signal's code."""
    try:
        sys.stderr.write("keyledger: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return SystemExit(exit_code(signum))


class _Group(click.Group):
    """The command group; a closed output pipe ends any command quietly with 141, and Ctrl-C,
    SIGTERM or SIGHUP at any point with 130, 143 or 129.

    (Click itself would turn them into exit 1 and "Aborted!", so they are handled before Click
    sees them.)
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
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

    Keys are never printed in full, never taken from the command line, and sent only
    in headers, only to their own provider.
    """


cli.add_command(check)
cli.add_command(demo)
cli.add_command(simulate)
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
