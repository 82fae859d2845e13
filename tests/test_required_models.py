"""``--require-model`` (restricted/model_missing) and the tier (OpenAI trial hint, table, JSON)."""

from __future__ import annotations

from rich.console import Console
from tests.test_provider_contract import _key

from keyledger.client import Client
from keyledger.models import RateLimits, Status
from keyledger.providers import CheckOptions, get_provider
from keyledger.providers.openai_secret import tier_hint
from keyledger.render.serialize import result_dict
from keyledger.render.table import results_table
from keyledger.simulator import Simulator
from keyledger.simulator.scenarios import make_key, provider_base_urls


async def _check(sim: Simulator, client: Client, required: tuple[str, ...]):  # type: ignore[no-untyped-def]
    provider = get_provider("openai")
    options = CheckOptions(base_urls=provider_base_urls(sim.url), required_models=required)
    return await provider.check(client, _key(provider, make_key("ok")), options)


async def test_a_missing_required_model_makes_the_key_restricted(
    sim: Simulator, client: Client
) -> None:
    """A working key whose model list lacks a required model is restricted/model_missing."""
    result = await _check(sim, client, ("gpt-4o", "claude-sonnet-4"))
    assert (result.status, result.reason) == (Status.RESTRICTED, "model_missing")
    assert result.evidence[-1].message == "missing: claude-sonnet-4"


async def test_listed_required_models_keep_the_key_ok(sim: Simulator, client: Client) -> None:
    """A key that lists every required model keeps its status."""
    result = await _check(sim, client, ("gpt-4o", "models/gpt-4o-mini"))
    assert result.status is Status.OK and result.reason is None


async def test_worse_statuses_are_kept(sim: Simulator, client: Client) -> None:
    """A key already worse than restricted (out of quota) is not relabelled."""
    provider = get_provider("openai")
    options = CheckOptions(base_urls=provider_base_urls(sim.url), required_models=("nope",))
    result = await provider.check(client, _key(provider, make_key("no_quota")), options)
    assert result.status is Status.NO_QUOTA


def test_trial_tier_from_the_request_limit() -> None:
    """x-ratelimit-limit-requests <= 250 reads as a trial key; higher limits claim no tier."""
    assert tier_hint(RateLimits(requests_limit=200)) == "trial"
    assert tier_hint(RateLimits(requests_limit=5000)) is None
    assert tier_hint(RateLimits()) is None


async def test_tier_is_in_the_table_and_json(sim: Simulator, client: Client) -> None:
    """The table has a Tier column and the JSON a ``tier`` field."""
    from dataclasses import replace

    result = replace(await _check(sim, client, ()), tier="trial")
    assert result_dict(result)["tier"] == "trial"
    console = Console(width=250, record=True)
    console.print(results_table([result], now=result.checked_at))
    text = console.export_text()
    assert "Tier" in text and "trial" in text


async def test_provider_qualified_models_apply_to_that_provider_only(
    sim: Simulator, client: Client
) -> None:
    """``anthropic:claude-sonnet-4`` leaves an OpenAI key ok; ``openai:…`` still applies."""
    both = await _check(sim, client, ("openai:gpt-4o", "anthropic:claude-sonnet-4"))
    assert both.status is Status.OK and both.reason is None
    own = await _check(sim, client, ("anthropic:gpt-4o", "openai:claude-sonnet-4"))
    assert (own.status, own.reason) == (Status.RESTRICTED, "model_missing")
    assert own.evidence[-1].message == "missing: claude-sonnet-4"


async def test_a_plain_id_with_a_colon_is_a_model_not_a_provider(
    sim: Simulator, client: Client
) -> None:
    """``gpt-4o:free`` (no provider before the colon) is a plain id required of every key."""
    result = await _check(sim, client, ("gpt-4o:free",))
    assert (result.status, result.reason) == (Status.RESTRICTED, "model_missing")
    assert result.evidence[-1].message == "missing: gpt-4o:free"
