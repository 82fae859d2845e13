"""Output files: atomic replacement for regular files, in-place writes for devices and pipes."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from keyledger.cli.output import AtomicFile


def test_regular_file_is_replaced_whole_and_private(tmp_path: Path) -> None:
    """A regular target is replaced by a complete 0600 file; no temp file is left."""
    target = tmp_path / "out.json"
    target.write_text("old")

    file = AtomicFile(target)
    file.stream.write("new")
    assert target.read_text() == "old"  # nothing visible until commit
    file.commit()

    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".out.json.*"))


def test_abandoned_write_leaves_the_old_file(tmp_path: Path) -> None:
    """An abandoned write removes its temp file and keeps the previous content."""
    target = tmp_path / "out.json"
    target.write_text("old")

    file = AtomicFile(target)
    file.stream.write("half")
    file.abandon()

    assert target.read_text() == "old"
    assert not list(tmp_path.glob(".out.json.*"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_a_pipe_target_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    """A FIFO (like /dev/null or a terminal) is written to, never renamed over."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()

    AtomicFile.write_bytes(fifo, b"results\n")
    reader.join(10)

    assert received == [b"results\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
