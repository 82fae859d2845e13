"""Z.ai's simulated chat endpoint (Zhipu's platform, English texts)."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.sim_compat import routes, scenario, table
from keyledger.simulator.sim_zhipu import PROBE_REJECTED, zhipu_error

ROUTES = routes("/api/paas/v4", models=False)
NO_BALANCE_EN = zhipu_error(
    429, "1113", "Insufficient balance or no resource package. Please recharge."
)

SCENARIOS = table(
    scenario("zai", "zai_ok", "Z.ai key with money", Status.OK, None, chat=PROBE_REJECTED),
    scenario(
        "zai",
        "zai_no_balance",
        "Z.ai key whose account is empty (429, code 1113)",
        Status.NO_QUOTA,
        "insufficient_balance",
        chat=NO_BALANCE_EN,
    ),
)
