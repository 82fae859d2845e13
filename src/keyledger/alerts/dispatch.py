"""The bridge from rule events to the delivery outbox of :mod:`keyledger.alerts.channels`.

The channels module is imported lazily: a build without it still evaluates rules and keeps
every event in the ledger (unsubmitted), to be queued once channels are available.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from keyledger.alerts.events import AlertEvent
from keyledger.alerts.rules import Rule
from keyledger.config import Config
from keyledger.errors import ConfigError, KeyledgerError
from keyledger.ledger.store import Store

CHANNELS_MODULE = "keyledger.alerts.channels"


class ChannelsUnavailable(KeyledgerError):
    """This build has no alert channels: events stay in the ledger."""


def _channels_module() -> Any:
    try:
        return importlib.import_module(CHANNELS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != CHANNELS_MODULE:
            raise
        return None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxSink:
    """An :class:`~keyledger.alerts.evaluator.AlertSink` that enqueues each event on the
    channels its rule names (durably, in the ledger's outbox)."""

    def __init__(self, outbox: Any, rules: Sequence[Rule]) -> None:
        self.outbox = outbox
        self.routes: dict[str, tuple[str, ...]] = {r.name: r.channels for r in rules}

    def submit(self, events: Sequence[AlertEvent]) -> None:
        """Enqueue every event for its rule's channels."""
        for event in events:
            channels = self.routes.get(event.rule)
            if channels:  # a rule since removed from the config: nowhere to send it
                self.outbox.enqueue(event, list(channels))


class HeldSink:
    """Used when channels are missing from this build: refuses, so events stay pending."""

    def submit(self, events: Sequence[AlertEvent]) -> None:
        """Refuse: the events stay unsubmitted in the ledger."""
        raise ChannelsUnavailable("alert channels are not available in this build")


def channel_names(config: Config) -> list[str]:
    """The names under ``[channels]``."""
    return list(config.table("channels"))


def open_outbox(store: Store, config: Config, env: Mapping[str, str]) -> Any | None:
    """The channels' outbox for ``store``, or ``None`` when this build has no channels.

    Raises:
        ConfigError: a ``[channels.NAME]`` table is not valid (``file:line: message``).
    """
    module = _channels_module()
    if module is None:
        return None
    from keyledger.alerts.outbox import Outbox

    channels = module.load_channels(config.table("channels"), config.where, env)
    if not isinstance(channels, Mapping):
        raise ConfigError(f"{config.where('channels')}: channels could not be loaded")
    return Outbox(store, channels, clock=_utcnow, rng=random.Random())


def make_sink(outbox: Any | None, rules: Sequence[Rule]) -> OutboxSink | HeldSink:
    """The sink for ``rules``' events."""
    return HeldSink() if outbox is None else OutboxSink(outbox, rules)
