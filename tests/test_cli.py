"""The command line end to end: real subprocesses against the simulator on loopback."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keyledger.simulator import SCENARIOS, Simulator, make_key
from keyledger.simulator.scenarios import provider_base_urls, relay_base_url

SCHEMA = json.loads((Path(__file__).parent.parent / "schema/results-v2.schema.json").read_text())
ESC = "\x1b"


def key_file(tmp_path: Path, sim: Simulator, scenarios: list[str], name: str = "keys.txt") -> Path:
    """A text key file with one labelled simulator key per scenario, all routed to ``sim``.

    The label is the scenario name in capitals: a label repeating 8 characters of its own key
    (the simulator key holds the lower-case name) is refused as a secret.
    """
    lines = [f"{s.upper()} {make_key(s, n)} {_pin(s, sim)}" for n, s in enumerate(scenarios)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def _pin(scenario: str, sim: Simulator) -> str:
    """OpenAI scenarios go to the simulator as a relay; other vendors' are pinned to theirs."""
    provider = SCENARIOS[scenario].provider if scenario in SCENARIOS else "openai"
    if provider == "openai" and SCENARIOS[scenario].relay:
        return f"base_url={relay_base_url(sim.url, scenario)}"
    if provider == "openai":
        return f"base_url={sim.url}/v1"
    return f"provider={provider} base_url={provider_base_urls(sim.url)[provider]}"


def all_keys(scenarios: list[str]) -> list[str]:
    """The full keys ``key_file`` writes."""
    return [make_key(s, n) for n, s in enumerate(scenarios)]


def assert_no_key(text: str, keys: list[str]) -> None:
    """No full key, and no 8-character window of a key's body, appears in ``text``."""
    for key in keys:
        assert key not in text
        body = key.rsplit("__", 1)[-1]  # the part after the scenario marker is the secret
        for i in range(len(body) - 7):
            assert body[i : i + 8] not in text, body[i : i + 8]


def test_demo_runs_and_covers_every_status(run_cli: Any) -> None:
    """`keyledger demo` checks the built-in key set and shows every status, no key in full."""
    proc = run_cli("demo")

    assert proc.code == 0, proc.stderr
    for status in (
        "ok",
        "no_quota",
        "billing_inactive",
        "deactivated",
        "invalid",
        "restricted",
        "rate_limited",
        "unreachable",
        "unknown",
    ):
        assert re.search(rf"│ {status}\s", proc.stdout), status
    assert "KLSIM__" not in proc.stdout + proc.stderr
    assert ESC not in proc.stdout  # not a terminal: no colour


def test_json_output_follows_the_schema(run_cli: Any, live_sim: Simulator, tmp_path: Path) -> None:
    """`--format json` is valid against schema/results-v2.schema.json, with every scenario."""
    scenarios = list(SCENARIOS)
    proc = run_cli("check", str(key_file(tmp_path, live_sim, scenarios)), "--format", "json")

    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["complete"] is True
    assert len(document["results"]) == len(scenarios)
    by_label = {r["label"].lower(): r for r in document["results"]}
    got = {n: (by_label[n]["status"], by_label[n]["reason"]) for n in scenarios}
    expected = {n: (SCENARIOS[n].expect.value, SCENARIOS[n].expect_reason) for n in scenarios}
    assert got == expected
    assert by_label["relay"]["balance"]["available"] == "74.66"
    assert by_label["relay"]["base_url"] == live_sim.url
    uncapped = by_label["relay_unlimited"]  # a token without a cap: its wallet is unknown
    assert uncapped["balance"]["token_uncapped"] is True
    assert uncapped["balance"]["available"] is None and uncapped["balances"] == [
        uncapped["balance"]
    ]
    usd = next(t for t in document["summary"]["totals"] if t["currency"] == "USD")
    assert usd["unknown_accounts"] >= 1 and "unlimited_accounts" not in usd
    assert proc.code == 5  # some not ok and some unknown
    assert_no_key(proc.stdout + proc.stderr, all_keys(scenarios))


def test_jsonl_lines_each_follow_the_result_schema(
    run_cli: Any, live_sim: Simulator, tmp_path: Path
) -> None:
    """`--format jsonl` writes one self-describing result per line."""
    proc = run_cli("check", str(key_file(tmp_path, live_sim, ["ok", "grants"])), "-f", "jsonl")

    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    result_schema = {"$defs": SCHEMA["$defs"], **SCHEMA["$defs"]["result"]}
    for line in lines:
        row = json.loads(line)
        assert row["schema"] == "keyledger/result/v2"
        jsonschema.validate(row, result_schema)
    assert proc.code == 0


def test_csv_output_neutralises_formulas(run_cli: Any, live_sim: Simulator, tmp_path: Path) -> None:
    """CSV text cells that a spreadsheet would evaluate get a leading quote; numbers do not."""
    path = tmp_path / "keys.csv"
    path.write_text(
        "label,key,provider,base_url\n"
        f'"=HYPERLINK(""http://evil"")",{make_key("relay", 1)},openai,{live_sim.url}/v1\n'
        f"@SUM(A1),{make_key('ok', 2)},,{live_sim.url}\n"
    )
    proc = run_cli("check", str(path), "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    labels = sorted(r["label"] for r in rows)
    assert labels == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)"]
    relay = next(r for r in rows if "HYPERLINK" in r["label"])
    assert relay["available"] == "74.66" and relay["currency"] == "USD"
    assert proc.code == 0


@pytest.mark.parametrize(
    ("scenarios", "code"),
    [
        (["ok", "grants"], 0),
        (["ok", "invalid"], 3),
        (["ok", "region"], 4),
        (["ok", "rate_limited"], 4),
        (["invalid", "region"], 5),
    ],
)
def test_exit_codes(
    run_cli: Any, live_sim: Simulator, tmp_path: Path, scenarios: list[str], code: int
) -> None:
    """0 all ok, 3 some not ok, 4 some undecided, 5 both."""
    proc = run_cli("check", str(key_file(tmp_path, live_sim, scenarios)), "-f", "jsonl")

    assert proc.code == code, proc.stderr


def test_no_keys_found_is_a_usage_error(run_cli: Any, tmp_path: Path) -> None:
    """An empty or comment-only file exits 2 with "no keys found"."""
    path = tmp_path / "empty.txt"
    path.write_text("# nothing here\n\n")

    proc = run_cli("check", str(path))

    assert proc.code == 2
    assert "no keys found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_file_and_bad_options_exit_2(run_cli: Any, tmp_path: Path) -> None:
    """A missing file or a bad option value is a usage error, exit 2, no traceback."""
    missing = run_cli("check", str(tmp_path / "nope.txt"))
    bad = run_cli("check", "--concurrency", "0", str(tmp_path / "nope.txt"))

    assert (missing.code, bad.code) == (2, 2)
    assert "nope.txt: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr + bad.stderr


def test_stdin_and_environment_sources(run_cli: Any, live_sim: Simulator) -> None:
    """Keys come from `-` (stdin), or from OPENAI_API_KEY when no file is given."""
    key = make_key("ok", 7)
    piped = run_cli("check", "-", "--base-url", live_sim.url, "-f", "jsonl", stdin=f"piped {key}\n")
    env = run_cli(
        "check",
        "-f",
        "jsonl",
        env={"OPENAI_API_KEY": make_key("grants", 8), "OPENAI_BASE_URL": live_sim.url + "/v1"},
    )

    assert json.loads(piped.stdout)["label"] == "piped"
    from_env = json.loads(env.stdout)
    assert (from_env["label"], from_env["kind"], from_env["status"]) == (
        "OPENAI_API_KEY",
        "session",
        "ok",
    )
    assert_no_key(piped.stdout + piped.stderr + env.stdout + env.stderr, [key])


def test_empty_environment_variable_counts_as_unset(run_cli: Any) -> None:
    """OPENAI_API_KEY set to an empty string is treated as no key at all."""
    proc = run_cli("check", env={"OPENAI_API_KEY": ""})

    assert proc.code == 2 and "no keys found" in proc.stderr


def test_output_file_is_written_whole(run_cli: Any, live_sim: Simulator, tmp_path: Path) -> None:
    """`--output FILE` writes the document to FILE (not stdout), complete and private."""
    target = tmp_path / "report.json"
    proc = run_cli(
        "check", str(key_file(tmp_path, live_sim, ["ok"])), "-f", "json", "-o", str(target)
    )

    assert proc.stdout == ""
    document = json.loads(target.read_text())
    assert document["complete"] is True and len(document["results"]) == 1
    assert target.stat().st_mode & 0o077 == 0
    assert not list(tmp_path.glob(".report.json.*"))


def test_duplicates_are_checked_once_and_keep_every_label(
    run_cli: Any, live_sim: Simulator, tmp_path: Path
) -> None:
    """The same key under three labels is one request set and one result with aliases."""
    key = make_key("ok", 3)
    path = tmp_path / "dupes.txt"
    path.write_text(f"a {key}\nb {key}\r\nc {key}\n")

    proc = run_cli("check", str(path), "--base-url", live_sim.url, "-f", "jsonl")

    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["aliases"] == ["b", "c"]
    assert live_sim.state.count(endpoint="/v1/models") == 1
    assert "duplicate" in proc.stderr


def test_table_is_sanitised_and_masked(run_cli: Any, live_sim: Simulator, tmp_path: Path) -> None:
    """Labels with escape sequences and markup reach the table inert; keys are masked."""
    key = make_key("ok", 4)
    path = tmp_path / "k.txt"
    path.write_text(f'"\x1b]8;;http://evil\x07x\x1b[2J[bold]" {key}\n')

    proc = run_cli("check", str(path), "--base-url", live_sim.url)

    assert ESC not in proc.stdout
    assert "[bold]" in proc.stdout
    assert f"sk-proj-…{key[-4:]}" in proc.stdout
    assert_no_key(proc.stdout + proc.stderr, [key])


def test_table_never_calls_an_uncapped_relay_token_unlimited(
    run_cli: Any, live_sim: Simulator, tmp_path: Path
) -> None:
    """A relay token without a cap shows 'token uncapped' ('(spent X)' too with --wide) and
    counts as unknown."""
    keys = str(key_file(tmp_path, live_sim, ["relay_unlimited"]))
    fitted = run_cli("check", keys, "--no-record")
    proc = run_cli("check", keys, "--wide", "--no-record")

    assert "token uncapped" in fitted.stdout
    assert "token uncapped (spent" in proc.stdout
    for out in (fitted.stdout, proc.stdout):
        assert "(1 unknown)" in out
        assert "unlimited" not in out.lower().replace("relay_unlimited", "")


def test_every_command_has_help(run_cli: Any) -> None:
    """Every command explains itself in --help."""
    from keyledger.cli import cli

    for name, command in cli.commands.items():
        assert command.help, name
        proc = run_cli(name, "--help")
        assert proc.code == 0 and "Usage:" in proc.stdout


def test_module_and_console_script_agree(run_cli: Any) -> None:
    """`python -m keyledger --version` reports the package version."""
    from keyledger import __version__

    proc = run_cli("--version")

    assert __version__ in proc.stdout


def test_output_file_format_follows_its_name_or_is_refused(
    run_cli: Any, live_sim: Simulator, tmp_path: Path
) -> None:
    """`-o report.csv` writes CSV; `-o report.txt` without --format is a usage error, not a lie."""
    keys = key_file(tmp_path, live_sim, ["ok"])
    as_csv = run_cli("check", str(keys), "-o", str(tmp_path / "report.csv"))
    as_txt = run_cli("check", str(keys), "-o", str(tmp_path / "report.txt"))

    assert as_csv.code == 0
    assert (tmp_path / "report.csv").read_text().startswith("label,provider,kind,key,")
    assert as_txt.code == 2 and "--output needs --format" in as_txt.stderr
    assert not (tmp_path / "report.txt").exists()


def test_relay_tokens_sharing_an_org_header_are_separate_accounts(
    run_cli: Any, live_sim: Simulator, tmp_path: Path
) -> None:
    """Relay balances are per token: an upstream org header passed through never merges them."""
    path = tmp_path / "relays.txt"
    path.write_text(
        "".join(
            f"r{n} {make_key('relay', n, account='shared')} base_url={live_sim.url}/v1\n"
            for n in range(3)
        )
    )
    proc = run_cli("check", str(path), "-f", "json")

    summary = json.loads(proc.stdout)["summary"]
    assert summary["accounts"] == 3
    assert summary["totals"][0]["available"] == "223.98"  # 3 × 74.66


@pytest.mark.parametrize("command", ["history", "plot"])
def test_a_key_given_as_a_selector_is_refused_unechoed(run_cli: Any, command: str) -> None:
    """Keys never come from argv (S9): a key-shaped selector is a usage error, never echoed."""
    key = make_key("ok", 11)

    proc = run_cli(command, key)

    assert proc.code == 2 and "looks like a key" in proc.stderr
    assert_no_key(proc.stdout + proc.stderr, [key])


def test_demo_json_follows_the_v2_schema_with_every_provider_and_currency(run_cli: Any) -> None:
    """`keyledger demo -f json` is valid v2 JSON: a key of every provider, totals in several
    currencies, and balances listed per currency."""
    from keyledger.providers import default_registry

    proc = run_cli("demo", "-f", "json")

    assert proc.code == 0, proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    assert {r["provider"] for r in document["results"]} == set(default_registry().names())
    currencies = {t["currency"] for t in document["summary"]["totals"]}
    assert {"USD", "CNY"} <= currencies
    multi = [r for r in document["results"] if len(r["balances"]) > 1]
    assert multi and all(r["balance"] in r["balances"] for r in multi)
