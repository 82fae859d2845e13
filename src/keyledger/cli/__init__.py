"""The ``keyledger`` command line: parsing, printing and exit codes live here only."""

from __future__ import annotations

import sys

import click

from keyledger import __version__
from keyledger.cli.check import check
from keyledger.cli.demo import demo
from keyledger.cli.ledger_cmds import LEDGER_COMMANDS
from keyledger.cli.output import silence_stdout
from keyledger.cli.serve import serve
from keyledger.cli.simulate import simulate
from keyledger.exitcodes import ExitCode

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Group(click.Group):
    """The command group; a closed output pipe ends any command quietly with 141.

    (Click itself would turn it into exit 1, so it is handled before Click sees it.)
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            silence_stdout()
            raise SystemExit(ExitCode.BROKEN_PIPE) from None


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


cli.add_command(check)
cli.add_command(demo)
cli.add_command(simulate)
cli.add_command(serve)
for _command in LEDGER_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Console entry point: a closed pipe or Ctrl-C never ends in a traceback."""
    try:
        cli.main(prog_name="keyledger", standalone_mode=True)
    except KeyboardInterrupt:
        sys.stderr.write("keyledger: interrupted\n")
        raise SystemExit(ExitCode.INTERRUPTED) from None


__all__ = ["cli", "main"]
