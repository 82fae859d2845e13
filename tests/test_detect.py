"""``--detect-provider``: an ambiguous key is offered to its candidates one at a time, in order."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from aiohttp import web
from click.testing import CliRunner

from keyledger.cli import cli
from keyledger.client import Client
from keyledger.detect import candidates
from keyledger.engine import Engine, RunOptions
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers import CheckOptions, KeyShape, Provider, default_registry
from keyledger.providers.base import ResultBuilder
from keyledger.secret import Secret
from keyledger.simulator import Simulator
from keyledger.simulator.responses import Ctx, Responder, dynamic, json_reply, openai_error
from keyledger.simulator.scenario import Scenario
from keyledger.simulator.server import SimState

from .keyfixtures import RELAY

SCENARIO = "detect_case"
VALUE = f"kltest-KLSIM__{SCENARIO}__Zr4Tq8Wm2Xn6Yb0Vc3Ud7Se1"
INVALID = openai_error(401, "Incorrect API key provided", code="invalid_api_key")
OK = json_reply({"object": "whoami", "ok": True})
BROKEN = openai_error(500, "The server had an error", code=None)


class _Candidate(Provider):
    """A test vendor whose keys share the hint-only ``kltest-`` shape: one free GET."""

    default_base_url: ClassVar[str] = "https://unused.invalid/v1"
    key_shapes: ClassVar[tuple[KeyShape, ...]] = (
        KeyShape("kltest-", pattern=re.compile(r"kltest-[A-Za-z0-9_]{20,}"), claims=False),
    )

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        out = ResultBuilder(key, options, self.classification)
        exchange = await client.call(self.request("GET", self.base_url(key, options) + "/me", key))
        verdict = out.record(exchange, "me")
        if verdict is not None:
            return out.finish(verdict.status, verdict.reason)
        return out.finish(Status.OK, None)


class _Alpha(_Candidate):
    name: ClassVar[str] = "kltest-alpha"


class _Beta(_Candidate):
    name: ClassVar[str] = "kltest-beta"


class _Gamma(_Candidate):
    name: ClassVar[str] = "kltest-gamma"


NAMES = ("kltest-alpha", "kltest-beta", "kltest-gamma")


@pytest.fixture
def candidates_registered() -> Iterator[None]:
    """The three test vendors registered for one test (registered out of name order)."""
    registry = default_registry()
    for provider in (_Gamma(), _Alpha(), _Beta()):
        registry.register(provider)
    yield
    for name in NAMES:
        registry.unregister(name)


@pytest.fixture
async def hosts() -> AsyncIterator[tuple[list[Simulator], list[str], dict[str, Responder]]]:
    """Three simulators (three hosts) sharing one state; each answers as ``answers[port]``."""
    seen: list[str] = []
    answers: dict[str, Responder] = {}

    def by_host(request: web.Request, ctx: Ctx) -> Responder:
        seen.append(request.host)
        return answers[request.host]

    state = SimState(
        extra_scenarios={
            SCENARIO: Scenario(
                SCENARIO,
                Kind.SECRET,
                "answers differently per host",
                Status.OK,
                endpoints={"*": dynamic(by_host)},
                provider="kltest-alpha",
            )
        }
    )
    sims = [Simulator(state) for _ in NAMES]
    for simulator in sims:
        await simulator.start()
    try:
        yield sims, seen, answers
    finally:
        for simulator in sims:
            await simulator.stop()


def _key() -> Key:
    route = default_registry().route(VALUE, None, None)
    return Key(Secret(VALUE), "fp0001", "mixed", route.provider, route.kind, problem=route.problem)


async def _check(client: Client, sims: list[Simulator], detect: bool) -> CheckResult:
    base_urls = {name: f"{s.url}/{name}/v1" for name, s in zip(NAMES, sims, strict=True)}
    engine = Engine(client, CheckOptions(base_urls=base_urls), RunOptions(detect_provider=detect))
    (result,) = [r async for r in engine.run([_key()])]
    return result


def _host(sim: Simulator) -> str:
    return f"{sim.host}:{sim.port}"


@pytest.mark.usefixtures("candidates_registered")
def test_candidates_are_tried_longest_prefix_then_by_name() -> None:
    """The documented order: every provider whose shape allows the key, then by name."""
    assert [p.name for p in candidates(default_registry(), VALUE)] == list(NAMES)
    assert _key().problem == "ambiguous_provider"


@pytest.mark.usefixtures("candidates_registered")
async def test_without_the_flag_an_ambiguous_key_is_sent_nowhere(
    client: Client, hosts: tuple[list[Simulator], list[str], dict[str, Responder]]
) -> None:
    """Detection is opt-in: by default no host receives the key."""
    sims, seen, answers = hosts
    answers.update({_host(s): OK for s in sims})
    result = await _check(client, sims, detect=False)
    assert (result.status, result.reason) == (Status.UNKNOWN, "ambiguous_provider")
    assert seen == [] and sims[0].state.total == 0


@pytest.mark.usefixtures("candidates_registered")
async def test_first_candidate_that_recognises_the_key_owns_it(
    client: Client, hosts: tuple[list[Simulator], list[str], dict[str, Responder]]
) -> None:
    """A answers invalid, B answers ok: the key is B's, and C's host never sees it."""
    sims, seen, answers = hosts
    a, b, c = sims
    answers.update({_host(a): INVALID, _host(b): OK, _host(c): OK})
    result = await _check(client, sims, detect=True)
    assert (result.status, result.reason) == (Status.OK, None)
    assert (result.key.provider, result.key.problem) == ("kltest-beta", None)
    assert seen == [_host(a), _host(b)]  # exactly those hosts, in that order
    assert [r.path for r in a.state.requests] == ["/kltest-alpha/v1/me", "/kltest-beta/v1/me"]
    assert [(e.endpoint, e.outcome) for e in result.evidence] == [
        ("detect-provider:kltest-alpha", "invalid"),
        ("detect-provider:kltest-beta", "recognised"),
        ("/kltest-beta/v1/me", "ok"),
    ]


@pytest.mark.usefixtures("candidates_registered")
async def test_no_candidate_recognising_the_key_is_unknown_not_invalid(
    client: Client, hosts: tuple[list[Simulator], list[str], dict[str, Responder]]
) -> None:
    """Invalid everywhere (a relay token, say) is ``provider_not_detected``, with every answer."""
    sims, seen, answers = hosts
    a, b, c = sims
    answers.update({_host(a): INVALID, _host(b): BROKEN, _host(c): INVALID})
    result = await _check(client, sims, detect=True)
    assert (result.status, result.reason) == (Status.UNKNOWN, "provider_not_detected")
    assert result.key.problem == "ambiguous_provider"
    assert seen[0] == _host(a) and seen[-1] == _host(c) and set(seen) == {_host(s) for s in sims}
    tried = [(e.endpoint, e.outcome) for e in result.evidence if e.endpoint.startswith("detect")]
    assert tried == [
        ("detect-provider:kltest-alpha", "invalid"),
        ("detect-provider:kltest-beta", "unknown"),
        ("detect-provider:kltest-gamma", "invalid"),
    ]
    assert VALUE not in repr(result.evidence)


async def test_a_claimed_key_is_never_detected(
    client: Client, hosts: tuple[list[Simulator], list[str], dict[str, Responder]]
) -> None:
    """Detection touches only ambiguous keys: a key with no candidate stays where it was."""
    sims, seen, _ = hosts
    result = await _check(client, sims, detect=True)  # no kltest- provider registered
    assert (result.status, result.reason) == (Status.UNKNOWN, "unrecognized_key")
    assert seen == []


async def test_a_bare_sk_hint_is_not_a_candidate(client: Client, sim: Simulator) -> None:
    """OpenAI's ``sk-`` hint ("may be a relay token") never sends a relay token to OpenAI."""
    route = default_registry().route(RELAY, None, None)
    assert (route.provider, route.problem) == ("openai", "ambiguous_provider")
    assert candidates(default_registry(), RELAY) == []
    key = Key(Secret(RELAY), "fp0002", "relay", route.provider, route.kind, problem=route.problem)
    engine = Engine(
        client, CheckOptions(base_urls={"openai": sim.url}), RunOptions(detect_provider=True)
    )
    (result,) = [r async for r in engine.run([key])]
    assert (result.status, result.reason) == (Status.UNKNOWN, "ambiguous_provider")
    assert sim.state.total == 0


def test_check_command_detects_only_with_the_flag(live_sim: Simulator, tmp_path: Path) -> None:
    """``keyledger check --detect-provider`` hands the option to the engine; without it, no call."""

    class _Live(_Candidate):
        name: ClassVar[str] = "kltest-live"
        default_base_url: ClassVar[str] = live_sim.url + "/live"

    live_sim.state.extra_scenarios[SCENARIO] = Scenario(
        SCENARIO, Kind.SECRET, "a live key", Status.OK, endpoints={"*": OK}, provider=_Live.name
    )
    keys = tmp_path / "keys.txt"
    keys.write_text(f"mixed {VALUE}\n")
    keys.chmod(0o600)
    default_registry().register(_Live())
    try:
        plain = CliRunner().invoke(cli, ["check", str(keys), "--no-record", "-f", "json"])
        assert live_sim.state.total == 0
        assert "sent nowhere (ambiguous_provider)" in plain.stderr
        flagged = CliRunner().invoke(
            cli, ["check", str(keys), "--no-record", "-f", "json", "--detect-provider"]
        )
    finally:
        default_registry().unregister(_Live.name)
    (result,) = json.loads(flagged.stdout)["results"]
    assert (result["provider"], result["status"], flagged.exit_code) == ("kltest-live", "ok", 0)
    assert [r.path for r in live_sim.state.requests] == ["/live/me"]
    assert "sent nowhere" not in flagged.stderr
