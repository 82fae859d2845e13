"""The simulator's Moonshot / Kimi international platform (api.moonshot.ai, USD).

The same answers as the China platform (:mod:`sim_moonshot`); the currency comes from the
provider (the host), never from the body.
"""

from __future__ import annotations

from keyledger.simulator.scenario import Scenario
from keyledger.simulator.sim_moonshot import ROUTES, region_scenarios

SCENARIOS: dict[str, Scenario] = region_scenarios(
    "moonshot_global", "moonshot-global", "platform.moonshot.ai"
)

__all__ = ["ROUTES", "SCENARIOS"]
