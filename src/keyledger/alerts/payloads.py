"""What an alert says, and how each vendor wants it: text, JSON bodies and signatures.

Every string of an :class:`AlertEvent` goes through :func:`clean_event` before it reaches a
payload or the outbox: redacted (registered secrets, key shapes), neutralised and bounded, so
a label or a remote reason cannot smuggle a key, a control sequence or a channel secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from datetime import datetime
from typing import Any

from keyledger.alerts.events import AlertEvent, EventKind
from keyledger.ledger.rows import from_text, to_text
from keyledger.sanitize import Redactor, clean_message
from keyledger.secret import is_mask

_KINDS: dict[str, str] = {"fired": "ALERT", "recovered": "RECOVERED", "test": "TEST"}
_FIELD_LIMIT = 200
_SUMMARY_LIMIT = 400
_ID_LIMIT = 1000  # ids are never cut in practice: the same crossing keeps the same id


def clean_event(event: AlertEvent, redactor: Redactor) -> AlertEvent:
    """``event`` with every text field redacted, neutralised, single-line and bounded."""

    def clean(text: str | None, limit: int = _FIELD_LIMIT) -> str | None:
        return None if text is None else clean_message(text, redactor, limit)

    masked_key = event.masked_key
    return replace(
        event,
        event_id=clean(event.event_id, _ID_LIMIT) or "",
        rule=clean(event.rule) or "",
        subject=clean(event.subject) or "",
        masked_key=masked_key if masked_key is None or is_mask(masked_key) else clean(masked_key),
        provider=clean(event.provider) or "",
        account=clean(event.account),
        status=clean(event.status),
        reason=clean(event.reason),
        summary=clean(event.summary, _SUMMARY_LIMIT) or "",
        figures={
            clean_message(k, redactor, 64): clean_message(v, redactor, 64)
            for k, v in event.figures.items()
        },
    )


def title(event: AlertEvent) -> str:
    """One short line: ``keyledger ALERT: label`` (already cleaned text only)."""
    return f"keyledger {_KINDS[event.kind]}: {event.subject}"


def body_lines(event: AlertEvent) -> list[str]:
    """The human lines of a message: what crossed, which key, its status and figures."""
    lines = [f"{_KINDS[event.kind]} [{event.rule}] {event.summary}"]
    who = f"key: {event.subject}"
    if event.masked_key:
        who += f" ({event.masked_key})"
    who += f" · provider: {event.provider}"
    if event.account:
        who += f" · account: {event.account}"
    lines.append(who)
    if event.status:
        lines.append(f"status: {event.status}" + (f" ({event.reason})" if event.reason else ""))
    elif event.reason:
        lines.append(f"reason: {event.reason}")
    if event.figures:
        lines.append(" · ".join(f"{k}: {v}" for k, v in event.figures.items()))
    lines.append(f"at: {to_text(event.at)}")
    return lines


def text(event: AlertEvent) -> str:
    """The whole message as plain text (title, then the body lines)."""
    return "\n".join([title(event), *body_lines(event)])


def to_json(event: AlertEvent) -> dict[str, Any]:
    """The event as a JSON object (the generic webhook's ``event`` and the outbox's row)."""
    return {
        "event_id": event.event_id,
        "rule": event.rule,
        "kind": event.kind,
        "subject": event.subject,
        "masked_key": event.masked_key,
        "provider": event.provider,
        "account": event.account,
        "status": event.status,
        "reason": event.reason,
        "summary": event.summary,
        "at": to_text(event.at),
        "figures": dict(event.figures),
    }


def from_json(data: dict[str, Any]) -> AlertEvent:
    """The inverse of :func:`to_json`."""
    kind: EventKind = data["kind"]
    at: datetime | None = from_text(data["at"])
    assert at is not None
    return AlertEvent(
        event_id=data["event_id"],
        rule=data["rule"],
        kind=kind,
        subject=data["subject"],
        masked_key=data.get("masked_key"),
        provider=data["provider"],
        account=data.get("account"),
        status=data.get("status"),
        reason=data.get("reason"),
        summary=data["summary"],
        at=at,
        figures={str(k): str(v) for k, v in (data.get("figures") or {}).items()},
    )


def test_event(channel: str, at: datetime) -> AlertEvent:
    """The message ``keyledger alerts test`` sends: no key, made-up figures, kind ``test``."""
    return AlertEvent(
        event_id=f"test-{channel}-{to_text(at)}",
        rule="test",
        kind="test",
        subject="keyledger test",
        masked_key="sk-…TEST",
        provider="keyledger",
        account=None,
        status="ok",
        reason=None,
        summary=f"test message for channel {channel}: alerts will arrive here",
        at=at,
        figures={"available": "0.00 USD"},
    )


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu/Lark custom-bot signature: HMAC-SHA256 keyed by ``f"{timestamp}\\n{secret}"``
    over an empty message, base64 (timestamp in seconds).

    Source: https://open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN
    ("自定义机器人使用指南", 签名校验; the reference GenSign keys the HMAC with the string).
    """
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk custom-robot signature: base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))
    with the timestamp in milliseconds; it travels URL-encoded as the ``sign`` query parameter.

    Source: https://open.dingtalk.com/document/group/custom-robot-access (加签).
    """
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
