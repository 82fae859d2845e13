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
verified = connector._SSL_CONTEXT_VERIFIED
unread = ssl.SSLContext.cert_store_stats(verified)["x509_ca"]  # the C method: no read
later = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
later.check_hostname = False
later.verify_mode = ssl.CERT_NONE
later.set_default_verify_paths()
print(
    unread,
    verified.cert_store_stats()["x509_ca"],
    connector._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509_ca"],
    ssl.SSLContext.set_default_verify_paths is real,
    "set_default_verify_paths" in vars(ssl.SSLContext),
    later.cert_store_stats()["x509_ca"],
)
"""


def test_only_the_verifying_context_reads_the_ca_store_at_first_use(tmp_path: Path) -> None:
    """After `import keyledger.client`, aiohttp's verified context has not read the CA store
    yet and holds it once asked; its verify-nothing context never reads it; `ssl` is left
    as it was (a later context reads the store)."""
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    env = {**os.environ, "SSL_CERT_FILE": str(bundle)}
    env.pop("SSL_CERT_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.stdout.split() == ["0", "1", "0", "True", "False", "1"], done.stderr


def test_inside_the_window_a_verifying_client_context_reads_the_store_at_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While aiohttp is imported, a server context still reads the CA store; a client context
    verifying nothing skips it; a verifying client context reads it at its first use."""
    from keyledger.tls import StoreOnFirstUse, _ca_store_reads_deferred

    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    def cas(context: ssl.SSLContext) -> int:
        context.set_default_verify_paths()
        return int(ssl.SSLContext.cert_store_stats(context)["x509_ca"])

    with _ca_store_reads_deferred():
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        verifying = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        nothing = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        nothing.check_hostname = False
        nothing.verify_mode = ssl.CERT_NONE
        assert (cas(server), cas(verifying), cas(nothing)) == (1, 0, 0)
    assert isinstance(verifying, StoreOnFirstUse)
    assert not isinstance(nothing, StoreOnFirstUse)
    assert ssl.SSLContext.cert_store_stats(verifying)["x509_ca"] == 0
    verifying.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.test")
    assert ssl.SSLContext.cert_store_stats(verifying)["x509_ca"] == 1
    verifying.read_store()  # once only
    assert ssl.SSLContext.cert_store_stats(verifying)["x509_ca"] == 1


HANDSHAKE = """
import asyncio, ssl, sys
import keyledger.client
import aiohttp
import aiohttp.connector as connector

async def main() -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(sys.argv[1], sys.argv[2])

    async def answer(reader, writer):
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(b"HTTP/1.1 204 No Content\\r\\nConnection: close\\r\\n\\r\\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    before = ssl.SSLContext.cert_store_stats(connector._SSL_CONTEXT_VERIFIED)["x509_ca"]
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(f"https://127.0.0.1:{port}/") as response:
                outcome = str(response.status)
        except aiohttp.ClientConnectorCertificateError:
            outcome = "refused"
    server.close()
    print(before, outcome)

asyncio.run(main())
"""


@pytest.mark.parametrize(("trusted", "outcome"), [(True, "204"), (False, "refused")])
def test_the_deferred_store_is_read_before_the_first_handshake(
    tmp_path: Path, trusted: bool, outcome: str
) -> None:
    """aiohttp's verified context, its store not read at import, reads it before its first
    handshake: a certificate from the CA that SSL_CERT_FILE names is accepted, one from
    another CA refused."""
    ca, other = trustme.CA(), trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    bundle = tmp_path / "ca.pem"
    (ca if trusted else other).cert_pem.write_to_path(str(bundle))
    env = {**os.environ, "SSL_CERT_FILE": str(bundle)}
    env.pop("SSL_CERT_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", HANDSHAKE, str(cert), str(key)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.stdout.split() == ["0", outcome], done.stderr
