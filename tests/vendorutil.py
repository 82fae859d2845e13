"""Checking simulator keys of one vendor end to end, over real loopback HTTP."""

from __future__ import annotations

import os

from keyledger.client import Client
from keyledger.engine import Engine, RunOptions
from keyledger.keyset import build_keyset
from keyledger.models import CheckResult
from keyledger.providers import CheckOptions
from keyledger.secret import Fingerprinter
from keyledger.simulator import SCENARIOS, Simulator, make_key
from keyledger.simulator.scenarios import provider_base_urls
from keyledger.sources import Entry

FP = Fingerprinter(os.urandom(32))


def scenario_entry(name: str, n: int = 0, base_url: str | None = None) -> Entry:
    """A key of scenario ``name`` pinned to its provider, labelled with the name in capitals
    (a label spelling a piece of its own key is refused as a secret)."""
    scenario = SCENARIOS[name]
    return Entry(
        make_key(name, n),
        f"t:{n}",
        label=name.upper(),
        provider=scenario.provider,
        base_url=base_url,
    )


async def check_entries(
    client: Client, sim: Simulator, entries: list[Entry], other: Simulator | None = None
) -> dict[str, CheckResult]:
    """Results by scenario name; every provider's base URL is ``other`` (or ``sim``) except
    the entries' own providers', which are ``sim``."""
    keyset = build_keyset(entries, FP)
    assert keyset.errors == []
    urls = provider_base_urls((other or sim).url)
    mine = provider_base_urls(sim.url)
    for entry in entries:
        assert entry.provider is not None
        urls[entry.provider] = mine[entry.provider]
    engine = Engine(client, CheckOptions(base_urls=urls), RunOptions())
    return {r.key.label.lower(): r async for r in engine.run(keyset.keys)}


def scenarios_of(provider: str) -> list[str]:
    """The names of ``provider``'s simulator scenarios."""
    return [name for name, s in SCENARIOS.items() if s.provider == provider]
