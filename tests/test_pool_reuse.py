"""The connector tells a request on a pooled connection from one on a fresh connection."""

from __future__ import annotations

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
