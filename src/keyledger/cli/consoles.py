"""The consoles (rich) of the command line: stdout for tables, stderr for messages and the
progress bar. A module of its own, so a run loads rich only once it prints (after its first
request), not before."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from keyledger.cli.output import silence_stdout
from keyledger.exitcodes import ExitCode
from keyledger.models import CheckResult, Status


class PipeConsole(Console):
    """A console that ends a closed output pipe (``| head``) with exit 141, like ``head``'s
    writers do, instead of rich's exit 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence_stdout()
        raise SystemExit(ExitCode.BROKEN_PIPE)


def stderr_console() -> Console:
    """The console for messages and progress (never stdout); wide when redirected."""
    piped = not sys.stderr.isatty() and not os.environ.get("COLUMNS")
    return PipeConsole(
        file=sys.stderr, highlight=False, soft_wrap=True, width=200 if piped else None
    )


def stdout_console() -> Console:
    """The console for the table; wide when piped, so rows stay on one line."""
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return PipeConsole(file=sys.stdout, highlight=False, width=200 if piped else None)


class RateColumn(ProgressColumn):
    """Keys checked per second, over rich's recent samples (``-- keys/s`` before any)."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        if speed is None:
            return Text("-- keys/s", style="progress.data.speed")
        return Text(f"{speed:,.0f} keys/s", style="progress.data.speed")


class ProgressBar:
    """A rich progress bar on stderr that counts results as a sink: done of total, ok and
    not ok, keys/s, time elapsed and the estimated time left (ETA)."""

    def __init__(
        self, total: int, console: Console, get_time: Callable[[], float] | None = None
    ) -> None:
        self.bar = Progress(
            TextColumn("checking"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[bad]} not ok[/]"),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            get_time=get_time,
        )
        self.task = self.bar.add_task("check", total=total, ok=0, bad=0)
        self.ok = self.bad = 0

    def add(self, result: CheckResult) -> None:
        if result.status is Status.OK:
            self.ok += 1
        else:
            self.bad += 1
        self.bar.update(self.task, advance=1, ok=self.ok, bad=self.bad)
