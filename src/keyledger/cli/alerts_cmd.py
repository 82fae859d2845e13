"""``keyledger alerts``: the alerts that are active now, and the latest alerts and recoveries,
read from the ledger. (Subcommands such as ``alerts test`` hang off this group.)"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import click
from rich.table import Table

from keyledger.alerts import book, payloads
from keyledger.alerts.book import StoredEvent
from keyledger.alerts.channels import Channel, DeliveryError, channel_redactor, load_channels
from keyledger.baseurl import display_url
from keyledger.cli.check_ledger import open_ledger
from keyledger.cli.consoles import stdout_console
from keyledger.cli.keys_input import UsageExit
from keyledger.cli.ledger_cmds import _guard
from keyledger.cli.write_errors import writing_stdout
from keyledger.config import config_path, load_config
from keyledger.errors import ConfigError
from keyledger.exitcodes import ExitCode
from keyledger.ledger.rows import to_text
from keyledger.logs import setup_logging
from keyledger.render.table import safe
from keyledger.sanitize import clean_label


def _event_dict(stored: StoredEvent) -> dict[str, object]:
    e = stored.event
    return {
        "event_id": e.event_id,
        "rule": e.rule,
        "kind": e.kind,
        "label": e.subject,
        "masked_key": e.masked_key,
        "provider": e.provider,
        "account": e.account,
        "status": e.status,
        "reason": e.reason,
        "summary": e.summary,
        "at": to_text(e.at),
        "figures": dict(e.figures),
        "run_id": stored.run_id,
        "queued": stored.submitted,
    }


def _table(title: str, events: list[StoredEvent]) -> Table:
    table = Table(title=title, header_style="bold", title_justify="left")
    for header in ("At (UTC)", "Rule", "Kind", "Label", "Key", "Provider", "Status", "Figures"):
        table.add_column(header)
    for stored in events:
        e = stored.event
        figures = ", ".join(f"{k} {v}" for k, v in e.figures.items() if k != "status")
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M}",
            safe(e.rule),
            e.kind,
            safe(e.subject),
            safe(e.masked_key or ""),
            safe(e.provider),
            safe(e.status or ""),
            safe(figures),
        )
    return table


@click.group(invoke_without_command=True)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table, or json for scripts.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 10000),
    default=20,
    show_default=True,
    help="How many recent alerts and recoveries to list.",
)
@click.pass_context
def alerts(ctx: click.Context, fmt: str, limit: int) -> None:
    """List active alerts and the latest alerts and recoveries from the ledger.

    An alert is active from the run its rule fired until the run it recovered
    (see docs/alerts.md for rules, damping and state).

    \b
    Examples:
      keyledger alerts
      keyledger alerts -f json --limit 100
    """
    if ctx.invoked_subcommand is not None:
        return
    store = open_ledger(create=False)
    try:
        active = _guard(lambda: book.active_alerts(store))
        recent = _guard(lambda: book.recent_events(store, limit))
    finally:
        store.close()
    with writing_stdout():  # a full disk, /dev/full: one line, exit 1
        _show(fmt, limit, active, recent)
        sys.stdout.flush()


def _show(fmt: str, limit: int, active: list[StoredEvent], recent: list[StoredEvent]) -> None:
    """Print the active and recent alerts in ``fmt`` on stdout."""
    if fmt == "json":
        document = {
            "active": [_event_dict(s) for s in active],
            "recent": [_event_dict(s) for s in recent],
        }
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    console = stdout_console()
    if not active and not recent:
        console.print("No alerts recorded yet (keyledger watch, or check --alerts).", markup=False)
        return
    console.print(_table(f"Active alerts: {len(active)}", active))
    console.print(_table(f"Recent alerts and recoveries (latest {limit})", recent))


def _load(config_file: Path | None, channel: str) -> tuple[dict[str, Channel], Channel]:
    try:
        config = load_config(config_path(os.environ, config_file), required=True)
        channels = load_channels(config.table("channels"), config.where, os.environ)
    except ConfigError as exc:
        raise UsageExit(str(exc)) from None
    if channel not in channels:
        known = ", ".join(sorted(channels)) or "none"
        raise UsageExit(f"no channel {clean_label(channel)!r} in the config (channels: {known})")
    return channels, channels[channel]


async def _send(channel: Channel) -> None:
    event = payloads.test_event(channel.name, datetime.now(UTC))
    async with aiohttp.ClientSession() as session:
        await channel.send(event, session)


@alerts.command("test")
@click.argument("channel")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: $KEYLEDGER_CONFIG, else config.toml in the config directory).",
)
def test(channel: str, config_file: Path | None) -> None:
    """Send one test message through CHANNEL; exit 0 when it was accepted, 3 when not."""
    channels, chosen = _load(config_file, channel)
    redactor = channel_redactor(channels)
    setup_logging(sys.stderr).register(redactor.secrets())
    url = getattr(chosen, "url", None)
    target = display_url(url) if isinstance(url, str) else getattr(chosen, "where", "")
    try:
        asyncio.run(_send(chosen))
    except DeliveryError as exc:
        click.echo(
            f"keyledger: test message through {channel} failed: {redactor(str(exc))}", err=True
        )
        raise SystemExit(ExitCode.NOT_OK) from None
    click.echo(f"sent a test message through {channel} ({target})")
