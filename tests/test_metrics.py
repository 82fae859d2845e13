"""`/metrics`: a real scrape over loopback, parsed back, matches the ledger exactly."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from keyledger.ledger import Store
from keyledger.ledger.analysis import burn_rate, runway_days
from keyledger.metrics import LedgerCollector, fp_labels, serve_metrics
from keyledger.metrics.serve import registry_for
from keyledger.simulator.demo import DEMO_ACCOUNTS
from keyledger.simulator.demo_history import ensure_demo_ledger
from keyledger.simulator.scenarios import make_key

NOW = datetime(2026, 5, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger of 21 clocked daily runs of the demo key set."""
    return ensure_demo_ledger(tmp_path_factory.mktemp("metrics") / "home", now=NOW)


@pytest.fixture
async def serving(demo_ledger: Path) -> AsyncIterator[Callable[..., Any]]:
    """Serve a collector over ``demo_ledger`` on a free loopback port; yields a scraper."""
    urls: list[str] = []
    stop = asyncio.Event()
    collector = LedgerCollector(demo_ledger, now=lambda: NOW)
    task = asyncio.create_task(
        serve_metrics(collector, "127.0.0.1", 0, until=stop.wait, started=urls.append)
    )
    while not urls:
        await asyncio.sleep(0.01)

    async def scrape(host: str | None = None) -> tuple[int, str]:
        headers = {"Host": host} if host else {}
        async with (
            aiohttp.ClientSession() as session,
            session.get(urls[0], headers=headers) as response,
        ):
            return response.status, await response.text()

    yield scrape
    stop.set()
    await task


def samples(text: str) -> dict[str, list[Sample]]:
    """Samples by name, parsed with prometheus-client's own parser."""
    out: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def by_label(found: list[Sample]) -> dict[str, Sample]:
    return {s.labels["label"]: s for s in found}


async def test_scrape_matches_the_ledger_exactly(
    serving: Callable[..., Any], demo_ledger: Path
) -> None:
    """Every gauge equals its ledger figure; counters count runs and HTTP attempts."""
    status, text = await serving()
    got = samples(text)
    with Store.open(demo_ledger, create=False) as store:
        latest = {r.label: r for r in store.latest().values()}
        series = store.series(since=NOW - timedelta(days=30))
        attempts = sum(r.attempts or 0 for rows in series.values() for r in rows)
        runs = len(store.runs())

    assert status == 200
    assert got["keyledger_ledger_up"][0].value == 1
    relay = latest["relay-metered"]
    sample = by_label(got["keyledger_available"])["relay-metered"]
    assert sample.value == float(relay.available or 0) == 44.66
    assert sample.labels == {
        "label": "relay-metered",
        "provider": "openai",
        "account": "",
        "fp": relay.fingerprint[:6],
        "currency": "USD",
    }
    assert by_label(got["keyledger_used"])["relay-metered"].value == 55.34
    burn = burn_rate(series[relay.fingerprint])
    assert burn is not None and burn.per_day == 1.5
    runway = runway_days(relay.available, burn)
    assert by_label(got["keyledger_runway_days"])["relay-metered"].value == float(runway or 0)
    assert by_label(got["keyledger_burn_rate_per_day"])["team-credits (session)"].value == 2.5
    admin = by_label(got["keyledger_spend_this_month"])["org-admin-billing"]
    assert admin.value == float(latest["org-admin-billing"].spend or 0)
    states = [s for s in got["keyledger_key_status"] if s.labels["label"] == "intern-laptop"]
    assert {s.labels["status"] for s in states if s.value == 1} == {"deactivated"}
    assert sum(s.value for s in states) == 1 and len(states) == 9
    checked = by_label(got["keyledger_last_checked_timestamp_seconds"])["relay-metered"]
    assert checked.value == relay.checked_at.timestamp()
    assert by_label(got["keyledger_check_duration_seconds"])["relay-metered"].value == (
        (relay.duration_ms or 0) / 1000
    )
    assert "relay-uncapped" not in by_label(got["keyledger_available"])  # no made-up figure
    assert {s.labels["status"]: s.value for s in got["keyledger_runs_total"]} == {
        "running": 0,
        "complete": runs,
        "interrupted": 0,
    }
    assert got["keyledger_requests_total"][0].value == attempts
    assert got["keyledger_retries_total"][0].value > 0  # the rate-limited and 502 keys retry
    assert "keyledger_alerts_sent_total" not in got  # no alert outbox in this ledger


async def test_metrics_never_show_a_key_or_a_full_fingerprint(
    serving: Callable[..., Any], demo_ledger: Path
) -> None:
    """No key, key body, masked key or whole fingerprint appears anywhere in a scrape."""
    _, text = await serving()
    with Store.open(demo_ledger, create=False) as store:
        rows = list(store.latest().values())

    assert "KLSIM__" not in text
    for n, (_, scenario, _) in enumerate(DEMO_ACCOUNTS):
        key = make_key(scenario, n)
        assert key not in text and key[-12:] not in text
    for row in rows:
        assert row.fingerprint not in text and row.masked not in text


async def test_only_loopback_hosts_may_read(serving: Callable[..., Any]) -> None:
    """A request naming another host (DNS rebinding) is refused."""
    assert (await serving("evil.example:9464"))[0] == 403
    assert (await serving("localhost:9464"))[0] == 200


def test_alerts_are_counted_from_the_outbox_when_it_exists(tmp_path: Path) -> None:
    """Delivered alerts per channel come from the ledger's alert outbox, undelivered ones
    do not count."""
    path = ensure_demo_ledger(tmp_path / "home", now=NOW)
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO alert_outbox (event_id, channel, event_json, created_at, next_attempt_at,"
        " delivered_at) VALUES (?, ?, '{}', '2026-05-01', '2026-05-01', ?)",
        [("a", "ops", "2026-05-01"), ("b", "ops", "2026-05-02"), ("c", "mail", None)],
    )
    conn.commit()
    conn.close()

    got = samples(_render(LedgerCollector(path, now=lambda: NOW)))

    assert {s.labels["channel"]: s.value for s in got["keyledger_alerts_sent_total"]} == {"ops": 2}


def test_missing_ledger_is_reported_and_not_created(tmp_path: Path) -> None:
    """Without a ledger a scrape says keyledger_ledger_up 0 and creates nothing."""
    path = tmp_path / "none" / "ledger.db"

    got = samples(_render(LedgerCollector(path)))

    assert got["keyledger_ledger_up"][0].value == 0 and not path.exists()


def test_fingerprint_prefixes_lengthen_only_to_stay_apart() -> None:
    """Six characters normally; more (at most ten) only where two keys share a prefix."""
    prefixes = fp_labels(["abcdef0123456789", "abcdef0199999999", "0123456789abcdef"])

    assert prefixes == {
        "abcdef0123456789": "abcdef012",
        "abcdef0199999999": "abcdef019",
        "0123456789abcdef": "012345",
    }


def test_cli_refuses_a_public_address_without_allow_remote(run_cli: Any) -> None:
    """`keyledger metrics` binds loopback unless told otherwise."""
    proc = run_cli("metrics", "--listen", "0.0.0.0:0")

    assert proc.code == 2 and "loopback" in proc.stderr


def _render(collector: LedgerCollector) -> str:
    return generate_latest(registry_for(collector)).decode()
