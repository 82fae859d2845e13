"""The bridge to the channels' outbox: lazy import, routing by rule, and events kept when
this build has no channels."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keyledger.alerts import dispatch
from keyledger.alerts.events import AlertEvent
from keyledger.alerts.rules import Rule, When
from keyledger.config import parse_config

EVENT = AlertEvent(
    "kl-1", "dead", "fired", "prod", "sk-…abcd", "openai", None, "invalid", None, "s",
    datetime(2026, 1, 1, tzinfo=UTC),
)  # fmt: skip


class FakeOutbox:
    def __init__(self, store: object, channels: Mapping[str, object], **kw: object) -> None:
        self.channels = channels
        self.kw = kw
        self.queued: list[tuple[str, list[str]]] = []

    def enqueue(self, event: AlertEvent, names: list[str]) -> None:
        self.queued.append((event.event_id, names))


def test_events_go_to_the_channels_their_rule_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """load_channels gets the [channels] table and where(); events are routed by rule."""
    seen: dict[str, Any] = {}

    def load_channels(
        section: Mapping[str, object], where: Callable[[str], str], env: Mapping[str, str]
    ) -> dict[str, object]:
        seen["where"] = where("channels.ops")
        return {name: object() for name in section}

    module = types.ModuleType(dispatch.CHANNELS_MODULE)
    module.load_channels = load_channels  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, dispatch.CHANNELS_MODULE, module)
    monkeypatch.setattr("keyledger.alerts.outbox.Outbox", FakeOutbox)
    config = parse_config('[channels.ops]\nurl = "x"\n[channels.mail]\n', Path("c.toml"))
    outbox = dispatch.open_outbox(object(), config, {})  # type: ignore[arg-type]
    assert isinstance(outbox, FakeOutbox) and set(outbox.channels) == {"ops", "mail"}
    assert seen["where"] == "c.toml:1" and set(outbox.kw) == {"clock", "rng"}
    sink = dispatch.make_sink(outbox, [Rule("dead", When.STATUS_NOT_OK, ("ops", "mail"))])
    sink.submit([EVENT, AlertEvent(**{**_fields(EVENT), "rule": "removed"})])
    assert outbox.queued == [("kl-1", ["ops", "mail"])]


def _fields(event: AlertEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in AlertEvent.__dataclass_fields__}


def test_without_channels_events_are_refused_so_they_stay_in_the_ledger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A build without the channels module gets no outbox and a sink that refuses."""
    monkeypatch.setitem(sys.modules, dispatch.CHANNELS_MODULE, None)  # import fails
    assert dispatch.open_outbox(object(), parse_config(""), {}) is None  # type: ignore[arg-type]
    with pytest.raises(dispatch.ChannelsUnavailable):
        dispatch.make_sink(None, []).submit([EVENT])


def test_channel_secrets_are_redacted_from_logs_like_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loaded channels' secrets go to the log filter: a log line quoting one loses it."""
    import logging

    from keyledger.cli.alerting import alert_setup
    from keyledger.ledger import Store
    from keyledger.logs import RedactingFilter

    token = "T0kenZq7Xw3Vb9Nm2Lk5Jh8Gf4Ds"
    monkeypatch.setenv("HOOK_URL", f"https://hooks.example.com/services/{token}")
    config = tmp_path / "alerts.toml"
    config.write_text(
        '[[rules]]\nname = "dead"\nwhen = "status_not_ok"\nchannels = ["ops"]\n\n'
        '[channels.ops]\ntype = "webhook"\nurl_env = "HOOK_URL"\n'
    )
    with Store.open(tmp_path / "ledger.db") as store:
        setup = alert_setup(store, config)
    log_filter = RedactingFilter()
    log_filter.register(setup.secrets())
    record = logging.LogRecord("x", logging.ERROR, "f", 1, f"POST failed: {token}", None, None)

    log_filter.filter(record)

    assert token not in record.getMessage() and token[:8] not in record.getMessage()
