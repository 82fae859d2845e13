"""S1–S7: keys run through every fault never show up in any output, log, file or traceback."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
import random
import string
import sys
import traceback
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from rich.console import Console
from rich.traceback import Traceback

from keyledger.client import Client, make_session
from keyledger.engine import Engine, RunOptions
from keyledger.ledger import Store
from keyledger.logs import setup_logging
from keyledger.metrics import LedgerCollector
from keyledger.metrics.serve import registry_for
from keyledger.models import CheckResult, Key, Kind
from keyledger.providers import CheckOptions
from keyledger.providers import base as provider_base
from keyledger.providers.openai_session import check_session
from keyledger.render.table import results_table
from keyledger.render.writers import Format
from keyledger.secret import Secret, public_prefix
from keyledger.simulator import Simulator, closed_port
from keyledger.simulator.faults import FAULT_SPECS
from keyledger.transport import HttpOptions, Request, auth_headers

OPTS = HttpOptions(attempt_deadline=0.5, connect_timeout=0.5, backoff_base=0.01, backoff_cap=0.02)
SLOW = {"f7_retry_after", "f7_retry_after_date", "f7_retry_after_ms", "f14_trickle_body"}


def _values() -> list[str]:
    rng = random.Random(1234)
    alphabet = string.ascii_letters + string.digits
    values = []
    for spec in FAULT_SPECS:
        if spec.responder is None or spec.name in SLOW:
            continue
        for prefix in ("sess-", "sk-proj-"):
            body = "".join(rng.choice(alphabet) for _ in range(40))
            values.append(f"{prefix}KLSIM__{spec.name}__{body}")
    return values


def _key(value: str, base_url: str | None = None) -> Key:
    fp = hashlib.sha256(value.encode()).hexdigest()[:16]
    kind = Kind.SESSION if value.startswith("sess-") else Kind.SECRET
    return Key(Secret(value), fp, f"k{fp[:6]}", kind=kind, base_url=base_url)


def _windows(values: list[str]) -> set[str]:
    out: set[str] = set()
    for value in values:
        # The KLSIM__<fault>__ marker is the simulator's public routing label (fault names
        # such as "insufficient_quota" are legitimate output); the random tail is the secret.
        body = value[len(public_prefix(value)) :].rsplit("__", 1)[-1]
        out.update(body[i : i + 8] for i in range(len(body) - 7))
    return out


def assert_clean(blob: str, values: list[str], where: str) -> None:
    """No full key, and no 8-character window of a key's secret body, is in ``blob``."""
    for value in values:
        assert value not in blob, f"full key in {where}"
    grams = {blob[i : i + 8] for i in range(len(blob) - 7)}
    leaked = grams & _windows(values)
    assert not leaked, f"key fragment(s) {sorted(leaked)[:3]} in {where}"


async def _engine_results(sim: Simulator, keys: list[Key]) -> list[CheckResult]:
    async with make_session(OPTS, 100) as session:
        engine = Engine(
            Client(session, OPTS), CheckOptions(base_urls={"openai": sim.url}), RunOptions(100)
        )
        return [r async for r in engine.run(keys)]


def _render(results: list[CheckResult]) -> str:
    parts = []
    for fmt in (Format.JSON, Format.JSONL, Format.CSV):
        stream = io.StringIO()
        writer = fmt.writer(stream)
        assert writer is not None
        for result in results:
            writer.write(result)
        writer.close(True, {})
        parts.append(stream.getvalue())
    console_out = io.StringIO()
    Console(file=console_out, width=250, force_terminal=True).print(
        results_table(results, now=dt.datetime.now(dt.UTC), warn_days=7)
    )
    parts.append(console_out.getvalue())
    parts.extend(repr(r) for r in results)
    return "\n".join(parts)


async def test_s1_in_process_outputs_and_logs_are_clean(sim: Simulator) -> None:
    """S1/S5: results, json/jsonl/csv, the table, reprs and DEBUG logs carry no key."""
    values = _values()
    keys = [_key(v) for v in values]
    keys.append(
        _key(values[0].replace("sess-", "sess-refused"), f"http://127.0.0.1:{closed_port()}")
    )
    keys.append(_key(values[1].replace("sk-proj-", "sk-proj-dns"), "https://keyledger-s1.invalid"))
    values += [k.secret.reveal() for k in keys[-2:]]
    log_stream = io.StringIO()
    redactor = setup_logging(log_stream, logging.DEBUG)
    redactor.register(values)
    try:
        results = await _engine_results(sim, keys)
        logging.getLogger("keyledger.test").warning("checked %s", values[0])
    finally:
        logging.getLogger().handlers.clear()
    assert len(results) == len(keys)
    assert_clean(_render(results), values, "rendered results")
    assert_clean(log_stream.getvalue(), values, "logs")


async def test_s4_tracebacks_with_locals_are_clean(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S4/S6: a provider exception with an echoed key in scope renders with locals and no key."""
    value = "sess-KLSIM__f20_echo_key__" + "Zq9" * 12
    key = _key(value)

    def explode(self: object, status: object, reason: object) -> CheckResult:
        raise RuntimeError("provider bug")

    monkeypatch.setattr(provider_base.ResultBuilder, "finish", explode)
    async with make_session(OPTS, 4) as session:
        client = Client(session, OPTS)
        request = Request("GET", sim.url + "/v1/models", key.secret)
        headers = auth_headers(request)
        assert headers["Authorization"].endswith(value)
        try:
            await check_session(client, key, CheckOptions(base_urls={"openai": sim.url}))
        except RuntimeError as exc:
            error = exc
        else:  # pragma: no cover
            pytest.fail("the patched provider did not raise")
    # Drop this test's own frame (it holds the raw value on purpose); keep keyledger's.
    assert error.__traceback__ is not None
    error = error.with_traceback(error.__traceback__.tb_next)
    plain = "".join(
        traceback.TracebackException.from_exception(error, capture_locals=True).format()
    )
    out = io.StringIO()
    Console(file=out, width=200).print(
        Traceback.from_exception(type(error), error, error.__traceback__, show_locals=True)
    )
    assert "exchange" in plain, "the frame holding the echoed answer was rendered"
    assert_clean(plain, [value], "traceback with locals")
    assert_clean(out.getvalue(), [value], "rich traceback with locals")
    assert_clean(repr(headers) + str(headers), [value], "request headers repr")


async def test_s1_cli_outputs_are_clean(sim: Simulator, tmp_path: Path) -> None:
    """S1: the CLI's stdout, stderr and json/csv files carry no key, through every fault."""
    values = _values()
    keyfile = tmp_path / "keys.txt"
    keyfile.write_text("".join(v + "\n" for v in values))
    keyfile.chmod(0o600)
    blobs: list[str] = []
    for extra in (["-f", "json", "-o", str(tmp_path / "o.json")], ["-f", "csv"], []):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "keyledger",
            "check",
            str(keyfile),
            "--base-url",
            sim.url,
            "--timeout",
            "0.5",
            "--connect-timeout",
            "0.5",
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode in (3, 4, 5), err.decode()[-2000:]
        blobs += [out.decode(), err.decode()]
    blobs.append((tmp_path / "o.json").read_text())
    assert '"results"' in blobs[-1]
    for n, blob in enumerate(blobs):
        assert_clean(blob, values, f"cli blob {n}")


async def test_s1_metrics_output_is_clean(sim: Simulator, tmp_path: Path) -> None:
    """S1: a metrics scrape of a ledger holding every fault's result has no key, no key
    fragment and no whole fingerprint."""
    values = _values()
    keys = [_key(v) for v in values]
    results = await _engine_results(sim, keys)
    path = tmp_path / "ledger.db"
    with Store.open(path) as store:
        store.record(store.begin_run(len(keys)), results)

    text = generate_latest(registry_for(LedgerCollector(path))).decode()

    assert "keyledger_key_status" in text
    assert_clean(text, values, "metrics")
    for key in keys:
        assert key.fingerprint not in text and key.masked not in text
