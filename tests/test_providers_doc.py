"""The provider list in the README and docs comes from the registry and stays in sync with it."""

from __future__ import annotations

from pathlib import Path

from keyledger.cli.providers_cmd import markdown_table, provider_rows
from keyledger.providers import default_registry

ROOT = Path(__file__).parent.parent
START, END = "<!-- providers:start -->", "<!-- providers:end -->"


def test_readme_provider_table_is_generated_from_the_registry() -> None:
    """The README's provider table is exactly `keyledger providers -f markdown`."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split(START, 1)[1].split(END, 1)[0].strip()

    assert block == markdown_table()


def test_every_provider_has_a_section_in_the_provider_docs() -> None:
    """docs/providers.md names every registered provider (its checks, limits and sources)."""
    text = (ROOT / "docs/providers.md").read_text()
    missing = [p.name for p in default_registry() if f"`{p.name}`" not in text]

    assert missing == []


def test_every_provider_says_what_it_can_tell_and_which_calls_it_makes() -> None:
    """Each registered provider declares its capabilities and at least one (free) call."""
    for row in provider_rows():
        assert row["status"] and row["balance"] and row["calls"], row["name"]
        assert str(row["base_url"]).startswith("https://"), row["name"]
