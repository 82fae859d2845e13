"""keyledger: check many LLM API keys at once, remember every check.

The library API: read keys with :func:`build_keyset`, check them with :func:`run_checks`
(or :class:`Engine` for streaming), and render results with the writers in
:mod:`keyledger.render`. Outcomes are values: see :class:`CheckResult` and :class:`Status`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from keyledger.engine import Engine, RunOptions
from keyledger.keyset import KeySet, build_keyset, read_items
from keyledger.models import (
    Account,
    Balance,
    CheckResult,
    Evidence,
    Grant,
    Key,
    Kind,
    RateLimits,
    Spend,
    Status,
)
from keyledger.providers import CheckOptions
from keyledger.runner import RunReport, run_checks
from keyledger.secret import Fingerprinter, Secret
from keyledger.transport import HttpOptions

__all__ = [
    "Account",
    "Balance",
    "CheckOptions",
    "CheckResult",
    "Engine",
    "Evidence",
    "Fingerprinter",
    "Grant",
    "HttpOptions",
    "Key",
    "KeySet",
    "Kind",
    "RateLimits",
    "RunOptions",
    "RunReport",
    "Secret",
    "Spend",
    "Status",
    "__version__",
    "build_keyset",
    "read_items",
    "run_checks",
]
