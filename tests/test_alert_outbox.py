"""The alert outbox: durable, retried with backoff, failing channels reported, no secrets kept."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from keyledger.alerts.channels import Channel, load_channels
from keyledger.alerts.outbox import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    DeliveryReport,
    FailingChannel,
    Outbox,
    backoff,
)
from keyledger.ledger.store import Store

from .alert_receivers import FULL_KEY, MailBox, Receiver, make_event, receiver, smtp_server

__all__ = ["receiver", "smtp_server"]

TOKEN = "Xy9Zab8Cde7Fgh6Ijk5Lmn4O"
SECRET = "SEC19dd84be8c7f3cf71761974f1ed3ef77c1451906ae8ba18acf56103ee"


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    with Store.open(db) as s:
        yield s


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def channels(receiver: Receiver, path: str = f"/hook/{TOKEN}") -> dict[str, Channel]:
    return load_channels(
        {
            "ops": {"type": "webhook", "url_env": "HOOK"},
            "ding": {"type": "dingtalk", "url": receiver.url("/robot/send"), "secret": SECRET},
        },
        lambda p: "cfg.toml:1",
        {"HOOK": receiver.url(path)},
    )


def outbox(store: Store, receiver: Receiver, clock: Clock) -> Outbox:
    return Outbox(store, channels(receiver), clock=clock, rng=random.Random(7))


async def test_three_500s_then_200_deliver_exactly_once(
    store: Store, receiver: Receiver, session: Any
) -> None:
    """A receiver answering 500 three times then 200 gets the alert exactly once."""
    path = f"/hook/{TOKEN}"
    receiver.on(path, (500, "oops"), (500, "oops"), (500, "oops"), (200, "ok"))
    clock = Clock()
    box = outbox(store, receiver, clock)
    box.enqueue(make_event(), ["ops"])
    reports = []
    for _ in range(6):
        reports.append(await box.deliver_due(session))
        clock.advance(BACKOFF_CAP)
    assert len(receiver.at(path)) == 4
    assert [r.delivered for r in reports] == [0, 0, 0, 1, 0, 0]
    assert [r.failed for r in reports[:3]] == [1, 1, 1]
    assert reports[-1].ok and box.pending() == []
    row = store.conn.execute("SELECT attempts, delivered_at FROM alert_outbox").fetchone()
    assert row["attempts"] == 4 and row["delivered_at"] is not None


# Every HTTP channel: its config table (``URL`` is the receiver's base), the path it posts to,
# and the answer its vendor gives on success.
HTTP_CHANNELS: dict[str, tuple[dict[str, Any], str, str]] = {
    "webhook": ({"type": "webhook", "url": f"URL/hook/{TOKEN}"}, f"/hook/{TOKEN}", "ok"),
    "slack": (
        {"type": "slack", "url": f"URL/services/T0/B0/{TOKEN}"},
        f"/services/T0/B0/{TOKEN}",
        "ok",
    ),
    "feishu": (
        {"type": "feishu", "url": f"URL/open-apis/bot/v2/hook/{TOKEN}", "secret": SECRET},
        f"/open-apis/bot/v2/hook/{TOKEN}",
        '{"code":0,"msg":"success","data":{}}',
    ),
    "dingtalk": (
        {"type": "dingtalk", "url": f"URL/robot/send?access_token={TOKEN}", "secret": SECRET},
        "/robot/send",
        '{"errcode":0,"errmsg":"ok"}',
    ),
    "wecom": (
        {"type": "wecom", "url": f"URL/cgi-bin/webhook/send?key={TOKEN}"},
        "/cgi-bin/webhook/send",
        '{"errcode":0,"errmsg":"ok"}',
    ),
    "ntfy": ({"type": "ntfy", "server": "URL", "topic": f"ops-{TOKEN}"}, f"/ops-{TOKEN}", "{}"),
}


async def three_failures_then_success(box: Outbox, clock: Clock, session: Any) -> list[int]:
    """Delivery passes a backoff apart; how many each delivered."""
    box.enqueue(make_event(), ["c"])
    delivered = []
    for _ in range(6):
        delivered.append((await box.deliver_due(session)).delivered)
        clock.advance(BACKOFF_CAP)
    assert box.pending() == []
    return delivered


@pytest.mark.parametrize("kind", sorted(HTTP_CHANNELS))
async def test_every_http_channel_gets_the_alert_once_after_three_500s(
    kind: str, store: Store, receiver: Receiver, session: Any
) -> None:
    """Each HTTP channel's receiver answers 500 three times, then its success: one alert."""
    table, path, success = HTTP_CHANNELS[kind]
    table = {
        k: v.replace("URL", receiver.base) if isinstance(v, str) else v for k, v in table.items()
    }
    receiver.on(path, *[(500, "oops")] * 3, (200, success))
    clock = Clock()
    chans = load_channels({"c": table}, lambda p: "cfg.toml:1", {})
    box = Outbox(store, chans, clock=clock, rng=random.Random(7))

    assert await three_failures_then_success(box, clock, session) == [0, 0, 0, 1, 0, 0]
    assert len(receiver.at(path)) == 4 and len(receiver.hits) == 4
    assert "team-a" in receiver.at(path)[-1].body.decode()


async def test_email_gets_the_alert_once_after_three_temporary_refusals(
    store: Store, smtp_server: tuple[MailBox, int], session: Any
) -> None:
    """The SMTP server refuses the message three times (451), then takes it: one mail."""
    mailbox, port = smtp_server
    mailbox.refuse = 3
    table = {"type": "email", "host": "127.0.0.1", "port": port, "security": "none",
             "from": "keyledger@example.com", "to": "ops@example.com"}  # fmt: skip
    clock = Clock()
    chans = load_channels({"c": table}, lambda p: "cfg.toml:1", {})
    box = Outbox(store, chans, clock=clock, rng=random.Random(7))

    assert await three_failures_then_success(box, clock, session) == [0, 0, 0, 1, 0, 0]
    assert mailbox.refused == 3 and len(mailbox.messages) == 1


async def test_failed_delivery_waits_for_its_backoff(
    store: Store, receiver: Receiver, session: Any
) -> None:
    """After a failure nothing is re-sent before the backoff time, and then it is."""
    path = f"/hook/{TOKEN}"
    receiver.on(path, (503, "busy"), (200, "ok"))
    clock = Clock()
    box = outbox(store, receiver, clock)
    box.enqueue(make_event(), ["ops"])
    await box.deliver_due(session)
    due = box.next_due()
    assert due is not None
    assert BACKOFF_BASE / 2 <= due - clock.now <= BACKOFF_BASE
    clock.advance((due - clock.now) - timedelta(seconds=1))
    await box.deliver_due(session)
    assert len(receiver.at(path)) == 1
    clock.advance(timedelta(seconds=1))
    assert (await box.deliver_due(session)).delivered == 1
    assert len(receiver.at(path)) == 2


async def test_permanently_failing_channel_keeps_alerts_and_is_reported(
    store: Store, receiver: Receiver, session: Any
) -> None:
    """A dead channel keeps every alert pending and is reported with a sanitised reason;
    the other channel still delivers."""
    path = f"/hook/{TOKEN}"
    receiver.on(path, *[(500, f"internal error at {path}")] * 20)
    receiver.on("/robot/send", *[(200, '{"errcode":0,"errmsg":"ok"}')] * 5)
    clock = Clock()
    box = outbox(store, receiver, clock)
    box.enqueue(make_event(event_id="a"), ["ops", "ding"])
    box.enqueue(make_event(event_id="b"), ["ops"])
    for _ in range(5):
        report = await box.deliver_due(session)
        clock.advance(BACKOFF_CAP)
    assert len(receiver.at("/robot/send")) == 1
    assert report.pending == 2 and [p.channel for p in box.pending()] == ["ops", "ops"]
    (failing,) = report.failing
    assert failing.name == "ops" and failing.pending == 2 and failing.attempts == 5
    assert "HTTP 500" in failing.reason and TOKEN[:8] not in failing.reason
    # A failed channel is not hammered: one try per pass, the later alert waits with it.
    assert len(receiver.at(path)) == 5


async def test_restart_delivers_what_was_pending(
    db: Path, receiver: Receiver, session: Any
) -> None:
    """A new Outbox over the same ledger file delivers what the old one left pending."""
    path = f"/hook/{TOKEN}"
    receiver.on(path, (500, "down"))
    clock = Clock()
    with Store.open(db) as first:
        box = outbox(first, receiver, clock)
        box.enqueue(make_event(), ["ops"])
        assert (await box.deliver_due(session)).failed == 1
    clock.advance(BACKOFF_CAP)
    with Store.open(db) as second:
        again = outbox(second, receiver, clock)
        assert [p.event_id for p in again.pending()] == ["dead:team-a:1"]
        report = await again.deliver_due(session)
    assert report.delivered == 1 and report.pending == 0
    assert len(receiver.at(path)) == 2


async def test_enqueue_twice_sends_once(store: Store, receiver: Receiver, session: Any) -> None:
    """The same event for the same channel is queued once (a restart cannot double-send)."""
    box = outbox(store, receiver, Clock())
    box.enqueue(make_event(), ["ops", "ops"])
    box.enqueue(make_event(), ["ops"])
    assert (await box.deliver_due(session)).delivered == 1
    assert len(receiver.at(f"/hook/{TOKEN}")) == 1


async def test_unknown_channel_stays_pending_and_is_reported(
    store: Store, receiver: Receiver, session: Any
) -> None:
    """A rule naming a channel that is not configured keeps its alert and says why."""
    box = outbox(store, receiver, Clock())
    box.enqueue(make_event(), ["nowhere"])
    report = await box.deliver_due(session)
    assert report.failing[0].name == "nowhere"
    assert "not configured" in report.failing[0].reason


async def test_outbox_rows_hold_no_secret_and_no_key(
    db: Path, store: Store, receiver: Receiver, session: Any
) -> None:
    """The ledger file holds no webhook token, signing secret or full key after deliveries."""
    path = f"/hook/{TOKEN}"
    receiver.on(path, (500, f"echo {receiver.url(path)} {SECRET}"))
    box = outbox(store, receiver, Clock())
    event = make_event(summary=f"leak {FULL_KEY} {receiver.url(path)}", reason=SECRET)
    box.enqueue(event, ["ops", "ding"])
    await box.deliver_due(session)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in db.parent.glob("ledger.db*"))
    for secret in (TOKEN, TOKEN[:8], SECRET, SECRET[10:18], FULL_KEY, FULL_KEY[8:16]):
        assert secret.encode() not in raw, secret
    assert b"[REDACTED]" in raw


def test_backoff_is_exponential_capped_and_jittered() -> None:
    """Delays double per attempt within [d/2, d), and never exceed the cap."""
    rng = random.Random(1)
    for attempts in range(1, 12):
        full = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
        delay = backoff(attempts, rng, BACKOFF_BASE, BACKOFF_CAP)
        assert full / 2 <= delay < full


def test_delivery_report_reads_as_one_plain_line() -> None:
    """The deliveries log line names counts and failing channels, not a dataclass repr."""
    quiet = DeliveryReport(delivered=2, failed=0, pending=0, failing=())
    assert quiet.summary() == "delivered 2, failed 0, pending 0"
    failing = (FailingChannel("ops", "HTTP 500", 3, 1),)
    report = DeliveryReport(delivered=0, failed=1, pending=1, failing=failing)
    assert (
        report.summary() == "delivered 0, failed 1, pending 1; failing: ops (HTTP 500, 1 pending)"
    )
    assert "DeliveryReport" not in report.summary()
