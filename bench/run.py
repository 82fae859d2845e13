"""keyledger benchmarks: throughput, latency efficiency and peak memory, side by side.

Run from the repository root (keyledger installed, plus ``pip install -r bench/requirements.txt``):

    python bench/run.py            # default sizes, about 4-5 minutes on 2 cores
    python bench/run.py --quick    # small sizes, under a minute (a smoke test)

Every measurement gets a fresh simulator in its own process (``keyledger simulate --port 0
--no-record``) on 127.0.0.1, so the request count is the server's own and no state carries
over. Results: ``bench/results/bench-<time>.json`` and ``.md`` (git-ignored), and the
markdown table on stdout. The figures and the command are recorded in ``docs/benchmarks.md``.

Sections:
  a  no latency: ``keyledger check`` (subprocess), keyledger's engine in-process, a bare
     aiohttp client and a bare httpx client; keys/s, requests/s, ratio to bare aiohttp.
  b  100 ms latency at concurrency 300: wall time against the ideal
     (requests x latency / concurrency), and a sequential ``requests`` checker (a sample,
     extrapolated).
  c  peak RSS of ``keyledger check`` at 20,000 and 100,000 keys.
  s  session keys (the seed's case, one request each: the credit grants), from a CSV whose
     rows carry ``base_url``, ``--format json``, the ledger on (the default, each run in a
     fresh keyledger home): next to bare aiohttp at no latency (20,000 and 100,000 keys,
     peak RSS included) and at 100 ms latency (9,000 keys, concurrency 300) against the
     ideal and a sequential checker.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from clients import (
    SESSION_CALLS,
    ClientRun,
    bare_aiohttp,
    bare_httpx,
    keyledger_in_process,
    read_keys,
)
from clients import sequential_requests as sequential
from procs import (
    CheckRun,
    SimulatorProcess,
    command_time,
    no_record_flag,
    run_check,
    startup_time,
)
from report import GOALS, goals_met, markdown

import keyledger
from keyledger.simulator.scenarios import make_key

HERE = Path(__file__).resolve().parent
# keyledger check's documented exit codes for a finished run: all ok, some not ok, some
# unknown, both. Anything else (usage error, crash, interrupted) fails the measurement.
CHECK_EXIT_CODES = frozenset({0, 3, 4, 5})


@dataclass
class Row:
    """One measurement, as it appears in the tables and the JSON."""

    section: str
    name: str
    concurrency: int
    keys: int
    requests: int  # counted by the simulator (the server) unless noted
    wall_s: float
    client_cpu_s: float | None = None
    server_cpu_s: float | None = None
    peak_rss_mib: float | None = None
    ok: int | None = None
    note: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def keys_per_s(self) -> float:
        return self.keys / self.wall_s if self.wall_s else 0.0

    @property
    def req_per_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["keys_per_s"] = round(self.keys_per_s, 1)
        data["req_per_s"] = round(self.req_per_s, 1)
        return data


@dataclass
class Bench:
    """Shared settings: where keys live, the child environment, the sizes."""

    args: argparse.Namespace
    workdir: Path
    env: dict[str, str]
    rows: list[Row] = field(default_factory=list)

    def keyfile(self, n: int, scenario: str = "ok") -> Path:
        """A file of ``n`` simulator keys of ``scenario`` (mode 0600)."""
        path = self.workdir / f"keys-{scenario}-{n}.txt"
        if not path.exists():
            with path.open("w") as out:
                out.writelines(make_key(scenario, i) + "\n" for i in range(n))
            path.chmod(0o600)
        return path

    def session_csv(self, n: int, url: str) -> Path:
        """A CSV of ``n`` session keys (scenario ``grants``) whose rows name ``url`` as their
        ``base_url`` (mode 0600); rewritten for each simulator, whose port changes."""
        path = self.workdir / f"sess-{n}.csv"
        with path.open("w") as out:
            out.write("label,key,provider,base_url\n")
            out.writelines(f"s{i},{make_key('grants', i)},,{url}/v1\n" for i in range(n))
        path.chmod(0o600)
        return path

    def fresh_home(self) -> dict[str, str]:
        """The child environment with a new, empty keyledger home (an empty ledger)."""
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.workdir))
        return {**self.env, "KEYLEDGER_HOME": str(home)}

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


@dataclass
class Measure:
    """One thing to measure: a name, the simulator latency, and the function that measures."""

    name: str
    latency_ms: float
    run: Callable[[str], Row]
    repeat: bool = True  # part of the best-of-N repeats


def _once(bench: Bench, measure: Measure) -> Row:
    """Run ``measure`` once against a fresh simulator process."""
    sim = SimulatorProcess(latency_ms=measure.latency_ms).start(bench.env)
    try:
        row = measure.run(sim.url)
    except Exception as exc:  # a broken measurement is reported, never fatal
        row = Row("?", measure.name, 0, 0, 0, 0.0, error=f"{type(exc).__name__}: {exc}")
    finally:
        sim.stop()
    if sim.served is not None:
        if row.requests and row.requests != sim.served:
            row.extra["client_counted_requests"] = row.requests
        row.requests = sim.served
    if sim.usage is not None:
        row.server_cpu_s = round(sim.usage.cpu_s, 2)
    row.extra["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    bench.log(
        f"  {row.name}: {row.keys} keys, {row.requests} req in {row.wall_s:.2f}s "
        f"= {row.req_per_s:,.0f} req/s" + (f"  ERROR {row.error}" if row.error else "")
    )
    return row


def run_interleaved(bench: Bench, measures: list[Measure], repeat: int) -> list[Row]:
    """Run every measure ``repeat`` times, round-robin, each against a fresh simulator.

    Round-robin spreads a noisy moment (the machine is shared) over all clients instead of
    one; for each measure the fastest run is kept, the usual way to read a noisy benchmark.
    """
    runs: dict[str, list[Row]] = {m.name: [] for m in measures}
    for number in range(max(1, repeat)):
        for measure in measures:
            if number == 0 or measure.repeat:
                runs[measure.name].append(_once(bench, measure))
    best: list[Row] = []
    for measure in measures:
        rows = runs[measure.name]
        good = [r for r in rows if r.error is None] or rows
        row = max(good, key=lambda r: r.req_per_s)
        if len(rows) > 1:
            row.extra["runs_req_per_s"] = [round(r.req_per_s, 1) for r in rows]
            row.note = (row.note + f"; best of {len(rows)}").lstrip("; ")
        best.append(row)
    return best


def _client_row(section: str, name: str, concurrency: int, run: ClientRun, note: str = "") -> Row:
    return Row(
        section,
        name,
        concurrency,
        run.keys,
        run.requests,
        round(run.wall_s, 3),
        client_cpu_s=round(run.cpu_s, 2),
        ok=run.ok,
        note=note,
    )


def _check_row(section: str, name: str, concurrency: int, run: CheckRun, note: str = "") -> Row:
    row = Row(
        section,
        name,
        concurrency,
        run.results,
        run.attempts,
        round(run.usage.wall_s, 3),
        client_cpu_s=round(run.usage.cpu_s, 2),
        peak_rss_mib=round(run.usage.peak_rss_mib, 1),
        ok=run.ok,
        note=note,
    )
    if run.usage.returncode not in CHECK_EXIT_CODES or run.usage.timed_out:
        row.error = (
            f"exit {run.usage.returncode}"
            + (" (time limit)" if run.usage.timed_out else "")
            + f": {run.stderr_tail.strip()[-300:]}"
        )
    return row


def section_a(bench: Bench) -> None:
    """No latency: keyledger next to the bare clients, same server, same requests."""
    a = bench.args
    c = a.concurrency
    keyfile = bench.keyfile(a.keys_a)
    keys = read_keys(keyfile)
    some = keys[: a.keys_httpx]
    bench.log(f"(a) no latency, concurrency {c}, {a.keys_a} keys, best of {a.repeat}")
    measures = [
        Measure(
            "bare aiohttp",
            0,
            lambda url: _client_row("a", "bare aiohttp", c, bare_aiohttp(url, keys, c)),
        ),
        Measure(
            "keyledger check",
            0,
            lambda url: _check_row(
                "a",
                "keyledger check",
                c,
                run_check(keyfile, url, bench.env, concurrency=c),
                "CLI subprocess: start-up, key loading and JSONL output included",
            ),
        ),
        Measure(
            "keyledger engine (in-process)",
            0,
            lambda url: _client_row(
                "a",
                "keyledger engine (in-process)",
                c,
                keyledger_in_process(url, keyfile, c, None),
                "run_checks() only: no start-up, key loading or output",
            ),
        ),
    ]
    if no_record_flag(bench.env):
        measures.append(
            Measure(
                "keyledger check, ledger on",
                0,
                lambda url: _check_row(
                    "a",
                    "keyledger check, ledger on",
                    c,
                    run_check(keyfile, url, bench.env, concurrency=c, record=True),
                    "the default: every result recorded in the SQLite ledger; run once",
                ),
                repeat=False,
            )
        )
    if some:
        measures.append(
            Measure(
                "bare httpx",
                0,
                lambda url: _client_row(
                    "a", "bare httpx", c, bare_httpx(url, some, c), f"{len(some)} keys, run once"
                ),
                repeat=False,
            )
        )
        low = a.httpx_low_concurrency
        measures.append(
            Measure(
                f"bare httpx, conc. {low}",
                0,
                lambda url: _client_row(
                    "a",
                    f"bare httpx, conc. {low}",
                    low,
                    bare_httpx(url, some, low),
                    "httpx slows down as concurrency grows (its pool); run once",
                ),
                repeat=False,
            )
        )
    bench.rows += run_interleaved(bench, measures, a.repeat)


def section_b(bench: Bench) -> None:
    """Latency: wall time against the ideal, and against a sequential checker."""
    a = bench.args
    c, latency = a.latency_concurrency, a.latency_ms
    keyfile = bench.keyfile(a.keys_b)
    keys = read_keys(keyfile)
    sample = keys[: a.seq_sample]
    bench.log(f"(b) {latency:g} ms latency, concurrency {c}, {a.keys_b} keys")
    measures = [
        Measure(
            "bare aiohttp",
            latency,
            lambda url: _client_row("b", "bare aiohttp", c, bare_aiohttp(url, keys, c)),
        ),
        Measure(
            "keyledger check",
            latency,
            lambda url: _check_row(
                "b",
                "keyledger check",
                c,
                run_check(keyfile, url, bench.env, concurrency=c),
                "shipped defaults (--per-host follows --concurrency)",
            ),
        ),
        Measure(
            f"keyledger engine (in-process, per-host {c})",
            latency,
            lambda url: _client_row(
                "b",
                f"keyledger engine (in-process, per-host {c})",
                c,
                keyledger_in_process(url, keyfile, c, c),
                "run_checks() only",
            ),
        ),
        Measure(
            "sequential",
            latency,
            lambda url: _client_row("b", "sequential", 1, sequential(url, sample)),
            repeat=False,
        ),
    ]
    rows = run_interleaved(bench, measures, a.repeat_b)
    seq = rows[-1]
    if seq.error is None and seq.keys:
        per_key = seq.wall_s / seq.keys
        seq.extra["sample_keys"] = seq.keys
        seq.extra["sample_wall_s"] = seq.wall_s
        seq.extra["sample_requests"] = seq.requests
        seq.name = "sequential requests (extrapolated)"
        seq.note = f"{seq.keys} keys measured one request at a time, x{len(keys) / seq.keys:g}"
        seq.requests = round(seq.requests * len(keys) / seq.keys)
        seq.wall_s = round(per_key * len(keys), 1)
        seq.keys = len(keys)
    for row in rows:
        ideal = row.requests * latency / 1000.0 / c
        row.extra["ideal_s"] = round(ideal, 3)
        row.extra["latency_efficiency"] = round(ideal / row.wall_s, 3) if row.wall_s else None
    bench.rows += rows


def section_c(bench: Bench) -> None:
    """Peak RSS of ``keyledger check`` as a subprocess, at each size."""
    a = bench.args
    bench.log(f"(c) peak RSS at {', '.join(f'{n}:{s}' for n, s in a.rss_keys)} keys")
    for n, scenario in a.rss_keys:
        keyfile = bench.keyfile(n, scenario)
        limit = max(120.0, n / 100.0)  # far above the expected time; a hang still ends
        name = f"keyledger check, {n:,} keys" + ("" if scenario == "ok" else f" ({scenario})")
        measure = Measure(
            name,
            0,
            lambda url, keyfile=keyfile, limit=limit, name=name: _check_row(
                "c",
                name,
                a.concurrency,
                run_check(keyfile, url, bench.env, concurrency=a.concurrency, limit_s=limit),
                "peak RSS of the keyledger process (wait4 ru_maxrss)",
            ),
        )
        bench.rows.append(_once(bench, measure))


def _session_check(
    bench: Bench, section: str, name: str, n: int, c: int, record: bool, baseline: bool = False
) -> Row:
    """A measure: ``keyledger check`` on ``n`` session keys, ``--format json``; ``baseline``:
    the source tree given by ``--baseline-src`` (before and after, side by side)."""

    def run(url: str) -> Row:
        keyfile = bench.session_csv(n, url)
        limit = max(300.0, n / 50.0)
        env = bench.fresh_home()
        if baseline:
            env["PYTHONPATH"] = str(bench.args.baseline_src)
        check = run_check(
            keyfile,
            url,
            env,
            concurrency=c,
            record=record,
            fmt="json",
            base_url=False,
            limit_s=limit,
        )
        note = "ledger on (the default)" if record else "--no-record"
        return _check_row(section, name, c, check, f"CSV with base_url, --format json, {note}")

    return Measure(name, 0, run)


def section_s(bench: Bench) -> None:
    """Session keys (one request each): the seed's case, ledger on, JSON output."""
    a = bench.args
    c = a.concurrency
    n = a.keys_s
    bench.log(f"(s) session keys, no latency, concurrency {c}, {n} keys, best of {a.repeat_s}")

    def bare(url: str, count: int = n, conc: int = c, section: str = "s") -> Row:
        keys = [make_key("grants", i) for i in range(count)]
        run = bare_aiohttp(url, keys, conc, SESSION_CALLS)
        return _client_row(section, "bare aiohttp", conc, run)

    measures = [
        Measure("bare aiohttp", 0, bare),
        _session_check(bench, "s", "keyledger check, ledger on", n, c, record=True),
        _session_check(bench, "s", "keyledger check, --no-record", n, c, record=False),
    ]
    if a.baseline_src is not None:
        measures.insert(
            2,
            _session_check(
                bench, "s", "keyledger check, ledger on, baseline", n, c, True, baseline=True
            ),
        )
    bench.rows += run_interleaved(bench, measures, a.repeat_s)
    for big in a.keys_s_large:
        name = f"keyledger check, ledger on, {big:,} keys"
        bench.rows.append(_once(bench, _session_check(bench, "s", name, big, c, record=True)))
        bench.rows[-1].note += "; run once"
        if a.baseline_src is not None:
            base = _session_check(bench, "s", name + ", baseline", big, c, True, baseline=True)
            bench.rows.append(_once(bench, base))
            bench.rows[-1].note += "; run once"
    if a.skip_sl:
        return

    lc, latency, nl = a.latency_concurrency, a.latency_ms, a.keys_sl
    bench.log(f"(sl) session keys, {latency:g} ms latency, concurrency {lc}, {nl} keys")
    check = _session_check(bench, "sl", "keyledger check, ledger on", nl, lc, record=True)
    sample = [make_key("grants", i) for i in range(a.seq_sample)]
    measures = [
        Measure("bare aiohttp", latency, lambda url: bare(url, nl, lc, "sl")),
        Measure(check.name, latency, check.run),
        Measure(
            "sequential",
            latency,
            lambda url: _client_row("sl", "sequential", 1, sequential(url, sample, SESSION_CALLS)),
            repeat=False,
        ),
    ]
    if a.baseline_src is not None:
        base = _session_check(
            bench, "sl", "keyledger check, ledger on, baseline", nl, lc, True, baseline=True
        )
        measures.insert(2, Measure(base.name, latency, base.run))
    rows = run_interleaved(bench, measures, a.repeat_b)
    seq = rows[-1]
    if seq.error is None and seq.keys:
        factor = nl / seq.keys
        seq.extra.update(sample_keys=seq.keys, sample_wall_s=seq.wall_s)
        seq.name = "sequential requests (extrapolated)"
        seq.note = f"{seq.keys} keys measured one request at a time, x{factor:g}"
        seq.requests, seq.wall_s, seq.keys = (
            round(seq.requests * factor),
            round(seq.wall_s * factor, 1),
            nl,
        )
    for row in rows:
        ideal = row.requests * latency / 1000.0 / lc
        row.extra["ideal_s"] = round(ideal, 3)
        row.extra["latency_efficiency"] = round(ideal / row.wall_s, 3) if row.wall_s else None
    bench.rows += rows


def _sizes(text: str) -> list[tuple[int, str]]:
    """``20000:ok,100000:invalid`` as [(20000, "ok"), (100000, "invalid")]."""
    sizes = []
    for part in text.split(","):
        count, _, scenario = part.partition(":")
        sizes.append((int(count), scenario or "ok"))
    return sizes


def compile_trees(*trees: Path) -> None:
    """Write the .pyc files of each measured keyledger (as an installed package has them):
    under ``PYTHONDONTWRITEBYTECODE`` every run would otherwise compile what it imports."""
    import compileall

    for tree in trees:
        compileall.compile_dir(tree, quiet=1)


def environment() -> dict[str, str]:
    """Child environment: no proxies (loopback only), a throw-away keyledger home."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    for key in [k for k in os.environ if k.lower().endswith("_proxy")]:
        del os.environ[key]  # the in-process keyledger client trusts the environment
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def machine() -> dict[str, Any]:
    """What the figures were measured on."""

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=HERE,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "src"],
                capture_output=True,
                text=True,
                check=False,
                cwd=HERE,
            ).stdout.strip()
        )
    except OSError:
        rev, dirty = "", False
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "keyledger": version("keyledger"),
        "aiohttp": version("aiohttp"),
        "httpx": version("httpx"),
        "requests": version("requests"),
        "git": rev + ("+src-changes" if dirty else ""),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="keyledger benchmarks (see docs/benchmarks.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--sections", default="sabc", help="which sections to run: any of s, a, b, c"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--keys-a", type=int, default=4000, help="keys for section a")
    parser.add_argument("--keys-httpx", type=int, default=500, help="keys for httpx in a (0: skip)")
    parser.add_argument("--concurrency", type=int, default=200, help="concurrency in a and c")
    parser.add_argument(
        "--httpx-low-concurrency", type=int, default=10, help="a second, low concurrency for httpx"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement in a (best kept)"
    )
    parser.add_argument("--repeat-b", type=int, default=1, help="runs per measurement in b")
    parser.add_argument("--keys-b", type=int, default=3000, help="keys for section b")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="simulator latency in b")
    parser.add_argument("--latency-concurrency", type=int, default=300, help="concurrency in b")
    parser.add_argument(
        "--seq-sample", type=int, default=10, help="keys the sequential checker runs"
    )
    parser.add_argument(
        "--rss-keys",
        type=_sizes,
        default="20000:ok,100000:invalid",
        help="section c: comma-separated COUNT[:SCENARIO]; ok = 3 requests per key, invalid = 1 "
        "(100,000 ok keys take 3-5 minutes alone on 2 cores)",
    )
    parser.add_argument("--keys-s", type=int, default=20000, help="session keys in section s")
    parser.add_argument(
        "--keys-s-large",
        type=lambda t: [int(x) for x in t.split(",") if x],
        default="100000",
        help="section s: larger session-key runs, ledger on, run once (comma-separated; '' none)",
    )
    parser.add_argument("--repeat-s", type=int, default=2, help="runs per measurement in s")
    parser.add_argument("--keys-sl", type=int, default=9000, help="session keys at latency (s)")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="a src/ directory of an earlier revision (git archive REV src | tar -x -C DIR): "
        "section s and the start-up times also measure it, side by side",
    )
    parser.add_argument("--skip-sl", action="store_true", help="section s without latency")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="results directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.keys_a, args.keys_httpx, args.keys_b = 1000, 300, 600
        args.seq_sample, args.rss_keys, args.repeat = 3, [(2000, "ok")], 1
        args.keys_s, args.keys_s_large, args.keys_sl, args.repeat_s = 2000, [], 1200, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    env = environment()
    compile_trees(
        Path(keyledger.__file__).parent,
        *([args.baseline_src / "keyledger"] if args.baseline_src is not None else []),
    )
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="keyledger-bench-") as tmp:
        workdir = Path(tmp)
        env["KEYLEDGER_HOME"] = str(workdir / "home")
        bench = Bench(args, workdir, env)
        empty = workdir / "empty.txt"
        empty.write_text("")
        empty.chmod(0o600)
        startup = statistics.median(startup_time(env, empty) for _ in range(3))
        bench.log(f"keyledger check start-up (empty input): {startup:.2f}s")
        help_s = statistics.median(command_time(env, "--help") for _ in range(5))
        version_s = statistics.median(command_time(env, "--version") for _ in range(5))
        bench.log(f"keyledger --help: {help_s:.2f}s, --version: {version_s:.2f}s (median of 5)")
        baseline_startup = None
        if args.baseline_src is not None:
            base_env = {**env, "PYTHONPATH": str(args.baseline_src)}
            pairs = [(startup_time(base_env, empty), startup_time(env, empty)) for _ in range(5)]
            baseline_startup = statistics.median(p[0] for p in pairs)
            startup = statistics.median(p[1] for p in pairs)
            bench.log(
                f"check start-up, 5 interleaved pairs, median: baseline {baseline_startup:.2f}s, "
                f"this tree {startup:.2f}s"
            )
        sections = (("s", section_s), ("a", section_a), ("b", section_b), ("c", section_c))
        for name, section in sections:
            if name in args.sections:
                section(bench)
        params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        document = {
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "python bench/run.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine(),
            "params": params,
            "no_record_flag": bool(no_record_flag(env)),
            "startup_s": round(startup, 3),
            "baseline_startup_s": None if baseline_startup is None else round(baseline_startup, 3),
            "help_s": round(help_s, 3),
            "version_s": round(version_s, 3),
            "loadavg_at_start": load_at_start,
            "total_s": round(time.perf_counter() - started, 1),
            "goals": goals_met(
                [r.as_dict() for r in bench.rows],
                GOALS,
                {"startup": startup, "version": version_s},
            ),
            "rows": [r.as_dict() for r in bench.rows],
        }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    json_path = args.out / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    table = markdown(document)
    (args.out / f"bench-{stamp}.md").write_text(table)
    print(table)
    bench.log(f"wrote {json_path} and {json_path.with_suffix('.md')} in {document['total_s']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
