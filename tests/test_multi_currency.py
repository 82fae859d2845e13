"""Money in several currencies, and a relay token without a cap, through every downstream reader.

A DeepSeek-like account holds CNY and USD (answered in either order); a relay token has no cap
of its own, so its wallet is unknown. JSON, table, CSV, the ledger, history, export, metrics,
alert snapshots and the dashboard data must keep each currency apart and never call the token
"unlimited".
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from rich.console import Console

from keyledger.alerts.rules import Rule, When
from keyledger.alerts.snapshot import snapshots_from_insights
from keyledger.ledger import Store, run_insights
from keyledger.ledger.analysis import burn_rates, runways
from keyledger.ledger.export import csv_row, row_dict
from keyledger.ledger.migrations import MIGRATIONS
from keyledger.metrics import LedgerCollector
from keyledger.models import (
    Balance,
    BalancePart,
    CheckResult,
    Key,
    Kind,
    Status,
    primary_balance,
)
from keyledger.render.summary import summarise
from keyledger.render.table import results_table, totals_view
from keyledger.render.writers import CsvWriter, JsonWriter
from keyledger.secret import Fingerprinter, Secret
from keyledger.web import data

SCHEMA = json.loads((Path(__file__).parent.parent / "schema/results-v2.schema.json").read_text())
FP = Fingerprinter(b"m" * 32)
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
D = Decimal


def _key(label: str, provider: str = "deepseek") -> Key:
    value = f"sk-MULTICURRENCY{label.encode().hex()}Zq8Wm3Xr7Tb2"
    return Key(Secret(value), FP(value), label, provider=provider, kind=Kind.SECRET)


def deepseek(cny: str, usd: str, *, at: datetime = T0, swap: bool = False) -> CheckResult:
    """A result with a CNY and a USD balance, the rows in either order."""
    rows = [
        Balance(
            "CNY", "/user/balance", at, available=D(cny), parts=(BalancePart("topped_up", D(cny)),)
        ),
        Balance("USD", "/user/balance", at, available=D(usd)),
    ]
    if swap:
        rows.reverse()
    balances = tuple(rows)
    return CheckResult(
        _key("ds"), Status.OK, None, at, balance=primary_balance(balances), balances=balances
    )


def relay(used: str = "12.5", *, at: datetime = T0) -> CheckResult:
    """A relay token with no cap: spend known, wallet unknown."""
    balance = Balance(
        "USD",
        "/v1/dashboard/billing/subscription + /v1/dashboard/billing/usage",
        at,
        used=D(used),
        token_uncapped=True,
        reading="legacy_billing",
    )
    key = Key(
        _key("relay").secret, _key("relay").fingerprint, "relay", base_url="http://127.0.0.1:9"
    )
    return CheckResult(
        key,
        Status.OK,
        None,
        at,
        balance=balance,
        balances=(balance,),
        balance_reason="token_unlimited",
        tier="default",
    )


def says_unlimited(text: str) -> bool:
    """Whether ``text`` calls money unlimited (the reason name ``token_unlimited`` aside)."""
    return "unlimited" in text.replace("token_unlimited", "").lower()


def json_document(results: list[CheckResult]) -> dict[str, Any]:
    stream = io.StringIO()
    writer = JsonWriter(stream)
    for result in results:
        writer.write(result)
    writer.close(True, summarise(results).as_dict())
    return json.loads(stream.getvalue())  # type: ignore[no-any-return]


@pytest.mark.parametrize("swap", [False, True])
def test_json_v2_keeps_every_currency_apart_whatever_the_order(swap: bool) -> None:
    """JSON v2 lists CNY and USD by currency, picks the funded CNY as primary, totals apart."""
    document = json_document([deepseek("81.69", "0.00", swap=swap), relay()])
    jsonschema.validate(document, SCHEMA)
    assert document["schema"] == "keyledger/results/v2"
    ds, token = document["results"]
    assert [(b["currency"], b["available"]) for b in ds["balances"]] == [
        ("CNY", "81.69"),
        ("USD", "0"),
    ]
    assert ds["balance"]["currency"] == "CNY"
    assert ds["balances"][0]["parts"] == [{"name": "topped_up", "amount": "81.69"}]
    assert token["balance"]["token_uncapped"] is True and token["balance"]["available"] is None
    assert token["balance"]["reading"] == "legacy_billing" and token["tier"] == "default"
    totals = {t["currency"]: t for t in document["summary"]["totals"]}
    assert totals["CNY"]["available"] == "81.69" and totals["CNY"]["accounts"] == 1
    assert totals["USD"]["available"] == "0"  # never 81.69 added in, never infinite
    assert (totals["USD"]["accounts"], totals["USD"]["unknown_accounts"]) == (2, 1)
    assert not says_unlimited(json.dumps(document))


def test_table_shows_each_currency_and_an_uncapped_token_as_unknown() -> None:
    """The table shows both currencies of a key and 'token uncapped (spent X)', never
    'unlimited'; totals are per currency and say how many are unknown."""
    results = [deepseek("81.69", "0.00", swap=True), relay()]
    console = Console(width=200, record=True, color_system=None)
    console.print(results_table(results, now=T0))
    console.print(totals_view(summarise(results)))
    text = console.export_text()
    assert "81.69 CNY" in text and "0.00 USD" in text
    assert "token uncapped (spent 12.50 USD)" in text
    assert not says_unlimited(text)
    usd_total = next(line for line in text.splitlines() if line.strip().startswith("USD"))
    assert "0.00" in usd_total and "2 (1 unknown)" in usd_total
    assert "81.69" not in usd_total


def test_csv_has_a_balances_column_and_token_uncapped() -> None:
    """CSV keeps the primary balance columns plus every balance in one cell."""
    stream = io.StringIO()
    writer = CsvWriter(stream)
    writer.write(deepseek("81.69", "0.00", swap=True))
    writer.write(relay())
    ds, token = csv.DictReader(io.StringIO(stream.getvalue()))
    assert (ds["currency"], ds["available"], ds["balances"]) == (
        "CNY",
        "81.69",
        "CNY 81.69; USD 0",
    )
    assert ds["token_uncapped"] == "false"
    assert token["token_uncapped"] == "true" and token["available"] == ""
    assert token["balances"] == "USD unknown (token uncapped)"


def record_two_days(path: Path) -> tuple[int, int]:
    """Two runs a day apart: CNY 100 -> 81.69 and USD 10 -> 4 (order swapped), plus a relay."""
    with Store.open(path) as store:
        first = store.begin_run(2, now=T0)
        store.record(first, [deepseek("100", "10", at=T0), relay("10", at=T0)])
        store.finish_run(first, "complete", now=T0)
        later = T0 + timedelta(days=1)
        second = store.begin_run(2, now=later)
        store.record(second, [deepseek("81.69", "4", at=later, swap=True), relay(at=later)])
        store.finish_run(second, "complete", now=later)
    return first, second


def test_ledger_history_and_export_keep_every_balance(tmp_path: Path) -> None:
    """Every balance goes to the balances table and comes back; burn and runway per currency."""
    path = tmp_path / "l.db"
    record_two_days(path)
    with Store.open(path) as store:
        latest = store.latest()
        series = store.series()
    ds = latest[_key("ds").fingerprint]
    assert ds.currency == "USD" and ds.available == D(4)  # primary: USD among several funded
    assert [(b.currency, b.available) for b in ds.balances] == [("CNY", D("81.69")), ("USD", D(4))]
    assert ds.balance_in("CNY") is not None and ds.balance_in("CNY").parts[0].name == "topped_up"  # type: ignore[union-attr]
    burns = burn_rates(series[ds.fingerprint])
    assert {c: b.per_day for c, b in burns.items()} == {"CNY": D("18.31"), "USD": D(6)}
    days = runways(ds, burns)
    assert days["USD"] == D(4) / D(6) and days["CNY"] == D("81.69") / D("18.31")
    token = latest[_key("relay").fingerprint]
    assert token.token_uncapped and token.tier == "default"
    assert runways(token, burn_rates(series[token.fingerprint])) == {}
    history = row_dict(ds)
    assert [b["currency"] for b in history["balances"]] == ["CNY", "USD"]
    assert history["balance"]["token_uncapped"] is False
    assert row_dict(token)["balance"]["token_uncapped"] is True
    assert "CNY 81.69; USD 4" in csv_row(ds)
    assert not says_unlimited(json.dumps(row_dict(token)))


def test_metrics_alerts_and_dashboard_see_each_currency(tmp_path: Path) -> None:
    """Prometheus, the alert snapshots and the dashboard data read every currency apart."""
    path = tmp_path / "l.db"
    _, second = record_two_days(path)
    now = T0 + timedelta(days=1, hours=1)

    registry = CollectorRegistry()
    registry.register(LedgerCollector(path, now=lambda: now))
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    available = {
        (s.labels["label"], s.labels["currency"]): s.value
        for s in families["keyledger_available"].samples
    }
    assert available == {("ds", "CNY"): 81.69, ("ds", "USD"): 4.0}  # no figure for the token
    runway = {
        (s.labels["label"], s.labels["currency"]) for s in families["keyledger_runway_days"].samples
    }
    assert runway == {("ds", "CNY"), ("ds", "USD")}

    with Store.open(path) as store:
        insights = run_insights(store, second, now=now, warn_days=7)
        snaps = {s.label: s for s in snapshots_from_insights(insights)}
        snap = data.snapshot(store, now)
        overview = data.overview(store, snap)
        keys = {k["label"]: k for k in data.keys(snap)}
    ds = snaps["ds"]
    assert {b.currency: b.available for b in ds.balances} == {"CNY": D("81.69"), "USD": D(4)}
    assert set(ds.runway_days) == {"CNY", "USD"}
    usd_low = Rule("low", When.AVAILABLE_BELOW, ("log",), amount=D(5), currency="USD")
    cny_low = Rule("low", When.AVAILABLE_BELOW, ("log",), amount=D(5), currency="CNY")
    assert usd_low.condition(ds) is True and cny_low.condition(ds) is False
    assert usd_low.condition(snaps["relay"]) is None  # unknown wallet: cannot tell

    totals = {t["currency"]: t for t in overview["totals"]}
    assert totals["CNY"]["available"] == "81.69" and totals["CNY"]["unknown"] == 0
    assert (totals["USD"]["available"], totals["USD"]["unknown"]) == ("4", 1)
    assert [b["currency"] for b in keys["ds"]["balances"]] == ["USD", "CNY"]  # primary first
    assert keys["ds"]["balances"][0]["runway_days"] == "0.7"
    assert keys["relay"]["balances"][0]["token_uncapped"] is True
    assert not says_unlimited(json.dumps([overview, list(keys.values())]))


def test_a_version_7_ledger_keeps_its_rows_readable_after_migration(tmp_path: Path) -> None:
    """m008 copies each old primary balance into the balances table; old rows read the same."""
    path = tmp_path / "v7.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:7]:
        step(conn)
    conn.execute("PRAGMA user_version = 7")
    conn.execute(
        "INSERT INTO runs VALUES (1, '2026-01-01T00:00:00.000000Z', "
        "'2026-01-01T00:00:05.000000Z', 'complete', 2, 2, 1, '0.9')"
    )
    for fp, _label in (("aaaa1111aaaa1111", "old"), ("bbbb2222bbbb2222", "oldrelay")):
        conn.execute(
            "INSERT INTO keys VALUES (?, 'sk-…wxyz', 'openai', 'secret', "
            "'2026-01-01T00:00:01.000000Z', '2026-01-01T00:00:01.000000Z')",
            (fp,),
        )
    conn.execute(
        "INSERT INTO results (run_id, fingerprint, label, checked_at, status, currency, "
        "available, unlimited) VALUES (1, 'aaaa1111aaaa1111', 'old', "
        "'2026-01-01T00:00:01.000000Z', 'ok', 'USD', '12.34', 0)"
    )
    conn.execute(
        "INSERT INTO results (run_id, fingerprint, label, checked_at, status, currency, "
        "used, unlimited) VALUES (1, 'bbbb2222bbbb2222', 'oldrelay', "
        "'2026-01-01T00:00:01.000000Z', 'ok', 'USD', '3', 1)"
    )
    conn.close()
    with Store.open(path) as store:
        assert store.version == len(MIGRATIONS) == 9
        copied = store.conn.execute("SELECT count(*) FROM balances").fetchone()[0]
        rows = {r.label: r for r in store.iter_results()}
    assert copied == 2
    old = rows["old"]
    assert [(b.currency, b.available) for b in old.balances] == [("USD", D("12.34"))]
    assert row_dict(old)["balances"][0]["available"] == "12.34"
    assert (
        rows["oldrelay"].balances[0].token_uncapped
        and rows["oldrelay"].balances[0].available is None
    )
