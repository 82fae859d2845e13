"""Every alert channel against a real loopback receiver (aiohttp) or SMTP server (aiosmtpd)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from email.header import decode_header, make_header
from typing import Any

import aiohttp
import pytest

from keyledger.alerts.channels import Channel, DeliveryError, load_channels
from keyledger.alerts.senders import DingTalkChannel, FeishuChannel
from keyledger.secret import Secret

from .alert_receivers import FULL_KEY, Receiver, make_event, receiver, smtp_server

__all__ = ["receiver", "smtp_server"]

FEISHU_TOKEN = "5e3d587e-d78e-4a07-bd07-265f269f86fd"
DING_TOKEN = "98975521a1b23c02cdd1a9a08c69511ddf5fa9d2ae387813d1c5348fb"
DING_SECRET = "SEC19dd84be8c7f3cf71761974f1ed3ef77c1451906ae8ba18acf56103ee"
FEISHU_SECRET = "nIMtb7r3N9pkXyXdtAbx6e"
SLACK_PATH = "/services/T0AAA1111/B0BBB2222/Xy9Zab8Cde7Fgh6Ijk5Lmn4O"
WECOM_KEY = "693a91f6-6b1e-4bc4-97a0-0ec2b1fa5aaa"


def where(path: str) -> str:
    return f"cfg.toml:{len(path)}"


def one(table: dict[str, Any], env: dict[str, str] | None = None) -> Channel:
    return load_channels({"c": table}, where, env or {})["c"]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def body(hit: Any) -> Any:
    return json.loads(hit.body)


async def test_webhook_posts_the_event_as_json(receiver: Receiver, session: Any) -> None:
    """The generic webhook sends text plus the event object, with the masked key only."""
    channel = one({"type": "webhook", "url": receiver.url("/hook/abc12345xyz")})
    await channel.send(make_event(), session)
    (hit,) = receiver.at("/hook/abc12345xyz")
    data = body(hit)
    assert hit.headers["Content-Type"].startswith("application/json")
    assert data["event"]["masked_key"] == "sk-proj-…Ab12"
    assert data["event"]["figures"] == {"available": "3.20 USD", "runway": "4 days"}
    assert "team-a" in data["text"] and "invalid (invalid_api_key)" in data["text"]
    assert "provider: openai" in data["text"] and "account: org-acme" in data["text"]


async def test_webhook_non_2xx_is_a_failure_without_the_url(
    receiver: Receiver, session: Any
) -> None:
    """HTTP 500 raises DeliveryError naming scheme://host, never the token path."""
    receiver.on("/hook/abc12345xyz", (500, "down for /hook/abc12345xyz"))
    channel = one({"type": "webhook", "url": receiver.url("/hook/abc12345xyz")})
    with pytest.raises(DeliveryError) as caught:
        await channel.send(make_event(), session)
    text = str(caught.value)
    assert "HTTP 500" in text and receiver.base in text
    assert "abc12345xyz" not in text and "abc12345xyz" not in repr(channel)


async def test_slack_text_and_optional_blocks(receiver: Receiver, session: Any) -> None:
    """Slack gets {"text": …}; with blocks = true also a header and a plain-text section."""
    plain = one({"type": "slack", "url": receiver.url(SLACK_PATH)})
    fancy = one({"type": "slack", "url": receiver.url(SLACK_PATH), "blocks": True})
    await plain.send(make_event(), session)
    await fancy.send(make_event(), session)
    first, second = (body(h) for h in receiver.at(SLACK_PATH))
    assert set(first) == {"text"} and first["text"].startswith("keyledger ALERT: team-a")
    assert second["blocks"][0]["type"] == "header"
    assert second["blocks"][1]["text"]["type"] == "plain_text"
    assert "sk-proj-…Ab12" in second["blocks"][1]["text"]["text"]


async def test_slack_error_status_is_a_failure(receiver: Receiver, session: Any) -> None:
    """Slack reports errors by status (e.g. 404 no_service): that is a DeliveryError."""
    receiver.on(SLACK_PATH, (404, "no_service"))
    with pytest.raises(DeliveryError, match="HTTP 404: no_service"):
        await one({"type": "slack", "url": receiver.url(SLACK_PATH)}).send(make_event(), session)


async def test_feishu_signature_verifies(receiver: Receiver, session: Any) -> None:
    """Feishu gets msg_type text and a sign the receiver recomputes from timestamp+secret."""
    path = f"/open-apis/bot/v2/hook/{FEISHU_TOKEN}"
    receiver.on(path, (200, '{"code":0,"msg":"success","data":{}}'))
    channel = one(
        {"type": "feishu", "url": receiver.url(path), "secret_env": "FS"}, {"FS": FEISHU_SECRET}
    )
    assert isinstance(channel, FeishuChannel)
    channel.clock = lambda: 1_764_504_000.7
    await channel.send(make_event(), session)
    data = body(receiver.at(path)[0])
    assert data["msg_type"] == "text" and "team-a" in data["content"]["text"]
    assert data["timestamp"] == "1764504000"
    key = f"{data['timestamp']}\n{FEISHU_SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert data["sign"] == expected


async def test_feishu_nonzero_code_is_a_failure(receiver: Receiver, session: Any) -> None:
    """HTTP 200 with code 19021 (bad signature) is a failure that shows the vendor message."""
    path = f"/open-apis/bot/v2/hook/{FEISHU_TOKEN}"
    receiver.on(
        path,
        (
            200,
            '{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}',
        ),
    )
    channel = one({"type": "feishu", "url": receiver.url(path), "secret": FEISHU_SECRET})
    with pytest.raises(DeliveryError) as caught:
        await channel.send(make_event(), session)
    text = str(caught.value)
    assert "code 19021: sign match fail" in text
    assert FEISHU_TOKEN[:8] not in text and FEISHU_SECRET not in text


async def test_dingtalk_signed_query_verifies(receiver: Receiver, session: Any) -> None:
    """DingTalk gets timestamp (ms) and sign as query parameters next to access_token."""
    receiver.on("/robot/send", (200, '{"errcode":0,"errmsg":"ok"}'))
    channel = one(
        {
            "type": "dingtalk",
            "url": receiver.url(f"/robot/send?access_token={DING_TOKEN}"),
            "secret": DING_SECRET,
        }
    )
    assert isinstance(channel, DingTalkChannel)
    channel.clock = lambda: 1_764_504_000.123
    await channel.send(make_event(), session)
    (hit,) = receiver.at("/robot/send")
    assert hit.query["access_token"] == DING_TOKEN
    assert hit.query["timestamp"] == "1764504000123"
    string = f"{hit.query['timestamp']}\n{DING_SECRET}".encode()
    digest = hmac.new(DING_SECRET.encode(), string, hashlib.sha256).digest()
    assert hit.query["sign"] == base64.b64encode(digest).decode()
    assert "+" not in hit.raw_query.split("sign=")[1]  # the base64 is URL-encoded
    data = body(hit)
    assert data["msgtype"] == "text" and "team-a" in data["text"]["content"]


async def test_dingtalk_errcode_is_a_failure(receiver: Receiver, session: Any) -> None:
    """HTTP 200 with errcode 310000 is a failure; the token and secret stay out of it."""
    receiver.on("/robot/send", (200, '{"errcode":310000,"errmsg":"sign not match"}'))
    channel = one(
        {
            "type": "dingtalk",
            "url": receiver.url(f"/robot/send?access_token={DING_TOKEN}"),
            "secret": DING_SECRET,
        }
    )
    with pytest.raises(DeliveryError) as caught:
        await channel.send(make_event(), session)
    text = str(caught.value)
    assert "errcode 310000: sign not match" in text
    assert DING_TOKEN[:8] not in text and DING_SECRET[3:11] not in text


async def test_wecom_payload_and_errcode(receiver: Receiver, session: Any) -> None:
    """WeCom gets msgtype text; errcode 0 is success, 93000 and a non-JSON 200 are failures."""
    path = "/cgi-bin/webhook/send"
    url = receiver.url(f"{path}?key={WECOM_KEY}")
    receiver.on(
        path,
        (200, '{"errcode":0,"errmsg":"ok"}'),
        (200, '{"errcode":93000,"errmsg":"invalid webhook url"}'),
        (200, "<html>proxy</html>"),
    )
    channel = one({"type": "wecom", "url": url})
    await channel.send(make_event(), session)
    data = body(receiver.at(path)[0])
    assert data["msgtype"] == "text" and "sk-proj-…Ab12" in data["text"]["content"]
    with pytest.raises(DeliveryError, match="errcode 93000"):
        await channel.send(make_event(), session)
    with pytest.raises(DeliveryError, match="not JSON"):
        await channel.send(make_event(), session)


async def test_ntfy_headers_token_and_body(receiver: Receiver, session: Any) -> None:
    """ntfy gets POST /topic with Title, Priority, Tags and the bearer token in headers."""
    channel = one(
        {
            "type": "ntfy",
            "server": receiver.base,
            "topic": "keyledger-ops-7f3a",
            "token_env": "NTFY",
            "priority": "high",
            "tags": ["warning", "key"],
        },
        {"NTFY": "tk_7eevizlsiwf9yi4uxsrs83r4352o0"},
    )
    await channel.send(make_event(subject="équipe-a"), session)
    (hit,) = receiver.at("/keyledger-ops-7f3a")
    assert hit.headers["Priority"] == "4" and hit.headers["Tags"] == "warning,key"
    assert hit.headers["Authorization"] == "Bearer tk_7eevizlsiwf9yi4uxsrs83r4352o0"
    assert str(make_header(decode_header(hit.headers["Title"]))) == "keyledger ALERT: équipe-a"
    assert "status: invalid (invalid_api_key)" in hit.body.decode()


async def test_email_through_a_real_smtp_server(smtp_server: tuple[Any, int], session: Any) -> None:
    """SMTP delivers one message with subject, sender, recipients and the masked key; the
    password comes from the environment and logs in."""
    box, port = smtp_server
    channel = one(
        {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "username": "alerts",
            "password_env": "SMTP_PW",
            "from": "keyledger@example.com",
            "to": ["ops@example.com", "me@example.com"],
        },
        {"SMTP_PW": "smtp-pa55word-XYZ"},
    )
    await channel.send(make_event(), session)
    ((envelope, message),) = box.messages
    assert box.logins == [("alerts", "smtp-pa55word-XYZ")]
    assert envelope.rcpt_tos == ["ops@example.com", "me@example.com"]
    assert message["Subject"] == "[keyledger] keyledger ALERT: team-a"
    assert message["From"] == "keyledger@example.com"
    assert "sk-proj-…Ab12" in message.get_payload(decode=True).decode()


async def test_email_refused_login_hides_the_password(
    smtp_server: tuple[Any, int], session: Any
) -> None:
    """A rejected login is a DeliveryError whose text holds no password."""
    _box, port = smtp_server
    channel = one(
        {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "username": "alerts",
            "password": "wrong-pa55word-ABC",
            "from": "keyledger@example.com",
            "to": "ops@example.com",
        }
    )
    with pytest.raises(DeliveryError) as caught:
        await channel.send(make_event(), session)
    assert "wrong-pa55word-ABC" not in str(caught.value)
    assert "535" in str(caught.value)  # the server's refusal, not a timeout
    assert f"smtp 127.0.0.1:{port}" in str(caught.value)


async def test_unreachable_channel_is_a_delivery_error(session: Any) -> None:
    """A refused connection becomes DeliveryError; the token part is not in it."""
    from .alert_receivers import free_port

    url = f"http://127.0.0.1:{free_port()}/hook/T0k3nT0k3nT0k3n"
    with pytest.raises(DeliveryError) as caught:
        await one({"type": "webhook", "url": url, "timeout": 2}).send(make_event(), session)
    assert "T0k3nT0k3nT0k3n" not in str(caught.value)


async def test_payload_never_carries_a_key_or_control_characters(
    receiver: Receiver, session: Any
) -> None:
    """A full key or an escape sequence in a label or summary is redacted/neutralised."""
    event = make_event(subject=f"oops {FULL_KEY}", summary="bad\x1b[31m\nnext line")
    await one({"type": "webhook", "url": receiver.url("/h")}).send(event, session)
    raw = receiver.at("/h")[0].body.decode()
    assert FULL_KEY not in raw and FULL_KEY[8:16] not in raw
    data = json.loads(raw)
    assert "[REDACTED]" in data["event"]["subject"]
    assert "\x1b" not in data["event"]["summary"] and "^[" in data["event"]["summary"]


@pytest.mark.parametrize("security", ["starttls", "ssl"])
async def test_email_over_tls_verifies_the_server(
    security: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, session: Any
) -> None:
    """STARTTLS and implicit TLS deliver to a server whose certificate the system trusts,
    and refuse one it does not."""
    import ssl

    import trustme
    from aiosmtpd.controller import Controller

    from .alert_receivers import MailBox, free_port

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    box, port = MailBox(), free_port()
    tls = {"ssl_context": server_context} if security == "ssl" else {}
    starttls = {"tls_context": server_context, "require_starttls": True}
    controller = Controller(box, hostname="127.0.0.1", port=port, **(tls or starttls))
    controller.start()
    try:
        table = {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "security": security,
            "from": "keyledger@example.com",
            "to": "ops@example.com",
            "timeout": 5,
        }
        with pytest.raises(DeliveryError):  # not trusted yet
            await one(table).send(make_event(), session)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        await one(table).send(make_event(), session)
    finally:
        controller.stop()
    assert len(box.messages) == 1


@pytest.mark.parametrize("prefix", ["sk-ant-admin01-", "sk-ant-api03-", "sk-svcacct-", "sk-proj-"])
async def test_masked_keys_of_long_prefixes_arrive_as_masked(
    receiver: Receiver, session: Any, prefix: str
) -> None:
    """A masked key (prefix…last4) is shown as built, in the event and in the summary text."""
    masked = Secret(prefix + "Qw8Er4Ty6Ui2Op0As5Df7Gh3Jk" + "zCms").masked
    assert masked == f"{prefix}…zCms"
    event = make_event(masked_key=masked, summary=f"team-a ({masked}, anthropic): dead")
    await one({"type": "webhook", "url": receiver.url("/m")}).send(event, session)
    data = body(receiver.at("/m")[0])
    assert data["event"]["masked_key"] == masked
    assert masked in data["event"]["summary"] and masked in data["text"]
    assert "[REDACTED]" not in json.dumps(data)


async def test_a_key_posing_as_masked_key_is_still_redacted(
    receiver: Receiver, session: Any
) -> None:
    """Only the exact masked form is kept as is: a full key in that field is redacted."""
    await one({"type": "webhook", "url": receiver.url("/f")}).send(
        make_event(masked_key=FULL_KEY), session
    )
    data = body(receiver.at("/f")[0])
    assert FULL_KEY[8:16] not in json.dumps(data) and "[REDACTED]" in data["event"]["masked_key"]
