"""Processes the benchmarks start: the simulator, and ``keyledger check`` as a real subprocess.

Every child is started by this module, waited for with :func:`os.wait4` (which gives that
child's own peak RSS and CPU time), and killed by its pid if it overruns its time limit.
Only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
SERVED = re.compile(r"served (\d+) requests")


@dataclass
class ChildUsage:
    """How a finished child ended and what it used."""

    returncode: int
    wall_s: float
    cpu_s: float  # user + system
    peak_rss_mib: float
    timed_out: bool = False


def _wait(proc: subprocess.Popen[bytes], started: float, timed_out: threading.Event) -> ChildUsage:
    """Reap ``proc`` with ``wait4``: its own rusage, not the sum over all children."""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildUsage(
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024.0,  # KiB on Linux
        timed_out=timed_out.is_set(),
    )


def _watchdog(
    proc: subprocess.Popen[bytes], limit: float, fired: threading.Event
) -> threading.Timer:
    def kill() -> None:
        fired.set()
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)

    timer = threading.Timer(limit, kill)
    timer.daemon = True
    timer.start()
    return timer


def _drain(stream: IO[bytes], sink: list[bytes]) -> threading.Thread:
    def run() -> None:
        for line in stream:
            sink.append(line)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@dataclass
class SimulatorProcess:
    """``keyledger simulate`` in its own process, on a free loopback port."""

    latency_ms: float = 0.0
    url: str = ""
    served: int | None = None
    usage: ChildUsage | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _out: list[bytes] = field(default_factory=list)
    _started: float = 0.0
    _timer: threading.Timer | None = None
    _fired: threading.Event = field(default_factory=threading.Event)

    def start(self, env: dict[str, str], limit_s: float = 900.0) -> SimulatorProcess:
        """Start the server and wait until it listens."""
        command = [sys.executable, "-m", "keyledger", "simulate", "--host", "127.0.0.1"]
        command += ["--port", "0", "--no-record", "--latency-ms", f"{self.latency_ms:g}"]
        self._started = time.perf_counter()
        self._proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        self._timer = _watchdog(self._proc, limit_s, self._fired)
        assert self._proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                break
            found = LISTENING.search(line.decode("utf-8", "replace"))
            if found:
                self.url = found.group(1)
                _drain(self._proc.stdout, self._out)
                return self
        self.stop()
        raise RuntimeError("the simulator did not start")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and read its request count."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        killer = threading.Timer(10.0, lambda: os.kill(proc.pid, signal.SIGKILL))
        killer.daemon = True
        killer.start()
        self.usage = _wait(proc, self._started, self._fired)
        killer.cancel()
        if self._timer is not None:
            self._timer.cancel()
        time.sleep(0.05)  # let the drain thread read the last line
        text = b"".join(self._out).decode("utf-8", "replace")
        found = SERVED.search(text)
        self.served = int(found.group(1)) if found else None

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class CheckRun:
    """What one ``keyledger check --format jsonl`` subprocess produced."""

    usage: ChildUsage
    results: int
    ok: int
    attempts: int  # requests sent, summed from each result's "attempts"
    stderr_tail: str


_ATTEMPTS = re.compile(rb'"attempts": ?(\d+),\s*"duration_ms"')
_OK = re.compile(rb'"status": ?"ok"')
_JSON_STATUS = b'      "status": '  # a result's own fields, in the indented JSON document
_JSON_ATTEMPTS = b'      "attempts": '


def run_check(
    keyfile: Path,
    url: str,
    env: dict[str, str],
    *,
    concurrency: int,
    extra: list[str] | None = None,
    limit_s: float = 300.0,
    record: bool = False,
    fmt: str = "jsonl",
    base_url: bool = True,
) -> CheckRun:
    """Run ``keyledger check`` on ``keyfile`` against ``url``; results stream through a pipe.

    Results go to stdout (a pipe read here line by line, counted and dropped), so neither the
    disk nor this process's memory grows with the number of keys. ``--no-record`` is passed
    when this build has it, unless ``record`` (then the run writes to the ledger, if any).
    ``fmt`` is ``jsonl`` or ``json`` (the indented document: counted the same way, by the
    ``status`` and ``attempts`` of each result). ``base_url=False``: the key file's rows name
    their own base URL (a CSV with a ``base_url`` column).
    """
    command = [sys.executable, "-m", "keyledger", "check", str(keyfile)]
    command += ["--base-url", url] if base_url else []
    command += ["--format", fmt, "--no-progress", "--quiet", "-c", str(concurrency)]
    command += extra or []
    command += [] if record else no_record_flag(env)
    fired = threading.Event()
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    timer = _watchdog(proc, limit_s, fired)
    assert proc.stdout is not None and proc.stderr is not None
    errors: list[bytes] = []
    drainer = _drain(proc.stderr, errors)
    results = ok = attempts = 0
    if fmt == "json":  # a result spans many lines: its own "status" and "attempts" (indent 6)
        for line in proc.stdout:
            if line.startswith(_JSON_STATUS):
                results += 1
                ok += _OK.search(line) is not None
            elif line.startswith(_JSON_ATTEMPTS):
                attempts += int(line[len(_JSON_ATTEMPTS) :].strip(b" ,\r\n"))
    else:
        for line in proc.stdout:
            results += 1
            if _OK.search(line):
                ok += 1
            found = _ATTEMPTS.search(line)
            attempts += int(found.group(1)) if found else 0
    usage = _wait(proc, started, fired)
    timer.cancel()
    drainer.join(timeout=5)
    tail = b"".join(errors).decode("utf-8", "replace")[-2000:]
    return CheckRun(usage, results, ok, attempts, tail)


_NO_RECORD: list[list[str]] = []


def no_record_flag(env: dict[str, str]) -> list[str]:
    """``["--no-record"]`` if this build of ``keyledger check`` has it (a ledger may record)."""
    if not _NO_RECORD:
        help_text = subprocess.run(
            [sys.executable, "-m", "keyledger", "check", "--help"],
            capture_output=True,
            env=env,
            timeout=60,
            check=False,
        ).stdout.decode("utf-8", "replace")
        _NO_RECORD.append(["--no-record"] if "--no-record" in help_text else [])
    return _NO_RECORD[0]


def startup_time(env: dict[str, str], emptyfile: Path) -> float:
    """Wall time of ``keyledger check`` on an empty file: import and start-up cost only."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "keyledger", "check", str(emptyfile), "--no-progress", "-q"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    return time.perf_counter() - started


def command_time(env: dict[str, str], *args: str) -> float:
    """Wall time of ``keyledger ARGS`` (``--help``, ``--version``): start-up alone."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "keyledger", *args],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    return time.perf_counter() - started
