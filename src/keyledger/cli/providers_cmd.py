"""``keyledger providers``: every registered provider and what it can tell, from the registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from keyledger.cli.consoles import stdout_console
from keyledger.cli.user_providers import providers_option, register_user_definitions
from keyledger.cli.write_errors import writing_stdout
from keyledger.providers import Provider, default_registry


def _shapes(provider: Provider) -> str:
    """The key shapes a provider claims, then those it only hints at (checked when pinned)."""
    claimed = [s for s in provider.key_shapes if s.claims]
    parts = sorted({f"`{s.prefix}…` (pattern)" if s.pattern else f"`{s.prefix}`" for s in claimed})
    hinted = sorted({s.prefix for s in provider.key_shapes if not s.claims})
    parts += [f"`{p}` (hint: pin it)" for p in hinted]
    return ", ".join(parts) or "pin it (`provider=`)"


def provider_rows() -> list[dict[str, object]]:
    """One row per registered provider, sorted by name."""
    rows: list[dict[str, object]] = []
    for provider in sorted(default_registry(), key=lambda p: p.name):
        caps = provider.capabilities
        rows.append(
            {
                "name": provider.name,
                "title": provider.title,
                "base_url": provider.default_base_url,
                "currency": provider.currency,
                "keys": _shapes(provider),
                "auth": provider.auth,
                "status": caps.status,
                "balance": caps.balance,
                "spend": caps.spend,
                "expiry": caps.expiry,
                "calls": list(caps.calls),
            }
        )
    return rows


def markdown_table() -> str:
    """The README's provider table (kept in sync by a test)."""
    lines = [
        "| Provider | Keys | Status | Balance | Spend | Expiry | Calls (all free) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in provider_rows():
        calls = "<br>".join(f"`{c}`" for c in row["calls"])  # type: ignore[attr-defined]
        lines.append(
            f"| `{row['name']}` | {row['keys']} | {row['status']} | {row['balance']} | "
            f"{row['spend']} | {row['expiry']} | {calls} |"
        )
    return "\n".join(lines)


@click.command("providers")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@providers_option
def providers(fmt: str, provider_files: tuple[Path, ...]) -> None:
    """List the providers keyledger can check, the keys each claims and what it can tell.

    Built-in providers, installed plugins (entry-point group keyledger.providers) and
    your TOML definitions (<config dir>/providers/*.toml, --providers FILE) are listed
    alike. A key shape marked "hint" is shared with other vendors: such keys
    are checked only when pinned (provider=NAME, a base_url, --provider) or with
    --detect-provider.
    """
    register_user_definitions(provider_files)
    with writing_stdout():  # a full disk, /dev/full: one line, exit 1
        _show(fmt)
        sys.stdout.flush()


def _show(fmt: str) -> None:
    """Print the provider list in ``fmt`` on stdout."""
    if fmt == "json":
        click.echo(json.dumps(provider_rows(), indent=2))
        return
    if fmt == "markdown":
        click.echo(markdown_table())
        return
    table = Table(show_lines=False)
    for header in ("Provider", "Keys", "Balance", "Spend", "Expiry"):
        table.add_column(header, overflow="fold")
    for row in provider_rows():
        table.add_row(
            str(row["name"]),
            str(row["keys"]).replace("`", ""),
            str(row["balance"]),
            str(row["spend"]),
            str(row["expiry"]),
        )
    stdout_console().print(table)
