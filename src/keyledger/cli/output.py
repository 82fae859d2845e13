"""Where results go: a streamed machine format (stdout or an atomic file), or the table."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from keyledger.models import CheckResult
from keyledger.render.writers import Format, Writer


class AtomicFile:
    """A text file written to a 0600 temp file, fsynced, then renamed over the target."""

    def __init__(self, target: Path) -> None:
        self.target = target
        directory = target.parent if str(target.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        self.tmp = Path(tmp)
        self.stream: TextIO = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def commit(self) -> None:
        """Flush, fsync and move into place."""
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()
        os.replace(self.tmp, self.target)

    def abandon(self) -> None:
        """Remove the temp file."""
        with contextlib.suppress(OSError):
            self.stream.close()
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
