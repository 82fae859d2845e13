"""Opening the ledger: at once, or on a worker thread while ``check`` loads its machinery.

A new ledger's schema, its identity and the run's ``running`` row are each committed with
``synchronous=FULL``: fsyncs, some tens of ms spent waiting on the disk with the interpreter
lock free. ``check`` starts the opening once its keys are read (:meth:`LedgerOpening.start`),
which also begins the run there (the ``runs`` row, committed), and meanwhile imports the
engine (aiohttp above all, CPU-bound); the run takes the opened store and its run id, or the
error, where it opened the ledger before (:meth:`LedgerOpening.result`), so what it prints
and when is unchanged and the run is committed before its first request, as before. Kept
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


def begin_run(store: Store, keys_total: int) -> int:
    """Start a run of ``keys_total`` keys in ``store`` (its ``running`` row, committed).

    Raises:
        LedgerExit: the ledger does not take the new run (``store`` is then closed).
    """
    try:
        return store.begin_run(keys_total)
    except StoreError as exc:
        store.close()
        raise LedgerExit(f"ledger: {exc} (use --no-record to check without it)") from None


class LedgerOpening:
    """:func:`open_for_run` (and, given ``keys_total``, :func:`begin_run` on a writable
    ledger) running on a worker thread; :meth:`result` waits for it."""

    def __init__(
        self,
        ident: Identity | None,
        *,
        new_identity: bool,
        path: Path | None,
        keys_total: int | None = None,
    ) -> None:
        self._args = (ident, new_identity, path)
        self._keys_total = keys_total
        self._store: Store | None = None
        self._error: BaseException | None = None
        self._taken = False
        self.run_id: int | None = None  # the run begun on the worker, if one was
        self._thread = threading.Thread(target=self._open, name="keyledger-ledger-open")

    @classmethod
    def start(
        cls,
        ident: Identity | None,
        *,
        new_identity: bool = False,
        path: Path | None = None,
        keys_total: int | None = None,
    ) -> LedgerOpening:
        """Begin opening the ledger (see :func:`open_for_run`) on a worker thread; with
        ``keys_total``, a writable ledger's run is begun there too (:attr:`run_id`)."""
        opening = cls(ident, new_identity=new_identity, path=path, keys_total=keys_total)
        opening._thread.start()
        return opening

    def _open(self) -> None:
        ident, new_identity, path = self._args
        try:
            store = open_for_run(ident, new_identity=new_identity, path=path)
            if self._keys_total is not None and not store.read_only:
                self.run_id = begin_run(store, self._keys_total)
            self._store = store
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
        """The run stopped before taking the store: wait for the worker, mark the run it
        begun (if any) ``interrupted``, and close the store."""
        self._thread.join()
        if not self._taken and self._store is not None:
            try:
                if self.run_id is not None:
                    self._store.finish_run(self.run_id, "interrupted")
            except StoreError:
                pass  # the next run marks it interrupted (its process is gone)
            finally:
                self._store.close()
        self._taken = True


__all__ = ["LedgerOpening", "begin_run", "open_for_run", "open_ledger"]
