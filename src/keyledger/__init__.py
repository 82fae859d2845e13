"""keyledger: check many LLM API keys at once, remember every check.

The library API: read keys with :func:`build_keyset`, check them with :func:`run_checks`
(or :class:`Engine` for streaming), and render results with the writers in
:mod:`keyledger.render`. Outcomes are values: see :class:`CheckResult` and :class:`Status`.
"""

from __future__ import annotations

__version__ = "0.1.0"

import os
import sys
from typing import TYPE_CHECKING

from keyledger.lazy import lazy_exports

# aiohttp reads the CA store (under SSL_CERT_FILE / SSL_CERT_DIR) into a verified TLS context
# when it is first imported; noted here, before anything loads it, so that keyledger.tls can
# tell whether that context was built under the settings a session is made with.
TLS_SETTINGS_AT_START = (
    None
    if "aiohttp.connector" in sys.modules
    else (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
)

if TYPE_CHECKING:
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

# The library API is imported on first use (PEP 562), so ``keyledger --version`` and the CLI's
# start-up do not pay for aiohttp and the providers (docs/benchmarks.md).
_LAZY = {
    "Engine": "keyledger.engine",
    "RunOptions": "keyledger.engine",
    "KeySet": "keyledger.keyset",
    "build_keyset": "keyledger.keyset",
    "read_items": "keyledger.keyset",
    "Account": "keyledger.models",
    "Balance": "keyledger.models",
    "CheckResult": "keyledger.models",
    "Evidence": "keyledger.models",
    "Grant": "keyledger.models",
    "Key": "keyledger.models",
    "Kind": "keyledger.models",
    "RateLimits": "keyledger.models",
    "Spend": "keyledger.models",
    "Status": "keyledger.models",
    "CheckOptions": "keyledger.providers",
    "RunReport": "keyledger.runner",
    "run_checks": "keyledger.runner",
    "Fingerprinter": "keyledger.secret",
    "Secret": "keyledger.secret",
    "HttpOptions": "keyledger.transport",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())


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
