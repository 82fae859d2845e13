"""Build the set of keys to check: validate, route, fingerprint and de-duplicate entries."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from keyledger.baseurl import normalise_base_url
from keyledger.errors import ConfigError, KeyFileError
from keyledger.keys import (
    MAX_KEY_LENGTH,
    MIN_KEY_LENGTH,
    claimed_elsewhere,
    first_bad_char,
    is_placeholder,
    is_provider_name,
    route,
)
from keyledger.keyshapes import COMPILED as _COMPILED
from keyledger.keyshapes import public_prefix
from keyledger.models import Key
from keyledger.sanitize import (
    Pieces,
    Redactor,
    clean_label,
    finds_secret,
    holds_key,
    looks_like_key,
    neutralise,
    pieces,
    redact_user_text,
)
from keyledger.secret import Fingerprinter, Secret
from keyledger.sources import Entry, InputIssue, Item, char_name, read_environment, read_source

DEFAULT_MAX_KEYS = 100_000
MAX_LABEL = 128
MAX_KEPT_ISSUES = 1000
MAX_CACHED_URLS = 1000  # distinct base URLs remembered while reading (memory stays bounded)
_TRAILING_PUNCT = ",;)"
# A provider named in a key file: a short plain name (``openai``, ``anthropic``).
_PROVIDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")
# A label of printable ASCII without spaces, up to the cap, is its own cleaned form.
_PLAIN_LABEL = re.compile(rf"[!-~]{{1,{MAX_LABEL}}}")
# Every text field an entry may carry besides the key, as named in messages.
_FIELDS = (
    ("account", "account name"),
    ("label", "label"),
    ("provider", "provider"),
    ("default_provider", "default provider"),
)


@dataclass
class KeySet:
    """Keys ready to check, in input order, plus the issues met on the way.

    Only the first ``MAX_KEPT_ISSUES`` issues are kept (memory stays bounded on a huge bad
    file); ``issue_count`` and ``error_count`` count them all.
    """

    keys: list[Key] = field(default_factory=list)
    issues: list[InputIssue] = field(default_factory=list)
    duplicates: int = 0
    issue_count: int = 0
    error_count: int = 0
    cut_short: str | None = None  # where reading stopped because time ran out

    @property
    def errors(self) -> list[InputIssue]:
        """Kept issues that made an entry be skipped."""
        return [i for i in self.issues if i.error]

    def add_issue(self, issue: InputIssue) -> None:
        """Record ``issue`` (kept only while under the cap, always counted)."""
        self.issue_count += 1
        self.error_count += issue.error
        if len(self.issues) < MAX_KEPT_ISSUES:
            self.issues.append(issue)


def _at(entry: Entry, offset: int) -> str:
    """``file:line:column`` of character ``offset`` of the key, when the column is known."""
    return entry.where if entry.column is None else f"{entry.where}:{entry.column + offset}"


def _validate(entry: Entry, prefix: str | None = None) -> InputIssue | None:
    """Why ``entry``'s key is not a key (``prefix``: its public prefix, when already found)."""
    value = entry.value
    if is_placeholder(value, prefix):
        return InputIssue(entry.where, "placeholder, not a key: skipped", error=False)
    if value and value[-1] in _TRAILING_PUNCT:
        return InputIssue(_at(entry, len(value) - 1), "trailing punctuation after the key")
    bad = first_bad_char(value)
    if bad is not None:
        if entry.column is None:
            message = f"invalid character at position {bad + 1} of the key"
        else:
            message = f"invalid character at column {entry.column + bad}"
        return InputIssue(_at(entry, bad), f"{message} ({char_name(value[bad])})")
    if len(value) < MIN_KEY_LENGTH:
        return InputIssue(entry.where, f"too short for a key (under {MIN_KEY_LENGTH} characters)")
    if len(value) > MAX_KEY_LENGTH:
        return InputIssue(entry.where, f"too long for a key (over {MAX_KEY_LENGTH} characters)")
    return None


def looks_like_secret(text: str, value: str = "") -> bool:
    """Whether ``text`` holds a key: anything key-shaped, or ``value`` or a run of its body."""
    return holds_key(text, Redactor((value,)) if value else None)


def _field_problem(
    entry: Entry,
    url_shapes: dict[str, tuple[bool, Pieces]] | None = None,
    body: str | None = None,
) -> InputIssue | None:
    """Why an entry's other fields cannot be kept: one of them carries a key (F1).

    Every field read from a key file (account/table name, label, provider, base_url) goes
    through the same check (:func:`keyledger.sanitize.holds_key`) with the entry's own key
    registered, so neither a whole key nor a piece of one is ever stored or shown. A base_url
    is checked for key shapes and pieces of the key only (relay paths hold hex account ids).
    ``url_shapes`` remembers, for a run, which URLs are key-shaped, and their pieces (the
    same few URLs come on every line); the check for pieces of the entry's own key is made
    every time. ``body``: the key without its public prefix, when already found.
    """
    if not (entry.account or entry.label or entry.provider or entry.default_provider) and (
        entry.base_url is None and entry.default_base_url is None
    ):
        return None
    value = entry.value
    for name, shown in _FIELDS:
        text = getattr(entry, name)
        if not text:
            continue
        if name == "provider" and is_provider_name(text):
            continue  # a registered provider's name is public, even if the key spells it
        if looks_like_key(text) or finds_secret(text, value, body):
            return InputIssue(entry.where, f"{shown} looks like a secret: line skipped")
    for shown, url in _urls(entry):
        if not url:
            continue
        known = None if url_shapes is None else url_shapes.get(url)
        if known is None:
            known = (looks_like_key(url, tokens=False), pieces(url))
            if url_shapes is not None and len(url_shapes) < MAX_CACHED_URLS:
                url_shapes[url] = known
        if known[0] or finds_secret(known[1], value, body):
            return InputIssue(entry.where, f"{shown} looks like a secret: line skipped")
    for named in (entry.provider, entry.default_provider):
        if named is not None and not _PROVIDER_NAME.fullmatch(named):
            return InputIssue(
                entry.where, "provider must be a provider name such as openai: line skipped"
            )
    return None


def _urls(entry: Entry) -> tuple[tuple[str, str | None], ...]:
    return (("base_url", entry.base_url), ("default base_url", entry.default_base_url))


def _label(entry: Entry, keyset: KeySet) -> str | None:
    """The cleaned label (its fields were already checked for secrets)."""
    if entry.label is None:
        return None
    if _PLAIN_LABEL.fullmatch(entry.label) is not None:
        return entry.label  # nothing to neutralise, split or cut (the answer below)
    label = " ".join(neutralise(entry.label).split())
    if not label:
        return None
    if len(label) > MAX_LABEL:
        keyset.add_issue(
            InputIssue(entry.where, f"label longer than {MAX_LABEL} characters: truncated", False)
        )
    return clean_label(label, MAX_LABEL)


def _unique_label(label: str, seen: set[str]) -> str:
    n = 2
    while f"{label}#{n}" in seen:
        n += 1
    return f"{label}#{n}"


def build_keyset(
    items: Iterable[Item],
    fingerprint: Fingerprinter,
    *,
    max_keys: int = DEFAULT_MAX_KEYS,
    provider: str | None = None,
    base_url: str | None = None,
    strict: bool = False,
    expired: Callable[[], bool] | None = None,
) -> KeySet:
    """Turn entries into :class:`Key` values; duplicates by fingerprint are merged.

    Args:
        items: entries and issues from the sources.
        fingerprint: the install's fingerprinter.
        max_keys: refuse more unique keys than this.
        provider: provider for entries that do not name one, after the file's own default
            (not for keys another provider's shape claims).
        base_url: base URL for entries that do not name one, after the file's own default
            (not for keys another provider's shape claims).
        strict: a label used for two different keys is an error, not a warning.
        expired: asked before each entry; once it says ``True`` reading stops, and
            :attr:`KeySet.cut_short` says where (the run's deadline covers reading keys).

    Raises:
        KeyFileError: more than ``max_keys`` unique keys.
    """
    result = KeySet()
    by_fp: dict[str, int] = {}
    labels_seen: set[str] = set()
    # The same few base URLs come on every line: each is checked and normalised once, and
    # every key pinned to it shares the one normalised string.
    url_shapes: dict[str, tuple[bool, Pieces]] = {}
    bases: dict[str, str | ConfigError] = {}
    for item in items:
        if expired is not None and expired():
            result.cut_short = item.where
            close = getattr(items, "close", None)
            if close is not None:
                close()  # the sources' files are closed now, not when collected
            break
        if isinstance(item, InputIssue):
            result.add_issue(item)
            continue
        for note in item.notes:
            result.add_issue(InputIssue(item.where, note, error=False))
        # The public prefix is found once for every check below and for the Secret, with the
        # prefix pattern it was found with (None when that changed meanwhile: asked again).
        pattern = _COMPILED.get("prefix")
        prefix = public_prefix(item.value)
        if _COMPILED.get("prefix") is not pattern:
            pattern = None
        problem = _validate(item, prefix) or _field_problem(
            item, url_shapes, item.value[len(prefix) :]
        )
        if problem is not None:
            result.add_issue(problem)
            continue
        # Defaults: the file's own ([defaults] / directive), else the command line's.
        default_provider = item.default_provider or provider
        default_base = item.default_base_url or base_url
        pinned = item.provider is not None or item.base_url is not None
        if not pinned and claimed_elsewhere(item.value, default_provider):
            chosen_provider, chosen_base = None, None  # defaults never re-route others' keys
        else:
            chosen_provider = item.provider or default_provider
            chosen_base = item.base_url or default_base
        if chosen_base is not None:
            normal = bases.get(chosen_base)
            if normal is None:
                try:
                    normal = normalise_base_url(chosen_base)
                except ConfigError as exc:
                    normal = exc
                if len(bases) < MAX_CACHED_URLS:
                    bases[chosen_base] = normal
            if isinstance(normal, ConfigError):
                result.add_issue(InputIssue(item.where, redact_user_text(str(normal))))
                continue
            chosen_base = normal
        label = _label(item, result)
        where_to = route(item.value, chosen_provider, chosen_base, prefix)
        fp = fingerprint(item.value)
        if fp in by_fp:
            result.duplicates += 1
            index = by_fp[fp]
            existing = result.keys[index]
            names = (existing.label, *existing.aliases)
            if label and label not in names:
                result.keys[index] = replace(existing, aliases=(*existing.aliases, label))
            if chosen_base != existing.base_url or where_to.provider != existing.provider:
                result.add_issue(
                    InputIssue(
                        item.where,
                        "same key listed with another provider or base_url: first kept",
                        False,
                    )
                )
            continue
        if len(by_fp) >= max_keys:
            raise KeyFileError(item.where, f"more than {max_keys} keys (raise --max-keys)")
        secret = Secret(item.value, prefix, pattern)
        if label is None:
            label = secret.masked
        elif label in labels_seen:
            new_label = _unique_label(label, labels_seen)
            result.add_issue(
                InputIssue(item.where, f"label already used: renamed to {new_label}", strict)
            )
            if strict:
                continue
            label = new_label
        labels_seen.add(label)
        by_fp[fp] = len(result.keys)
        result.keys.append(
            Key(
                secret=secret,
                fingerprint=fp,
                label=label,
                provider=where_to.provider,
                kind=where_to.kind,
                base_url=chosen_base,
                source=item.where,
                problem=where_to.problem,
            )
        )
    return result


def read_items(
    paths: Iterable[str],
    *,
    stdin: BinaryIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[Item]:
    """Items from every path in order; with no paths, from ``OPENAI_API_KEY``."""
    paths = list(paths)
    if not paths and environ is not None:
        yield from read_environment(environ)
        return
    for path in paths:
        yield from read_source(path, stdin)
