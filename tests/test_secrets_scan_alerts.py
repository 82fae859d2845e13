"""S1 for alerts: keys run through every fault reach no alert payload of any channel, no
`keyledger alerts` output and no `watch` log; channel secrets reach no payload or log either.

(Metrics output is scanned in test_secrets_scan.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp

from keyledger.alerts.channels import load_channels
from keyledger.alerts.dispatch import OutboxSink
from keyledger.alerts.evaluator import RuleEvaluator
from keyledger.alerts.outbox import Outbox
from keyledger.alerts.rules import Rule, When
from keyledger.ledger.session import RunLedger
from keyledger.ledger.store import Store
from keyledger.runner import RunReport, finish_sinks
from keyledger.simulator import Simulator

from .alert_receivers import MailBox, Receiver, receiver, smtp_server
from .test_secrets_scan import _engine_results, _key, _values, assert_clean

__all__ = ["receiver", "smtp_server"]

TOKEN = "Qw7Er5Ty3Ui1Op9AsDf2"  # in every channel's URL or topic
SIGNING = "SECa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4"
CHANNELS = ("hook", "slack", "feishu", "ding", "wecom", "ntfy", "mail")
RULES = [
    Rule("dead", When.STATUS_NOT_OK, CHANNELS),
    Rule("gone", When.UNREACHABLE, CHANNELS, runs=1),
    Rule("low", When.AVAILABLE_BELOW, CHANNELS, amount=Decimal(10**6), currency="USD"),
    Rule("grant", When.GRANT_EXPIRING, CHANNELS, days=3650),
]


def channel_tables(base: str, smtp_port: int) -> dict[str, dict[str, Any]]:
    """One channel of every type, all pointing at the loopback receivers."""
    return {
        "hook": {"type": "webhook", "url": f"{base}/hook/{TOKEN}"},
        "slack": {"type": "slack", "url": f"{base}/services/T0/B0/{TOKEN}", "blocks": True},
        "feishu": {"type": "feishu", "url": f"{base}/fs/{TOKEN}", "secret": SIGNING},
        "ding": {"type": "dingtalk", "url": f"{base}/ding?access_token={TOKEN}", "secret": SIGNING},
        "wecom": {"type": "wecom", "url": f"{base}/wecom?key={TOKEN}"},
        "ntfy": {"type": "ntfy", "server": base, "topic": f"t{TOKEN}"},
        "mail": {"type": "email", "host": "127.0.0.1", "port": smtp_port, "security": "none",
                 "from": "keyledger@example.com", "to": "ops@example.com"},
    }  # fmt: skip


def assert_no_channel_secret(blob: str, where: str) -> None:
    """No 8 characters of the URL token or the signing secret."""
    for secret in (TOKEN, SIGNING):
        pieces = [secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in blob]
        assert not pieces, f"channel secret piece(s) {pieces[:3]} in {where}"


def mail_text(message: Message) -> str:
    """The whole message as sent (headers and body)."""
    return message.as_bytes().decode("utf-8", "replace")


async def test_s1_alert_payloads_of_every_channel_and_the_alerts_list_are_clean(
    sim: Simulator,
    receiver: Receiver,
    smtp_server: tuple[MailBox, int],
    isolated_env: Path,
) -> None:
    """Alerts about every fault's key, through all seven channels, and `keyledger alerts`:
    no key, no key fragment, no channel secret in a payload."""
    for path in (f"/fs/{TOKEN}", "/ding", "/wecom"):  # the vendors that answer a JSON code
        receiver.on(path, *[(200, '{"code":0,"errcode":0}')] * 500)
    values = _values()
    keys = [_key(v) for v in values]
    results = await _engine_results(sim, keys)
    isolated_env.mkdir(parents=True, exist_ok=True)
    mailbox, port = smtp_server
    with Store.open(isolated_env / "ledger.db") as store:
        channels = load_channels(channel_tables(receiver.base, port), lambda p: "cfg:1", {})
        outbox = Outbox(store, channels)
        ledger = RunLedger.begin(store, len(keys))
        evaluator = RuleEvaluator(ledger, RULES, OutboxSink(outbox, RULES))
        for result in results:
            ledger.add(result)
        finish_sinks([ledger, evaluator], RunReport(results=results))
        assert evaluator.error is None and len(evaluator.events) >= len(keys) // 2
        async with aiohttp.ClientSession() as session:
            for _ in range(20):
                if not outbox.pending():
                    break
                await outbox.deliver_due(session)
        assert outbox.pending() == []
    assert len(mailbox.messages) == len(evaluator.events)
    assert len(receiver.hits) == 6 * len(evaluator.events)

    for n, hit in enumerate(receiver.hits):
        sent = hit.body.decode("utf-8", "replace")
        assert_clean(f"{hit.path}?{hit.raw_query} {hit.headers} {sent}", values, f"hit {n}")
        assert_no_channel_secret(sent, f"payload {n}")
    for n, (_envelope, message) in enumerate(mailbox.messages):
        assert_clean(mail_text(message), values, f"mail {n}")
        assert_no_channel_secret(mail_text(message), f"mail {n}")
    listed = await keyledger("alerts", "-f", "json", "--limit", "1000")
    assert len(json.loads(listed)["active"]) == len(evaluator.events)
    assert_clean(listed, values, "alerts -f json")
    assert_clean(await keyledger("alerts", "--limit", "1000"), values, "alerts table")


async def keyledger(*args: str) -> str:
    """Run the CLI (without blocking the receivers' loop); its stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "keyledger", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode() + err.decode()


async def test_s1_watch_logs_are_clean(sim: Simulator, receiver: Receiver, tmp_path: Path) -> None:
    """`keyledger watch` over every fault's key, alerting to a webhook that fails with its own
    URL in the answer: its logs (alerts fired, delivery failures) hold no key and no token."""
    path = f"/hook/{TOKEN}"
    receiver.on(path, *[(500, f"no route for {receiver.url(path)}")] * 10)
    values = _values()
    keyfile = tmp_path / "keys.csv"
    lines = [f"k{n},{v},,{sim.url}" for n, v in enumerate(values)]
    keyfile.write_text("label,key,provider,base_url\n" + "\n".join(lines) + "\n")
    keyfile.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(
        '[[rules]]\nname = "dead"\nwhen = "status_not_ok"\nchannels = ["ops"]\n\n'
        '[[rules]]\nname = "gone"\nwhen = "unreachable"\nruns = 1\nchannels = ["ops"]\n\n'
        '[channels.ops]\ntype = "webhook"\nurl_env = "OPS_HOOK"\n'
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "keyledger", "watch", str(keyfile), "--every", "1s",
        "--max-runs", "2", "--timeout", "0.5", "--config", str(config),
        env={**os.environ, "OPS_HOOK": receiver.url(path)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 110)
    logs = out.decode() + err.decode()
    assert proc.returncode == 0, logs[-3000:]
    assert "alert fired" in logs and "HTTP 500" in logs  # the failing delivery was logged
    assert receiver.at(path)
    assert_clean(logs, values, "watch logs")
    assert_no_channel_secret(logs, "watch logs")
