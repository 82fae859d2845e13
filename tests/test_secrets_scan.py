"""S1–S7: keys run through every fault never show up in any output, log, file or traceback."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import logging
import random
import string
import sys
import traceback
from pathlib import Path
from typing import Any

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


def _random_body(rng: random.Random, n: int = 40) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _field_key_files(tmp_path: Path, url: str) -> tuple[list[Path], list[str], list[str]]:
    """Key files in every format with keys (or pieces of keys) in every non-key field.

    Returns the files, the secrets that must never appear, and the labels of the good lines.
    """
    from keyledger.simulator import make_key

    rng = random.Random(77)
    stray = {
        "csv_provider": "sk-proj-" + _random_body(rng),
        "text_provider": "sk-proj-" + _random_body(rng),
        "toml_provider": "AIza" + _random_body(rng, 35),
        "csv_base_url": "xai-" + _random_body(rng),
        "text_label": "gsk_" + _random_body(rng),
    }
    own = {name: make_key("ok", n) + _random_body(rng, 12) for n, name in enumerate("abcdefgh")}

    def body(name: str) -> str:
        return own[name].rsplit("__", 1)[-1]

    csv_file = tmp_path / "keys.csv"
    csv_file.write_text(
        "label,key,provider,base_url\n"
        f"team,{own['a']},{stray['csv_provider']},{url}\n"  # item 1: a key as provider
        f"{body('b')[6:18]},{own['b']},,{url}\n"  # item 3: a piece of the key as label
        f"csv-host,{own['c']},,https://{stray['csv_base_url']}.example/v1\n"
        f"csv-good,{make_key('ok', 20)},,{url}\n"
    )
    toml_file = tmp_path / "keys.toml"
    toml_file.write_text(
        f'[accounts.{body("d")[2:14]}]\nkey = "{own["d"]}"\nbase_url = "{url}"\n\n'
        f'[accounts.named]\nkey = "{own["e"]}"\nprovider = "{stray["toml_provider"]}"\n\n'
        f'[accounts.{body("f")[3:15]}]\nlabel = "fine"\nkey = "{own["f"]}"\n'
        f'base_url = "{url}"\n\n'
        f'[accounts.toml-good]\nkey = "{make_key("ok", 21)}"\nbase_url = "{url}"\n'
    )
    text_file = tmp_path / "keys.txt"
    text_file.write_text(
        f"team2 {own['g']} provider={stray['text_provider']}\n"
        f"{stray['text_label']} {own['h']} base_url={url}\n"
        f"text-good {make_key('ok', 22)} base_url={url}\n"
    )
    files = [csv_file, toml_file, text_file]
    for path in files:
        path.chmod(0o600)
    return files, [*stray.values(), *own.values()], ["csv-good", "toml-good", "text-good"]


def test_s8_keys_in_key_file_fields_reach_no_output_or_ledger(
    run_cli: Any, live_sim: Simulator, tmp_path: Path, isolated_env: Path
) -> None:
    """S8: a key (or a piece of one) as provider, label, base_url or TOML table name is refused
    with file:line and reaches no json/jsonl/csv/table output, history, export or ledger byte."""
    files, secrets, good = _field_key_files(tmp_path, f"{live_sim.url}/v1")
    paths = [str(p) for p in files]
    runs = [
        run_cli("check", *paths, "-f", "json"),
        run_cli("check", *paths, "-f", "jsonl"),
        run_cli("check", *paths, "-f", "csv"),
        run_cli("check", *paths),
        run_cli("history", "-f", "json"),
        run_cli("history", "-f", "csv"),
        run_cli("history"),
        run_cli("export", "-f", "json"),
        run_cli("export", "-f", "csv"),
    ]
    for proc in runs:
        assert "Traceback" not in proc.stderr
    checked = json.loads(runs[0].stdout)["results"]
    assert sorted(r["label"] for r in checked) == sorted(good)
    errors = runs[0].stderr
    assert f"{files[0]}:2: error: provider looks like a secret" in errors
    assert f"{files[0]}:3: error: label looks like a secret" in errors
    assert f"{files[0]}:4: error: base_url looks like a secret" in errors
    assert f"{files[1]}:1: error: account name looks like a secret" in errors
    assert f"{files[1]}:5: error: provider looks like a secret" in errors
    assert f"{files[1]}:9: error: account name looks like a secret" in errors
    assert f"{files[2]}:1: error: provider looks like a secret" in errors
    assert f"{files[2]}:2: error: label looks like a secret" in errors
    texts = [p.stdout + p.stderr for p in runs]
    blobs = [p.read_bytes().decode("latin-1") for p in isolated_env.rglob("*") if p.is_file()]
    assert any(b.startswith("SQLite format 3") for b in blobs)
    for n, blob in enumerate(texts + blobs):
        assert_clean(blob, secrets, f"output {n}")


OPTION_KEY = "sk-proj-" + _random_body(random.Random(5), 48)
BARE_KEY = OPTION_KEY.removeprefix("sk-proj-")


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["check", "-f", OPTION_KEY, "k.txt"], {}),
        (["check", "--deadline", OPTION_KEY, "k.txt"], {}),
        (["check", "k.txt"], {"KEYLEDGER_CONCURRENCY": OPTION_KEY}),
        (["check", "k.txt"], {"KEYLEDGER_FORMAT": OPTION_KEY}),
        (["check", "k.txt"], {"KEYLEDGER_TIMEOUT": BARE_KEY}),
        (["check", "k.txt"], {"KEYLEDGER_DEADLINE": OPTION_KEY}),
        (["check", "--no-record", "--base-url", f"http://{OPTION_KEY}/v1", "k.txt"], {}),
        (["history", BARE_KEY], {}),
        (["backup", f"MISSING/{OPTION_KEY}.db"], {}),
        (["history", "-f", "json", "-o", f"MISSING/{BARE_KEY}.json"], {}),
        (["check", "--no-record", f"MISSING/{BARE_KEY}.txt"], {}),
        (["check", f"--{BARE_KEY}", "k.txt"], {}),
    ],
)
def test_s9_option_and_variable_errors_never_echo_a_key(
    run_cli: Any, tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    """S9: errors quoting an option, argument or KEYLEDGER_* value cut out anything key-like."""
    keyfile = tmp_path / "k.txt"
    keyfile.write_text("ok sk-proj-KLSIM__ok__000001x7Rq2LmZ9vK3pT8wY4nB\n")
    keyfile.chmod(0o600)
    if args[0] in ("backup", "history"):  # a ledger, so the error is about the argument
        run_cli("check", str(keyfile), "--base-url", "http://127.0.0.1:9", timeout=30)
    missing = tmp_path / "missing"  # a folder that is never made: the paths in it fail
    args = [str(keyfile) if a == "k.txt" else a.replace("MISSING/", f"{missing}/") for a in args]
    proc = run_cli(*args, env=env)
    assert proc.code != 0
    assert proc.stderr.strip()
    assert_clean(proc.stdout + proc.stderr, [OPTION_KEY], "error message")


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
