"""The ledger at the command line: what ``check`` records and shows, and the commands that
read it back (``history``, ``plot``, ``pool``, ``export``, ``backup``).

Parsing, printing and exit codes only; the work is in :mod:`keyledger.ledger`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from keyledger.cli.check_ledger import CheckLedger, UnwritableLedger, open_ledger, warn_damaged
from keyledger.cli.execute import stderr_console, stdout_console
from keyledger.cli.keys_input import (
    LedgerExit,
    UsageExit,
    WriteExit,
    identity,
    load_keys,
)
from keyledger.cli.output import AtomicFile
from keyledger.cli.write_errors import writing_stdout
from keyledger.errors import StoreError
from keyledger.exitcodes import ExitCode
from keyledger.home import home_dir
from keyledger.keyset import DEFAULT_MAX_KEYS, looks_like_secret
from keyledger.ledger import (
    EvidenceRow,
    ResultRow,
    Store,
    ledger_path,
    select_pool,
)
from keyledger.ledger.export import (
    EXPORT_SCHEMA,
    HISTORY_SCHEMA,
    row_dict,
    run_dict,
    write_csv,
    write_json_document,
)
from keyledger.ledger.plot import PlotError, chart_data, render_png
from keyledger.models import Status
from keyledger.sanitize import neutralise, redact_user_text

if TYPE_CHECKING:
    pass


def chosen_ledger(demo: bool) -> Path:
    """The install's ledger, or with ``--demo`` the demo's own (``<home>/demo/ledger.db``)."""
    if not demo:
        return ledger_path(os.environ)
    # imported here: the simulator is heavy, and `check` (which imports this module) never
    # needs it
    from keyledger.simulator.demo_history import demo_ledger_path

    return demo_ledger_path(home_dir(os.environ))


# -- shared option types ---------------------------------------------------------------------

_RELATIVE = re.compile(r"(\d+)\s*([hdw])")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> datetime:
    """A date (``2026-01-31``), an ISO date-time, or an age such as ``7d``, ``12h``, ``2w``.

    Raises:
        ValueError: none of those.
    """
    text = text.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return datetime.now(UTC) - timedelta(**{_UNITS[unit]: amount})
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _since_option(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError:
        raise click.BadParameter(
            "expected a date like 2026-01-31, a date-time, or an age like 7d"
        ) from None


def _amount_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise click.BadParameter("expected an amount such as 5 or 12.50") from None
    if not amount.is_finite() or amount < 0:
        raise click.BadParameter("expected a non-negative amount")
    return amount


@contextlib.contextmanager
def _text_output(output: Path | None) -> Iterator[TextIO]:
    """stdout, or a file written atomically (0600 temp file, then renamed into place)."""
    if output is None:
        with writing_stdout():  # a full disk, /dev/full: one line, exit 1
            yield sys.stdout
            sys.stdout.flush()
        return
    try:
        target = AtomicFile(output)
    except OSError as exc:
        raise UsageExit(f"cannot write {output}: {exc.strerror or 'OS error'}") from None
    try:
        yield target.stream
        target.commit()
    except OSError as exc:  # a full disk, /dev/full: nothing half-written is left
        target.abandon()
        raise WriteExit(f"cannot write {output}: {exc.strerror or 'OS error'}") from None
    except BaseException:
        target.abandon()
        raise


def _write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (a 0600 temp file, fsynced, then renamed)."""
    try:
        AtomicFile.write_bytes(target, data)
    except OSError as exc:
        raise UsageExit(f"cannot write {target}: {exc.strerror or 'OS error'}") from None


def _refuse_key_argument(selector: str | None) -> None:
    """Keys never come from the command line: a key-shaped selector is refused, unechoed."""
    if selector is not None and looks_like_secret(selector):
        raise UsageExit(
            "that argument looks like a key; keys are never taken from the command line "
            "(give a label or a fingerprint)"
        )


def _guard(action: Callable[[], Any]) -> Any:
    """Run ``action``; a ledger error becomes a clean exit."""
    try:
        return action()
    except StoreError as exc:
        raise LedgerExit(f"ledger: {exc}") from None


DEMO_OPTION = click.option(
    "--demo",
    is_flag=True,
    help="Read the demo's own ledger (filled by `keyledger demo`) instead of yours.",
)


# -- history --------------------------------------------------------------------------------


@click.command()
@click.argument("selector", required=False, metavar="[LABEL|FINGERPRINT]")
@click.option(
    "--since",
    metavar="DATE",
    callback=_since_option,
    default=None,
    help="Only checks from DATE on (2026-01-31, an ISO date-time, or an age: 7d, 12h, 2w).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table on the terminal; json or csv for scripts.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write json/csv to FILE (atomically) instead of stdout.",
)
@click.option(
    "--wide",
    is_flag=True,
    help="Table: every column, values in full (default: fit the terminal; see docs/table.md).",
)
@DEMO_OPTION
def history(
    selector: str | None,
    since: datetime | None,
    fmt: str,
    output: Path | None,
    wide: bool,
    demo: bool,
) -> None:
    """Show status and balance over time, per key or per account.

    SELECTOR picks one key by its label or fingerprint (or the first 6+
    characters of it), or one account by its organization id. Without it,
    every recorded check is listed, oldest first. JSON rows carry label,
    fingerprint, checked_at, status, reason, balance and spend; money is an
    exact decimal string, and a value that could not be read is null.

    \b
    Examples:
      keyledger history
      keyledger history team-a --since 7d
      keyledger history 3f9a1c --format json
      keyledger history --since 2026-01-01 --format csv -o history.csv
      keyledger history --demo

    The table ends with each key's burn rate and runway (over its last 30 days).
    """
    _refuse_key_argument(selector)
    path = chosen_ledger(demo)
    evidence: dict[int, list[EvidenceRow]] = {}
    if not path.exists():
        maker = "`keyledger demo`" if demo else "`keyledger check`"
        stderr_console().print(
            f"keyledger: no ledger yet at {path}; {maker} records one", markup=False
        )
        rows: list[ResultRow] = []
    else:
        store = open_ledger(create=False, path=path)
        try:
            rows = _guard(lambda: list(store.iter_results(selector, since=since)))
            if fmt == "json":  # each key's latest row carries what its endpoints answered
                newest = {r.fingerprint: r.id for r in rows}
                evidence = _guard(lambda: store.evidence(newest.values()))
                for result_id in newest.values():
                    evidence.setdefault(result_id, [])
        finally:
            store.close()
        warn_damaged(store)
    if not rows and path.exists():
        what = f" for {neutralise(redact_user_text(selector))}" if selector else ""
        stderr_console().print(f"keyledger: no recorded checks{what}", markup=False)
    if fmt == "table":
        if output is not None:
            raise UsageExit("--output needs --format json or csv")
        if rows:
            from keyledger.render.history import burn_table, history_table

            console = stdout_console()
            with writing_stdout():
                console.print(history_table(rows, width=console.width, wide=wide))
                burn = burn_table(rows, width=console.width, wide=wide)
                if burn is not None:
                    console.print(burn)
        return
    with _text_output(output) as stream:
        if fmt == "json":
            header = {
                "schema": HISTORY_SCHEMA,
                "selector": selector,
                "since": since.isoformat() if since else None,
            }
            write_json_document(
                stream, header, "rows", (row_dict(r, evidence=evidence.get(r.id)) for r in rows)
            )
        else:
            write_csv(rows, stream)


# -- plot -----------------------------------------------------------------------------------


@click.command()
@click.argument("selector", required=False, metavar="[LABEL|FINGERPRINT]")
@click.option(
    "--since",
    metavar="DATE",
    callback=_since_option,
    default=None,
    help="Only checks from DATE on (or an age: 30d).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("keyledger.png"),
    show_default=True,
    help="The PNG file to write.",
)
@DEMO_OPTION
def plot(selector: str | None, since: datetime | None, output: Path, demo: bool) -> None:
    """Draw available balance and spend over time, one line per key and currency, as a PNG.

    Needs matplotlib, which comes with the plot extra:
    pip install 'keyledger[plot]'. The 20 keys with the most money are drawn.

    \b
    Examples:
      keyledger plot
      keyledger plot --since 30d -o balances.png
      keyledger plot team-a -o team-a.png
      keyledger plot --demo -o demo.png
    """
    _refuse_key_argument(selector)
    store = open_ledger(create=False, path=chosen_ledger(demo))
    try:
        rows = _guard(lambda: list(store.iter_results(selector, since=since)))
    finally:
        store.close()
        warn_damaged(store)
    series: dict[str, list[ResultRow]] = {}
    for row in rows:
        series.setdefault(row.fingerprint, []).append(row)
    chart = chart_data(series)
    try:
        png = render_png(chart, title="keyledger: balances and spend over time")
    except PlotError as exc:
        raise LedgerExit(str(exc)) from None
    _write_bytes(output, png)
    drawn = len({line.label for line in (*chart.balances, *chart.spend)})
    extra = f" ({chart.left_out} more left out)" if chart.left_out else ""
    stderr_console().print(f"wrote a chart of {drawn} key(s){extra} to {output}", markup=False)


# -- pool -----------------------------------------------------------------------------------


@click.command()
@click.argument("file", metavar="FILE|-")
@click.option(
    "--min-available",
    metavar="AMOUNT",
    callback=_amount_option,
    default=None,
    help="Only keys with at least this much available (in each key's currency).",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    default=("ok",),
    show_default=True,
    type=click.Choice([s.value for s in Status]),
    help="Statuses that count as usable (repeat for several).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the keys to FILE (created 0600) instead of stdout.",
)
def pool(
    file: str, min_available: Decimal | None, statuses: tuple[str, ...], output: Path | None
) -> None:
    """Print the keys that are usable now, best first, for rotation.

    THIS IS THE ONLY COMMAND THAT WRITES FULL KEYS. The ledger holds no keys, so
    pool reads FILE again (the same formats as check), matches each key to its
    latest recorded check, and writes the usable ones, one per line: ok first,
    unlimited and then most money available first. Keys never checked are
    left out. Treat the output as a secret.

    \b
    Examples:
      keyledger check keys.txt && keyledger pool keys.txt
      keyledger pool keys.txt --min-available 5 -o live-keys.txt
      keyledger pool keys.txt --status ok --status rate_limited

    \b
    Exit codes: 0 some keys usable, 3 none, 2 usage or input error, 1 no
    usable ledger.
    """
    keyset = load_keys(
        [file],
        environ=os.environ,
        provider=None,
        base_url=None,
        max_keys=DEFAULT_MAX_KEYS,
        strict=False,
        ident=identity(os.environ, hint=""),
    )
    store = open_ledger(create=False)
    try:
        latest = _guard(lambda: store.latest({k.fingerprint for k in keyset.keys}))
    finally:
        store.close()
        warn_damaged(store)
    selection = select_pool(keyset.keys, latest, statuses=statuses, min_available=min_available)
    err = stderr_console()
    lines = [entry.key.secret.reveal() + "\n" for entry in selection.entries]
    where = str(output) if output is not None else "standard output"
    if lines:
        err.print(
            f"keyledger: warning: writing {len(lines)} full key(s) to {where}; "
            "treat it as a secret",
            markup=False,
        )
        with _text_output(output) as stream:
            stream.writelines(lines)
    err.print(
        f"pool: {len(lines)} usable of {len(keyset.keys)} key(s) "
        f"({selection.excluded} not usable, {selection.never_checked} never checked)",
        markup=False,
    )
    raise SystemExit(ExitCode.OK if lines else ExitCode.NOT_OK)


# -- export and backup ----------------------------------------------------------------------


def _export_items(store: Store, rows: Sequence[ResultRow]) -> Iterator[Mapping[str, Any]]:
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        grants = store.grants([r.id for r in chunk])
        for row in chunk:
            yield row_dict(row, grants.get(row.id, []))


@click.command()
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help="json (runs, results and grants) or csv (one row per result).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (atomically) instead of stdout.",
)
def export(fmt: str, output: Path | None) -> None:
    """Export the whole ledger: every run and every recorded check.

    Keys appear only as fingerprint and masked form, as in the ledger. Money is an
    exact decimal string; a value that could not be read is null (empty in CSV).

    \b
    Examples:
      keyledger export > ledger.json
      keyledger export --format csv -o ledger.csv
    """
    store = open_ledger(create=False)
    try:
        with _text_output(output) as stream:
            if fmt == "csv":
                _guard(lambda: write_csv(store.iter_results(), stream))
                return
            runs = _guard(store.runs)
            rows = _guard(lambda: list(store.iter_results()))
            header = {
                "schema": EXPORT_SCHEMA,
                "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "ledger_version": store.version,
                "runs": [run_dict(r) for r in runs],
            }
            _guard(
                lambda: write_json_document(stream, header, "results", _export_items(store, rows))
            )
    finally:
        store.close()
        warn_damaged(store)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Back up the ledger to FILE, a new SQLite file (created 0600).

    Uses SQLite's VACUUM INTO, which copies a consistent snapshot even while a
    check is recording; never copy the database file by hand. FILE must not
    exist yet. To restore, stop keyledger and put the copy in place of ledger.db.

    \b
    Example:
      keyledger backup ~/backups/keyledger-$(date +%F).db
    """
    store = open_ledger(create=False)
    try:
        _guard(lambda: store.backup(file))
        count = _guard(store.count_results)
    finally:
        store.close()
    size = file.stat().st_size
    stderr_console().print(
        f"backed up {count} result(s) ({size / 1024:,.0f} KiB) to {file}", markup=False
    )


LEDGER_COMMANDS = (history, plot, pool, export, backup)

__all__ = [
    "LEDGER_COMMANDS",
    "CheckLedger",
    "LedgerExit",
    "UnwritableLedger",
    "backup",
    "export",
    "history",
    "plot",
    "pool",
]
