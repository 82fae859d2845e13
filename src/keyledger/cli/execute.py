"""Run a check from the command line: progress, Ctrl-C, output, totals and exit code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol

from keyledger.cli import signals
from keyledger.cli.gcpolicy import fewer_collections
from keyledger.cli.output import ResultOutput, opened, silence_stdout
from keyledger.engine import RunOptions
from keyledger.exitcodes import ExitCode, exit_code_for
from keyledger.logs import setup_logging
from keyledger.models import CheckResult, Key, Status
from keyledger.providers import CheckOptions
from keyledger.render.summary import Summary
from keyledger.render.writers import Format
from keyledger.runner import FinishingSink, RunReport, Sink, finish_sinks, run_checks
from keyledger.transport import HttpOptions

if TYPE_CHECKING:  # rich (and the table) are loaded when a run prints, after its requests
    from rich.console import Console, RenderableType


def stderr_console() -> Console:
    """The console for messages and progress (see :mod:`keyledger.cli.consoles`)."""
    from keyledger.cli import consoles

    return consoles.stderr_console()


def stdout_console() -> Console:
    """The console for tables (see :mod:`keyledger.cli.consoles`)."""
    from keyledger.cli import consoles

    return consoles.stdout_console()


@dataclass
class CheckJob:
    """Everything a run needs, decided by the command's options."""

    keys: list[Key]
    http: HttpOptions
    check: CheckOptions
    run: RunOptions
    fmt: Format = Format.TABLE
    output: Path | None = None
    progress: bool | None = None  # None: only when stderr is a terminal
    wide: bool = False  # the table shows every column, values in full (no fitting)
    quiet: bool = False
    warn_days: int = 7
    # Core sinks fed every result; each one's finish(report) runs when the run is over.
    sinks: list[FinishingSink] = field(default_factory=list)
    # What the table shows besides the results (read after the sinks finished).
    views: list[TableView] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # fixed closing lines, after the views'
    output_error: str | None = None  # set when results could not be written out
    log_secrets: list[str] = field(default_factory=list)  # other secrets logs must never show
    input_cut_short: bool = False  # the deadline stopped reading keys: not every key is here


class TableView(Protocol):
    """Extra columns and closing lines for the table, from what the sinks worked out."""

    def columns(self, results: Sequence[CheckResult]) -> dict[str, dict[str, object]]:
        """Extra columns: header -> {fingerprint: cell}."""
        ...

    def notes(self) -> list[str]:
        """Lines printed under the table."""
        ...


class _Tally:
    """What the end of a run needs from its results, without keeping them: their count,
    statuses (the exit code) and whether any failed on TLS. A JSON, JSONL or CSV run streams
    its results and keeps only this, so its memory does not grow with the number of keys."""

    def __init__(self) -> None:
        self.count = 0
        self.statuses: set[Status] = set()
        self.tls = False

    def add(self, result: CheckResult) -> None:
        self.count += 1
        self.statuses.add(result.status)
        self.tls = self.tls or result.reason == "tls"


SALVAGE_WAIT = 0.5
"""Seconds an immediate exit waits for stdout to take the results it holds."""


def leave_now(sinks: Sequence[Sink], signum: int) -> NoReturn:
    """Exit at once (a second Ctrl-C), after pushing the results that stdout's output holds
    (:meth:`ResultOutput.salvage`); a reader that stalls holds the exit for at most
    :data:`SALVAGE_WAIT` seconds."""
    outputs = [sink for sink in sinks if isinstance(sink, ResultOutput)]
    if outputs:

        def push() -> None:
            for out in outputs:
                out.salvage()

        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
        pusher.join(SALVAGE_WAIT)
    os._exit(signals.exit_code(signum))


async def _run(
    job: CheckJob, sinks: Sequence[Sink], stop: asyncio.Event, received: list[int]
) -> RunReport:
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            stop.set()
        else:  # a second signal: leave at once; committed data stays consistent
            leave_now(sinks, signum)

    handled: list[signal.Signals] = []
    for sig in signals.STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not main thread / POSIX
            loop.add_signal_handler(sig, on_signal, sig)
            handled.append(sig)
    try:
        return await run_checks(
            job.keys,
            http=job.http,
            check=job.check,
            run=job.run,
            sinks=sinks,
            stop=stop,
            keep_results=job.fmt is Format.TABLE,  # the table needs them all; others stream
        )
    finally:
        for done in handled:
            loop.remove_signal_handler(done)
        if handled:  # asyncio put back the defaults; SIGTERM/SIGHUP raise again from here on
            signals.install()


TABLE_CHUNK = 100  # rows drawn at a time when a deadline bounds the drawing


def _draw_table(
    console: Console,
    results: Sequence[CheckResult],
    table: Callable[[Sequence[CheckResult], bool], RenderableType],
    until: float | None,
) -> None:
    """Print the results table; with a deadline (``until``, the end of its grace), in chunks
    of :data:`TABLE_CHUNK` rows, stopping once the grace is over (rich takes a few ms a row)."""
    if until is None or len(results) <= TABLE_CHUNK:
        console.print(table(results, True))
        return
    from keyledger.render.table import sort_key

    rows = sorted(results, key=sort_key)
    for start in range(0, len(rows), TABLE_CHUNK):
        if start and time.monotonic() >= until:
            console.print(
                f"… {len(rows) - start} more row(s) not drawn: the deadline's grace ran out "
                "(-f json, jsonl or csv lists every result)",
                markup=False,
            )
            return
        console.print(table(rows[start : start + TABLE_CHUNK], start == 0))


def _show_table(job: CheckJob, report: RunReport, summary: Summary) -> None:
    """Print the results table, the totals and the closing notes on stdout."""
    from keyledger.render.table import CheckTable, totals_view

    console = stdout_console()
    extra: dict[str, dict[str, object]] = {}
    for view in job.views:
        extra.update(view.columns(report.results))
    bounds = job.run.bounds(time.monotonic())
    fitted = CheckTable(  # fitted once to the terminal, so every chunk has the same columns
        report.results,
        now=datetime.now(UTC),
        warn_days=job.warn_days,
        extra_columns=extra or None,  # type: ignore[arg-type]
        width=console.width,
        wide=job.wide,
    )
    _draw_table(
        console,
        report.results,
        fitted.table,
        until=None if bounds is None else bounds[1],
    )
    console.print(totals_view(summary))
    for view in job.views:
        for note in view.notes():
            console.print(note, markup=False)
    for note in job.notes:
        console.print(note, markup=False)


TLS_HINT = (
    "hint: some hosts failed TLS verification. Behind a proxy that inspects TLS, point "
    "SSL_CERT_FILE at its CA bundle; verification is never turned off."
)


def execute(job: CheckJob) -> ExitCode:
    """Run ``job`` and render its results; returns the exit code."""
    redactor = setup_logging(sys.stderr)
    redactor.register(key.secret.reveal() for key in job.keys)
    redactor.register(job.log_secrets)
    summary = Summary()
    show_progress = job.progress if job.progress is not None else sys.stderr.isatty()
    stop = asyncio.Event()
    received: list[int] = []  # stop signals that arrived during the run
    tally = _Tally()
    with opened(job.fmt, job.output, on_broken=stop.set) as out:
        sinks: list[Sink] = [out, summary, tally, *job.sinks]
        progress = None
        if show_progress:
            from keyledger.cli.consoles import ProgressBar

            progress = ProgressBar(len(job.keys), stderr_console())
        if progress is not None:
            sinks.append(progress)
            progress.bar.start()
        try:
            with fewer_collections():  # see keyledger.cli.gcpolicy: a seventh of the run's CPU
                report = asyncio.run(_run(job, sinks, stop, received))
        finally:
            if progress is not None:
                progress.bar.stop()
        report.truncated = report.truncated or job.input_cut_short
        summary.finish()
        out.close(report.complete, summary.as_dict())
    job.output_error = out.failed
    made: list[Console] = []

    def err() -> Console:
        """The one stderr console of this run, made (rich loaded) on first use only."""
        if not made:
            made.append(stderr_console())
        return made[0]

    if out.broken:  # the reader of stdout went away (| head): finish quietly
        report.interrupted = True
    finish_sinks(job.sinks, report)
    if out.broken:
        return ExitCode.BROKEN_PIPE
    if job.fmt is Format.TABLE:
        try:
            _show_table(job, report, summary)
        except BrokenPipeError:
            raise  # the console ends a closed pipe quietly with 141 (PipeConsole)
        except OSError as exc:  # a full disk, /dev/full: said once the ledger is closed
            silence_stdout()
            job.output_error = exc.strerror or "OS error"
    elif not job.quiet:  # rich is loaded only when something is printed with it
        from keyledger.render.table import totals_view

        err().print(totals_view(summary))
    if job.output is not None and not job.quiet and out.failed is None:
        err().print(f"wrote {tally.count} results to {job.output}", markup=False)
    if tally.tls and not job.quiet:
        err().print(TLS_HINT, markup=False)
    if report.interrupted:
        signum = received[0] if received else signal.SIGINT
        by = "" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"
        err().print(
            f"interrupted{by}: {tally.count} of {len(job.keys)} keys checked; "
            "finished results were kept",
            markup=False,
        )
        return signals.exit_code(signum)
    if report.deadline_hit and not job.quiet:
        err().print("run deadline reached: unfinished keys are unknown (deadline)", markup=False)
    missing = len(job.keys) - tally.count
    if missing > 0 and not job.quiet:
        err().print(
            f"the deadline's grace for writing ran out: {missing} key(s) have no result",
            markup=False,
        )
    return exit_code_for(tally.statuses)
