"""The clients measured next to ``keyledger check``: each sends the same requests per key.

For a simulator key of scenario ``ok``, ``keyledger check`` (billing on, whoami off) sends
three requests: ``GET /v1/models`` (200), the zero-cost probe ``POST /v1/chat/completions``
(400 ``max_tokens``) and ``GET /v1/dashboard/billing/subscription`` (403 "session key").
The bare clients send exactly these, one after another per key, with ``concurrency`` keys in
flight, read each body and check the status, and do nothing else: that is the client limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBE_BODY = {
    "model": "gpt-4o-mini",
    "max_tokens": -1,
    "messages": [{"role": "user", "content": ""}],
}
CALLS: tuple[tuple[str, str, int], ...] = (
    ("GET", "/v1/models", 200),
    ("POST", "/v1/chat/completions", 400),
    ("GET", "/v1/dashboard/billing/subscription", 403),
)
# A session key (``sess-…``, scenario ``grants``): one request, the seed's credit grants.
SESSION_CALLS: tuple[tuple[str, str, int], ...] = (
    ("GET", "/dashboard/billing/credit_grants", 200),
)


@dataclass
class ClientRun:
    """What an in-process client did."""

    keys: int
    requests: int
    ok: int  # keys whose every answer had the expected status
    wall_s: float
    cpu_s: float


def read_keys(path: Path, limit: int | None = None) -> list[str]:
    """The first ``limit`` keys of a one-key-per-line file."""
    keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return keys[:limit] if limit is not None else keys


async def _drive(
    keys: Iterable[str], concurrency: int, one: Callable[[str], Awaitable[bool]]
) -> int:
    """Run ``one`` over ``keys`` with ``concurrency`` workers; the number that returned True."""
    iterator = iter(keys)
    passed = 0

    async def worker() -> None:
        nonlocal passed
        for key in iterator:  # workers share one iterator: each key is taken once
            good = await one(key)  # awaited first: `passed += await ...` would lose updates
            passed += good

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return passed


def _timed(
    keys: list[str],
    run: Callable[[], Coroutine[Any, Any, int]],
    calls: tuple[tuple[str, str, int], ...] = CALLS,
) -> ClientRun:
    wall, cpu = time.perf_counter(), time.process_time()
    ok = asyncio.run(run())
    return ClientRun(
        keys=len(keys),
        requests=len(keys) * len(calls),
        ok=ok,
        wall_s=time.perf_counter() - wall,
        cpu_s=time.process_time() - cpu,
    )


def bare_aiohttp(
    url: str,
    keys: list[str],
    concurrency: int,
    calls: tuple[tuple[str, str, int], ...] = CALLS,
) -> ClientRun:
    """A bare asyncio + aiohttp client: one session, ``concurrency`` connections, ``calls``
    (path, expected status) for each key, one after another."""
    import aiohttp

    async def run() -> int:
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one(key: str) -> bool:
                headers = {"Authorization": f"Bearer {key}"}
                good = True
                for method, path, expected in calls:
                    body = PROBE_BODY if method == "POST" else None
                    async with session.request(
                        method, url + path, headers=headers, json=body
                    ) as response:
                        await response.read()
                        good = good and response.status == expected
                return good

            return await _drive(keys, concurrency, one)

    return _timed(keys, run, calls)


def bare_httpx(url: str, keys: list[str], concurrency: int) -> ClientRun:
    """The same with httpx.AsyncClient, limits set to ``concurrency`` connections."""
    import httpx

    async def run() -> int:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:

            async def one(key: str) -> bool:
                headers = {"Authorization": f"Bearer {key}"}
                good = True
                for method, path, expected in CALLS:
                    body = PROBE_BODY if method == "POST" else None
                    response = await client.request(method, url + path, headers=headers, json=body)
                    good = good and response.status_code == expected
                return good

            return await _drive(keys, concurrency, one)

    return _timed(keys, run)


def sequential_requests(
    url: str, keys: list[str], calls: tuple[tuple[str, str, int], ...] = CALLS
) -> ClientRun:
    """The seed's way: ``requests``, one request after another (a kept-alive Session)."""
    import requests

    wall, cpu = time.perf_counter(), time.process_time()
    ok = 0
    with requests.Session() as session:
        for key in keys:
            headers = {"Authorization": f"Bearer {key}"}
            good = True
            for method, path, expected in calls:
                body = PROBE_BODY if method == "POST" else None
                response = session.request(
                    method, url + path, headers=headers, json=body, timeout=60
                )
                good = good and response.status_code == expected
            ok += good
    return ClientRun(
        keys=len(keys),
        requests=len(keys) * len(calls),
        ok=ok,
        wall_s=time.perf_counter() - wall,
        cpu_s=time.process_time() - cpu,
    )


def keyledger_in_process(
    url: str, keyfile: Path, concurrency: int, per_host: int | None
) -> ClientRun:
    """keyledger's check path as a library: keys loaded first, then only ``run_checks`` timed.

    No output, no progress, results not kept: the engine, client, retries, providers and
    classification, over one shared session. ``per_host=None`` keeps the shipped default.
    """
    from keyledger.engine import RunOptions
    from keyledger.keyset import build_keyset, read_items
    from keyledger.models import Status
    from keyledger.providers import CheckOptions
    from keyledger.runner import run_checks
    from keyledger.secret import Fingerprinter
    from keyledger.transport import HttpOptions

    keyset = build_keyset(
        read_items([str(keyfile)]), Fingerprinter(b"bench-install-secret"), base_url=url
    )
    http = HttpOptions() if per_host is None else HttpOptions(per_host=per_host)
    ok = 0

    class Count:
        def add(self, result: object) -> None:
            nonlocal ok
            ok += getattr(result, "status", None) is Status.OK

    async def run() -> int:
        report = await run_checks(
            keyset.keys,
            http=http,
            check=CheckOptions(),
            run=RunOptions(concurrency=concurrency),
            sinks=[Count()],
            keep_results=False,
        )
        return report.requests

    wall, cpu = time.perf_counter(), time.process_time()
    requests = asyncio.run(run())
    return ClientRun(
        keys=len(keyset.keys),
        requests=requests,
        ok=ok,
        wall_s=time.perf_counter() - wall,
        cpu_s=time.process_time() - cpu,
    )
