"""The built-in simulator of every API keyledger reads (for tests, benchmarks and the demo)."""

from keyledger.simulator.clock import Clock, RealClock, SimClock
from keyledger.simulator.scenarios import SCENARIOS, Scenario, make_key, scenario_of
from keyledger.simulator.server import SimState, Simulator, build_app, closed_port

__all__ = [
    "SCENARIOS",
    "Clock",
    "RealClock",
    "Scenario",
    "SimClock",
    "SimState",
    "Simulator",
    "build_app",
    "closed_port",
    "make_key",
    "scenario_of",
]
