"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never downloaded).

Skipped only when /usr/bin/chromium (or playwright) is missing outside CI; with ``CI=true``
a missing browser fails instead. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keyledger.ledger import Store
from keyledger.models import CheckResult, Key, Status
from keyledger.money import fmt_money
from keyledger.providers import CheckOptions
from keyledger.simulator import SimState, Simulator, make_key
from keyledger.web import CheckConfig, Guard, create_app
from keyledger.web.data import key_id
from keyledger.web.demo import DemoBackend

from .webutil import Served, now_utc, serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system; never a downloaded browser."""
    missing = _unavailable()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def demo(isolated_env: Path) -> Iterator[tuple[Served, Path]]:
    """``keyledger serve --demo``'s app on a free loopback port, and its ledger."""
    backend = DemoBackend(isolated_env)
    with serve_in_thread(
        lambda: create_app(
            backend.ledger,
            Guard(host="127.0.0.1", port=0),
            start=backend.start,
            stop=backend.stop,
            title="keyledger demo",
        )
    ) as served:
        yield served, backend.ledger


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; console errors (CSP violations among them) fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert errors == []


def _visible_rows(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#keys tbody tr[data-id]:not(.hidden)",
        "rows => rows.map(r => ({label: r.dataset.label, status: r.dataset.status,"
        " rank: r.dataset.statusRank, masked: r.cells[1].textContent.trim(), id: r.dataset.id,"
        " shown: r.querySelector('td.status span').textContent}))",
    )


def test_overview_shows_the_ledgers_figures(demo: tuple[Served, Path], page: Any) -> None:
    """Key count, counts by status, USD total and each row's status and mask match the ledger."""
    served, ledger = demo
    page.goto(served.url + "/")
    with Store.open(ledger) as store:
        latest = store.latest()
    counts = Counter(row.status for row in latest.values())
    assert page.inner_text("#key-count") == str(len(latest))
    for status, count in counts.items():
        assert page.inner_text(f'[data-count="{status}"]') == str(count)
    seen: set[tuple[str, str]] = set()
    usd = Decimal(0)
    for row in latest.values():
        balance = row.balance_in("USD")  # every USD balance, primary or not
        account = (row.organization or row.fingerprint, "USD")
        if balance is not None and balance.known and account not in seen:
            usd += balance.available or 0
        seen.add(account)
    shown = page.inner_text('#totals tr[data-currency="USD"] td[data-field="available"]')
    assert shown == fmt_money(usd)
    rows = _visible_rows(page)
    assert len(rows) == len(latest)
    by_id = {key_id(fp): row for fp, row in latest.items()}
    for row in rows:
        assert row["status"] == row["shown"] == by_id[row["id"]].status
        assert row["masked"] == by_id[row["id"]].masked
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
    page.set_viewport_size({"width": 1100, "height": 760})
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"))


def test_table_sorts_and_filters(demo: tuple[Served, Path], page: Any) -> None:
    """Headers sort the table both ways; label, provider and status filters hide other rows."""
    served, ledger = demo
    page.goto(served.url + "/")
    page.click('th[data-sort="label"]')
    labels = [r["label"].lower() for r in _visible_rows(page)]
    assert labels == sorted(labels)
    page.click('th[data-sort="label"]')
    assert [r["label"].lower() for r in _visible_rows(page)] == sorted(labels, reverse=True)
    page.click('th[data-sort="status"]')
    ranks = [int(r["rank"]) for r in _visible_rows(page)]
    assert ranks == sorted(ranks) and ranks[0] < ranks[-1]
    with Store.open(ledger) as store:
        latest = list(store.latest().values())
    page.fill("#f-label", "relay")
    relays = [r["label"] for r in _visible_rows(page)]
    assert relays and sorted(relays) == sorted(r.label for r in latest if "relay" in r.label)
    page.fill("#f-label", "")
    page.select_option("#f-status", "ok")
    oks = _visible_rows(page)
    assert {r["status"] for r in oks} == {"ok"}
    assert len(oks) == sum(1 for r in latest if r.status == "ok")
    page.select_option("#f-provider", "openai")
    openai_oks = sum(1 for r in latest if r.status == "ok" and r.provider == "openai")
    assert 0 < openai_oks < len(oks)  # the demo's ok keys are of several providers
    assert len(_visible_rows(page)) == openai_oks
    assert {r["status"] for r in _visible_rows(page)} == {"ok"}
    assert page.inner_text("#shown") == f"{openai_oks} of {len(latest)} shown"
    page.screenshot(path=str(ARTIFACTS / "filtered.png"))


def test_key_page_draws_a_chart_with_axes(demo: tuple[Served, Path], page: Any) -> None:
    """A key with a balance history gets a drawn chart with a date axis and a currency axis."""
    served, _ = demo
    # Record every text drawn on a canvas (uPlot draws axis labels and ticks there).
    page.add_init_script(
        "window.__drawn = []; const f = CanvasRenderingContext2D.prototype.fillText;"
        "CanvasRenderingContext2D.prototype.fillText = function (t, ...a) {"
        " window.__drawn.push(String(t)); return f.call(this, t, ...a); };"
    )
    page.goto(served.url + "/")
    page.click("text=research trial (session)")
    page.wait_for_selector(".chart-box canvas")
    box = page.locator(".chart-box canvas").first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    drawn = page.evaluate("window.__drawn")
    assert "date (UTC)" in drawn and "USD" in drawn  # both axes carry their labels
    assert any(t.replace(".", "").isdigit() for t in drawn)  # and tick values
    legend = page.locator(".chart-box .u-legend").inner_text()
    assert "available (USD)" in legend
    # The canvas has ink on it, not a blank rectangle.
    inked = page.eval_on_selector(
        ".chart-box canvas",
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }",
    )
    assert inked > 1000
    assert page.locator("#timeline li").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "key.png"), full_page=True)


def test_phone_width_has_no_page_overflow(demo: tuple[Served, Path], page: Any) -> None:
    """At a phone's width the page itself does not scroll sideways (the table scrolls)."""
    served, _ = demo
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(served.url + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)


SCENARIOS = (("alpha", "ok"), ("beta", "invalid"), ("gamma", "no_quota"), ("delta", "relay"))
EXPECTED = {"alpha": "ok", "beta": "invalid", "gamma": "no_quota", "delta": "ok"}


@pytest.fixture
def checkable(isolated_env: Path) -> Iterator[tuple[Served, list[Key]]]:
    """A ledger whose keys were last seen unreachable, and a simulator that now answers."""
    from keyledger.home import install_secret
    from keyledger.secret import Fingerprinter, Secret

    fingerprint = Fingerprinter(install_secret(isolated_env))
    keys = [
        Key(Secret(raw), fingerprint(raw), label)
        for n, (label, scenario) in enumerate(SCENARIOS)
        for raw in [make_key(scenario, n)]
    ]
    ledger = isolated_env / "ledger.db"
    earlier = now_utc() - timedelta(hours=1)
    with Store.open(ledger) as store:
        run_id = store.begin_run(len(keys), now=earlier)
        store.record(
            run_id, [CheckResult(k, Status.UNREACHABLE, "connect_failed", earlier) for k in keys]
        )
        store.finish_run(run_id, "complete", now=earlier)
    simulator = Simulator(SimState(latency=0.2))

    async def start() -> tuple[CheckConfig, Path]:
        await simulator.start()
        url = simulator.url
        relay = [dataclasses.replace(k, base_url=url) if k.label == "delta" else k for k in keys]
        return CheckConfig(relay, check=lambda: CheckOptions(base_urls={"openai": url})), ledger

    with serve_in_thread(
        lambda: create_app(ledger, Guard("127.0.0.1", 0), start=start, stop=simulator.stop)
    ) as served:
        yield served, keys


def test_check_now_updates_statuses_live(checkable: tuple[Served, list[Key]], page: Any) -> None:
    """Pressing "Check now" shows progress, then each row's new status without a reload."""
    served, _ = checkable
    page.goto(served.url + "/")
    assert {r["shown"] for r in _visible_rows(page)} == {"unreachable"}
    page.evaluate("window.__sameDocument = true")
    page.click("#checknow-button")
    page.wait_for_function(
        "() => document.getElementById('check-progress').textContent.startsWith('done')"
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('#keys td.status span')]"
        ".every(s => s.textContent !== 'unreachable')"
    )
    assert page.evaluate("window.__sameDocument") is True
    shown = {r["label"]: r["shown"] for r in _visible_rows(page)}
    assert shown == EXPECTED
    assert page.inner_text('[data-count="ok"]') == "2"
    assert "4 keys checked" in page.inner_text("#check-progress")
    # The relay's balance, read by this check, is shown as the API gives it.
    api = page.evaluate("() => fetch('/api/v1/keys').then(r => r.json())")
    (relay,) = [k["balances"][0] for k in api["keys"] if k["label"] == "delta"]
    cell = page.inner_text('#keys tr[data-label="delta"] td.money')
    assert cell.startswith(fmt_money(Decimal(relay["available"]), relay["currency"]))
    page.screenshot(path=str(ARTIFACTS / "checked.png"))
