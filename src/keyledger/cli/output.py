"""Where results go: a streamed machine format (stdout or an atomic file), or the table."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from keyledger.models import CheckResult
from keyledger.render.writers import Format, Writer


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


class ResultOutput:
    """Streams results in a machine format, or collects them for the table."""

    def __init__(self, fmt: Format, output: Path | None) -> None:
        self.fmt = fmt
        self.file: AtomicFile | None = None
        stream: TextIO = sys.stdout
        if fmt is not Format.TABLE and output is not None:
            self.file = AtomicFile(output)
            stream = self.file.stream
        self.writer: Writer | None = fmt.writer(stream)

    def add(self, result: CheckResult) -> None:
        """Write one result (machine formats only)."""
        if self.writer is not None:
            self.writer.write(result)

    def close(self, complete: bool, summary: dict[str, object]) -> None:
        """Finish the document and move the file into place."""
        if self.writer is not None:
            self.writer.close(complete, summary)
        if self.file is not None:
            self.file.commit()
        else:
            sys.stdout.flush()

    def abandon(self) -> None:
        """Drop a half-written output file."""
        if self.file is not None:
            self.file.abandon()


@contextlib.contextmanager
def opened(fmt: Format, output: Path | None) -> Iterator[ResultOutput]:
    """A :class:`ResultOutput` that is abandoned if the block fails."""
    out = ResultOutput(fmt, output)
    try:
        yield out
    except BaseException:
        out.abandon()
        raise
