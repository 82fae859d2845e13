"""Importing the client builds aiohttp's TLS contexts without a CA store read of no use."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

PROBE = """
import ssl
real = ssl.SSLContext.set_default_verify_paths
import keyledger.client
import aiohttp.connector as connector
later = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
later.check_hostname = False
later.verify_mode = ssl.CERT_NONE
later.set_default_verify_paths()
print(
    connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
    connector._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509_ca"],
    ssl.SSLContext.set_default_verify_paths is real,
    "set_default_verify_paths" in vars(ssl.SSLContext),
    later.cert_store_stats()["x509_ca"],
)
"""


def test_only_the_verifying_context_reads_the_ca_store(tmp_path: Path) -> None:
    """After `import keyledger.client`, aiohttp's verified context holds the CA store and its
    verify-nothing context none; `ssl` is left as it was (a later context reads the store)."""
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    env = {**os.environ, "SSL_CERT_FILE": str(bundle)}
    env.pop("SSL_CERT_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.stdout.split() == ["1", "0", "True", "False", "1"], done.stderr


def test_inside_the_window_only_a_verify_nothing_client_context_skips_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While aiohttp is imported, a server context (CERT_NONE by default) and a verifying
    client context still read the CA store; only a client context verifying nothing skips."""
    from keyledger.tls import _no_ca_store_for_unverified

    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    def cas(context: ssl.SSLContext) -> int:
        context.set_default_verify_paths()
        return int(context.cert_store_stats()["x509_ca"])

    with _no_ca_store_for_unverified():
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        verifying = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        nothing = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        nothing.check_hostname = False
        nothing.verify_mode = ssl.CERT_NONE
        assert (cas(server), cas(verifying), cas(nothing)) == (1, 1, 0)
