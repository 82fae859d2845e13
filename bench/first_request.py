"""Time from starting ``keyledger check`` to its first request reaching the server.

Run from the repository root (keyledger importable)::

    python bench/first_request.py            # 5 runs, 1 session key, the ledger on
    python bench/first_request.py --runs 9 --no-record

A loopback socket server notes when the first request bytes arrive; the time is measured from
just before the process is spawned (``time.monotonic`` in this process), so it covers Python's
start-up, imports, reading the key file, the ledger and the client. The server answers 401 and
the command ends. The median and the fastest run are printed, in milliseconds.
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


def serve_once(server: socket.socket, arrived: list[float]) -> None:
    """Accept connections; note when the first bytes come; answer 401 to each request."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            data = conn.recv(65536)
            if data and not arrived:
                arrived.append(time.monotonic())
            while data and b"\r\n\r\n" not in data:
                more = conn.recv(65536)
                if not more:
                    break
                data += more
            if data:
                conn.sendall(ANSWER)


def one_run(record: bool) -> float:
    """Milliseconds from spawning the command to its first request bytes."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    arrived: list[float] = []
    thread = threading.Thread(target=serve_once, args=(server, arrived), daemon=True)
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
        started = time.monotonic()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.close()
    if not arrived:
        raise SystemExit("keyledger sent no request (see the command above)")
    return (arrived[0] - started) * 1000


def main() -> None:
    """Measure and print the time to the first request."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="check with --no-record")
    args = parser.parse_args()
    times = [one_run(not args.no_record) for _ in range(args.runs)]
    print(
        f"first request after {statistics.median(times):.0f} ms (median of {len(times)}), "
        f"fastest {min(times):.0f} ms; runs: {', '.join(f'{t:.0f}' for t in times)}"
    )


if __name__ == "__main__":
    main()
