"""The provider contract: every registered provider, Python or TOML, passes the same checks."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from keyledger.classify import classify, error_info
from keyledger.client import Client
from keyledger.models import Key
from keyledger.providers import CheckOptions, Provider, Registry, default_registry
from keyledger.providers.declarative import DeclarativeProvider, provider_from
from keyledger.providers.declarative_load import parse_definition
from keyledger.sanitize import REDACTED, redact
from keyledger.secret import Secret
from keyledger.simulator import SimState, Simulator
from keyledger.simulator.scenarios import SCENARIOS, make_key, provider_base_urls, simulator_of
from keyledger.transport import auth_headers

# A provider that exists only as TOML (not shipped): it must pass the same contract.
TOML_ONLY = """
name = "trelay"
title = "A relay written only in TOML"
base_url = "https://relay.example/api"
auth = "x-api-key"

[[keys]]
prefix = "trl-"
pattern = "trl-[A-Za-z0-9]{20,}"

[request]
method = "POST"
path = "/wallet/query"
headers = { Accept = "application/json" }
body = { detail = true }

[[balances]]
currency = "USD"
available = "data.wallets[0].cents"
divisor = 100

[[errors]]
http = 402
contains = ["wallet is empty"]
status = "no_quota"
reason = "wallet_empty"

[[simulator.scenarios]]
name = "trelay_ok"
body = { data = { wallets = [{ cents = 1250 }] } }
expect = "ok"

[[simulator.scenarios]]
name = "trelay_empty"
http = 402
body = { error = { message = "Your wallet is empty" } }
expect = "no_quota"
expect_reason = "wallet_empty"
"""


def _providers() -> Iterator[Provider]:
    yield from default_registry()
    toml_only = provider_from(parse_definition(TOML_ONLY, "tests/trelay.toml"))
    Registry([toml_only])  # registering makes its key prefix known to redaction
    yield toml_only


PROVIDERS = list(_providers())
IDS = [p.name for p in PROVIDERS]


def _key(provider: Provider, value: str) -> Key:
    return Key(Secret(value), "fp-" + value[-12:], "contract", provider=provider.name)


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_declares_name_url_and_capabilities(provider: Provider) -> None:
    """Every provider has a name, an https default base URL and declared capabilities."""
    assert provider.name and provider.title
    assert provider.default_base_url.startswith("https://")
    assert provider.capabilities.status and provider.capabilities.calls


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_key_shapes_are_redacted(provider: Provider) -> None:
    """A key of each declared shape is cut from any text by the shared redactor."""
    for shape in provider.key_shapes:
        key = f"{shape.prefix}Ab3dEf6hIj9kLm2nOp5qRs8t"
        if shape.pattern is not None and not shape.matches(key):
            continue
        assert redact(f"echo {key} done") == f"echo {REDACTED} done", shape.prefix


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_request_puts_the_key_only_in_its_auth_header(provider: Provider) -> None:
    """``request()`` carries the key in the provider's auth header and nowhere else."""
    value = "zz-contract-Ab3dEf6hIj9kLm2nOp5qRs8t"
    request = provider.request("POST", provider.default_base_url + "/x", _key(provider, value))
    visible = json.dumps([request.url, dict(request.headers), request.json_body], default=str)
    assert value not in visible
    sent = auth_headers(request)
    assert [name for name, v in sent.items() if value in v] == [
        {"bearer": "Authorization"}.get(provider.auth, provider.auth)
    ]


def _scenarios(provider: Provider) -> list[tuple[str, object]]:
    module = simulator_of(provider)
    if module is None:
        return []
    return [(n, s) for n, s in module.SCENARIOS.items() if s.provider == provider.name]


DECLARATIVE = [p for p in PROVIDERS if isinstance(p, DeclarativeProvider)]


@pytest.mark.parametrize("provider", DECLARATIVE, ids=[p.name for p in DECLARATIVE])
def test_declarative_rules_are_reached_by_scenarios(provider: Provider) -> None:
    """Each error rule of a declarative provider is reached by one of its own scenarios
    (Python providers test theirs in their own test modules)."""
    assert isinstance(provider, DeclarativeProvider)
    reached = set()
    for scenario in provider.definition.scenarios:
        body = json.dumps(scenario.body).encode()
        rule, _ = classify(error_info(scenario.http, body), provider.classification)
        reached.add(rule.name if rule is not None else None)
    assert {r.name for r in provider.rules} <= reached
    if isinstance(provider, DeclarativeProvider):
        assert provider.definition.scenarios, "a declarative provider ships scenarios"


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
async def test_scenarios_give_their_expected_status_over_loopback(
    provider: Provider, client: Client
) -> None:
    """Its simulator scenarios, checked over loopback HTTP, give the statuses they promise."""
    scenarios = _scenarios(provider)
    if not scenarios:
        pytest.skip("no simulator module")
    extra = {}
    for name, scenario in scenarios:
        if name not in SCENARIOS:  # not shipped: answer every path of the simulator
            responder = next(iter(scenario.endpoints.values()))  # type: ignore[attr-defined]
            extra[name] = dataclasses.replace(scenario, endpoints={"*": responder})  # type: ignore[type-var]
    declarative = isinstance(provider, DeclarativeProvider)
    async with Simulator(SimState(extra_scenarios=extra)) as sim:
        urls = {**provider_base_urls(sim.url)}
        if provider.name not in default_registry():
            urls[provider.name] = sim.url + "/api"
        options = CheckOptions(base_urls=urls)
        matched = 0
        for name, scenario in scenarios if declarative else scenarios[:3]:
            value = make_key(name)
            if name in extra:
                value = "trl-" + value
            key = dataclasses.replace(
                _key(provider, value),
                kind=scenario.kind,  # type: ignore[attr-defined]
            )
            result = await provider.check(client, key, options)
            expected = (scenario.expect, scenario.expect_reason)  # type: ignore[attr-defined]
            ok = (result.status, result.reason) == expected
            assert ok or not declarative, (name, result.status, result.reason)
            matched += ok
        assert matched >= 1
        assert all(value not in r.url for r in sim.state.requests)
