"""Build the set of keys to check: validate, route, fingerprint and de-duplicate entries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from keyledger.baseurl import normalise_base_url
from keyledger.errors import ConfigError, KeyFileError
from keyledger.keys import (
    MAX_KEY_LENGTH,
    MIN_KEY_LENGTH,
    first_bad_char,
    is_placeholder,
    route,
)
from keyledger.models import Key
from keyledger.sanitize import KEY_PATTERN, clean_label
from keyledger.secret import Fingerprinter, Secret
from keyledger.sources import Entry, InputIssue, Item, read_environment, read_source

DEFAULT_MAX_KEYS = 1_000_000
MAX_LABEL = 128
_TRAILING_PUNCT = ",;)"


@dataclass
class KeySet:
    """Keys ready to check, in input order, plus every issue met on the way."""

    keys: list[Key] = field(default_factory=list)
    issues: list[InputIssue] = field(default_factory=list)
    duplicates: int = 0

    @property
    def errors(self) -> list[InputIssue]:
        """Issues that made an entry be skipped."""
        return [i for i in self.issues if i.error]


def _validate(entry: Entry) -> InputIssue | None:
    value, where = entry.value, entry.where
    if value.startswith("Bearer "):
        return InputIssue(where, "unexpected 'Bearer ' prefix")
    if value and value[-1] in _TRAILING_PUNCT:
        return InputIssue(f"{where}:{entry.column + len(value) - 1}", "trailing punctuation")
    bad = first_bad_char(value)
    if bad is not None:
        return InputIssue(f"{where}:{entry.column + bad}", "invalid character in key")
    if is_placeholder(value):
        return InputIssue(where, "placeholder, not a key: skipped", error=False)
    if len(value) < MIN_KEY_LENGTH:
        return InputIssue(where, f"too short for a key (under {MIN_KEY_LENGTH} characters)")
    if len(value) > MAX_KEY_LENGTH:
        return InputIssue(where, f"too long for a key (over {MAX_KEY_LENGTH} characters)")
    return None


def _label(entry: Entry, issues: list[InputIssue]) -> str | None:
    if entry.label is None:
        return None
    label = entry.label
    if KEY_PATTERN.search(label) or entry.value in label:
        issues.append(InputIssue(entry.where, "label looks like a secret: dropped"))
        return None
    if len(label) > MAX_LABEL:
        issues.append(InputIssue(entry.where, f"label truncated to {MAX_LABEL} characters", False))
    return clean_label(label, MAX_LABEL)


def build_keyset(
    items: Iterable[Item],
    fingerprint: Fingerprinter,
    *,
    max_keys: int = DEFAULT_MAX_KEYS,
    provider: str | None = None,
    base_url: str | None = None,
) -> KeySet:
    """Turn entries into :class:`Key` values; duplicates by fingerprint are merged.

    Args:
        items: entries and issues from the sources.
        fingerprint: the install's fingerprinter.
        max_keys: refuse more unique keys than this.
        provider: provider for entries that do not name one.
        base_url: base URL for entries that do not name one.

    Raises:
        KeyFileError: more than ``max_keys`` unique keys.
    """
    result = KeySet()
    by_fp: dict[str, int] = {}
    labels_seen: dict[str, int] = {}
    for item in items:
        if isinstance(item, InputIssue):
            result.issues.append(item)
            continue
        problem = _validate(item)
        if problem is not None:
            result.issues.append(problem)
            continue
        chosen_base = item.base_url or base_url
        if chosen_base is not None:
            try:
                chosen_base = normalise_base_url(chosen_base)
            except ConfigError as exc:
                result.issues.append(InputIssue(item.where, str(exc)))
                continue
        chosen_provider = item.provider or provider
        where_to = route(item.value, chosen_provider, chosen_base)
        fp = fingerprint(item.value)
        label = _label(item, result.issues)
        if fp in by_fp:
            result.duplicates += 1
            index = by_fp[fp]
            existing = result.keys[index]
            names = (existing.label, *existing.aliases)
            if label and label not in names:
                result.keys[index] = replace(existing, aliases=(*existing.aliases, label))
            if (chosen_base or None) != existing.base_url:
                result.issues.append(
                    InputIssue(item.where, "same key listed with another base_url: first kept", False)
                )
            continue
        if len(by_fp) >= max_keys:
            raise KeyFileError(item.where, f"more than {max_keys} keys (raise --max-keys)")
        secret = Secret(item.value)
        if label is None:
            label = secret.masked
        elif label in labels_seen:
            labels_seen[label] += 1
            new_label = f"{label}#{labels_seen[label]}"
            result.issues.append(
                InputIssue(item.where, f"label already used: renamed to {new_label}", False)
            )
            label = new_label
        labels_seen.setdefault(label, 1)
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
