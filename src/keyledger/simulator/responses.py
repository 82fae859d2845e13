"""Building blocks for simulated answers: JSON bodies, OpenAI-style errors, sequences."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from keyledger.simulator.clock import spent


@dataclass
class Ctx:
    """Per-request context handed to a responder."""

    key: str
    scenario: str
    calls: int  # how many times this key has called this endpoint, this one included
    base: str  # scheme://host:port of the simulator
    latency: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))  # the simulated time
    epoch: datetime | None = None  # when the simulated accounts started spending
    spend_per_day: Decimal = Decimal(0)  # the scenario's spend rate

    @property
    def start(self) -> datetime:
        """The moment scenario offsets (grant expiries, deaths) count from."""
        return self.epoch or self.now

    def spent(self, since: datetime | None = None) -> Decimal:
        """What the account spent from ``since`` (default: the epoch) until now."""
        begin = max(since, self.start) if since is not None else self.start
        return spent(self.spend_per_day, begin, self.now)


Responder = Callable[[web.Request, Ctx], Awaitable[web.StreamResponse]]


def _dump(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, default=str)


def json_reply(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Responder:
    """Always answer ``body`` as JSON with ``status``."""
    text = _dump(body)

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        return web.Response(
            text=text, status=status, content_type="application/json", headers=headers
        )

    return respond


def openai_error(
    status: int,
    message: str,
    type_: str | None = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Responder:
    """An error in OpenAI's envelope: ``{"error": {message, type, param, code}}``."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return json_reply(body, status, headers)


def raw_reply(
    body: str | bytes,
    status: int = 200,
    content_type: str = "text/html",
    headers: Mapping[str, str] | None = None,
) -> Responder:
    """Answer ``body`` verbatim with ``content_type``."""
    data = body.encode() if isinstance(body, str) else body

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        merged = {"Content-Type": content_type, **(headers or {})}
        return web.Response(body=data, status=status, headers=merged)

    return respond


def sequence(steps: Sequence[Responder]) -> Responder:
    """The n-th call of a key gets ``steps[n-1]``; the last step repeats."""

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        index = min(ctx.calls, len(steps)) - 1
        return await steps[index](request, ctx)

    return respond


def dynamic(build: Callable[[web.Request, Ctx], Responder]) -> Responder:
    """A responder chosen per request (e.g. bodies that depend on the current time)."""

    async def respond(request: web.Request, ctx: Ctx) -> web.StreamResponse:
        return await build(request, ctx)(request, ctx)

    return respond
