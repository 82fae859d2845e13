"""Building the key set: validation, routing, labels, de-duplication, caps and the CLI edge."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger.cli import cli
from keyledger.cli.keys_input import warn_permissive
from keyledger.errors import KeyFileError
from keyledger.keys import is_placeholder, route
from keyledger.keyset import MAX_KEPT_ISSUES, MAX_LABEL, KeySet, build_keyset
from keyledger.models import Kind
from keyledger.secret import Fingerprinter
from keyledger.sources import Entry, InputIssue, Item, read_source

from .keyfixtures import (
    ADMIN,
    ANTHROPIC,
    ANTHROPIC_ADMIN,
    DEEPSEEK,
    GEMINI,
    LEGACY,
    OPENROUTER,
    PROJ,
    RELAY,
    SERVICE,
    SESSION,
    SVCACCT,
)

FP = Fingerprinter(b"0123456789abcdef0123456789abcdef")


def build(*items: Item, **options: object) -> KeySet:
    """A key set from entries and issues."""
    return build_keyset(list(items), FP, **options)  # type: ignore[arg-type]


def text(tmp_path: Path, data: str | bytes, name: str = "keys.txt") -> KeySet:
    """A key set from a file holding ``data``."""
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return build_keyset(read_source(str(path)), FP)


def no_echo(text_: str, *secrets: str) -> None:
    """``text_`` holds no secret and no 8-character window of one."""
    for secret in secrets:
        for start in range(len(secret) - 7):
            assert secret[start : start + 8] not in text_


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("punct", [",", ";", ")"])
def test_trailing_punctuation_is_rejected_at_its_column(punct: str) -> None:
    """A key followed by ``,``, ``;`` or ``)`` is a line error at the punctuation's column."""
    keyset = build(Entry(PROJ + punct, "k.txt:3", column=6))
    assert keyset.keys == []
    assert [(i.where, i.message) for i in keyset.issues] == [
        (f"k.txt:3:{6 + len(PROJ)}", "trailing punctuation after the key")
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("sk-ab", "too short for a key (under 20 characters)"),
        ("sk-proj-" + "a1B2c3D4e5F", "too short for a key (under 20 characters)"),
        ("sk-proj-" + "a1B2c3D4" * 63 + "a1B2c", "too long for a key (over 512 characters)"),
    ],
)
def test_key_length_out_of_range_is_rejected_before_any_check(value: str, message: str) -> None:
    """Keys shorter than 20 or longer than 512 characters never become keys to check."""
    keyset = build(Entry(value, "k.txt:1"))
    assert keyset.keys == []
    assert [i.message for i in keyset.issues] == [message]


def test_a_ten_thousand_character_key_never_reaches_the_checker(tmp_path: Path) -> None:
    """A 10k-character key line is refused by the per-line cap."""
    keyset = text(tmp_path, "sk-proj-" + "a1B2c3D4" * 1250 + "\n")
    assert keyset.keys == [] and keyset.error_count == 1


@pytest.mark.parametrize(
    "value",
    [
        "sk-xxxx",
        "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "sk-...",
        "sk-proj-...",
        "sk-****************",
        "YOUR_API_KEY",
        "your-openai-api-key",
        "<key>",
        "<your-key-here>",
        "sk-proj-…Ab12",
        "sess-",
        "sk-replace-me-with-your-real-key-1234",
    ],
)
def test_placeholders_are_skipped_with_a_warning_and_sent_nowhere(value: str) -> None:
    """Placeholder values make no key at all, only a warning."""
    keyset = build(Entry(value, "k.txt:1"))
    assert keyset.keys == []
    assert [(i.error, i.message) for i in keyset.issues] == [
        (False, "placeholder, not a key: skipped")
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["sk-proj-", "sk-", "sess-", "sk-admin-", ""]),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        min_size=32,
        max_size=120,
    ),
)
def test_property_random_keys_are_never_placeholders(prefix: str, body: str) -> None:
    """A random base62 key body is never taken for a placeholder."""
    if "x" * 6 in body.lower():
        return  # a run of six x's is the one deliberate, vanishingly rare exception
    assert not is_placeholder(prefix + body)


@pytest.mark.parametrize("char", ["!", "é", "$", "/", "+"])
def test_characters_outside_the_key_alphabet_name_the_column(char: str) -> None:
    """Characters no key uses are rejected with the column, not echoed."""
    keyset = build(Entry(PROJ[:12] + char + PROJ[12:], "k.txt:2", column=5))
    assert keyset.keys == []
    (found,) = keyset.issues
    assert found.where == "k.txt:2:17"
    assert found.message.startswith("invalid character at column 17 (U+")
    no_echo(str(found), PROJ)


def test_invalid_character_without_a_column_names_the_position() -> None:
    """Sources without columns (TOML, env) name the position in the key instead."""
    keyset = build(Entry(PROJ[:3] + "!" + PROJ[3:], "a.toml:4", column=None))
    assert [(i.where, i.message[:40]) for i in keyset.issues] == [
        ("a.toml:4", "invalid character at position 4 of the k")
    ]


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("value", "provider", "kind", "problem"),
    [
        (PROJ, "openai", Kind.SECRET, None),
        (SVCACCT, "openai", Kind.SECRET, None),
        (SERVICE, "openai", Kind.SECRET, None),
        (LEGACY, "openai", Kind.SECRET, None),
        (ADMIN, "openai", Kind.ADMIN, None),
        (SESSION, "openai", Kind.SESSION, None),
        (ANTHROPIC, "anthropic", Kind.SECRET, None),
        (ANTHROPIC_ADMIN, "anthropic", Kind.ADMIN, None),
        (GEMINI, "gemini", Kind.SECRET, None),
        (OPENROUTER, "openrouter", Kind.SECRET, None),
        (DEEPSEEK, "openai", Kind.SECRET, "ambiguous_provider"),
        (RELAY, "openai", Kind.SECRET, "ambiguous_provider"),
        (PROJ.upper(), "openai", Kind.UNRECOGNIZED, "unrecognized_key"),
        ("SK-PROJ-" + PROJ[8:], "openai", Kind.UNRECOGNIZED, "unrecognized_key"),
        ("Sess-" + SESSION[5:], "openai", Kind.UNRECOGNIZED, "unrecognized_key"),
    ],
)
def test_each_prefix_routes_to_exactly_one_place(
    value: str, provider: str, kind: Kind, problem: str | None
) -> None:
    """Known prefixes map to one provider and kind; others' and ambiguous keys go nowhere."""
    (key,) = build(Entry(value, "k.txt:1")).keys
    assert (key.provider, key.kind, key.problem) == (provider, kind, problem)
    assert key.secret.reveal() == value  # never case-normalised


@pytest.mark.parametrize("value", [DEEPSEEK, RELAY, "tok_" + "Zr4Tq8Wm2Xn6Yb0Vc3Ud7Se1"])
def test_ambiguous_keys_are_sent_only_where_pinned(value: str) -> None:
    """An ambiguous key goes to OpenAI only with provider=openai, or to a pinned base URL."""
    pinned = build(Entry(value, "k:1", provider="openai")).keys[0]
    assert pinned.problem is None or value.startswith("tok_")
    relay = build(Entry(value, "k:1", base_url="https://relay.example/v1")).keys[0]
    assert (relay.problem, relay.base_url) == (None, "https://relay.example")
    by_flag = build(Entry(value, "k:1"), base_url="https://relay.example").keys[0]
    assert by_flag.problem is None


def test_defaults_leave_a_claimed_key_with_its_own_provider() -> None:
    """``--provider openai --base-url …`` defaults leave an OpenRouter key to OpenRouter."""
    (key,) = build(
        Entry(OPENROUTER, "k:1"), provider="openai", base_url="https://relay.example"
    ).keys
    assert (key.provider, key.problem, key.base_url) == ("openrouter", None, None)


@pytest.mark.parametrize(
    ("value", "owner", "problem"),
    [
        (ANTHROPIC, "anthropic", None),
        (GEMINI, "gemini", None),
        (OPENROUTER, "openrouter", None),
    ],
)
def test_default_provider_and_base_url_never_reroute_other_providers_keys(
    value: str, owner: str, problem: str | None
) -> None:
    """``--provider``/``--base-url`` defaults do not send another provider's key anywhere."""
    (key,) = build(Entry(value, "k:1"), provider="openai", base_url="https://relay.example").keys
    assert (key.provider, key.problem, key.base_url) == (owner, problem, None)
    (explicit,) = build(Entry(value, "k:1", provider="openai")).keys
    assert explicit.provider == "openai"  # the user pinned it on the line: obeyed
    assert explicit.problem != "unsupported_provider"


def test_route_is_a_pure_table() -> None:
    """``route`` agrees with the key set for pinned and unpinned keys."""
    assert route(PROJ, None, None).problem is None
    assert route(DEEPSEEK, None, None).problem == "ambiguous_provider"
    assert route(DEEPSEEK, "openai", None).problem is None
    assert route(OPENROUTER, "openrouter", None).problem is None
    assert route(PROJ, "no-such-vendor", None).problem == "unsupported_provider"
    assert route(ANTHROPIC, "anthropic", None).problem is None


def test_bad_base_url_on_a_line_is_an_error_showing_only_scheme_and_host() -> None:
    """A line's unacceptable base_url skips the line; the message shows scheme://host only."""
    keyset = build(Entry(PROJ, "k:1", base_url="http://user:pw@relay.example/v1?token=abc"))
    assert keyset.keys == []
    (found,) = keyset.issues
    assert found.message.startswith("base_url http://relay.example must not carry")
    assert "pw" not in found.message and "token" not in found.message and "/v1" not in found.message


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "^[[31mred^[[0m"),
        ("evil\u202egnp.exe", "evil\\u202egnp.exe"),
        ("bell\x07here", "bell^Ghere"),
        ("c1\x9bcsi", "c1\\u009bcsi"),
    ],
)
def test_labels_with_ansi_bidi_or_control_chars_are_sanitised(raw: str, shown: str) -> None:
    """Control, C1 and bidi characters in labels become visible notation."""
    (key,) = build(Entry(PROJ, "k:1", label=raw)).keys
    assert key.label == shown


def test_a_label_over_128_characters_is_truncated_with_a_warning() -> None:
    """Labels are cut to 128 characters, and the cut is reported."""
    keyset = build(Entry(PROJ, "k:1", label="L" * 300))
    assert len(keyset.keys[0].label) == MAX_LABEL
    assert [(i.error, i.message) for i in keyset.issues] == [
        (False, "label longer than 128 characters: truncated")
    ]
    assert build(Entry(PROJ, "k:1", label="L" * 128)).issues == []


@pytest.mark.parametrize(
    "line",
    [f"{LEGACY} {PROJ}", f"{PROJ} {PROJ}", f"Bearer {LEGACY} extra {PROJ}", f"{ADMIN}: {PROJ}"],
)
def test_a_label_that_is_a_key_is_rejected_and_never_echoed(tmp_path: Path, line: str) -> None:
    """A line whose label looks like a secret is skipped with an error that shows neither key."""
    keyset = text(tmp_path, line + "\n")
    assert keyset.keys == []
    assert [(i.where[-2:], i.message) for i in keyset.issues if i.error] == [
        (":1", "label looks like a secret: line skipped")
    ]
    for found in keyset.issues:
        no_echo(str(found), PROJ, LEGACY, ADMIN)


@pytest.mark.parametrize(
    "label", ["desk-computer-12345678901234567", "task-runner", "sk-learn demo"]
)
def test_ordinary_labels_are_not_taken_for_secrets(label: str) -> None:
    """Words that merely contain ``sk-`` are fine labels."""
    (key,) = build(Entry(PROJ, "k:1", label=label)).keys
    assert key.label == label


def test_the_same_key_twice_is_checked_once_with_every_label_kept(tmp_path: Path) -> None:
    """Duplicates by fingerprint merge into one key; other labels become aliases."""
    keyset = text(tmp_path, f"a {PROJ}\nb {PROJ}\r\n{PROJ}\na {PROJ}\nc {LEGACY}\n")
    assert [(k.label, k.aliases) for k in keyset.keys] == [("a", ("b",)), ("c", ())]
    assert keyset.duplicates == 3


def test_the_same_key_with_another_base_url_keeps_the_first_and_warns() -> None:
    """A duplicate pointing elsewhere is not checked twice; the first routing wins."""
    keyset = build(Entry(RELAY, "k:1", base_url="https://a.example"), Entry(RELAY, "k:2"))
    assert len(keyset.keys) == 1 and keyset.keys[0].base_url == "https://a.example"
    assert [i.message for i in keyset.issues] == [
        "same key listed with another provider or base_url: first kept"
    ]


def test_the_same_label_on_different_keys_is_suffixed_with_a_warning() -> None:
    """A reused label becomes ``label#2``, ``label#3``…, skipping names already taken."""
    keyset = build(
        Entry(PROJ, "k:1", label="work"),
        Entry(LEGACY, "k:2", label="work#2"),
        Entry(ADMIN, "k:3", label="work"),
        Entry(SESSION, "k:4", label="work"),
    )
    assert [k.label for k in keyset.keys] == ["work", "work#2", "work#3", "work#4"]
    assert [(i.error, i.message) for i in keyset.issues] == [
        (False, "label already used: renamed to work#3"),
        (False, "label already used: renamed to work#4"),
    ]


def test_the_same_label_is_an_error_under_strict() -> None:
    """With ``strict`` a reused label is an error and its line is skipped."""
    keyset = build(Entry(PROJ, "k:1", label="w"), Entry(LEGACY, "k:2", label="w"), strict=True)
    assert [k.label for k in keyset.keys] == ["w"]
    assert keyset.error_count == 1


def test_parser_notes_become_warnings() -> None:
    """Warnings attached by the parser (``Bearer`` removed, …) reach the issue list."""
    keyset = build(Entry(PROJ, "k:1", notes=("'Bearer' removed before the key",)))
    assert [(i.where, i.error, i.message) for i in keyset.issues] == [
        ("k:1", False, "'Bearer' removed before the key")
    ]


def test_crlf_and_lf_files_give_the_same_fingerprints(tmp_path: Path) -> None:
    """The same key under LF, CRLF and CR gives one fingerprint."""
    lf = text(tmp_path, f"{PROJ}\n{LEGACY}\n", "lf.txt")
    crlf = text(tmp_path, f"{PROJ}\r\n{LEGACY}\r\n", "crlf.txt")
    utf16 = text(tmp_path, f"{PROJ}\r{LEGACY}".encode("utf-16"), "cr16.txt")
    assert [k.fingerprint for k in lf.keys] == [k.fingerprint for k in crlf.keys]
    assert [k.fingerprint for k in lf.keys] == [k.fingerprint for k in utf16.keys]
    assert lf.keys[0].fingerprint == FP(PROJ)


# --------------------------------------------------------------------------- caps


def test_the_key_count_cap_is_a_clear_error(tmp_path: Path) -> None:
    """More unique keys than ``max_keys`` raise a KeyFileError naming where it happened."""
    data = "".join(f"{PROJ[:-4]}{n:04d}\n" for n in range(6))
    path = tmp_path / "k.txt"
    path.write_text(data)
    with pytest.raises(KeyFileError) as info:
        build_keyset(read_source(str(path)), FP, max_keys=5)
    assert str(info.value) == f"{path}:6: more than 5 keys (raise --max-keys)"


def test_duplicates_do_not_count_against_the_cap() -> None:
    """The cap counts unique keys only."""
    keyset = build(*(Entry(PROJ, f"k:{n}") for n in range(10)), max_keys=1)
    assert len(keyset.keys) == 1 and keyset.duplicates == 9


def test_issues_kept_are_capped_but_all_counted() -> None:
    """A file of endless bad lines keeps a bounded issue list and an exact count."""
    bad = (Entry("short", f"k:{n}") for n in range(MAX_KEPT_ISSUES * 3))
    keyset = build_keyset(bad, FP)
    assert len(keyset.issues) == MAX_KEPT_ISSUES
    assert keyset.issue_count == keyset.error_count == MAX_KEPT_ISSUES * 3


# --------------------------------------------------------------------------- the CLI edge


def invoke(
    args: list[str], stdin: str | None = None, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run the CLI in-process; exit code and stderr."""
    runner = CliRunner()
    result = runner.invoke(cli, args, input=stdin, env=env, catch_exceptions=False)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    "data",
    ["", "\n\n", "# only a comment\n", "sk-xxxx\nYOUR_API_KEY\n", "\ufeff"],
    ids=["empty", "blank", "comment", "placeholders", "bom-only"],
)
def test_no_keys_found_exits_2(tmp_path: Path, data: str) -> None:
    """A file with no keys is a usage error (exit 2, "no keys found"), not a success."""
    path = tmp_path / "keys.txt"
    path.write_text(data)
    path.chmod(0o600)
    code, err = invoke(["check", str(path)])
    assert code == 2
    assert f"no keys found in {path}" in err


@pytest.mark.parametrize("value", [None, "", "  "])
def test_unset_or_empty_openai_api_key_exits_2(value: str | None) -> None:
    """With no file and OPENAI_API_KEY unset or empty, check exits 2 with "no keys found"."""
    env = {} if value is None else {"OPENAI_API_KEY": value}
    code, err = invoke(["check"], env=env)
    assert code == 2
    assert "no keys found in $OPENAI_API_KEY" in err


def test_stdin_with_no_keys_exits_2() -> None:
    """``-`` with an empty standard input is "no keys found"."""
    code, err = invoke(["check", "-"], stdin="# nothing\n")
    assert (code, "no keys found in -" in err) == (2, True)


@pytest.mark.parametrize(
    "args",
    [
        ["check", PROJ],
        ["check", "--provider", PROJ, "-"],
        ["check", "--base-url", PROJ, "-"],
        ["check", f"--base-url=https://{PROJ}@relay.example", "-"],
    ],
    ids=["as-file", "as-provider", "as-base-url", "in-userinfo"],
)
def test_a_key_passed_on_the_command_line_is_refused_without_echo(args: list[str]) -> None:
    """A key typed as an argument or option value exits 2 and is never printed."""
    code, err = invoke(args, stdin="")
    assert code == 2
    no_echo(err, PROJ)


def test_unreadable_sources_exit_2_naming_the_file(tmp_path: Path) -> None:
    """A missing file, a directory and a FIFO each exit 2 with the file named."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, message in [
        (tmp_path / "nope.txt", "no such file"),
        (tmp_path, "is a directory"),
        (fifo, "is a FIFO"),
    ]:
        code, err = invoke(["check", str(path)])
        assert code == 2 and f"{path}: {message}" in err


def test_binary_file_exits_2_without_traceback(tmp_path: Path) -> None:
    """A PNG given as a key file is refused cleanly."""
    path = tmp_path / "logo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    path.chmod(0o600)
    code, err = invoke(["check", str(path)])
    assert code == 2 and "not a text key file" in err and "Traceback" not in err


def test_strict_refuses_a_file_with_a_bad_line(tmp_path: Path) -> None:
    """``--strict`` exits 2 before any check when a line is bad, naming the line."""
    path = tmp_path / "keys.txt"
    path.write_text(f'{PROJ}\n"{LEGACY}\n')
    path.chmod(0o600)
    code, err = invoke(["check", "--strict", str(path)])
    assert code == 2
    assert f"{path}:2:1: error: unbalanced quote" in err
    assert "1 bad input line(s); nothing checked (--strict)" in err
    no_echo(err, PROJ, LEGACY)


def test_key_files_readable_by_others_warn_and_strict_perms_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Group/other-readable key files warn; ``--strict-perms`` refuses them (K3)."""
    path = tmp_path / "keys.txt"
    path.write_text(PROJ)
    path.chmod(0o644)
    warn_permissive([str(path)], strict=False)
    assert "group or others may read it (mode 0644)" in capsys.readouterr().err
    path.chmod(0o600)
    warn_permissive([str(path)], strict=False)
    assert capsys.readouterr().err == ""
    path.chmod(0o640)
    code, err = invoke(["check", "--strict-perms", str(path)])
    assert code == 2 and "refused by --strict-perms" in err


def test_input_issues_printed_by_the_cli_never_echo(tmp_path: Path) -> None:
    """Every issue the CLI prints for a hostile file is free of the keys in it."""
    hostile = (
        f"\"{PROJ}'\n{LEGACY},\n{ADMIN} {PROJ}\nsk-proj-\u200b{PROJ[8:]}\n\x1b[2J {SESSION[:10]}\n"
    )
    path = tmp_path / "keys.txt"
    path.write_text(hostile)
    path.chmod(0o600)
    code, err = invoke(["check", str(path)])
    assert code == 2
    assert "\x1b" not in err
    no_echo(err, PROJ, LEGACY, ADMIN)


# --------------------------------------------------------------------------- S9


_SECRETISH = re.compile(r"key|token|secret|password|passwd|auth|credential|bearer", re.I)
# An integer, and the NAME of an environment variable (upper case; a key value is refused).
_ALLOWED_VALUE_OPTIONS = {"--max-keys", "--xai-management-key-env"}


def _commands() -> dict[str, click.Command]:
    """Every command, loaded (the group registers them lazily)."""
    assert isinstance(cli, click.Group)
    ctx = click.Context(cli)
    commands = {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}
    assert commands, "the CLI lists its commands"
    return {name: command for name, command in commands.items() if command is not None}


@pytest.mark.parametrize("name", sorted(_commands()))
def test_no_cli_option_accepts_a_key_value(name: str) -> None:
    """S9: ``--help`` of every command lists no option that could carry a key."""
    code, _ = invoke([name, "--help"])
    assert code == 0
    runner = CliRunner()
    help_text = runner.invoke(cli, [name, "--help"]).output
    options = set(re.findall(r"(--[a-z][a-z0-9-]*)", help_text))
    assert options, help_text
    for option in options - _ALLOWED_VALUE_OPTIONS:
        assert not _SECRETISH.search(option), option
    command = _commands()[name]
    for param in command.params:
        if isinstance(param, click.Option) and not param.is_flag:
            for opt in param.opts:
                assert opt in _ALLOWED_VALUE_OPTIONS or not _SECRETISH.search(opt), opt
            envvar = str(param.envvar or "").removeprefix("KEYLEDGER_")
            assert not _SECRETISH.search(envvar), param.envvar


def test_no_cli_argument_takes_a_key() -> None:
    """S9: no positional argument is meant for a key; ``check`` takes file names only."""
    for command in _commands().values():
        for param in command.params:
            if isinstance(param, click.Argument):
                assert not _SECRETISH.search(param.name or ""), param.name
    check = _commands()["check"]
    assert [p.name for p in check.params if isinstance(p, click.Argument)] == ["files"]


def test_stdin_is_the_way_to_pass_a_single_key() -> None:
    """``-`` reads keys from standard input."""
    items = list(read_source("-", io.BytesIO(PROJ.encode())))
    assert [i.value for i in items if isinstance(i, Entry)] == [PROJ]


# --------------------------------------------------------------------------- keys in other fields


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (Entry(PROJ, "k:1", provider=SVCACCT), "provider"),
        (Entry(PROJ, "k:1", provider=GEMINI), "provider"),
        (Entry(PROJ, "k:1", label=PROJ[8:20]), "label"),
        (Entry(PROJ, "k:1", label="\u200b".join(PROJ[9:21])), "label"),
        (Entry(PROJ, "k:1", account=PROJ[10:22], label="ok"), "account name"),
        (Entry(PROJ, "k:1", base_url=f"https://relay.example/{SVCACCT}"), "base_url"),
        (Entry(PROJ, "k:1", base_url=f"https://relay.example/{PROJ[8:30]}"), "base_url"),
    ],
)
def test_a_key_or_a_piece_of_the_key_in_any_field_skips_the_line(entry: Entry, field: str) -> None:
    """F1/F3: provider, label, account name and base_url go through one secret check."""
    built = build(entry)
    assert built.keys == []
    (issue,) = built.errors
    assert issue.message == f"{field} looks like a secret: line skipped"
    assert PROJ[8:16] not in str(issue)


def test_provider_from_a_file_must_be_a_plain_name() -> None:
    """A provider that is not a plain name is an error naming the line, never echoing it."""
    built = build(Entry(PROJ, "k:7", provider="open ai; rm -rf"))
    assert [str(i) for i in built.errors] == [
        "k:7: error: provider must be a provider name such as openai: line skipped"
    ]
    (other,) = build(Entry(PROJ, "k:1", provider="no-such-vendor")).keys
    assert (other.provider, other.problem) == ("no-such-vendor", "unsupported_provider")


def test_key_env_holding_a_key_is_not_echoed(tmp_path: Path) -> None:
    """A key pasted into key_env is refused without being repeated in the message."""
    body = "AIzaSyD3kQ9xZ2rT5yU8iO1pA3sD6fG9hJ0kLm"
    path = tmp_path / "k.toml"
    path.write_text(f'[accounts.work]\nkey_env = "{body}"\n')
    issues = [i for i in read_source(str(path)) if isinstance(i, InputIssue)]
    assert issues and all(body not in str(i) for i in issues)


def test_a_provider_name_inside_the_key_is_not_a_secret() -> None:
    """A registered provider's name is public: a key containing it keeps its provider field."""
    value = "sk-" + "Zr4Tq8Wmoonshot2Xn6Yb0Vc3Ud7Se1Rf5Qg9Ph2Oi6Nj"
    built = build(Entry(value, "k:1", provider="moonshot"))
    assert built.errors == []
    assert [k.provider for k in built.keys] == ["moonshot"]
    leaked = build(Entry(value, "k:1", provider="moonshot2Xn"))  # not a provider: a piece
    assert leaked.keys == [] and leaked.errors
