"""Every provider's simulator scenarios and routes, gathered from the provider registry.

Each provider names its simulator module (``Provider.simulator``); the module declares
``ROUTES`` (``(method, path) -> endpoint``), ``SCENARIOS`` and, optionally, ``decorate`` (headers
the provider adds to every answer). Scenario names are unique across providers.
"""

from __future__ import annotations

import hashlib
import importlib
import urllib.parse
from typing import Any

from keyledger.models import Kind
from keyledger.simulator.scenario import (
    DAY,
    MARKER,
    SITE_PREFIX,
    Decorate,
    Scenario,
    account_of,
    scenario_of,
    site_id,
    site_of,
)


def simulator_of(provider: object) -> Any:
    """A provider's simulator module (``ROUTES``, ``SCENARIOS``), or ``None``: its
    ``simulator`` module, or the pieces a declarative provider generates (``simulated()``)."""
    simulated = getattr(provider, "simulated", None)
    if callable(simulated):
        return simulated()
    module_name = getattr(provider, "simulator", None)
    return importlib.import_module(module_name) if module_name else None


def _gather() -> tuple[dict[str, Scenario], dict[tuple[str, str], list[str]], dict[str, Decorate]]:
    from keyledger.providers.registry import default_registry

    scenarios: dict[str, Scenario] = {}
    routes: dict[tuple[str, str], list[str]] = {}
    decorators: dict[str, Decorate] = {}
    for provider in default_registry():
        module = simulator_of(provider)
        if module is None:
            continue
        for name, scenario in module.SCENARIOS.items():
            if name in scenarios:
                raise ValueError(f"simulator scenario {name!r} is declared twice")
            scenarios[name] = scenario
        for route, endpoint in module.ROUTES.items():
            routes.setdefault(route, [])
            if endpoint not in routes[route]:
                routes[route].append(endpoint)
        if hasattr(module, "decorate"):
            decorators[provider.name] = module.decorate
    return scenarios, routes, decorators


SCENARIOS, ROUTES, DECORATORS = _gather()


def provider_base_urls(sim_url: str) -> dict[str, str]:
    """Every provider's base URL moved onto the simulator: its scheme and host become
    ``sim_url``'s, its path stays (``https://openrouter.ai/api/v1`` -> ``SIM/api/v1``)."""
    from keyledger.providers.registry import default_registry

    root = sim_url.rstrip("/")
    return {
        provider.name: root + urllib.parse.urlsplit(provider.default_base_url).path.rstrip("/")
        for provider in default_registry()
    }


def relay_base_url(sim_url: str, scenario: str) -> str:
    """A relay key's base URL on the simulator: a site of its own under ``/klsite-<id>``, so
    that its public ``/api/status`` (sent without the key) is answered for that scenario."""
    return f"{sim_url.rstrip('/')}{SITE_PREFIX}{site_id(scenario)}/v1"


_KIND_PREFIX = {Kind.SESSION: "sess-", Kind.ADMIN: "sk-admin-"}


def make_key(
    scenario: str, n: int = 0, kind: Kind | None = None, account: str | None = None
) -> str:
    """A simulator key selecting ``scenario`` (the prefix follows the scenario's kind).

    ``account`` makes keys share an organization (the ``openai-organization`` header).
    """
    known = SCENARIOS.get(scenario)
    chosen = kind or (known.kind if known else Kind.SECRET)
    prefix = _KIND_PREFIX.get(chosen, "sk-proj-")
    if known is not None and kind is None and known.key_prefix is not None:
        prefix = known.key_prefix
    elif known is not None and known.relay and kind is None:
        prefix = "sk-"
    middle = f"{account}__" if account else ""
    return f"{prefix}{MARKER}{scenario}__{middle}{n:06d}x7Rq2LmZ9vK3pT8w{_tail(scenario, n)}"


_TAIL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def _tail(scenario: str, n: int) -> str:
    """Four characters derived from ``scenario`` and ``n`` (the same every run), so each
    simulator key masks to its own ``…abcd`` rather than all reading alike."""
    value = int.from_bytes(hashlib.sha256(f"{scenario}:{n}".encode()).digest()[:8], "big")
    chars = []
    for _ in range(4):
        value, index = divmod(value, len(_TAIL_ALPHABET))
        chars.append(_TAIL_ALPHABET[index])
    return "".join(chars)


__all__ = [
    "DAY",
    "MARKER",
    "ROUTES",
    "SCENARIOS",
    "Scenario",
    "account_of",
    "make_key",
    "provider_base_urls",
    "relay_base_url",
    "scenario_of",
    "site_id",
    "site_of",
]
