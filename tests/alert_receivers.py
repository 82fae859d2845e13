"""Real loopback receivers for alert channels: an aiohttp web server and an aiosmtpd server.

Both record everything that arrived; the HTTP one answers from a per-path script.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from keyledger.alerts.events import AlertEvent

FULL_KEY = "sk-proj-" + "Zq7Xw3Vb9Nm2Lk5Jh8Gf4Ds1Ap6Ty0Ru" + "Ab12"


def make_event(**changes: Any) -> AlertEvent:
    """A fired alert for a dead key (masked key only)."""
    values: dict[str, Any] = {
        "event_id": "dead:team-a:1",
        "rule": "key-dead",
        "kind": "fired",
        "subject": "team-a",
        "masked_key": "sk-proj-…Ab12",
        "provider": "openai",
        "account": "org-acme",
        "status": "invalid",
        "reason": "invalid_api_key",
        "summary": "team-a stopped working",
        "at": datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        "figures": {"available": "3.20 USD", "runway": "4 days"},
    }
    values.update(changes)
    return AlertEvent(**values)


@dataclass
class Hit:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records requests; answers from ``script[path]`` (a list consumed in order)."""

    base: str = ""
    hits: list[Hit] = field(default_factory=list)
    script: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    default: tuple[int, str] = (200, "ok")

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def on(self, path: str, *answers: tuple[int, str]) -> None:
        self.script[path] = list(answers)

    def at(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.hits.append(
            Hit(
                request.method,
                request.path,
                dict(request.query),
                request.query_string,
                dict(request.headers),
                body,
            )
        )
        queue = self.script.get(request.path)
        status, text = queue.pop(0) if queue else self.default
        return web.Response(status=status, text=text)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A recording HTTP receiver on 127.0.0.1."""
    rec = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.base = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


class MailBox:
    """aiosmtpd handler that keeps each message and who logged in."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []
        self.logins: list[tuple[str, str]] = []
        self.refuse = 0  # answer this many messages with a temporary failure first
        self.refused = 0

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        if self.refused < self.refuse:
            self.refused += 1
            return "451 4.3.0 Temporary server error, try again later"
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.messages.append((envelope, message_from_bytes(raw)))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: object, session: Session, envelope: Envelope, mechanism: str, auth: Any
    ) -> AuthResult:
        if isinstance(auth, LoginPassword):
            user, password = auth.login.decode(), auth.password.decode()
            self.logins.append((user, password))
            return AuthResult(success=password == "smtp-pa55word-XYZ", handled=False)
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[MailBox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, plain, with AUTH allowed without TLS."""
    box = MailBox()
    port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield box, port
    controller.stop()
