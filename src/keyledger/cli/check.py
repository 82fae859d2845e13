"""``keyledger check``."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import click

from keyledger.baseurl import normalise_base_url
from keyledger.cli.freshstack import import_on_fresh_stack
from keyledger.cli.gcpolicy import no_collections
from keyledger.cli.keys_input import UsageExit, frozen_heap, identity, load_keys
from keyledger.cli.output import check_writable
from keyledger.cli.provider_flags import provider_flags, provider_names, provider_options
from keyledger.cli.user_providers import providers_option, register_user_definitions
from keyledger.errors import ConfigError
from keyledger.keyset import DEFAULT_MAX_KEYS
from keyledger.limits import DEFAULT_CONCURRENCY, fit_concurrency
from keyledger.providers import CheckOptions
from keyledger.render.writers import Format
from keyledger.sanitize import holds_key
from keyledger.transport import HttpOptions

DEFAULTS = HttpOptions()
_SUFFIX_FORMATS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def output_format(fmt: str | None, output: Path | None) -> Format:
    """The format asked for, else the one the output file name implies, else the table."""
    if fmt is None:
        suffix = output.suffix.lower() if output is not None else ""
        fmt = _SUFFIX_FORMATS.get(suffix, "table")
    if fmt == "table" and output is not None:
        raise UsageExit(
            "--output needs --format json, jsonl or csv (or a .json, .jsonl or .csv file name)"
        )
    return Format(fmt)


def required_model_names(values: tuple[str, ...]) -> tuple[str, ...]:
    """``--require-model`` values split on commas, without blanks or repeats."""
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    for name in names:
        if len(name) > 128 or holds_key(name):
            raise UsageExit("--require-model takes model ids (and this one is not one)")
    return tuple(dict.fromkeys(names))


def http_options(
    per_host: int, timeout: float, connect_timeout: float, attempts: int
) -> HttpOptions:
    """HTTP limits from the command's options."""
    return HttpOptions(
        attempt_deadline=timeout,
        connect_timeout=connect_timeout,
        max_attempts=attempts,
        per_host=per_host,
    )


@click.command()
@click.argument("files", nargs=-1, metavar="[FILE|-]...")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice([f.value for f in Format]),
    default=None,
    envvar="KEYLEDGER_FORMAT",
    help="table on the terminal; json, jsonl or csv for scripts.  [default: table, or what "
    "the --output file name ends in]",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write json/jsonl/csv to FILE (atomically) instead of stdout.",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 10000),
    default=DEFAULT_CONCURRENCY,
    envvar="KEYLEDGER_CONCURRENCY",
    show_default=True,
    help="Keys checked at once.",
)
@click.option(
    "--per-host",
    type=click.IntRange(1, 10000),
    default=None,
    envvar="KEYLEDGER_PER_HOST",
    help="Requests in flight to any one host.  [default: the --concurrency value]",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 300),
    default=DEFAULTS.attempt_deadline,
    envvar="KEYLEDGER_TIMEOUT",
    show_default=True,
    help="Deadline in seconds for one request attempt, body included.",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(0.1, 60),
    default=DEFAULTS.connect_timeout,
    show_default=True,
    help="Seconds allowed to open a connection.",
)
@click.option(
    "--attempts",
    type=click.IntRange(1, 10),
    default=DEFAULTS.max_attempts,
    show_default=True,
    help="Attempts per request for transient faults.",
)
@click.option(
    "--deadline",
    type=click.FloatRange(0.1, 86400),
    default=None,
    envvar="KEYLEDGER_DEADLINE",
    help="Seconds for the whole run, reading keys included; unfinished keys become unknown "
    "(deadline). Writing what finished may take max(2 s, 10 %) more.",
)
@click.option(
    "--provider",
    default=None,
    metavar="NAME",
    help="Provider for keys that do not name one (a key whose shape another provider "
    "claims keeps its own; without it, ambiguous sk- keys go nowhere). "
    f"Known: {provider_names()}.",
)
@click.option(
    "--detect-provider",
    is_flag=True,
    help="Offer each ambiguous key (sk-… of unknown origin) to the providers its shape "
    "allows, one at a time (longest prefix, then by name), until one recognises it. "
    "Each candidate's host sees the key; off by default (docs/key-files.md).",
)
@click.option(
    "--base-url",
    default=None,
    metavar="URL",
    help="Base URL for keys that do not name one (a relay, e.g. https://relay.example/v1).",
)
@providers_option
@click.option(
    "--require-model",
    "require_model",
    multiple=True,
    metavar="[PROVIDER:]MODEL[,…]",
    help="Models a key must reach: a key whose model list lacks one is restricted "
    "(model_missing). PROVIDER:MODEL (openai:gpt-4o) applies to that provider's keys only; "
    "a plain id to every key whose provider lists models. Repeatable or comma-separated.",
)
@provider_flags
@click.option(
    "--warn-days",
    type=click.IntRange(0, 3650),
    default=7,
    show_default=True,
    help="Highlight credit grants that expire within N days.",
)
@click.option(
    "--record/--no-record",
    default=True,
    show_default=True,
    help="Remember this run in the ledger (history, changes, burn rate, runway); "
    "--no-record leaves the ledger untouched.",
)
@click.option(
    "--new-identity",
    is_flag=True,
    help="Start a new fingerprint identity when install-secret is missing or is not the one "
    "the ledger was recorded with (old checks stay but match no key again).",
)
@click.option(
    "--alerts/--no-alerts",
    default=False,
    show_default=True,
    help="After recording, evaluate the alert rules once and queue what crossed (for cron).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file with alert rules and channels.  [default: $KEYLEDGER_CONFIG, or "
    "config.toml in the user config directory]",
)
@click.option("--strict", is_flag=True, help="Refuse to run if any input line is bad.")
@click.option("--strict-perms", is_flag=True, help="Refuse key files readable by others.")
@click.option(
    "--max-keys",
    type=click.IntRange(1),
    default=DEFAULT_MAX_KEYS,
    show_default=True,
    help="Refuse inputs with more unique keys than this.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal).",
)
@click.option(
    "--wide",
    is_flag=True,
    help="Table: every column, values in full (default: fit the terminal; see docs/table.md).",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
def check(
    files: tuple[str, ...],
    fmt: str | None,
    output: Path | None,
    concurrency: int,
    per_host: int | None,
    timeout: float,
    connect_timeout: float,
    attempts: int,
    deadline: float | None,
    provider: str | None,
    detect_provider: bool,
    base_url: str | None,
    provider_files: tuple[Path, ...],
    require_model: tuple[str, ...],
    warn_days: int,
    record: bool,
    new_identity: bool,
    alerts: bool,
    config_file: Path | None,
    strict: bool,
    strict_perms: bool,
    max_keys: int,
    progress: bool | None,
    wide: bool,
    quiet: bool,
    **provider_switches: bool | str | None,
) -> None:
    """Check keys: which work, how much is left, and why the others fail.

    FILE is a text file (one key per line, optional label before it, optional
    provider=NAME and base_url=URL after it), a CSV file with the header
    label,key,provider,base_url, or a TOML accounts file. Use - for standard input.
    With no FILE, the key in $OPENAI_API_KEY is checked.

    Every request is free: reads, and a chat completion built to be rejected at
    validation. Keys go only in headers and only to their own provider.

    Each run is recorded in the ledger (keys only as fingerprint and masked form;
    see keyledger history), and the table then shows what changed since the last
    run, the burn rate and runway, a sparkline of recent balances, and grants that
    expire within --warn-days. --no-record skips the ledger.

    \b
    Examples:
      keyledger check keys.txt
      keyledger check accounts.toml --format json -o report.json
      pass show openai | keyledger check -
      keyledger check relay-tokens.csv --base-url https://relay.example/v1
      keyledger check sk-keys.txt --provider deepseek
      keyledger check keys.txt --no-record --format json
      keyledger check keys.txt --alerts -q      (from cron: rules once, see docs/alerts.md)

    \b
    Exit codes: 0 all ok, 3 some not ok, 4 some unknown/unreachable/rate-limited,
    5 both, 2 usage or input error (an --output path that cannot be written
    included), 1 the ledger, the --output file or standard output could not be
    written (one line on stderr says which, and what the ledger kept), 130
    interrupted, 143/129 stopped by SIGTERM/SIGHUP (like Ctrl-C), 141 the output
    pipe was closed (| head).
    """
    started = time.monotonic()  # the deadline covers the whole command, reading keys too
    chosen_format = output_format(fmt, output)
    if alerts and not record:
        raise UsageExit("--alerts needs the ledger (drop --no-record)")
    if config_file is not None:
        from keyledger.cli.alerting import read_config

        read_config(config_file)  # a missing or broken --config is a usage error, --alerts or not
    if output is not None:
        try:
            check_writable(output)
        except OSError as exc:
            raise UsageExit(f"cannot write {output}: {exc.strerror or 'OS error'}") from None
    if base_url is not None:
        try:
            normalise_base_url(base_url)
        except ConfigError as exc:
            raise UsageExit(str(exc)) from None
    register_user_definitions(provider_files)
    required_models = required_model_names(require_model)
    ident = identity(os.environ, record=record, new_identity=new_identity)
    keyset = load_keys(
        files,
        environ=os.environ,
        provider=provider,
        base_url=base_url,
        max_keys=max_keys,
        strict=strict,
        strict_perms=strict_perms,
        ident=ident,
        expired=None if deadline is None else lambda: time.monotonic() >= started + deadline,
        detect=detect_provider,
    )
    check_options = CheckOptions(  # a bad provider switch exits before the ledger is touched
        provider_options=provider_options(provider_switches),
        required_models=required_models,
    )
    with frozen_heap():  # the key set lives for the whole run: the GC need not walk it
        opening = None
        if record:  # opened and the run begun on a worker thread (mostly waiting on the disk)
            # while the engine loads
            from keyledger.cli.ledger_open import LedgerOpening

            opening = LedgerOpening.start(
                ident, new_identity=new_identity, keys_total=len(keyset.keys)
            )
        try:
            # imported only now: an input error above exits before the run's machinery (rich,
            # the engine, the ledger) is loaded; the alerts machinery only for --alerts
            with no_collections():
                import_on_fresh_stack(  # aiohttp's regexes compile without stack-chunk churn
                    "keyledger.cli.check_ledger", "keyledger.cli.execute", "keyledger.engine"
                )
                from keyledger.cli.check_ledger import CheckLedger
                from keyledger.cli.execute import CheckJob, execute
                from keyledger.engine import RunOptions

            cap = fit_concurrency(concurrency, per_host or concurrency)
            if cap.capped and not quiet:
                sys.stderr.write(
                    f"keyledger: note: checking at most {cap.concurrency} keys at once (asked for "
                    f"{concurrency}): the open-file limit (ulimit -n) is {cap.limit}\n"
                )
            job = CheckJob(
                keys=keyset.keys,
                http=http_options(cap.per_host, timeout, connect_timeout, attempts),
                check=check_options,
                run=RunOptions(
                    concurrency=cap.concurrency,
                    deadline=deadline,
                    started=started,
                    detect_provider=detect_provider,
                ),
                fmt=chosen_format,
                output=output,
                progress=progress,
                wide=wide,
                quiet=quiet,
                warn_days=warn_days,
                input_cut_short=keyset.cut_short is not None,
            )
            ledger = (
                CheckLedger.attach(job, ident, new_identity=new_identity, opening=opening)
                if opening is not None
                else None
            )
        except BaseException:
            if opening is not None:
                opening.discard()
            raise
        evaluator = None
        try:
            if alerts and isinstance(ledger, CheckLedger):
                from keyledger.cli.alerting import alert_setup, deliver_due, report_evaluation

                setup = alert_setup(ledger.store, config_file)
                evaluator = setup.evaluator(ledger.ledger)
                job.log_secrets.extend(setup.secrets())
                job.sinks.append(evaluator)
            code = execute(job)
            if evaluator is not None:
                report_evaluation(evaluator)
                asyncio.run(deliver_due(setup))
        except BaseException:
            if ledger is not None:
                ledger.abort()
            raise
        if ledger is not None:
            code = ledger.close(code)
        if job.output_error is not None:  # said once, naming the file or standard output
            from keyledger.cli.write_errors import write_failure

            kept = None if ledger is None else ledger.kept()
            raise write_failure(output, job.output_error, kept, code)
        raise SystemExit(code)
