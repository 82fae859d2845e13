"""``Check now``: one background run of the configured keys at a time, recorded in the ledger.

The run goes through the same core the CLI uses (:func:`keyledger.runner.run_checks` and a
:class:`~keyledger.ledger.LedgerRecorder` sink), on the server's own event loop. Progress is
kept as plain counters for the page to poll; what each endpoint answered is recorded in the
ledger with the results (its ``evidence`` table), for the key page.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keyledger.engine import RunOptions
from keyledger.errors import StoreError
from keyledger.ledger import LedgerRecorder, Store
from keyledger.models import CheckResult, Key
from keyledger.providers import CheckOptions
from keyledger.runner import run_checks
from keyledger.transport import HttpOptions


@dataclass
class CheckConfig:
    """What "check now" checks and how; ``check`` may be built late (a simulator's URL)."""

    keys: Sequence[Key]
    http: HttpOptions = field(
        default_factory=lambda: HttpOptions(attempt_deadline=10.0, connect_timeout=3.0)
    )
    check: Callable[[], CheckOptions] = CheckOptions
    run: RunOptions = field(default_factory=lambda: RunOptions(concurrency=16))


class Busy(Exception):
    """A check is already running."""


class CheckManager:
    """Starts checks, one at a time, and reports their progress."""

    def __init__(self, ledger: Path, config: CheckConfig | None) -> None:
        self.ledger = ledger
        self.config = config
        self.state = "idle"  # idle | running | done | failed
        self.done = 0
        self.total = 0
        self.run_id: int | None = None
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.error: str | None = None
        self.generation = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """Whether there is anything to check."""
        return self.config is not None and bool(self.config.keys)

    @property
    def running(self) -> bool:
        """Whether a check is under way."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start a check in the background.

        Raises:
            Busy: one is running already.
        """
        if self.running:
            raise Busy
        assert self.config is not None
        self.state = "running"
        self.done = 0
        self.total = len(self.config.keys)
        self.error = None
        self.run_id = None
        self.started_at = datetime.now(UTC)
        self.finished_at = None
        self._task = asyncio.get_running_loop().create_task(self._run(self.config))

    async def _run(self, config: CheckConfig) -> None:
        try:
            store = await asyncio.to_thread(Store.open, self.ledger)
        except StoreError as exc:
            self._finish("failed", str(exc))
            return
        recorder: LedgerRecorder | None = None
        try:
            self.run_id = store.begin_run(len(config.keys))
            recorder = LedgerRecorder(store, self.run_id)
            report = await run_checks(
                config.keys,
                http=config.http,
                check=config.check(),
                run=config.run,
                sinks=[recorder, self],
            )
            await asyncio.to_thread(
                recorder.finish, "interrupted" if report.interrupted else "complete"
            )
            error = recorder.error
            self._finish("failed" if error else "done", str(error) if error else None)
        except StoreError as exc:
            self._finish("failed", str(exc))
        except asyncio.CancelledError:  # server shutdown: keep what finished
            if recorder is not None:
                recorder.finish("interrupted")
            self._finish("failed", "stopped")
            raise
        finally:
            with contextlib.suppress(Exception):
                store.close()

    def add(self, result: CheckResult) -> None:
        """A runner sink: count progress."""
        self.done += 1

    def _finish(self, state: str, error: str | None) -> None:
        self.state = state
        self.error = error
        self.finished_at = datetime.now(UTC)
        self.generation += 1

    async def stop(self) -> None:
        """Cancel a running check (server shutdown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def status(self) -> dict[str, Any]:
        """Progress as JSON."""
        return {
            "enabled": self.enabled,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "run_id": self.run_id,
            "generation": self.generation,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
        }
