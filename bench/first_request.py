"""Time from starting ``keyledger check`` to its first request reaching the server.

Run from the repository root (keyledger importable)::

    python bench/first_request.py            # 5 runs, 1 session key, the ledger on
    python bench/first_request.py --runs 9 --no-record
    python bench/first_request.py --bare       # a bare aiohttp client's, for comparison

A loopback socket server notes when the first request bytes arrive; the time is measured from
just before the process is spawned (``time.monotonic`` in this process), so it covers Python's
start-up, imports, reading the key file, the ledger and the client. The server answers 401 and
the command ends. The median and the fastest run are printed, in milliseconds, and (on Linux)
the CPU time the command had used when its first request arrived: a figure a busy machine
disturbs far less than the wall time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ANSWER = (
    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 27\r\n"
    b"Connection: close\r\n\r\n"
    b'{"error":{"message":"nope"}}'[:27]
)


# The floor: a bare aiohttp client's first request (Python, asyncio and aiohttp start-up only).
BARE = """
import asyncio, sys
import aiohttp

async def main() -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": "Bearer sess-FIRSTREQUEST0123456789abcdefXYZ"}
        async with session.get(sys.argv[1], headers=headers) as response:
            await response.read()

asyncio.run(main())
"""


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``), else ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_once(server: socket.socket, arrived: list[float], cpu: list[float | None]) -> None:
    """Accept connections; note when the first bytes come (and the client's CPU time then,
    once ``cpu`` holds its pid); answer 401 to each request."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            data = conn.recv(65536)
            if data and not arrived:
                arrived.append(time.monotonic())
                pid = cpu.pop() if cpu else None
                cpu.append(None if pid is None else cpu_seconds(int(pid)))
            while data and b"\r\n\r\n" not in data:
                more = conn.recv(65536)
                if not more:
                    break
                data += more
            if data:
                conn.sendall(ANSWER)


def one_run(record: bool, bare: bool = False) -> tuple[float, float | None]:
    """Milliseconds from spawning the command to its first request bytes, and the CPU
    milliseconds the command had used by then (steadier on a busy machine). ``bare``: the
    bare aiohttp client instead of keyledger."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    arrived: list[float] = []
    cpu: list[float | None] = []
    thread = threading.Thread(target=serve_once, args=(server, arrived, cpu), daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as scratch:
        keys = Path(scratch) / "keys.csv"
        keys.write_text(
            "label,key,provider,base_url\n"
            f"s0,sess-FIRSTREQUEST0123456789abcdefXYZ,,http://127.0.0.1:{port}/v1\n"
        )
        keys.chmod(0o600)
        env = {**os.environ, "KEYLEDGER_HOME": str(Path(scratch) / "home")}
        command = [sys.executable, "-m", "keyledger", "check", str(keys), "--format", "json"]
        command += ["--no-progress", "-q", "--attempts", "1"]
        if not record:
            command.append("--no-record")
        if bare:
            command = [sys.executable, "-c", BARE, f"http://127.0.0.1:{port}/v1/credit_grants"]
        started = time.monotonic()
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        cpu.append(proc.pid)
        proc.wait()
    server.close()
    if not arrived:
        raise SystemExit("keyledger sent no request (see the command above)")
    used = cpu[0] if cpu and isinstance(cpu[0], float) else None
    return (arrived[0] - started) * 1000, None if used is None else used * 1000


def compile_package() -> None:
    """Write the .pyc files of the keyledger this process imports (the one the command runs:
    same ``PYTHONPATH``), as an installed package has them."""
    import compileall

    import keyledger

    compileall.compile_dir(Path(keyledger.__file__).parent, quiet=1)


def main() -> None:
    """Measure and print the time to the first request."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="check with --no-record")
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="do not write keyledger's .pyc files first (then, under PYTHONDONTWRITEBYTECODE, "
        "every run compiles every module it imports)",
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="time a bare aiohttp client's first request instead (the floor keyledger shares)",
    )
    args = parser.parse_args()
    if not args.no_compile:
        compile_package()
    runs = [one_run(not args.no_record, args.bare) for _ in range(args.runs)]
    times = [wall for wall, _ in runs]
    print(
        f"first request after {statistics.median(times):.0f} ms (median of {len(times)}), "
        f"fastest {min(times):.0f} ms; runs: {', '.join(f'{t:.0f}' for t in times)}"
    )
    cpu = [used for _, used in runs if used is not None]
    if cpu:
        print(f"CPU used by then: {statistics.median(cpu):.0f} ms (median), {min(cpu):.0f} min")


if __name__ == "__main__":
    main()
