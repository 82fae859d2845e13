"""Stop signals at the command line: SIGTERM and SIGHUP end a run the way Ctrl-C does.

Outside a run, SIGINT raises :class:`KeyboardInterrupt` (Python's default) and SIGTERM or
SIGHUP raise :class:`Terminated`, so ``finally`` blocks run: output files are moved into
place or removed, and the ledger run is marked ``interrupted``. During a run the event loop
takes all three (see :func:`keyledger.cli.execute.execute`): the first stops the run, the
second leaves at once. Either way the exit code is the signal's: 130, 143 or 129.
"""

from __future__ import annotations

import signal
from types import FrameType

from keyledger.exitcodes import ExitCode

_CODES = {
    signal.SIGINT: ExitCode.INTERRUPTED,
    signal.SIGTERM: ExitCode.TERMINATED,
}
if hasattr(signal, "SIGHUP"):
    _CODES[signal.SIGHUP] = ExitCode.HANGUP

# Signals that stop a run like Ctrl-C does.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(_CODES)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived outside a run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(signum: int) -> ExitCode:
    """The conventional exit code for a process stopped by ``signum`` (128 + its number)."""
    return _CODES.get(signal.Signals(signum), ExitCode.INTERRUPTED)


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def install() -> None:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` (main thread only)."""
    for sig in STOP_SIGNALS:
        if sig is not signal.SIGINT:
            signal.signal(sig, _raise)
