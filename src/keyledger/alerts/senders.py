"""The channels: one class per vendor, each sending one :class:`AlertEvent`.

A channel never lets a secret out: its ``repr`` shows only its name and ``scheme://host``,
and every error it raises is a :class:`DeliveryError` whose text went through the channel's
:class:`ChannelRedactor` (aiohttp's errors can include the whole URL).

Vendor formats (each checked against the vendor's documentation):

- Slack incoming webhook: ``{"text": …}`` (+ optional ``blocks``); errors are HTTP statuses
  with a short text body. https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
- Feishu/Lark custom bot: ``{"msg_type": "text", "content": {"text": …}}`` plus ``timestamp``
  and ``sign`` when signing is on; HTTP 200 with ``{"code": 0}`` is success, any other code a
  failure (e.g. 19021 bad signature).
  https://open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN
- DingTalk custom robot: ``{"msgtype": "text", "text": {"content": …}}``; ``timestamp`` (ms) and
  ``sign`` as query parameters; HTTP 200 with ``{"errcode": 0}`` is success.
  https://open.dingtalk.com/document/group/custom-robot-access
- WeCom group robot: ``{"msgtype": "text", "text": {"content": …}}`` (content ≤ 2048 bytes);
  HTTP 200 with ``{"errcode": 0}`` is success. https://developer.work.weixin.qq.com/document/path/91770
- ntfy: ``POST {server}/{topic}`` with the text as body and ``Title``, ``Priority``, ``Tags``
  headers; ``Authorization: Bearer tk_…`` for protected topics. https://docs.ntfy.sh/publish/
- e-mail: SMTP through aiosmtplib (STARTTLS, implicit TLS or plain, optional login).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal, Protocol
from urllib.parse import quote

import aiohttp
import aiosmtplib
from yarl import URL

from keyledger.alerts import payloads
from keyledger.alerts.events import AlertEvent
from keyledger.alerts.redact import ChannelRedactor
from keyledger.baseurl import display_url
from keyledger.errors import KeyledgerError
from keyledger.sanitize import clean_message

BODY_LIMIT = 64 * 1024  # what is read of a receiver's answer
WECOM_CONTENT_LIMIT = 2048  # bytes, WeCom's documented limit for text content


class DeliveryError(KeyledgerError):
    """A channel could not deliver; the text is redacted and safe to show or store."""


class Channel(Protocol):
    """Something that carries an alert somewhere."""

    name: str

    async def send(self, event: AlertEvent, session: aiohttp.ClientSession) -> None:
        """Deliver ``event`` or raise :class:`DeliveryError`."""
        ...


@dataclass(kw_only=True)
class _Base:
    name: str
    redactor: ChannelRedactor = field(repr=False)
    timeout: float = 10.0

    def fail(self, where: str, message: str) -> DeliveryError:
        """A :class:`DeliveryError` naming the channel, with ``message`` redacted."""
        return DeliveryError(
            f"channel {self.name} ({where}): {clean_message(message, self.redactor)}"
        )

    def event_text(self, event: AlertEvent) -> AlertEvent:
        """``event`` cleaned with this channel's redactor as well."""
        return payloads.clean_event(event, self.redactor)


@dataclass(kw_only=True)
class _HttpChannel(_Base):
    url: str = field(repr=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {display_url(self.url)})"

    @property
    def where(self) -> str:
        return display_url(self.url)

    async def post(
        self, session: aiohttp.ClientSession, url: str | URL, **kwargs: Any
    ) -> tuple[int, str]:
        """POST; returns ``(status, body text)``; transport failures become DeliveryError."""
        try:
            async with session.post(
                url,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
                **kwargs,
            ) as response:
                raw = await response.content.read(BODY_LIMIT)
                return response.status, raw.decode("utf-8", "replace")
        except TimeoutError:
            raise self.fail(self.where, f"no answer within {self.timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise self.fail(self.where, f"{type(exc).__name__}: {exc}") from None

    def check_status(self, status: int, body: str) -> None:
        """Anything but 2xx is a failure (redirects are not followed: a hook does not move)."""
        if not 200 <= status < 300:
            raise self.fail(self.where, f"HTTP {status}: {body[:200]}")

    def check_code(self, status: int, body: str, *fields: str) -> None:
        """HTTP 2xx *and* a zero vendor code in the JSON body (the first of ``fields`` found)."""
        self.check_status(status, body)
        try:
            data = json.loads(body)
        except ValueError:
            raise self.fail(self.where, f"HTTP {status} with a body that is not JSON") from None
        if not isinstance(data, dict):
            raise self.fail(self.where, f"HTTP {status} with an unexpected JSON body")
        for name in fields:
            if name in data:
                code = data[name]
                if code == 0:
                    return
                message = data.get("msg") or data.get("errmsg") or data.get("StatusMessage") or ""
                raise self.fail(self.where, f"{name} {code}: {message}")
        raise self.fail(self.where, f"HTTP {status} without {' or '.join(fields)}")


@dataclass(kw_only=True, repr=False)
class WebhookChannel(_HttpChannel):
    """Generic JSON webhook: ``{"text": …, "event": {…}}``; any 2xx is success."""

    async def send(self, event: AlertEvent, session: aiohttp.ClientSession) -> None:
        event = self.event_text(event)
        body = {"text": payloads.text(event), "event": payloads.to_json(event)}
        self.check_status(*await self.post(session, self.url, json=body))


@dataclass(kw_only=True, repr=False)
class SlackChannel(_HttpChannel):
    """Slack incoming webhook; ``blocks`` adds a header and a plain-text section."""

    blocks: bool = False

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        body: dict[str, Any] = {"text": payloads.text(event)}
        if self.blocks:
            body["blocks"] = [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": payloads.title(event)[:150]},
                },
                {
                    "type": "section",
                    "text": {"type": "plain_text", "text": "\n".join(payloads.body_lines(event))},
                },
            ]
        return body

    async def send(self, event: AlertEvent, session: aiohttp.ClientSession) -> None:
        body = self.payload(self.event_text(event))
        self.check_status(*await self.post(session, self.url, json=body))


@dataclass(kw_only=True, repr=False)
class FeishuChannel(_HttpChannel):
    """Feishu/Lark custom bot, signed when a secret is set."""

    secret: str | None = field(default=None, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    async def send(self, event: AlertEvent, session: aiohttp.ClientSession) -> None:
        event = self.event_text(event)
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": payloads.text(event)}}
        if self.secret:
            timestamp = int(self.clock())
            body["timestamp"] = str(timestamp)
            body["sign"] = payloads.feishu_sign(self.secret, timestamp)
        status, text = await self.post(session, self.url, json=body)
        self.check_code(status, text, "code", "StatusCode")


@dataclass(kw_only=True, repr=False)
class DingTalkChannel(_HttpChannel):
    """DingTalk custom robot, signed (``timestamp`` and ``sign`` query parameters)."""

    secret: str | None = field(default=None, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def signed_url(self) -> URL:
        """The hook URL plus ``timestamp`` and the URL-encoded ``sign`` when a secret is set."""
        if not self.secret:
            return URL(self.url, encoded=True)
        timestamp = int(self.clock() * 1000)
        sign = quote(payloads.dingtalk_sign(self.secret, timestamp), safe="")
        separator = "&" if "?" in self.url else "?"
        return URL(f"{self.url}{separator}timestamp={timestamp}&sign={sign}", encoded=True)

    async def send(self, event: AlertEvent, session: aiohttp.ClientSession) -> None:
        event = self.event_text(event)
        body = {"msgtype": "text", "text": {"content": payloads.text(event)}}
        status, text = await self.post(session, self.signed_url(), json=body)
        self.check_code(status, text, "errcode")


@dataclass(kw_only=True, repr=False)
class WeComChannel(_HttpChannel):
    """WeCom (企业微信) group robot."""

    async def send(self, event: AlertEvent, session: aiohttp.ClientSession) -> None:
        content = payloads.text(self.event_text(event)).encode()[:WECOM_CONTENT_LIMIT]
        body = {"msgtype": "text", "text": {"content": content.decode("utf-8", "ignore")}}
        status, text = await self.post(session, self.url, json=body)
        self.check_code(status, text, "errcode")


def _header_text(value: str) -> str:
    """An HTTP header value: ASCII as it is, else RFC 2047 (ntfy decodes ``=?UTF-8?B?…?=``)."""
    return value if value.isascii() else Header(value, "utf-8").encode()


@dataclass(kw_only=True, repr=False)
class NtfyChannel(_HttpChannel):
    """ntfy: the text as body, title/priority/tags as headers (``url`` is server/topic)."""

    token: str | None = field(default=None, repr=False)
    priority: str | None = None
    tags: tuple[str, ...] = ()

    async def send(self, event: AlertEvent, session: aiohttp.ClientSession) -> None:
        event = self.event_text(event)
        headers = {"Title": _header_text(payloads.title(event))}
        if self.priority:
            headers["Priority"] = self.priority
        tags = [*self.tags] or (["rotating_light"] if event.kind == "fired" else [])
        if tags:
            headers["Tags"] = ",".join(tags)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = "\n".join(payloads.body_lines(event)).encode()
        self.check_status(*await self.post(session, self.url, data=body, headers=headers))


Security = Literal["starttls", "ssl", "none"]


@dataclass(kw_only=True)
class EmailChannel(_Base):
    """E-mail over SMTP (aiosmtplib): STARTTLS, implicit TLS (``ssl``) or none."""

    host: str
    port: int
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str
    recipients: tuple[str, ...]
    subject_prefix: str = "[keyledger]"

    @property
    def where(self) -> str:
        return f"smtp {self.host}:{self.port}"

    def message(self, event: AlertEvent) -> EmailMessage:
        event = self.event_text(event)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Subject"] = f"{self.subject_prefix} {payloads.title(event)}".strip()
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="keyledger.local")
        message.set_content("\n".join(payloads.body_lines(event)) + "\n")
        return message

    async def send(self, event: AlertEvent, session: aiohttp.ClientSession) -> None:
        del session  # SMTP does not use HTTP
        try:
            await aiosmtplib.send(
                self.message(event),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.security == "ssl",
                start_tls=self.security == "starttls",
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise self.fail(self.where, f"{type(exc).__name__}: {exc}") from None


ANY_CHANNEL = (
    WebhookChannel,
    SlackChannel,
    FeishuChannel,
    DingTalkChannel,
    WeComChannel,
    NtfyChannel,
    EmailChannel,
)


def secrets_of(channels: Mapping[str, object]) -> ChannelRedactor:
    """One redactor for every loaded channel's secrets."""
    exact: list[str] = []
    tokens: list[str] = []
    for channel in channels.values():
        redactor = getattr(channel, "redactor", None)
        if isinstance(redactor, ChannelRedactor):
            exact.extend(redactor.exact)
            tokens.extend(redactor.tokens)
    return ChannelRedactor(exact, tokens)
