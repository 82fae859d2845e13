"""Hostile money and header values: bounded parsing, never a crash, never a flood (issue 7)."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from keyledger.classify import parse_json
from keyledger.client import Client
from keyledger.keyset import build_keyset
from keyledger.models import Balance, CheckResult, Key, Kind, Status
from keyledger.money import (
    MAX_MAGNITUDE,
    MONEY_PLACES,
    MoneyError,
    OversizeNumber,
    fmt_money,
    parse_money,
    stored_money,
)
from keyledger.render.serialize import money_text
from keyledger.render.summary import summarise
from keyledger.render.table import totals_view
from keyledger.secret import Fingerprinter, Secret
from keyledger.simulator import SCENARIOS, Scenario, SimState, Simulator, make_key
from keyledger.simulator.responses import json_reply, openai_error, raw_reply
from keyledger.simulator.sim_openai import RATE_HEADERS, _costs_pages
from keyledger.sources import Entry

from .conftest import engine_for

FP = Fingerprinter(os.urandom(32))
SCHEMA = json.loads((Path(__file__).parent.parent / "schema/results-v2.schema.json").read_text())
LIMIT = Decimal(10) ** MAX_MAGNITUDE

# The values a hostile server sent in issue 7, as raw JSON literals.
HOSTILE = {
    "huge": "123456789012345678901234567890.123",
    "overflow": "1e9999999",
    "flood": "1e99999999",
    "slow": "1e999999999",
    "tiny": "1e-9999999",
    "digits": "9" * 5000,
    "string": '"1e9999999"',
    "negative_huge": "-1e16",
}


def grants_body(total_available: str) -> str:
    """A credit_grants body whose ``total_available`` is the raw JSON literal given."""
    return (
        '{"object":"credit_summary","total_granted":10,"total_used":1,'
        f'"total_available":{total_available},"grants":{{"object":"list","data":[]}}}}'
    )


def session_scenario(name: str, literal: str) -> Scenario:
    """A session key whose credit_grants answer carries ``literal`` as its total."""
    reply = raw_reply(grants_body(literal), content_type="application/json")
    return Scenario(
        name, Kind.SESSION, name, Status.UNKNOWN, "unexpected_body", {"credit_grants": reply}
    )


def relay_scenario(name: str, usage: str) -> Scenario:
    """A relay token with a $100 limit whose usage body says ``total_usage`` (raw JSON)."""
    return Scenario(
        name,
        Kind.SECRET,
        name,
        Status.OK,
        None,
        {
            "models": SCENARIOS["relay"].endpoints["models"],
            "chat": SCENARIOS["relay"].endpoints["chat"],
            "subscription": json_reply({"object": "billing_subscription", "hard_limit_usd": 100}),
            "usage": raw_reply(
                f'{{"object":"list","total_usage":{usage}}}', content_type="application/json"
            ),
        },
        relay=True,
    )


def headers_scenario(name: str, tokens: str) -> Scenario:
    """A healthy secret key whose probe answer carries an odd ``x-ratelimit-limit-tokens``."""
    headers = {**RATE_HEADERS, "x-ratelimit-limit-tokens": tokens}
    probe = openai_error(
        400,
        "Invalid 'max_tokens': integer below minimum value.",
        param="max_tokens",
        code="integer_below_min_value",
        headers=headers,
    )
    return Scenario(
        name,
        Kind.SECRET,
        name,
        Status.OK,
        None,
        {"models": SCENARIOS["ok"].endpoints["models"], "chat": probe},
    )


async def check(client: Client, sim: Simulator, entries: list[Entry]) -> dict[str, CheckResult]:
    """Check entries against the simulator; results by label."""
    keyset = build_keyset(entries, FP)
    assert keyset.errors == []
    return {r.key.label: r async for r in engine_for(client, sim.url).run(keyset.keys)}


# -- the parser ------------------------------------------------------------------------------


def assert_bounded(value: Decimal) -> None:
    """An accepted amount is finite, below 10^15 and has at most 12 decimal places."""
    assert value.is_finite() and abs(value) < LIMIT
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int) and exponent >= -MONEY_PLACES


number_texts = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"\A-?[0-9]{0,40}(\.[0-9]{0,40})?([eE][+-]?[0-9]{1,12})?\Z"),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**80), max_value=10**80).map(str),
)


@settings(max_examples=400)
@given(st.one_of(number_texts, st.integers(), st.floats(), st.decimals(), st.none(), st.booleans()))
def test_any_value_is_bounded_money_or_rejected(value: object) -> None:
    """Any string or number either parses into bounded money or is a MoneyError, never else."""
    try:
        parsed = parse_money(value)
    except MoneyError:
        return
    if parsed is not None:
        assert_bounded(parsed)
        assert fmt_money(parsed) and money_text(parsed) is not None


@pytest.mark.parametrize("literal", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_literals_are_rejected_from_json(literal: str) -> None:
    """The issue's values, decoded as JSON the way bodies are, are rejected as money."""
    data = parse_json(grants_body(literal).encode())
    with pytest.raises(MoneyError):
        parse_money(data["total_available"])


def test_a_5000_digit_json_integer_decodes_to_a_marker_not_an_error() -> None:
    """Python's int digit limit never makes a whole body undecodable."""
    data = parse_json(b'{"created": ' + b"7" * 5000 + b', "id": "x"}')
    assert isinstance(data["created"], OversizeNumber) and data["id"] == "x"


def test_over_precise_money_is_rounded_to_twelve_places() -> None:
    """Float noise such as 0.06753600000000001 is kept, rounded to 12 places."""
    assert parse_money(Decimal("0.06753600000000001")) == Decimal("0.067536")
    assert parse_money(Decimal("999999999999999.9999999999999")) is not None


def test_sums_of_many_maximal_values_render_and_serialise() -> None:
    """Totals of many accepted values at the bound never raise in the table or the JSON."""
    top = parse_money("999999999999999.999999999999")
    assert top is not None
    now = datetime.now(UTC)
    results = []
    for n in range(2000):
        value = f"sk-proj-MONEYBOUND{n:05d}Zq8Wm3Xr7Tb2Lk"
        key = Key(secret=Secret(value), fingerprint=FP(value), label=f"k{n}")
        balance = Balance("USD", "test", now, granted=top, used=top, available=top)
        results.append(
            CheckResult(key=key, status=Status.OK, reason=None, checked_at=now, balance=balance)
        )

    summary = summarise(results)
    totals = summary.as_dict()["totals"][0]
    Console(file=io.StringIO(), width=200).print(totals_view(summary))

    assert totals["available"] == "1999999999999999999.999999998000"
    assert money_text(top) == "999999999999999.999999999999"
    assert fmt_money(top) == "1.0000E+15"


def test_absurd_ledger_text_reads_as_unknown() -> None:
    """A 100 MB or exponent-bomb money cell from an old ledger is None, not a crash."""
    assert stored_money("1" + "0" * 1_000_000) is None
    assert stored_money("1E+99999999") is None
    assert stored_money("12.5") == Decimal("12.5")


# -- end to end over loopback HTTP --------------------------------------------------------


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_grant_totals_make_the_key_unknown_with_evidence(
    client: Client, sim: Simulator, name: str
) -> None:
    """A session key whose credit_grants total is out of bounds is unknown/unexpected_body."""
    sim.state.extra_scenarios[name] = session_scenario(name, HOSTILE[name])
    label = name.upper()  # a label repeating 8 characters of its key is refused as a secret
    entries = [Entry(make_key(name, 1, kind=Kind.SESSION), "t:1", label=label, base_url=sim.url)]

    result = (await check(client, sim, entries))[label]

    assert (result.status, result.reason) == (Status.UNKNOWN, "unexpected_body")
    assert result.balance is None
    evidence = result.evidence[-1]
    assert evidence.outcome == "unexpected_body" and evidence.http_status == 200
    assert evidence.message is not None and evidence.message.startswith("total_available:")


@pytest.mark.parametrize("usage", ["-500", "-1e9999999", "1e9999999"])
async def test_odd_relay_usage_never_raises_the_available_balance(
    client: Client, sim: Simulator, usage: str
) -> None:
    """A negative or absurd total_usage leaves used/available unknown, never above the limit."""
    sim.state.extra_scenarios["odd_usage"] = relay_scenario("odd_usage", usage)
    entries = [Entry(make_key("odd_usage", 1), "t:1", label="r", base_url=f"{sim.url}/v1")]

    result = (await check(client, sim, entries))["r"]

    assert result.balance is not None and result.balance.granted == Decimal(100)
    assert result.balance.used is None and result.balance.available is None
    assert result.balance_reason == "usage_unavailable"
    usage_evidence = [e for e in result.evidence if e.endpoint.endswith("/usage")]
    assert usage_evidence[-1].outcome == "unexpected_body"


@pytest.mark.parametrize(
    "tokens",
    ["9" * 5000, "-5", "lots", "²", "1" * 19],
    ids=["5000-digits", "negative", "word", "superscript", "19-digits"],
)
async def test_absurd_rate_limit_headers_are_ignored_and_the_key_stays_ok(
    client: Client, sim: Simulator, tokens: str
) -> None:
    """An x-ratelimit-limit-tokens over Python's int digit limit (or junk) is null, not a crash."""
    sim.state.extra_scenarios["odd_headers"] = headers_scenario("odd_headers", tokens)
    entries = [Entry(make_key("odd_headers", 1), "t:1", label="h", base_url=sim.url)]

    result = (await check(client, sim, entries))["h"]

    assert result.status is Status.OK, result.reason
    assert result.rate_limits is not None
    assert result.rate_limits.tokens_limit is None and result.rate_limits.requests_limit == 5000


def many_pages() -> Scenario:
    """An admin key whose organization has 45 cost pages (more than are ever read)."""
    pages = [[(f"proj_{n}", "1.25")] for n in range(45)]
    return Scenario(
        "many_pages", Kind.ADMIN, "many pages", Status.OK, None, {"costs": _costs_pages(pages)}
    )


async def test_truncated_admin_spend_is_marked(client: Client, sim: Simulator) -> None:
    """Stopping after 40 cost pages marks the spend as a lower bound."""
    sim.state.extra_scenarios["many_pages"] = many_pages()
    entries = [
        Entry(make_key("many_pages", 1, kind=Kind.ADMIN), "t:1", label="a", base_url=sim.url)
    ]

    result = (await check(client, sim, entries))["a"]

    assert result.status is Status.OK and result.balance_reason == "costs_truncated"
    assert result.spend is not None and result.spend.truncated
    assert result.spend.amount == Decimal("50.00")  # 40 pages of 1.25: a lower bound


# -- the command line: file written, results recorded, ledger cells small --------------------


@pytest.fixture
def hostile_sim() -> Iterator[Simulator]:
    """A simulator in a thread serving every hostile scenario of this module."""
    from keyledger.cli.demo import simulator_thread

    extra = {name: session_scenario(name, literal) for name, literal in HOSTILE.items()}
    extra["edge"] = session_scenario("edge", "999999999999999.999999999999")
    extra["many_pages"] = many_pages()
    with simulator_thread(SimState(extra_scenarios=extra)) as sim:
        yield sim


def hostile_key_file(tmp_path: Path, sim: Simulator) -> Path:
    """Every hostile session key, one accepted edge value and a truncating admin key."""
    lines = [
        f"{name.upper()} {make_key(name, n, kind=Kind.SESSION)} base_url={sim.url}"
        for n, name in enumerate([*HOSTILE, "edge"])
    ]
    lines.append(f"admin {make_key('many_pages', 99, kind=Kind.ADMIN)} base_url={sim.url}")
    path = tmp_path / "keys.txt"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def test_cli_json_table_and_history_survive_hostile_money(
    run_cli: Any, hostile_sim: Simulator, tmp_path: Path, isolated_env: Path
) -> None:
    """`check -f json -o` writes its file, records every result in small cells; table and
    history render; a truncated spend shows as a lower bound everywhere."""
    keys = hostile_key_file(tmp_path, hostile_sim)
    out = tmp_path / "out.json"

    proc = run_cli("check", str(keys), "-f", "json", "-o", str(out), timeout=120)

    assert proc.code == 4, proc.stderr  # unknown keys: indeterminate, not a crash
    document = json.loads(out.read_text())
    jsonschema.validate(document, SCHEMA)
    by_label = {r["label"]: r for r in document["results"]}
    for name in HOSTILE:
        assert (by_label[name.upper()]["status"], by_label[name.upper()]["reason"]) == (
            "unknown",
            "unexpected_body",
        )
    assert by_label["EDGE"]["balance"]["available"] == "999999999999999.999999999999"
    assert by_label["admin"]["spend"]["truncated"] is True
    assert document["summary"]["totals"][0]["spend_truncated"] is True

    with sqlite3.connect(isolated_env / "ledger.db") as conn:
        recorded = conn.execute("SELECT count(*) FROM results").fetchone()[0]
        widest = conn.execute(
            "SELECT max(max(length(coalesce(granted, ''))), max(length(coalesce(used, ''))),"
            " max(length(coalesce(available, ''))), max(length(coalesce(spend, ''))))"
            " FROM results"
        ).fetchone()[0]
    assert recorded == len(HOSTILE) + 2 and widest <= 40

    table = run_cli("check", str(keys), "--wide", timeout=120)  # second run, ledger insights
    assert table.code == 4 and "Traceback" not in table.stderr, table.stderr
    assert "spent ≥ 50.00 USD this month" in table.stdout and "partial" in table.stdout

    history = run_cli("history", "admin")
    assert history.code == 0, history.stderr
    assert "≥ 50.00 USD" in history.stdout
    exported = run_cli("history", "admin", "-f", "json")
    assert [r["spend"]["truncated"] for r in json.loads(exported.stdout)["rows"]] == [True, True]
    dump = run_cli("export")
    assert dump.code == 0, dump.stderr
    spends = [r["spend"] for r in json.loads(dump.stdout)["results"] if r["spend"]]
    assert [s["truncated"] for s in spends] == [True, True]
    pool = run_cli("pool", str(keys))
    assert pool.code == 0 and "Traceback" not in pool.stderr, pool.stderr
