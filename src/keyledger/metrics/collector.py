"""The ledger as Prometheus metric families, computed at scrape time (a custom Collector).

Labels name a key by its ``label``, ``provider``, ``account`` (organization, or empty) and
``fp``: the first 6 characters of its fingerprint, lengthened (to at most 10 of the 16) only
when two keys of the ledger share a prefix. ``fp`` keeps series apart when labels repeat and
matches ``keyledger history FP``; it never is the whole fingerprint, and no label ever holds a
key or its masked form. Money is exposed as a float gauge (Prometheus has no decimals); the
exact figures stay in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from keyledger.errors import StoreError
from keyledger.metrics.snapshot import KeySnapshot, LedgerSnapshot, read_snapshot
from keyledger.models import Status

FP_MIN = 6
FP_MAX = 10
KEY_LABELS = ("label", "provider", "account", "fp")
MONEY_LABELS = (*KEY_LABELS, "currency")
RUN_STATUSES = ("running", "complete", "interrupted")


def fp_labels(fingerprints: Collection[str]) -> dict[str, str]:
    """Each fingerprint's shortest prefix (6 to 10 characters) that no other one shares."""
    out: dict[str, str] = {}
    for fingerprint in fingerprints:
        length = FP_MIN
        while length < FP_MAX and any(
            other != fingerprint and other[:length] == fingerprint[:length]
            for other in fingerprints
        ):
            length += 1
        out[fingerprint] = fingerprint[:length]
    return out


class LedgerCollector(Collector):
    """Reads the ledger at ``path`` on every scrape and yields keyledger's metrics."""

    def __init__(self, path: Path, *, now: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self.now = now or (lambda: datetime.now(UTC))

    def collect(self) -> Iterator[Metric]:
        """The metric families for one scrape (``keyledger_ledger_up`` 0 if unreadable)."""
        up = GaugeMetricFamily(
            "keyledger_ledger_up", "1 if the ledger could be read for this scrape, else 0."
        )
        try:
            snapshot = read_snapshot(self.path, now=self.now())
        except StoreError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _key_families(snapshot)
        yield from _counter_families(snapshot)


def _key_families(snapshot: LedgerSnapshot) -> Iterator[Metric]:
    def gauge(name: str, doc: str, labels: tuple[str, ...] = KEY_LABELS) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"keyledger_{name}", doc, labels=labels)

    families = {
        "available": gauge("available", "Money left on the key's account.", MONEY_LABELS),
        "granted": gauge(
            "granted", "Money granted to the key's account (limit or credits).", MONEY_LABELS
        ),
        "used": gauge("used", "Money used on the key's account.", MONEY_LABELS),
        "spend": gauge("spend_this_month", "Money spent this month (admin keys).", MONEY_LABELS),
        "burn": gauge(
            "burn_rate_per_day", "Money spent per day over the last 30 days.", MONEY_LABELS
        ),
        "runway": gauge(
            "runway_days",
            "Days until the balance runs out at the current burn rate.",
            MONEY_LABELS,
        ),
        "status": gauge(
            "key_status",
            "1 for the key's current status, 0 for the others.",
            (*KEY_LABELS, "status"),
        ),
        "checked": gauge(
            "last_checked_timestamp_seconds", "When the key was last checked (Unix time)."
        ),
        "duration": gauge("check_duration_seconds", "How long the key's last check took."),
    }
    prefixes = fp_labels([k.row.fingerprint for k in snapshot.keys])
    for key in snapshot.keys:
        _add_key(key, prefixes[key.row.fingerprint], families)
    yield from families.values()


def _add_key(key: KeySnapshot, fp: str, f: dict[str, GaugeMetricFamily]) -> None:
    row = key.row
    labels = [row.label, row.provider, row.organization or "", fp]
    for balance in row.balances:  # one series per currency, never summed
        money = [*labels, balance.currency]
        available = balance.available if balance.known else None  # a token cap is no wallet
        for name, value in (
            ("available", available),
            ("granted", balance.granted),
            ("used", balance.used),
        ):
            if value is not None:
                f[name].add_metric(money, float(value))
    if row.spend is not None:
        f["spend"].add_metric([*labels, row.spend_currency or ""], float(row.spend))
    for currency, per_day in sorted(key.burn_per_day.items()):
        f["burn"].add_metric([*labels, currency], float(per_day))
    for currency, days in sorted(key.runway_days.items()):
        f["runway"].add_metric([*labels, currency], float(days))
    for status in Status:
        f["status"].add_metric([*labels, status.value], 1.0 if row.status == status.value else 0.0)
    f["checked"].add_metric(labels, row.checked_at.timestamp())
    if row.duration_ms is not None:
        f["duration"].add_metric(labels, row.duration_ms / 1000)


def _counter_families(snapshot: LedgerSnapshot) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "keyledger_runs", "Recorded runs, by how they ended.", labels=["status"]
    )
    for status in RUN_STATUSES:
        runs.add_metric([status], snapshot.runs.get(status, 0))
    yield runs
    yield CounterMetricFamily(
        "keyledger_requests", "HTTP attempts made by the recorded checks.", value=snapshot.requests
    )
    yield CounterMetricFamily(
        "keyledger_retries",
        "Repeated attempts of an endpoint call (older rows without a call count add none).",
        value=snapshot.retries,
    )
    alerts = CounterMetricFamily(
        "keyledger_alerts_sent", "Alert messages delivered, by channel.", labels=["channel"]
    )
    for channel, count in sorted(snapshot.alerts_sent.items()):
        alerts.add_metric([channel], count)
    yield alerts
    if snapshot.last_run_at is not None:
        yield GaugeMetricFamily(
            "keyledger_last_run_timestamp_seconds",
            "When the latest recorded run started (Unix time).",
            value=snapshot.last_run_at.timestamp(),
        )
