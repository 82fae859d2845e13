"""Alert rules at the command line: the config, its rules, and where their events go."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from keyledger.alerts.dispatch import channel_names, make_sink, open_outbox
from keyledger.alerts.evaluator import AlertSink, RuleEvaluator
from keyledger.alerts.rules import Rule, load_rules
from keyledger.cli.keys_input import UsageExit
from keyledger.config import Config, config_path, load_config
from keyledger.errors import ConfigError
from keyledger.ledger.session import RunLedger
from keyledger.ledger.store import Store
from keyledger.sanitize import neutralise

log = logging.getLogger("keyledger.alerts")


@dataclass
class AlertSetup:
    """The rules of the config and the sink their events go to."""

    config: Config
    rules: list[Rule]
    sink: AlertSink
    outbox: Any | None  # the channels' Outbox, when this build has channels

    def evaluator(self, ledger: RunLedger) -> RuleEvaluator:
        """A sink evaluating the rules once ``ledger``'s run finishes."""
        return RuleEvaluator(ledger, self.rules, self.sink)

    def secrets(self) -> list[str]:
        """The channels' secrets (webhook URLs and tokens, signing secrets, passwords), for the
        log redaction filter: they are redacted in every log the way keys are."""
        if self.outbox is None:
            return []
        from keyledger.alerts.channels import channel_redactor

        return channel_redactor(self.outbox.channels).secrets()


def read_config(explicit: Path | None) -> Config:
    """The config file (``--config``, ``$KEYLEDGER_CONFIG`` or the default); errors exit 2."""
    path = config_path(os.environ, explicit)
    try:
        return load_config(path, required=explicit is not None or "KEYLEDGER_CONFIG" in os.environ)
    except ConfigError as exc:
        raise UsageExit(neutralise(str(exc))) from None


def alert_setup(store: Store, explicit: Path | None) -> AlertSetup:
    """Load and validate the rules and channels; a bad config exits 2 with file:line."""
    config = read_config(explicit)
    try:
        outbox = open_outbox(store, config, os.environ)
        names: Sequence[str] | None = channel_names(config) if outbox is not None else None
        rules = load_rules(config, names)
    except ConfigError as exc:
        raise UsageExit(neutralise(str(exc))) from None
    if not rules:
        log.warning("no alert rules in %s", neutralise(config.name))
    if outbox is None and rules:
        log.warning("alert channels are not available in this build; alerts are kept in the ledger")
    return AlertSetup(config, rules, make_sink(outbox, rules), outbox)


async def deliver_due(setup: AlertSetup, timeout: float = 60.0) -> None:
    """Try the outbox's due deliveries once (never raises; failures stay queued)."""
    if setup.outbox is None:
        return
    async with aiohttp.ClientSession() as session:
        try:
            report = await asyncio.wait_for(setup.outbox.deliver_due(session), timeout)
        except TimeoutError:
            log.warning("alert deliveries still pending after %ss; kept for the next try", timeout)
            return
    log.info("alert deliveries: %s", neutralise(report.summary()))


def report_evaluation(evaluator: RuleEvaluator) -> None:
    """Log what one evaluation produced (labels and masked keys only)."""
    for event in evaluator.events:
        log.warning("alert %s: %s", event.kind, event.summary)
    if evaluator.error is not None:
        log.error("alerts: %s", neutralise(evaluator.error))
