"""``keyledger alerts``: the alerts group (listing, and ``test CHANNEL``)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import click

from keyledger.alerts import payloads
from keyledger.alerts._configfile import ConfigFile, config_path
from keyledger.alerts.channels import Channel, DeliveryError, channel_redactor, load_channels
from keyledger.baseurl import display_url
from keyledger.cli.keys_input import UsageExit
from keyledger.errors import ConfigError
from keyledger.exitcodes import ExitCode
from keyledger.logs import setup_logging
from keyledger.sanitize import clean_label


@click.group("alerts", invoke_without_command=True)
@click.pass_context
def alerts(ctx: click.Context) -> None:
    """Alerts from the ledger, and the channels that carry them.

    \b
      keyledger alerts test CHANNEL   send one test message through a channel
    """
    if ctx.invoked_subcommand is None:
        # The listing of active and recent alerts (from the ledger) belongs here.
        click.echo(ctx.get_help())


def _load(config_file: Path | None, channel: str) -> tuple[dict[str, Channel], Channel]:
    try:
        config = ConfigFile.load(config_path(config_file, os.environ))
        section = config.data.get("channels", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{config.where('channels')}: channels must be a table")
        channels = load_channels(section, config.where, os.environ)
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


__all__ = ["alerts"]
