"""Turn a benchmark document into markdown tables and judge the goals (issues 3 §4, 10 §2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Rows = Sequence[dict[str, Any]]

# (id, text, target): see docs/benchmarks.md
GOALS: tuple[tuple[str, str, float], ...] = (
    ("session_throughput", "session keys, ledger on, JSON: req/s ÷ bare aiohttp req/s", 0.5),
    ("session_latency", "session keys at 100 ms, conc. 300, ledger on: efficiency", 0.8),
    ("session_memory_20k", "peak RSS, 20,000 session keys, ledger on (MiB, at most)", 150.0),
    ("session_memory_100k", "peak RSS, 100,000 session keys, ledger on (MiB, at most)", 200.0),
    ("throughput", "secret keys (3 requests): req/s ÷ bare aiohttp req/s", 0.5),
    ("latency", "secret keys at 100 ms, conc. 300: efficiency", 0.8),
    ("startup", "keyledger check start-up, empty input (s, at most)", 0.3),
    ("version", "keyledger --version (s, at most)", 0.15),
)
_AT_MOST = frozenset({"session_memory_20k", "session_memory_100k", "startup", "version"})


def _find(rows: Rows, section: str, name: str) -> dict[str, Any] | None:
    for row in rows:
        if row["section"] == section and row["name"] == name and not row.get("error"):
            return row
    return None


def goals_met(
    rows: Rows,
    goals: Sequence[tuple[str, str, float]] = GOALS,
    timings: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Each goal with its measured value and whether it is met (``None``: not measured)."""
    out: list[dict[str, Any]] = []
    timings = timings or {}
    for goal_id, text, target in goals:
        value: float | None = None
        if goal_id in timings:
            value = timings[goal_id]
        elif goal_id == "session_throughput":
            bare = _find(rows, "s", "bare aiohttp")
            ours = _find(rows, "s", "keyledger check, ledger on")
            if bare and ours and bare["req_per_s"]:
                value = ours["req_per_s"] / bare["req_per_s"]
        elif goal_id == "session_latency":
            ours = _find(rows, "sl", "keyledger check, ledger on")
            value = ours["extra"].get("latency_efficiency") if ours else None
        elif goal_id == "session_memory_20k":
            ours = _find(rows, "s", "keyledger check, ledger on")
            value = ours["peak_rss_mib"] if ours and ours["keys"] == 20000 else None
        elif goal_id == "session_memory_100k":
            ours = _find(rows, "s", "keyledger check, ledger on, 100,000 keys")
            value = ours["peak_rss_mib"] if ours else None
        elif goal_id == "throughput":
            bare, ours = _find(rows, "a", "bare aiohttp"), _find(rows, "a", "keyledger check")
            if bare and ours and bare["req_per_s"]:
                value = ours["req_per_s"] / bare["req_per_s"]
        elif goal_id == "latency":
            ours = _find(rows, "b", "keyledger check")
            value = ours["extra"].get("latency_efficiency") if ours else None
        elif goal_id == "memory":
            ours = _find(rows, "c", "keyledger check, 20,000 keys")
            value = ours["peak_rss_mib"] if ours else None
        met = (
            None if value is None else (value <= target if goal_id in _AT_MOST else value >= target)
        )
        out.append(
            {
                "goal": goal_id,
                "text": text,
                "target": target,
                "value": None if value is None else round(value, 3),
                "met": met,
            }
        )
    return out


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{round(value):,}" if isinstance(value, float) else f"{value:,}"


def _table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    rule = ["---" if i == 0 else "---:" for i in range(len(header))]
    rows = [header, rule, *lines]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows) + "\n"


def _error_lines(rows: Rows) -> str:
    bad = [r for r in rows if r.get("error")]
    return "".join(f"- **{r['name']}** failed: {r['error']}\n" for r in bad)


def _cpu_us(row: dict[str, Any]) -> float | None:
    """Client CPU time per request in µs (steadier than wall time on a shared machine)."""
    if row.get("client_cpu_s") is None or not row["requests"]:
        return None
    return float(row["client_cpu_s"] / row["requests"] * 1e6)


def section_a(rows: Rows, section: str = "a", title: str = "(a) No latency") -> str:
    rows = [r for r in rows if r["section"] == section]
    if not rows:
        return ""
    bare = _find(rows, section, "bare aiohttp")
    base = bare["req_per_s"] if bare else None
    base_cpu = _cpu_us(bare) if bare else None
    lines = []
    for r in rows:
        cpu = _cpu_us(r)
        lines.append(
            [
                r["name"],
                _num(r["concurrency"]),
                _num(r["keys"]),
                _num(r["requests"]),
                _num(r["wall_s"], 2),
                _num(r["keys_per_s"]),
                _num(r["req_per_s"]),
                _num(r["req_per_s"] / base, 2) if base else "–",
                _num(cpu),
                _num(base_cpu / cpu, 2) if base_cpu and cpu else "–",
                _num(r["server_cpu_s"], 1),
                _num(r["peak_rss_mib"], 0),
            ]
        )
    header = [
        "client", "conc.", "keys", "requests", "wall s", "keys/s", "req/s",
        "× bare aiohttp (req/s)", "client CPU µs/req", "× bare aiohttp (CPU)",
        "server CPU s", "peak RSS MiB",
    ]  # fmt: skip
    notes = "".join(f"- {r['name']}: {r['note']}\n" for r in rows if r.get("note"))
    return f"### {title}\n\n" + _table(header, lines) + "\n" + notes + _error_lines(rows)


def section_b(rows: Rows, section: str = "b", title: str = "(b) With latency") -> str:
    rows = [r for r in rows if r["section"] == section]
    if not rows:
        return ""
    seq = next((r for r in rows if r["name"].startswith("sequential")), None)
    lines = [
        [
            r["name"],
            _num(r["concurrency"]),
            _num(r["keys"]),
            _num(r["requests"]),
            _num(r["wall_s"], 2),
            _num(r["extra"].get("ideal_s"), 2),
            _num(r["extra"].get("latency_efficiency"), 3),
            _num(seq["wall_s"] / r["wall_s"], 0) + "×" if seq and r["wall_s"] else "–",
            _num(r["req_per_s"]),
            _num(r["peak_rss_mib"], 0),
        ]
        for r in rows
    ]
    header = [
        "client", "conc.", "keys", "requests", "wall s", "ideal s (at conc. 300)",
        "efficiency", "faster than sequential", "req/s", "peak RSS MiB",
    ]  # fmt: skip
    notes = "".join(f"- {r['name']}: {r['note']}\n" for r in rows if r.get("note"))
    return f"### {title}\n\n" + _table(header, lines) + "\n" + notes + _error_lines(rows)


def section_c(rows: Rows) -> str:
    rows = [r for r in rows if r["section"] == "c"]
    if not rows:
        return ""
    lines = [
        [
            r["name"],
            _num(r["keys"]),
            _num(r["ok"]),
            _num(r["wall_s"], 1),
            _num(r["keys_per_s"]),
            _num(r["peak_rss_mib"], 1),
        ]
        for r in rows
    ]
    header = ["run", "results", "ok", "wall s", "keys/s", "peak RSS MiB"]
    return "### (c) Peak memory\n\n" + _table(header, lines) + _error_lines(rows)


def goals_table(goals: Sequence[dict[str, Any]]) -> str:
    lines = [
        [
            g["text"],
            _num(g["target"], 2),
            _num(g["value"], 2),
            {True: "met", False: "**missed**", None: "not measured"}[g["met"]],
        ]
        for g in goals
    ]
    return "### Goals\n\n" + _table(["goal", "target", "measured", "verdict"], lines)


def markdown(document: dict[str, Any]) -> str:
    """The whole report."""
    m = document["machine"]
    head = (
        f"## keyledger benchmarks, {document['generated']}\n\n"
        f"`{document['command'].strip()}` · {m['cpus']} CPUs · {m['platform']} · "
        f"Python {m['python']} · aiohttp {m['aiohttp']} · httpx {m['httpx']} · "
        f"git {m['git']} · `--no-record` passed: {document['no_record_flag']} · "
        f"`keyledger check` start-up {document['startup_s']:.2f}s · "
        f"`--help` {document.get('help_s', 0):.2f}s · "
        f"`--version` {document.get('version_s', 0):.2f}s · "
        f"load average at start {document.get('loadavg_at_start')} · "
        f"total {document['total_s']}s\n\n"
    )
    rows = document["rows"]
    parts = [
        head,
        section_a(rows, "s", "(s) Session keys (1 request each), no latency"),
        section_b(rows, "sl", "(sl) Session keys at latency"),
        section_a(rows),
        section_b(rows),
        section_c(rows),
    ]
    parts.append(goals_table(document["goals"]))
    return "\n".join(p for p in parts if p)
