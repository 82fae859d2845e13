"""Exceptions: for misuse and unreadable input, never for a key's outcome.

Hierarchy::

    KeyledgerError
    ├── KeyFileError        a key source cannot be read at all (names the file, never a key)
    ├── ConfigError         an option or base URL is not acceptable
    └── StoreError          the ledger database cannot be opened or written
"""

from __future__ import annotations


class KeyledgerError(Exception):
    """Base of every error keyledger raises on purpose; its text is safe to show."""


class KeyFileError(KeyledgerError):
    """A key source is unreadable as a whole (missing, binary, too large)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class ConfigError(KeyledgerError):
    """An option, a provider name or a base URL is not acceptable."""


class StoreError(KeyledgerError):
    """The ledger database cannot be opened, migrated or written."""
