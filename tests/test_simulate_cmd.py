"""`keyledger simulate` serves the simulator for other processes to use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from keyledger.simulator import make_key


def test_simulate_serves_until_interrupted(run_cli: Any, tmp_path: Path) -> None:
    """The served simulator answers a real check, then stops cleanly on SIGINT."""
    server = subprocess.Popen(
        [sys.executable, "-m", "keyledger", "simulate", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        url = first.split("listening on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        keys = tmp_path / "keys.txt"
        keys.write_text(f"relay {make_key('relay', 1)} base_url={url}/v1\n")

        proc = run_cli("check", str(keys), "-f", "jsonl")

        row = json.loads(proc.stdout)
        assert (row["status"], row["balance"]["available"]) == ("ok", "74.66")
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=10)
    assert server.returncode == 0
    assert "served" in out and "Traceback" not in err


def test_simulate_refuses_non_loopback(run_cli: Any) -> None:
    """The simulator never binds beyond this machine."""
    proc = run_cli("simulate", "--host", "0.0.0.0", "--port", "0")

    assert proc.code == 2 and "loopback" in proc.stderr
