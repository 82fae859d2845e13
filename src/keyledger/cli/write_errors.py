"""Results that could not be written out (a full disk, ``/dev/full``, an I/O error): one line on
stderr that names where they were going, and exit code 1.

A closed pipe (``| head``) is not one of these: it ends the command quietly with 141 (see
:class:`keyledger.cli._Group`), so :class:`BrokenPipeError` always passes through here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from keyledger.cli.keys_input import WriteExit
from keyledger.cli.output import silence_stdout
from keyledger.exitcodes import STOPPED, ExitCode

STDOUT = "standard output"


def write_failure(
    target: Path | None, error: str, kept: str | None = None, code: ExitCode = ExitCode.ERROR
) -> WriteExit:
    """The error for results that could not be written to ``target`` (``None``: stdout).

    ``kept`` says what the ledger holds of them (``None``: the run has no ledger, and the
    message says nothing about one). A run that was stopped keeps its signal's exit code.
    """
    where = STDOUT if target is None else str(target)
    note = f" ({kept})" if kept else ""
    failure = WriteExit(f"cannot write {where}: {error}{note}")
    if code in STOPPED:
        failure.exit_code = code
    return failure


@contextlib.contextmanager
def writing_stdout() -> Iterator[None]:
    """Turn a failed write to stdout inside the block into :func:`write_failure` (after pointing
    stdout at /dev/null, so nothing more is tried at exit)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        silence_stdout()
        raise write_failure(None, exc.strerror or "OS error") from None
