"""The engine checks keys on a bounded pool of worker tasks: not one task per key."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine, Generator, Iterator
from typing import Any, ClassVar

import pytest

from keyledger.client import Client, make_session
from keyledger.engine import Engine, RunOptions
from keyledger.models import CheckResult, Key, Kind, Status
from keyledger.providers import CheckOptions, Provider
from keyledger.providers.base import ResultBuilder
from keyledger.secret import Secret
from keyledger.transport import HttpOptions

OPTS = HttpOptions(attempt_deadline=2.0, connect_timeout=1.0)


def _key(n: int, provider: str = "instant") -> Key:
    value = f"sk-proj-worker{n:012d}abcdefghijklmnop"
    fp = hashlib.sha256(value.encode()).hexdigest()[:16]
    return Key(Secret(value), fp, fp[:6], provider=provider, kind=Kind.SECRET)


class _InstantProvider(Provider):
    """Answers after one turn of the loop."""

    name: ClassVar[str] = "instant"
    default_base_url: ClassVar[str] = "http://unused"
    started: ClassVar[list[str]] = []

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        self.started.append(key.fingerprint)
        await asyncio.sleep(0)
        return ResultBuilder(key, options).finish(Status.OK, None)


async def _run(keys: object, concurrency: int) -> tuple[list[CheckResult], int]:
    """Results of a run and how many tasks the loop created during it."""
    loop = asyncio.get_running_loop()
    created = [0]

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any]
    ) -> asyncio.Future[Any]:
        created[0] += 1
        return asyncio.Task(coro, loop=loop)

    async with make_session(OPTS, concurrency) as session:
        engine = Engine(Client(session, OPTS), CheckOptions(), RunOptions(concurrency))
        loop.set_task_factory(factory)
        try:
            results = [r async for r in engine.run(keys)]  # type: ignore[arg-type]
        finally:
            loop.set_task_factory(None)
    return results, created[0]


async def test_tasks_are_bounded_by_concurrency_not_keys(
    register: Callable[[Provider], None],
) -> None:
    """500 keys at concurrency 8 run on at most 8 workers (and the stop watcher), in order."""
    register(_InstantProvider())
    _InstantProvider.started.clear()
    keys = [_key(n) for n in range(500)]
    results, tasks = await _run(keys, 8)
    assert len(results) == 500 and {r.status for r in results} == {Status.OK}
    assert tasks <= 8 + 1
    assert _InstantProvider.started == [k.fingerprint for k in keys]  # started in input order


async def test_one_key_starts_few_workers(register: Callable[[Provider], None]) -> None:
    """A one-key run at concurrency 200 starts two workers at most, not 200."""
    register(_InstantProvider())
    results, tasks = await _run([_key(0)], 200)
    assert len(results) == 1 and tasks <= 2 + 1


async def test_a_bug_outside_a_provider_is_an_internal_error_result(
    register: Callable[[Provider], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that raises outside any provider gives that key unknown/internal_error."""
    register(_InstantProvider())
    real = Engine.check_one

    async def flaky(self: Engine, key: Key) -> CheckResult:
        if key.fingerprint == bad.fingerprint:
            raise RuntimeError("bug")
        return await real(self, key)

    monkeypatch.setattr(Engine, "check_one", flaky)
    keys = [_key(n) for n in range(20)]
    bad = keys[3]
    results, _ = await _run(keys, 2)
    assert sorted(r.key.fingerprint for r in results) == sorted(k.fingerprint for k in keys)
    (failed,) = [r for r in results if r.key is bad]
    assert (failed.status, failed.reason) == (Status.UNKNOWN, "internal_error")


async def test_an_input_that_raises_ends_the_run_with_its_error(
    register: Callable[[Provider], None],
) -> None:
    """An input iterator that raises ends the run with that error, after what it gave."""
    register(_InstantProvider())

    def keys() -> Iterator[Key]:
        yield _key(1)
        raise OSError("input gone")

    with pytest.raises(OSError, match="input gone"):
        await _run(keys(), 4)


class _SlowProvider(_InstantProvider):
    """Answers after a few turns of the loop."""

    name: ClassVar[str] = "slow"

    async def check(self, client: Client, key: Key, options: CheckOptions) -> CheckResult:
        for _ in range(5):
            await asyncio.sleep(0)
        return ResultBuilder(key, options).finish(Status.OK, None)


@pytest.mark.parametrize("concurrency", [1, 2, 4, 8])
async def test_the_keys_read_before_an_input_error_get_their_results(
    register: Callable[[Provider], None], concurrency: int
) -> None:
    """Keys read before the input raised are all checked and yielded, then the error."""
    register(_SlowProvider())
    keys = [_key(n, "slow") for n in range(3)]
    given: list[CheckResult] = []

    def read() -> Iterator[Key]:
        yield from keys
        raise OSError("input gone")

    async def collect() -> None:
        async with make_session(OPTS, concurrency) as session:
            engine = Engine(Client(session, OPTS), CheckOptions(), RunOptions(concurrency))
            async for result in engine.run(read()):
                given.append(result)

    with pytest.raises(OSError, match="input gone"):
        await collect()
    assert sorted(r.key.fingerprint for r in given) == sorted(k.fingerprint for k in keys)
