"""Opening the ledger: at once, or on a worker thread while ``check`` loads its machinery.

A new ledger's schema is written with ``synchronous=FULL``: several fsyncs, some tens of ms
spent waiting on the disk with the interpreter lock free. ``check`` starts the opening once
its keys are read (:meth:`LedgerOpening.start`) and meanwhile imports the engine (aiohttp
above all, CPU-bound); the run takes the opened store, or the error, where it opened the
ledger before (:meth:`LedgerOpening.result`), so what it prints and when is unchanged. Kept
apart from :mod:`keyledger.cli.check_ledger`, which imports the engine.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from keyledger.cli.keys_input import Identity, LedgerExit
from keyledger.errors import StoreError
from keyledger.ledger.store import Store, ledger_path


def open_ledger(*, create: bool, path: Path | None = None) -> Store:
    """The install's ledger (or the one at ``path``); a problem becomes a clean error exit."""
    try:
        return Store.open(path or ledger_path(os.environ), create=create)
    except StoreError as exc:
        raise LedgerExit(f"ledger: {exc}") from None


def open_for_run(ident: Identity | None, *, new_identity: bool, path: Path | None) -> Store:
    """The ledger opened (created if need be) for a run, bound to ``ident``'s secret unless it
    is read-only (the run then does not record).

    Raises:
        LedgerExit: the ledger cannot be opened, or belongs to another identity.
    """
    store = open_ledger(create=True, path=path)
    if store.read_only or ident is None:
        return store
    try:
        store.bind_identity(ident.secret_id, fresh_secret=ident.fresh, replace=new_identity)
    except StoreError as exc:
        store.close()
        raise LedgerExit(f"ledger: {exc} (use --no-record to check without it)") from None
    return store


class LedgerOpening:
    """:func:`open_for_run` running on a worker thread; :meth:`result` waits for it."""

    def __init__(self, ident: Identity | None, *, new_identity: bool, path: Path | None) -> None:
        self._args = (ident, new_identity, path)
        self._store: Store | None = None
        self._error: BaseException | None = None
        self._taken = False
        self._thread = threading.Thread(target=self._open, name="keyledger-ledger-open")

    @classmethod
    def start(
        cls, ident: Identity | None, *, new_identity: bool = False, path: Path | None = None
    ) -> LedgerOpening:
        """Begin opening the ledger (see :func:`open_for_run`) on a worker thread."""
        opening = cls(ident, new_identity=new_identity, path=path)
        opening._thread.start()
        return opening

    def _open(self) -> None:
        ident, new_identity, path = self._args
        try:
            self._store = open_for_run(ident, new_identity=new_identity, path=path)
        except BaseException as exc:  # handed to the main thread by result()
            self._error = exc

    def result(self) -> Store:
        """The opened store, once the worker is done.

        Raises:
            LedgerExit: as :func:`open_for_run` (raised here, on the calling thread).
        """
        self._thread.join()
        self._taken = True
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        assert self._store is not None
        return self._store

    def discard(self) -> None:
        """The run stopped before taking the store: wait for the worker and close it."""
        self._thread.join()
        if not self._taken and self._store is not None:
            self._store.close()
        self._taken = True


__all__ = ["LedgerOpening", "open_for_run", "open_ledger"]
