"""Prometheus metrics from the ledger's latest results (a scrape never calls a provider).

- :mod:`~keyledger.metrics.snapshot`: the one read of the ledger a scrape makes.
- :mod:`~keyledger.metrics.collector`: that read turned into metric families.
- :mod:`~keyledger.metrics.serve`: ``/metrics`` on an aiohttp app, bound to loopback.
"""

from keyledger.metrics.collector import LedgerCollector, fp_labels
from keyledger.metrics.serve import add_metrics_route, metrics_app, serve_metrics
from keyledger.metrics.snapshot import KeySnapshot, LedgerSnapshot, read_snapshot

__all__ = [
    "KeySnapshot",
    "LedgerCollector",
    "LedgerSnapshot",
    "add_metrics_route",
    "fp_labels",
    "metrics_app",
    "read_snapshot",
    "serve_metrics",
]
