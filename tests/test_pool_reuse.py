"""The connector tells a request on a pooled connection from one on a fresh connection."""

from __future__ import annotations

from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from keyledger import wire
from keyledger.client import make_session
from keyledger.transport import HttpOptions


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({})


async def _reused_flags(sends: int) -> list[bool]:
    app = web.Application()
    app.router.add_get("/", _ok)
    flags: list[bool] = []
    async with TestServer(app) as server, make_session(HttpOptions(), 1) as session:
        for _ in range(sends):
            async with session.get(server.make_url("/")) as response:
                await response.read()
            flags.append(wire._REUSED.get())
            wire._REUSED.set(False)
    return flags


async def test_first_request_is_fresh_and_later_ones_are_pooled() -> None:
    """With one pooled connection, only the first request of the session opens a new one."""
    assert await _reused_flags(3) == [False, True, True]


async def test_a_new_connection_after_a_close_is_fresh_again() -> None:
    """A connection opened after the pooled one was closed is not counted as reused."""
    app = web.Application()
    app.router.add_get("/", _ok)
    flags: list[bool] = []
    async with TestServer(app) as server, make_session(HttpOptions(), 1) as session:
        for close in (False, True, False):
            wire._REUSED.set(False)
            headers = {"Connection": "close"} if close else {}
            async with session.get(server.make_url("/"), headers=headers) as response:
                await response.read()
            flags.append(wire._REUSED.get())
    assert flags == [False, True, False]


class _Slotted:
    """A protocol without a ``__dict__``."""

    __slots__ = ("__weakref__",)


class _Plain:
    """A protocol with a ``__dict__``, as aiohttp's own."""


async def _connect_flags(protocol: object, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    async def connect(self: object, *args: object) -> object:
        return mock.Mock(protocol=protocol)

    monkeypatch.setattr(aiohttp.TCPConnector, "connect", connect)
    connector = wire.PoolConnector()
    flags: list[bool] = []
    try:
        for _ in range(3):
            wire._REUSED.set(False)
            await connector.connect(mock.Mock(), [], aiohttp.ClientTimeout())
            flags.append(wire._REUSED.get())
    finally:
        await connector.close()
    assert len(connector._served) == (1 if isinstance(protocol, _Slotted) else 0)
    return flags


@pytest.mark.parametrize("protocol", [_Plain, _Slotted])
async def test_a_protocol_is_noted_in_its_own_dict_or_else_in_the_weak_set(
    protocol: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A protocol with a ``__dict__`` carries its own mark; one without is noted weakly."""
    assert await _connect_flags(protocol(), monkeypatch) == [False, True, True]
