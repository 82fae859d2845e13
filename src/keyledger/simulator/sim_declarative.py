"""Simulator pieces generated from a declarative provider definition.

Each ``[[simulator.scenarios]]`` entry of a definition becomes a :class:`Scenario` whose
balance endpoint answers the canned body with the given HTTP status; the route is the
endpoint's path under the provider's default base URL (the path the simulator sees when
``provider_base_urls`` moves the provider onto it).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from keyledger.models import Kind
from keyledger.providers.declarative import Definition
from keyledger.simulator.responses import json_reply
from keyledger.simulator.scenario import Scenario


@dataclass(frozen=True)
class Simulated:
    """What a ``sim_<provider>`` module declares: ``ROUTES`` and ``SCENARIOS``."""

    ROUTES: dict[tuple[str, str], str]
    SCENARIOS: dict[str, Scenario]


def simulated(definition: Definition, base_url: str) -> Simulated:
    """The routes and scenarios of ``definition`` ."""
    endpoint = f"{definition.name}_balance"
    path = urllib.parse.urlsplit(definition.url(base_url)).path
    prefix = definition.key_shapes[0].prefix if definition.key_shapes else ""
    scenarios = {
        s.name: Scenario(
            s.name,
            Kind.SECRET,
            s.description,
            s.expect,
            s.expect_reason,
            endpoints={endpoint: json_reply(s.body, s.http)},
            provider=definition.name,
            key_prefix=prefix,
        )
        for s in definition.scenarios
    }
    return Simulated({(definition.method, path): endpoint}, scenarios)
