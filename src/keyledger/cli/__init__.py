"""The ``keyledger`` command line: parsing, printing and exit codes live here only."""

from __future__ import annotations

import os
import sys

import click

from keyledger import __version__
from keyledger.cli.check import check
from keyledger.cli.demo import demo
from keyledger.cli.ledger_cmds import LEDGER_COMMANDS
from keyledger.cli.simulate import simulate
from keyledger.exitcodes import ExitCode

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
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
    """Console entry point: a closed pipe or Ctrl-C never ends in a traceback."""
    try:
        cli.main(prog_name="keyledger", standalone_mode=True)
    except BrokenPipeError:
        _quiet_pipe_exit()
    except KeyboardInterrupt:
        sys.stderr.write("keyledger: interrupted\n")
        raise SystemExit(ExitCode.INTERRUPTED) from None


def _quiet_pipe_exit() -> None:
    """The reader went away (``| head``): stop quietly, as a Unix filter does."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    raise SystemExit(141)


__all__ = ["cli", "main"]
