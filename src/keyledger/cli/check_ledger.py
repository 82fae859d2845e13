"""What ``check`` records and shows of the ledger: open it, start the run, render its notes
and columns, close it.

Kept apart from :mod:`keyledger.cli.ledger_cmds` (the commands that read the ledger back) so
``check`` loads neither the ledger's export, plot and pool side nor its analysis before its
first request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from keyledger.cli.execute import CheckJob, stderr_console
from keyledger.cli.keys_input import Identity
from keyledger.cli.ledger_open import LedgerOpening, begin_run, open_for_run, open_ledger
from keyledger.exitcodes import STOPPED, ExitCode
from keyledger.ledger.session import RunLedger
from keyledger.ledger.store import Store
from keyledger.models import CheckResult, Status
from keyledger.money import fmt_money
from keyledger.render.writers import Format
from keyledger.sanitize import neutralise

if TYPE_CHECKING:
    from rich.text import Text

    from keyledger.ledger.insights import KeyInsight


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


# -- what `check` records and shows ---------------------------------------------------------


def _change_cell(insight: KeyInsight) -> Text:
    from rich.text import Text

    from keyledger.render.history import signed

    change = insight.change
    if change.is_new:
        return Text("new", style="cyan")
    cell = Text()
    if change.status_changed and change.previous is not None:
        good = change.current.status == Status.OK.value
        cell.append(
            f"{change.previous.status}→{change.current.status}",
            style="bold green" if good else "bold red",
        )
    delta = change.balance_delta
    if delta:
        cell.append((" " if cell else "") + signed(delta), style="green" if delta > 0 else "red")
    spent = change.spend_delta
    if spent:
        cell.append((" " if cell else "") + f"{signed(spent)} spent", style="yellow")
    return cell if cell else Text("=", style="dim")


def _burn_cell(insight: KeyInsight, warn_days: int) -> Text:
    from rich.text import Text

    from keyledger.render.history import days_text

    burn = insight.burn
    if burn is None:
        return Text("-", style="dim")
    cell = Text(f"{fmt_money(burn.per_day)}/d")
    runway = insight.runway
    if runway is not None:
        style = "bold red" if runway <= 0 else ("yellow" if runway <= warn_days else "")
        cell.append(" · ")
        cell.append("empty" if runway <= 0 else days_text(runway), style=style)
    return cell


class CheckLedger:
    """Renders what the core :class:`RunLedger` worked out about one ``check`` run."""

    def __init__(self, store: Store, ledger: RunLedger, warn_days: int) -> None:
        self.store = store
        self.ledger = ledger
        self.run_id = ledger.run_id
        self.warn_days = warn_days

    @classmethod
    def attach(
        cls,
        job: CheckJob,
        ident: Identity | None,
        *,
        new_identity: bool = False,
        path: Path | None = None,
        opening: LedgerOpening | None = None,
    ) -> CheckLedger | UnwritableLedger:
        """Open the ledger (the install's, or the one at ``path``), check its identity, start a
        run, and add its sink and view to ``job``.

        A ledger that may not be written still lets the check run and print its results.
        ``ident`` is ``None`` for a ledger with its own secret (the demo's). ``opening``: the
        ledger already being opened (for ``ident`` and ``path``) on a worker thread, which
        began the run too when it was given the number of keys.
        """
        if opening is not None:
            store = opening.result()
            run_id = opening.run_id
        else:
            store = open_for_run(ident, new_identity=new_identity, path=path)
            run_id = None
        if store.read_only:
            store.close()
            return UnwritableLedger(f"{store.path} is read-only")
        if run_id is None:
            run_id = begin_run(store, len(job.keys))
        ledger = RunLedger(
            store,
            run_id,
            warn_days=job.warn_days,
            insights=job.fmt is Format.TABLE,  # only the table shows them
        )
        bounds = job.run.bounds(time.monotonic())
        if bounds is not None:  # recording ends with the deadline's grace
            ledger.recorder.cutoff = bounds[1]
        view = cls(store, ledger, job.warn_days)
        job.sinks.append(ledger)
        job.views.append(view)
        return view

    def notes(self) -> list[str]:
        """Lines under the table: since-last-run totals and expiry warnings."""
        if self.ledger.read_error is not None:
            return [f"Ledger: could not read back this run: {self.ledger.read_error}"]
        insights = self.ledger.insights
        if insights is None:
            return []
        lines: list[str] = []
        previous = insights.previous_run
        if previous is None:
            lines.append(
                f"Ledger: run #{self.run_id} recorded in {self.store.path}. From the next run "
                "on, check shows what changed, burn rate and runway (--no-record skips this)."
            )
        else:
            lines.append(
                f"Since run #{previous.id} ({_utc(previous.started_at)}): "
                f"{insights.status_changes} status change(s), {insights.balance_changes} "
                f"balance(s) moved, {insights.new_keys} new key(s). "
                f"Recorded as run #{self.run_id}."
            )
        now = datetime.now(UTC)
        for warning in insights.warnings:
            left = (
                ""
                if warning.left is None
                else f", {fmt_money(warning.left, warning.currency or '')} left"
            )
            lines.append(
                f"Warning: {neutralise(warning.label)}: {warning.what} expires "
                f"{warning.expires_at:%Y-%m-%d} (in {warning.days_left(now)} days{left})"
            )
        return lines

    def columns(self, results: Sequence[CheckResult]) -> dict[str, dict[str, object]]:
        """The ledger's table columns, by key fingerprint."""
        insights = self.ledger.insights
        if insights is None:
            return {}
        from rich.text import Text

        change: dict[str, object] = {}
        trend: dict[str, object] = {}
        burn: dict[str, object] = {}
        for fingerprint, insight in insights.keys.items():
            change[fingerprint] = _change_cell(insight)
            trend[fingerprint] = Text(insight.spark, style="cyan")
            burn[fingerprint] = _burn_cell(insight, self.warn_days)
        return {"Since last": change, "Trend": trend, "Burn · runway": burn}

    def abort(self) -> None:
        """The run failed: keep what was recorded and mark it interrupted."""
        self.ledger.abort()
        self.store.close()

    def kept(self) -> str:
        """What the ledger holds of this run's results (once closed), for a message."""
        recorder = self.ledger.recorder
        if not recorder.dropped:
            return f"the results were recorded in the ledger as run #{self.run_id}"
        if not recorder.recorded:
            return "no result was recorded in the ledger"
        return f"only {recorder.recorded} result(s) were recorded in the ledger"

    def close(self, code: ExitCode) -> ExitCode:
        """Close the ledger; a failed write, or a result the ledger could not take, is reported
        and turns the exit code into 1 (results dropped at the deadline's cutoff are reported
        and keep it)."""
        self.ledger.abort()
        self.store.close()
        warn_damaged(self.store)
        recorder = self.ledger.recorder
        error = recorder.error
        if error is None and recorder.cut_off:
            stderr_console().print(
                f"keyledger: ledger: {recorder.cut_off} result(s) not recorded: the "
                f"deadline's grace ran out (run #{self.run_id} is marked interrupted)",
                markup=False,
            )
        if error is None and recorder.unwritten:
            stderr_console().print(
                f"keyledger: error: ledger: {recorder.unwritten} result(s) could not be "
                f"recorded: the ledger could not store their values (run #{self.run_id} is "
                "marked interrupted)",
                markup=False,
            )
            return code if code in STOPPED else ExitCode.ERROR
        if error is None:
            return code
        stderr_console().print(
            f"keyledger: error: ledger: {error}; {recorder.dropped} result(s) were not "
            f"recorded ({recorder.recorded} were)",
            markup=False,
        )
        return code if code in STOPPED else ExitCode.ERROR


class UnwritableLedger:
    """A ledger that may not be written: the check runs and prints, nothing is recorded, and
    the run ends with exit code 1 (as when a write fails)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        stderr_console().print(
            f"keyledger: warning: ledger: {reason}; results are printed but not recorded "
            "(--no-record skips the ledger)",
            markup=False,
        )

    def abort(self) -> None:
        """Nothing to undo."""

    def kept(self) -> str:
        """What the ledger holds of this run's results, for a message: nothing."""
        return "nothing was recorded in the ledger"

    def close(self, code: ExitCode) -> ExitCode:
        """Say what was not recorded; exit code 1 unless interrupted."""
        stderr_console().print(
            f"keyledger: error: ledger: {self.reason}; no result was recorded", markup=False
        )
        return code if code is ExitCode.INTERRUPTED else ExitCode.ERROR


def warn_damaged(store: Store) -> None:
    """Say on stderr how many damaged ledger rows were skipped, if any."""
    if store.damaged:
        stderr_console().print(
            f"keyledger: warning: ledger: {store.damaged} damaged row(s) in {store.path} "
            "skipped (run `keyledger export` to see the rest, or restore a backup)",
            markup=False,
        )


__all__ = ["CheckLedger", "UnwritableLedger", "open_ledger", "warn_damaged"]
