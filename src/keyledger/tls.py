"""The verified TLS context a session uses when it is given none.

Building one (``ssl.create_default_context()``) reads the whole CA store: some 25 ms of CPU
before the first request. aiohttp built the same verified context when it was imported, a
moment earlier, so the run's first session uses that one (``ssl=True`` on its connector) when
the CA settings (``SSL_CERT_FILE``, ``SSL_CERT_DIR``) are the ones it was built under. Any
later session, or one made after those settings changed, reads the CA store afresh: a
long-running ``watch`` still sees a renewed CA bundle, and a changed setting is honoured.
Verification is never turned off.

aiohttp also builds, at import, a context that verifies nothing (its ``ssl=False``), and
that one read the whole CA store too (``set_default_verify_paths``, another 25-50 ms of CPU
before the first request here, the interpreter lock held). keyledger never turns verification
off, and a context that verifies nothing never consults the store, so this module imports
aiohttp (when nothing has yet) with that read skipped for such a context
(:func:`_ca_store_reads_deferred`).

The verified context's own read (some 240 M instructions, a fifth of everything ``check`` does
before its first request) is of no use to a run that speaks plain ``http://`` only (a relay on
the local network, the simulator). So a verifying client context built while aiohttp is
imported reads the store at its first use instead (:class:`StoreOnFirstUse`: before it wraps a
socket or a memory BIO for a handshake, or is asked what its store holds), under the CA
settings of that moment, which :func:`session_tls` checked are the ones it was built under.
Verification is unchanged: no handshake ever runs on it before its store is read.
``keyledger.client`` imports this module before aiohttp for that reason.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import sys
import threading
from collections.abc import Iterator
from typing import Any

import keyledger


class StoreOnFirstUse(ssl.SSLContext):
    """A verifying client context whose CA store is read once, just before its first use: a
    handshake (:meth:`wrap_socket`, :meth:`wrap_bio`) or a look at its store. Becomes one with
    :func:`defer_store` (its other settings are kept as they are)."""

    _store_lock = threading.Lock()
    _store_pending = False

    def read_store(self) -> None:
        """Read the default CA store into this context, once (thread-safe)."""
        if self._store_pending:
            with self._store_lock:
                if self._store_pending:
                    ssl.SSLContext.set_default_verify_paths(self)
                    self._store_pending = False

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.read_store()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.read_store()
        return super().wrap_bio(*args, **kwargs)

    def cert_store_stats(self) -> dict[str, int]:
        self.read_store()
        return super().cert_store_stats()

    def get_ca_certs(self, binary_form: bool = False) -> list[Any]:
        self.read_store()
        certs: list[Any] = super().get_ca_certs(binary_form)
        return certs


def defer_store(context: ssl.SSLContext) -> StoreOnFirstUse:
    """Make ``context`` (an :class:`ssl.SSLContext` whose default CA store was not read yet)
    read that store at its first use; the same object is returned."""
    context.__class__ = StoreOnFirstUse
    assert isinstance(context, StoreOnFirstUse)
    context._store_pending = True
    return context


@contextlib.contextmanager
def _ca_store_reads_deferred() -> Iterator[None]:
    """While inside, ``set_default_verify_paths`` on a client context does not read the store:
    on one that verifies nothing (``CERT_NONE``, no host name check: it never consults it)
    never; on a verifying one at its first use (:func:`defer_store`, applied on the way out:
    the context is ready to be used only then). A server context (``CERT_NONE`` is its default
    until client certificates are asked for) reads the store as always."""
    own = "set_default_verify_paths" in vars(ssl.SSLContext)
    real = ssl.SSLContext.set_default_verify_paths
    deferred: list[ssl.SSLContext] = []

    def default_verify_paths(context: ssl.SSLContext) -> None:
        if context.protocol != ssl.PROTOCOL_TLS_CLIENT:
            real(context)
        elif (context.verify_mode != ssl.CERT_NONE or context.check_hostname) and not any(
            seen is context for seen in deferred
        ):
            deferred.append(context)

    ssl.SSLContext.set_default_verify_paths = default_verify_paths  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        if own:
            ssl.SSLContext.set_default_verify_paths = real  # type: ignore[method-assign]
        else:  # inherited from the C base class: inherited again
            del ssl.SSLContext.set_default_verify_paths
        for context in deferred:
            defer_store(context)


if "aiohttp.connector" not in sys.modules:  # else aiohttp's contexts are built already
    with _ca_store_reads_deferred():
        import aiohttp  # noqa: F401  (builds aiohttp's verified context: its store read later)


def ca_settings() -> tuple[str | None, str | None]:
    """``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` as they are now."""
    return (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


_AFTER_AIOHTTP = ca_settings()
_lent = False


def session_tls(context: ssl.SSLContext | None) -> ssl.SSLContext | bool:
    """The connector's ``ssl`` argument: ``context`` (verification forced on), else ``True``
    (aiohttp's own verified context) once, when it was built under today's CA settings,
    else a newly built default context."""
    global _lent
    if context is None:
        built_under = keyledger.TLS_SETTINGS_AT_START
        if not _lent and built_under is not None and built_under == _AFTER_AIOHTTP == ca_settings():
            _lent = True
            return True
        context = ssl.create_default_context()
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


__all__ = ["StoreOnFirstUse", "ca_settings", "defer_store", "session_tls"]
