"""The simulator's SiliconFlow international platform (api.siliconflow.com, USD).

Its ``/v1/user/info`` still answers. The 403 code 30011 ("requires paid balance") was
published for chat completions; here the user info answers it, so that the whole path from
that answer to ``no_quota`` runs over HTTP (keyledger itself never calls chat on SiliconFlow).
"""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.scenario import Scenario
from keyledger.simulator.sim_siliconflow import (
    MODELS,
    MODELS_LIST,
    PAID_BALANCE_REQUIRED,
    ROUTES,
    USER_INFO,
    region_scenarios,
    scenario,
)

SCENARIOS: dict[str, Scenario] = {
    **region_scenarios("siliconflow_global", "siliconflow-global"),
    "siliconflow_global_paid_balance_required": scenario(
        "siliconflow_global_paid_balance_required",
        "siliconflow-global",
        "403 code 30011: the paid balance is insufficient (a gift balance may remain)",
        Status.NO_QUOTA,
        "paid_balance_required",
        {USER_INFO: PAID_BALANCE_REQUIRED, MODELS: MODELS_LIST},
    ),
}

__all__ = ["ROUTES", "SCENARIOS"]
