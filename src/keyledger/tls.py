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
aiohttp (when nothing has yet) with that read skipped for such a context only
(:func:`_no_ca_store_for_unverified`); every verifying context reads the store as before.
``keyledger.client`` imports this module before aiohttp for that reason.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import sys
from collections.abc import Iterator

import keyledger


@contextlib.contextmanager
def _no_ca_store_for_unverified() -> Iterator[None]:
    """While inside: ``set_default_verify_paths`` does nothing on a client context that
    verifies nothing (``CERT_NONE``, no host name check: it never reads the store). A server
    context (``CERT_NONE`` is its default until client certificates are asked for) and every
    verifying context read the store as always."""
    own = "set_default_verify_paths" in vars(ssl.SSLContext)
    real = ssl.SSLContext.set_default_verify_paths

    def default_verify_paths(context: ssl.SSLContext) -> None:
        if (
            context.protocol != ssl.PROTOCOL_TLS_CLIENT
            or context.verify_mode != ssl.CERT_NONE
            or context.check_hostname
        ):
            real(context)

    ssl.SSLContext.set_default_verify_paths = default_verify_paths  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        if own:
            ssl.SSLContext.set_default_verify_paths = real  # type: ignore[method-assign]
        else:  # inherited from the C base class: inherited again
            del ssl.SSLContext.set_default_verify_paths


if "aiohttp.connector" not in sys.modules:  # else aiohttp's contexts are built already
    with _no_ca_store_for_unverified():
        import aiohttp  # noqa: F401  (builds aiohttp's verified context: the store read once)


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


__all__ = ["ca_settings", "session_tls"]
