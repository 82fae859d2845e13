"""``keyledger serve``: a local dashboard over the ledger (an edge, like the CLI).

- :mod:`~keyledger.web.app`: the aiohttp application, its pages and ``/api/v1``.
- :mod:`~keyledger.web.data`: every figure shown, read from the ledger (the one module that
  knows the ledger's shape).
- :mod:`~keyledger.web.security`: Host, token, Origin and CSRF guards, and headers.
- :mod:`~keyledger.web.checks`: "check now", one background run at a time.
- :mod:`~keyledger.web.demo`: the demo ledger and the in-process simulator.

Nothing here imports click, prints or exits.
"""

from keyledger.web.app import create_app
from keyledger.web.checks import CheckConfig, CheckManager
from keyledger.web.security import Guard, is_loopback_bind

__all__ = ["CheckConfig", "CheckManager", "Guard", "create_app", "is_loopback_bind"]
