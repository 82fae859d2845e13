"""Loading keys at the edge: sources, the install secret, and reporting input issues."""

from __future__ import annotations

import contextlib
import gc
import os
import secrets
import stat
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from keyledger.errors import ConfigError, KeyFileError, StoreError
from keyledger.exitcodes import ExitCode
from keyledger.home import SECRET_FILE, home_dir, install_secret, secret_id
from keyledger.keyset import KeySet, build_keyset, looks_like_secret, read_items
from keyledger.providers import get_provider
from keyledger.sanitize import neutralise, redact_user_text
from keyledger.secret import Fingerprinter
from keyledger.sources import InputIssue


class UsageExit(click.ClickException):
    """A usage or input error: message on stderr, exit code 2."""

    exit_code = ExitCode.USAGE

    def show(self, file: object = None) -> None:
        sys.stderr.write(f"keyledger: error: {self.format_message()}\n")


class LedgerExit(UsageExit):
    """The ledger (or the home it lives in) cannot be used: message on stderr, exit code 1."""

    exit_code = ExitCode.ERROR


class WriteExit(UsageExit):
    """An output file could not be written once the work was done: exit code 1."""

    exit_code = ExitCode.ERROR


LEDGER_FILE = "ledger.db"  # keyledger.ledger.store.DB_NAME, without importing the ledger


@dataclass(frozen=True)
class Identity:
    """The install secret behind fingerprints, as a run uses it.

    ``fresh``: created by this run. ``ephemeral``: a throwaway secret for a ``--no-record``
    run that could not use the install's own (nothing it fingerprints is ever stored).
    """

    fingerprinter: Fingerprinter
    secret_id: str
    fresh: bool = False
    ephemeral: bool = False


def identity(
    environ: Mapping[str, str],
    *,
    record: bool = True,
    new_identity: bool = False,
    hint: str = " (or use --no-record to check without the ledger)",
) -> Identity:
    """The install's identity (the secret lives in ``$KEYLEDGER_HOME``).

    A missing secret next to an existing ledger is not silently recreated: that would cut
    every key off from its history. Recording then stops with a clear error (unless
    ``new_identity``); a ``--no-record`` run, like one whose home cannot take a new secret,
    uses a throwaway secret and says so on stderr.
    """
    home = home_dir(environ)
    missing = not (home / SECRET_FILE).exists()
    problem: str | None = None
    if missing and (home / LEDGER_FILE).exists() and not new_identity:
        problem = (
            f"ledger: {home / SECRET_FILE} is missing, but {home / LEDGER_FILE} holds checks "
            "fingerprinted with it; a new secret would make every key look new and cut it off "
            "from its history. Restore install-secret from a backup of the keyledger home, or "
            "run `keyledger check --new-identity` to start a new identity"
        )
    else:
        try:
            data = install_secret(home)
        except StoreError as exc:
            problem = f"ledger: {exc}"
        else:
            return Identity(Fingerprinter(data), secret_id(data), fresh=missing)
    if record:
        raise LedgerExit(f"{problem}{hint}")
    sys.stderr.write(
        f"keyledger: warning: {problem}. This --no-record run uses a throwaway secret, so its "
        "fingerprints are not this install's.\n"
    )
    data = secrets.token_bytes(32)
    return Identity(Fingerprinter(data), secret_id(data), fresh=True, ephemeral=True)


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep what exists now (the loaded key set above all) out of the cyclic GC until the end.

    A run holds its keys to the end; without this every full collection walks all of them
    again, a cost that grows with the number of keys. They go back to the GC afterwards (an
    in-process caller, a test, keeps collecting them).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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
            shown = neutralise(redact_user_text(path))
            message = f"{shown}: group or others may read it (mode {mode:04o}); consider chmod 600"
            if strict:
                raise UsageExit(message + " (refused by --strict-perms)")
            sys.stderr.write(f"keyledger: warning: {message}\n")


def report_issues(issues: Sequence[InputIssue], limit: int = 50, total: int | None = None) -> None:
    """Print input issues to stderr (at most ``limit``, then a count of the rest)."""
    for issue in issues[:limit]:
        sys.stderr.write(f"keyledger: {neutralise(redact_user_text(str(issue)))}\n")
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
    ident: Identity | None = None,
    expired: Callable[[], bool] | None = None,
    detect: bool = False,
) -> KeySet:
    """Read, validate and de-duplicate keys; input problems exit with code 2.

    ``expired`` is the run's deadline: once it passes, reading stops (and is reported);
    ``detect``: ambiguous keys will be offered to their candidates (not reported as held).
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
            (ident or identity(environ)).fingerprinter,
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
    held = Counter(
        k.problem
        for k in keyset.keys
        if k.problem is not None and not (detect and k.problem == "ambiguous_provider")
    )
    for problem, count in sorted(held.items()):
        sys.stderr.write(f"keyledger: {count} key(s) sent nowhere ({problem}): {_HINTS[problem]}\n")
    return keyset


_HINTS = defaultdict(
    lambda: "see the reason column",
    {
        "ambiguous_provider": "their prefix does not say whose they are; add provider=NAME "
        "or base_url=URL on the line, a '# keyledger: provider=NAME' line above them, "
        "--provider NAME, or --detect-provider",
        "unrecognized_key": "not an OpenAI key shape; add base_url=URL for a relay",
        "unsupported_provider": "keyledger does not check that provider yet",
    },
)
