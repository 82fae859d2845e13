"""Loading keys at the edge: sources, the install secret, and reporting input issues."""

from __future__ import annotations

import os
import stat
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import click

from keyledger.errors import ConfigError, KeyFileError, StoreError
from keyledger.exitcodes import ExitCode
from keyledger.home import home_dir, install_secret
from keyledger.keyset import KeySet, build_keyset, looks_like_secret, read_items
from keyledger.providers import get_provider
from keyledger.sanitize import neutralise
from keyledger.secret import Fingerprinter
from keyledger.sources import InputIssue


class UsageExit(click.ClickException):
    """A usage or input error: message on stderr, exit code 2."""

    exit_code = ExitCode.USAGE

    def show(self, file: object = None) -> None:
        sys.stderr.write(f"keyledger: error: {self.format_message()}\n")


def fingerprinter(environ: Mapping[str, str]) -> Fingerprinter:
    """The install's fingerprinter (the secret lives in ``$KEYLEDGER_HOME``)."""
    try:
        return Fingerprinter(install_secret(home_dir(environ)))
    except StoreError as exc:
        raise UsageExit(str(exc)) from None


def warn_permissive(paths: Sequence[str], strict: bool) -> None:
    """Warn (or refuse, with ``strict``) key files that group or others may access (K3)."""
    for path in paths:
        if path == "-" or os.name != "posix":
            continue
        try:
            mode = stat.S_IMODE(Path(path).stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            message = (
                f"{neutralise(path)}: group or others may read it (mode {mode:04o}); "
                "consider chmod 600"
            )
            if strict:
                raise UsageExit(message + " (refused by --strict-perms)")
            sys.stderr.write(f"keyledger: warning: {message}\n")


def report_issues(issues: Sequence[InputIssue], limit: int = 50, total: int | None = None) -> None:
    """Print input issues to stderr (at most ``limit``, then a count of the rest)."""
    for issue in issues[:limit]:
        sys.stderr.write(f"keyledger: {neutralise(str(issue))}\n")
    total = len(issues) if total is None else total
    if total > limit:
        sys.stderr.write(f"keyledger: … and {total - limit} more input issues\n")


def load_keys(
    files: Sequence[str],
    *,
    environ: Mapping[str, str],
    provider: str | None,
    base_url: str | None,
    max_keys: int,
    strict: bool,
    strict_perms: bool = False,
    expired: Callable[[], bool] | None = None,
) -> KeySet:
    """Read, validate and de-duplicate keys; input problems exit with code 2.

    ``expired`` is the run's deadline: once it passes, reading stops (and is reported).
    """
    if provider is not None:
        if looks_like_secret(provider):
            raise UsageExit(
                "--provider takes a provider name, not a key; keys are never taken from the "
                "command line"
            )
        try:
            get_provider(provider)
        except ConfigError as exc:
            raise UsageExit(str(exc)) from None
    warn_permissive(files, strict_perms)
    if files.count("-") > 1:
        raise UsageExit("standard input (-) can be read only once")
    try:
        keyset = build_keyset(
            read_items(files, stdin=sys.stdin.buffer, environ=environ),
            fingerprinter(environ),
            max_keys=max_keys,
            provider=provider,
            base_url=base_url,
            strict=strict,
            expired=expired,
        )
    except (KeyFileError, ConfigError) as exc:
        raise UsageExit(neutralise(str(exc))) from None
    report_issues(keyset.issues, total=keyset.issue_count)
    if strict and keyset.error_count:
        raise UsageExit(f"{keyset.error_count} bad input line(s); nothing checked (--strict)")
    if keyset.cut_short is not None:
        sys.stderr.write(
            f"keyledger: run deadline reached while reading keys: stopped at "
            f"{neutralise(keyset.cut_short)}; the rest of the input was not read\n"
        )
    elif not keyset.keys:
        where = neutralise(", ".join(files)) if files else "$OPENAI_API_KEY (unset or empty)"
        raise UsageExit(f"no keys found in {where}")
    if keyset.duplicates:
        sys.stderr.write(
            f"keyledger: {keyset.duplicates} duplicate key(s) merged; each is checked once\n"
        )
    held = Counter(k.problem for k in keyset.keys if k.problem is not None)
    for problem, count in sorted(held.items()):
        sys.stderr.write(f"keyledger: {count} key(s) sent nowhere ({problem}): {_HINTS[problem]}\n")
    return keyset


_HINTS = defaultdict(
    lambda: "see the reason column",
    {
        "ambiguous_provider": "their prefix does not say whose they are; "
        "add provider=openai or base_url=URL on the line (or --base-url)",
        "unrecognized_key": "not an OpenAI key shape; add base_url=URL for a relay",
        "unsupported_provider": "keyledger does not check that provider yet",
    },
)
