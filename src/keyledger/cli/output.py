"""Where results go: a streamed machine format (stdout or an atomic file), or the table."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from keyledger.cli.keys_input import UsageExit
from keyledger.models import CheckResult
from keyledger.render.writers import Format, Writer

if TYPE_CHECKING:
    from asyncio import TimerHandle


class AtomicFile:
    """A file written to a 0600 temp file, fsynced, then renamed over the target.

    A target that exists and is not a regular file (``/dev/null``, a FIFO, a terminal) is
    written in place instead: renaming over it would replace the device with a file.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.tmp: Path | None = None
        if target.exists() and not target.is_file():
            self.raw: BinaryIO = open(target, "wb")  # noqa: SIM115
        else:
            directory = target.parent if str(target.parent) else Path(".")
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
            self.tmp = Path(tmp)
            self.raw = os.fdopen(fd, "wb")
        self.stream: TextIO = io.TextIOWrapper(self.raw, encoding="utf-8", newline="")

    @classmethod
    def write_bytes(cls, target: Path, data: bytes) -> None:
        """Write ``data`` to ``target`` atomically."""
        file = cls(target)
        try:
            file.raw.write(data)
        except BaseException:
            file.abandon()
            raise
        file.commit()

    def commit(self) -> None:
        """Flush, fsync and move into place."""
        self.stream.flush()
        self.raw.flush()
        if self.tmp is not None:
            os.fsync(self.raw.fileno())
        self.stream.close()
        if self.tmp is not None:
            os.replace(self.tmp, self.target)

    def abandon(self) -> None:
        """Remove the temp file."""
        with contextlib.suppress(OSError):
            self.stream.close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                self.tmp.unlink()


def check_writable(target: Path) -> None:
    """Raise :class:`OSError` unless ``target`` could be written as :class:`AtomicFile` will,
    without leaving anything behind or opening a device or FIFO.

    A regular or missing target needs a directory that takes a temp file; an existing
    special file (``/dev/null``, a FIFO) needs write access.
    """
    if target.exists() and not target.is_file():
        if not os.access(target, os.W_OK):
            raise PermissionError(13, "Permission denied", str(target))
        return
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    os.unlink(tmp)


def silence_stdout() -> None:
    """Point stdout at /dev/null: the reader went away, and nothing more should be written."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


FLUSH_AFTER = 0.05
"""Seconds a result written to stdout may wait before it is flushed to the reader (the
writers gather results into large writes; see :mod:`keyledger.render.writers`)."""


class ResultOutput:
    """Streams results in a machine format, or collects them for the table.

    Results on stdout reach the reader at most :data:`FLUSH_AFTER` seconds after they are
    written (a timer on the running event loop; without one, at once), and all of them at
    :meth:`close` or :meth:`abandon`. An output file is only flushed when it is committed.

    When stdout's reader goes away (``| head``), :attr:`broken` is set, ``on_broken`` is
    called (to stop the run), and nothing more is written. Any other write failure (a full
    disk, ``/dev/full``) is kept in :attr:`failed`: nothing more is written, a half-written
    file is removed, and the run goes on (so the ledger still records every result).
    """

    def __init__(
        self, fmt: Format, output: Path | None, on_broken: Callable[[], None] | None = None
    ) -> None:
        self.fmt = fmt
        self.broken = False
        self.failed: str | None = None
        self._on_broken = on_broken
        self.file: AtomicFile | None = None
        stream: TextIO = sys.stdout
        if fmt is not Format.TABLE and output is not None:
            self.file = AtomicFile(output)
            stream = self.file.stream
        self._timer: TimerHandle | None = None
        self._prompt = self.file is None  # a reader of stdout may be waiting for each result
        self.writer: Writer | None = None
        try:
            self.writer = fmt.writer(stream)  # CSV writes its header now
        except OSError as exc:
            if self.file is not None:  # a file: opened() refuses it before the run
                self.file.abandon()
                raise
            if isinstance(exc, BrokenPipeError):
                self._broke()
            else:
                self._fail(exc)

    def add(self, result: CheckResult) -> None:
        """Write one result (machine formats only)."""
        if self.writer is None or self.broken or self.failed:
            return
        try:
            self.writer.write(result)
        except BrokenPipeError:
            self._broke()
        except OSError as exc:
            self._fail(exc)
        else:
            if self._prompt and self._timer is None:
                self._flush_soon()

    def _flush_soon(self) -> None:
        """Flush :data:`FLUSH_AFTER` seconds from now on the running loop, or now without one."""
        import asyncio  # loaded already when there is a run: not at start-up of other commands

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
        else:
            self._timer = loop.call_later(FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        """Push the results written so far to the reader."""
        self._timer = None
        if self.writer is None or self.broken or self.failed:
            return
        try:
            self.writer.flush()
        except BrokenPipeError:
            self._broke()
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.failed = exc.strerror or "OS error"
        if self.file is None:  # what stdout still holds is never written (nor tried at exit)
            silence_stdout()

    def _broke(self) -> None:
        self.broken = True
        silence_stdout()
        if self._on_broken is not None:
            self._on_broken()

    def close(self, complete: bool, summary: dict[str, object]) -> None:
        """Finish the document and move the file into place."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.writer is not None and not self.broken and not self.failed:
            try:
                self.writer.close(complete, summary)
                self.writer.flush()
            except BrokenPipeError:
                self._broke()
            except OSError as exc:
                self._fail(exc)
        if self.file is not None:
            if not self.failed:
                try:
                    self.file.commit()
                except OSError as exc:
                    self._fail(exc)
            if self.failed:
                self.file.abandon()
        elif not self.broken and not self.failed:
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                self._broke()
            except OSError as exc:
                self._fail(exc)

    def salvage(self) -> None:
        """Before an immediate exit: push the results written to stdout so far (an output
        file is left as it is: it is only ever moved into place whole)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.file is None:
            self.flush()

    def abandon(self) -> None:
        """Drop a half-written output file; on stdout, push what was written (the run failed,
        but the results it finished still reach the reader)."""
        if self.file is not None:
            self.file.abandon()
        elif self.writer is not None and not self.broken and not self.failed:
            with contextlib.suppress(OSError, ValueError):
                self.writer.flush()


@contextlib.contextmanager
def opened(
    fmt: Format, output: Path | None, on_broken: Callable[[], None] | None = None
) -> Iterator[ResultOutput]:
    """A :class:`ResultOutput` that is abandoned if the block fails."""
    try:
        out = ResultOutput(fmt, output, on_broken)
    except OSError as exc:
        raise UsageExit(f"cannot write {output}: {exc.strerror or 'OS error'}") from None
    try:
        yield out
    except BaseException:
        out.abandon()
        raise
