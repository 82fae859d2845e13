"""Ctrl-C and closed pipes, on a real subprocess against a slow simulator (I1, I2, I3, F26)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from keyledger.simulator import Simulator, make_key

KEYS = 40


def _key_file(tmp_path: Path) -> tuple[Path, list[str]]:
    values = [make_key("grants", n) for n in range(KEYS)]
    path = tmp_path / "keys.txt"
    path.write_text("".join(v + "\n" for v in values))
    path.chmod(0o600)
    return path, values


async def _start(sim: Simulator, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "keyledger",
        "check",
        *args,
        "--base-url",
        sim.url,
        "--concurrency",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_i1_first_ctrl_c_keeps_finished_results(sim: Simulator, tmp_path: Path) -> None:
    """I1: SIGINT after 3 rows stops the run: exit 130, rows kept, no traceback, no key."""
    sim.state.latency = 0.2
    keys, values = _key_file(tmp_path)
    proc = await _start(sim, str(keys), "-f", "jsonl")
    assert proc.stdout is not None and proc.stderr is not None
    rows = [await asyncio.wait_for(proc.stdout.readline(), 20) for _ in range(3)]
    proc.send_signal(signal.SIGINT)
    rest, err = await asyncio.wait_for(proc.communicate(), 10)
    rows += rest.splitlines()
    assert proc.returncode == 130
    assert 3 <= len(rows) < KEYS
    assert all(json.loads(row)["status"] == "ok" for row in rows)
    text = err.decode()
    assert "Traceback" not in text and "interrupted" in text
    assert not any(v in text or v in rest.decode() for v in values)


async def test_i2_interrupted_output_file_is_complete_json(sim: Simulator, tmp_path: Path) -> None:
    """I2/F26: after SIGINT the -o file is valid JSON saying complete: false."""
    sim.state.latency = 0.2
    keys, _ = _key_file(tmp_path)
    out = tmp_path / "out.json"
    proc = await _start(sim, str(keys), "-f", "json", "-o", str(out))
    while sim.state.total < 6:
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 130
    document = json.loads(out.read_text())
    assert document["complete"] is False and 1 <= len(document["results"]) < KEYS


async def test_f26_sigkill_never_leaves_a_half_written_file(sim: Simulator, tmp_path: Path) -> None:
    """F26: SIGKILL mid-run leaves the previous output file untouched (atomic replace)."""
    sim.state.latency = 0.2
    keys, _ = _key_file(tmp_path)
    out = tmp_path / "out.json"
    out.write_text('{"previous": true}\n')
    proc = await _start(sim, str(keys), "-f", "json", "-o", str(out))
    while sim.state.total < 6:
        await asyncio.sleep(0.05)
    proc.kill()
    await asyncio.wait_for(proc.communicate(), 10)
    assert json.loads(out.read_text()) == {"previous": True}


async def test_i3_closed_stdout_pipe_exits_quietly(sim: Simulator, tmp_path: Path) -> None:
    """I3: the reader going away (| head -1) ends the run quietly: exit 141, nothing on stderr."""
    sim.state.latency = 0.05
    keys, _ = _key_file(tmp_path)
    proc = await _start(sim, str(keys), "-f", "jsonl")
    assert proc.stdout is not None and proc.stderr is not None
    await asyncio.wait_for(proc.stdout.readline(), 20)
    transport = proc._transport  # type: ignore[attr-defined]
    transport.get_pipe_transport(1).close()  # like `head -1` exiting
    err = await asyncio.wait_for(proc.stderr.read(), 30)
    await asyncio.wait_for(proc.wait(), 10)
    text = err.decode()
    assert "Traceback" not in text and "BrokenPipe" not in text
    assert "internal error" not in text
    assert proc.returncode == 141


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_i3_every_format_ends_quietly_in_a_shell_pipe(
    live_sim: Simulator, tmp_path: Path, fmt: str
) -> None:
    """`keyledger check … | head -1` exits 141 with nothing on stderr, whatever the format."""
    # Enough rows that every format writes more than a pipe holds (64 KiB on Linux): output
    # that fits in the pipe is written whole before `head` exits, and then exit 0 is right.
    lines = [f"k{n} {make_key('invalid', n)}" for n in range(1200)]
    keys = tmp_path / "keys.txt"
    keys.write_text("\n".join(lines) + "\n")
    keys.chmod(0o600)
    script = (
        f"{sys.executable} -m keyledger check {keys} --base-url {live_sim.url} -f {fmt} "
        "--no-record -q | head -c 10 > /dev/null; echo ${PIPESTATUS[0]}"
    )

    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)

    assert done.stdout.strip() == "141"
    assert done.stderr == ""
