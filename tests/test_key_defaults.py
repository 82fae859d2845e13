"""File-level defaults for keys whose shape does not say their provider (issue 8 §4)."""

from __future__ import annotations

from pathlib import Path

from keyledger.keyset import KeySet, build_keyset
from keyledger.secret import Fingerprinter
from keyledger.sources import read_source

from .keyfixtures import ANTHROPIC, DEEPSEEK, PROJ, RELAY

FP = Fingerprinter(b"0123456789abcdef0123456789abcdef")


def load(tmp_path: Path, data: str, name: str, **options: object) -> KeySet:
    """The key set of a file holding ``data``."""
    path = tmp_path / name
    path.write_text(data)
    return build_keyset(read_source(str(path)), FP, **options)  # type: ignore[arg-type]


def routes(keyset: KeySet) -> list[tuple[str, str | None, str | None]]:
    """(provider, base_url, problem) of every key, in order."""
    return [(k.provider, k.base_url, k.problem) for k in keyset.keys]


def test_toml_defaults_route_ambiguous_keys_but_never_reroute_claimed_ones(
    tmp_path: Path,
) -> None:
    """``[defaults] provider`` reaches unpinned sk- keys; pins win; others' keys stay theirs."""
    data = f"""
[defaults]
provider = "openai"
base_url = "https://relay.example/v1"

[accounts.a]
key = "{DEEPSEEK}"

[accounts.b]
key = "{RELAY}"
provider = "anthropic"

[accounts.c]
key = "{ANTHROPIC}"
"""
    keyset = load(tmp_path, data, "accounts.toml")
    assert routes(keyset) == [
        ("openai", "https://relay.example", None),
        ("anthropic", "https://relay.example", None),
        ("anthropic", None, None),  # sk-ant- is never sent to the relay
    ]


def test_without_defaults_an_ambiguous_key_goes_nowhere(tmp_path: Path) -> None:
    """No pin and no default: ``ambiguous_provider``, so nothing is ever sent."""
    keyset = load(tmp_path, f'[accounts.a]\nkey = "{DEEPSEEK}"\n', "a.toml")
    assert routes(keyset) == [("openai", None, "ambiguous_provider")]


def test_text_directive_sets_defaults_for_the_lines_after_it(tmp_path: Path) -> None:
    """``# keyledger: provider=…`` applies until the next directive; an empty one clears."""
    data = (
        f"before {DEEPSEEK}\n"
        "# keyledger: provider=openai base_url=https://relay.example/v1\n"
        f"one {RELAY}\n"
        f"two {ANTHROPIC}\n"
        "# keyledger: provider=openai  # the rest is a comment\n"
        f"three {DEEPSEEK}x\n"
        "# keyledger:\n"
        f"four {RELAY}y\n"
    )
    keyset = load(tmp_path, data, "keys.txt")
    assert not keyset.issues
    assert routes(keyset) == [
        ("openai", None, "ambiguous_provider"),
        ("openai", "https://relay.example", None),
        ("anthropic", None, None),
        ("openai", None, None),
        ("openai", None, "ambiguous_provider"),
    ]


def test_directive_on_the_first_line_is_read(tmp_path: Path) -> None:
    """A directive before the first key (where format detection peeks) still applies."""
    keyset = load(tmp_path, f"# keyledger: provider=openai\n\n{DEEPSEEK}\n", "keys")
    assert routes(keyset) == [("openai", None, None)]


def test_csv_directive_applies_to_the_rows_after_it(tmp_path: Path) -> None:
    """CSV files take the same directive between records; a row's own provider wins."""
    data = f"# keyledger: provider=openai\nlabel,key,provider\na,{DEEPSEEK},\nb,{RELAY},anthropic\n"
    keyset = load(tmp_path, data, "keys.csv")
    assert routes(keyset) == [
        ("openai", None, None),
        ("anthropic", None, None),
    ]


def test_a_bad_directive_is_an_error_that_clears_defaults_and_never_echoes(
    tmp_path: Path,
) -> None:
    """A key or an unknown option in a directive is reported without the text; keys stay safe."""
    data = (
        "# keyledger: provider=openai\n"
        f"# keyledger: provider={PROJ}\n"
        f"a {DEEPSEEK}\n"
        "# keyledger: label=x\n"
        f"b {RELAY}\n"
    )
    keyset = load(tmp_path, data, "keys.txt")
    assert [(i.where.rsplit(":", 1)[1], i.error) for i in keyset.issues] == [
        ("2", True),
        ("4", True),
    ]
    assert all(PROJ[:12] not in str(i) for i in keyset.issues)
    assert routes(keyset) == [("openai", None, "ambiguous_provider")] * 2


def test_directive_holding_a_piece_of_the_key_skips_the_line(tmp_path: Path) -> None:
    """A directive's base_url carrying the line's own key body is refused for that key."""
    data = f"# keyledger: base_url=https://relay.example/{DEEPSEEK[3:15]}\n{DEEPSEEK}\n"
    keyset = load(tmp_path, data, "keys.txt")
    assert keyset.keys == []
    assert [i.message for i in keyset.issues] == [
        "default base_url looks like a secret: line skipped"
    ]


def test_provider_option_is_the_default_for_ambiguous_keys(tmp_path: Path) -> None:
    """``--provider`` pins unpinned sk- keys; a file's own default is preferred over it."""
    data = f"{DEEPSEEK}\n# keyledger: provider=anthropic\n{RELAY}\n"
    keyset = load(tmp_path, data, "keys.txt", provider="openai")
    assert routes(keyset) == [
        ("openai", None, None),
        ("anthropic", None, None),
    ]
    claimed = load(tmp_path, f"{ANTHROPIC}\n", "other.txt", provider="openai")
    assert routes(claimed) == [("anthropic", None, None)]
