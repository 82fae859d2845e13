"""``keyledger watch``: check on a schedule in one long-lived process, recording every run
and evaluating the alert rules after each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import click

from keyledger.cli.alerting import (
    AlertSetup,
    alert_setup,
    deliver_due,
    read_config,
    report_evaluation,
)
from keyledger.cli.check import DEFAULTS, http_options
from keyledger.cli.check_ledger import open_ledger
from keyledger.cli.keys_input import LedgerExit, UsageExit, identity
from keyledger.cli.user_providers import providers_option, register_user_definitions
from keyledger.engine import RunOptions
from keyledger.errors import ConfigError, KeyFileError, StoreError
from keyledger.exitcodes import ExitCode
from keyledger.keyset import DEFAULT_MAX_KEYS, build_keyset, read_items
from keyledger.ledger.session import RunLedger
from keyledger.ledger.store import Store
from keyledger.limits import DEFAULT_CONCURRENCY
from keyledger.logs import RedactingFilter, setup_logging
from keyledger.models import Key
from keyledger.providers import CheckOptions
from keyledger.runner import FinishingSink, finish_sinks, run_checks
from keyledger.sanitize import neutralise
from keyledger.schedule import parse_interval, run_every
from keyledger.secret import Fingerprinter
from keyledger.sources import Item
from keyledger.transport import HttpOptions

log = logging.getLogger("keyledger.watch")


def _interval(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_interval(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def read_keys(files: tuple[str, ...], max_keys: int, fingerprint: Fingerprinter) -> list[Key]:
    """This run's keys; a file that cannot be read is reported and the others go on."""
    items: list[Item] = []
    for path in files:
        try:
            items.extend(read_items([path], environ=os.environ))
        except (KeyFileError, ConfigError) as exc:
            log.error("%s; skipped this run, the other files go on", neutralise(str(exc)))
    try:
        keyset = build_keyset(items, fingerprint, max_keys=max_keys)
    except (KeyFileError, ConfigError) as exc:
        log.error("%s", neutralise(str(exc)))
        return []
    if keyset.issue_count:
        log.warning("%d input issue(s) in the key files", keyset.issue_count)
    return keyset.keys


class Watcher:
    """One watch process: the ledger, the rules and what each run needs."""

    def __init__(
        self,
        files: tuple[str, ...],
        store: Store,
        setup: AlertSetup | None,
        http: HttpOptions,
        run: RunOptions,
        max_keys: int,
        redactor: RedactingFilter,
        fingerprint: Fingerprinter,
    ) -> None:
        self.files = files
        self.fingerprint = fingerprint
        self.store = store
        self.setup = setup
        self.http = http
        self.run_options = run
        self.max_keys = max_keys
        self.redactor = redactor
        self.stop = asyncio.Event()
        self.failed_writes = 0
        self.runs_with_keys = 0  # runs that read at least one key
        self.deliveries: asyncio.Task[None] | None = None

    async def run_once(self, number: int) -> None:
        """Check every readable key once, record the run, evaluate the rules."""
        keys = read_keys(self.files, self.max_keys, self.fingerprint)
        self.redactor.register(k.secret.reveal() for k in keys)
        if not keys:
            log.error("run %d: no keys could be read; nothing checked", number)
            return
        self.runs_with_keys += 1
        try:
            ledger = RunLedger.begin(self.store, len(keys))
        except StoreError as exc:
            log.error("run %d: ledger: %s", number, exc)
            self.failed_writes += 1
            return
        sinks: list[FinishingSink] = [ledger]
        evaluator = self.setup.evaluator(ledger) if self.setup else None
        if evaluator is not None:
            sinks.append(evaluator)
        try:
            report = await run_checks(
                keys,
                http=self.http,
                check=CheckOptions(),
                run=self.run_options,
                sinks=sinks,
                stop=self.stop,
            )
        except BaseException:
            ledger.abort()
            raise
        finish_sinks(sinks, report)  # on the loop's thread: the ledger has one writer
        statuses = Counter(r.status.value for r in report.results)
        log.info(
            "run %d (ledger run #%d): %d of %d key(s) checked%s: %s",
            number,
            ledger.run_id,
            len(report.results),
            len(keys),
            " (interrupted)" if report.interrupted else "",
            ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "none",
        )
        if ledger.error is not None:
            self.failed_writes += 1
            log.error("run %d: ledger: %s", number, ledger.error)
        if evaluator is not None:
            report_evaluation(evaluator)
            self.start_deliveries()

    def start_deliveries(self) -> None:
        """Deliver due alerts in the background, so deliveries never hold up the checks."""
        if self.setup is None or self.setup.outbox is None:
            return
        if self.deliveries is None or self.deliveries.done():
            self.deliveries = asyncio.create_task(deliver_due(self.setup))

    async def main(self, every: float, max_runs: int | None) -> bool:
        """Run the schedule until stopped; returns whether a signal stopped it."""
        schedule = await run_every(
            every,
            self.run_once,
            stop=self.stop,
            max_runs=max_runs,
            on_skip=lambda missed, took: log.warning(
                "a run took %.1fs, longer than --every: %d tick(s) skipped, never run twice",
                took,
                missed,
            ),
        )
        if self.deliveries is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deliveries, 30)
        return schedule.stopped


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--every",
    default="15m",
    show_default=True,
    callback=_interval,
    help="Time between runs: 30s, 15m, 1h, 1d.",
)
@click.option("--max-runs", type=click.IntRange(1), default=None, help="Stop after N runs.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file with alert rules and channels.  [default: $KEYLEDGER_CONFIG, or "
    "config.toml in the user config directory]",
)
@click.option(
    "--alerts/--no-alerts",
    default=True,
    show_default=True,
    help="Evaluate the alert rules after every run.",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 10000),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Keys checked at once.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 300),
    default=DEFAULTS.attempt_deadline,
    show_default=True,
    help="Deadline in seconds for one request attempt.",
)
@click.option(
    "--max-keys",
    type=click.IntRange(1),
    default=DEFAULT_MAX_KEYS,
    show_default=True,
    help="Refuse inputs with more unique keys than this.",
)
@providers_option
def watch(
    files: tuple[str, ...],
    every: float,
    max_runs: int | None,
    config_file: Path | None,
    alerts: bool,
    concurrency: int,
    timeout: float,
    max_keys: int,
    provider_files: tuple[Path, ...],
) -> None:
    """Check keys on a schedule, record every run, and alert once per crossing.

    Key files are re-read before each run: a file that cannot be read is reported
    and the others are still checked. A run that lasts longer than --every is never
    joined by another: the ticks it overran are skipped (and logged). Logs go to
    stderr and never hold a key.

    SIGTERM or Ctrl-C lets the current run finish its writes (unfinished keys are
    left out, the run is marked interrupted) and then exits: 0 after SIGTERM (a
    service stopped on purpose), 130 after Ctrl-C (as check does).

    \b
    Examples:
      keyledger watch keys.txt --every 15m
      keyledger watch keys.txt team.toml --every 1h --config alerts.toml
    """
    if "-" in files:
        raise UsageExit("watch re-reads its key files every run; standard input (-) cannot be")
    register_user_definitions(provider_files)
    if config_file is not None:
        read_config(config_file)  # a missing or broken --config is a usage error, --alerts or not
    redactor = setup_logging(sys.stderr, logging.INFO)
    ident = identity(os.environ)
    store = open_ledger(create=True)
    try:
        try:
            store.bind_identity(ident.secret_id, fresh_secret=ident.fresh)
        except StoreError as exc:
            raise LedgerExit(f"ledger: {exc}") from None
        setup = alert_setup(store, config_file) if alerts else None
        if setup is not None:
            redactor.register(setup.secrets())
        http = http_options(concurrency, timeout, DEFAULTS.connect_timeout, DEFAULTS.max_attempts)
        watcher = Watcher(
            files,
            store,
            setup,
            http,
            RunOptions(concurrency=concurrency),
            max_keys,
            redactor,
            ident.fingerprinter,
        )
        code = asyncio.run(_serve(watcher, every, max_runs))
    finally:
        store.close()
    raise SystemExit(code)


async def _serve(watcher: Watcher, every: float, max_runs: int | None) -> ExitCode:
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if received:  # a second signal: leave at once; committed data stays consistent
            os._exit(ExitCode.INTERRUPTED)
        received.append(signum)
        log.info("stopping: the current run finishes its writes first")
        watcher.stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
    log.info("watching %d file(s) every %gs", len(watcher.files), every)
    await watcher.main(every, max_runs)
    if received and received[0] == signal.SIGINT:
        return ExitCode.INTERRUPTED
    if not received and not watcher.runs_with_keys:
        return ExitCode.USAGE  # --max-runs ended and no run could read a key: nothing checked
    return ExitCode.ERROR if watcher.failed_writes else ExitCode.OK
