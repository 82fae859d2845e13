"""The client's per-origin proxy cache answers as the stdlib's NO_PROXY matcher does."""

from __future__ import annotations

import aiohttp
import pytest

from keyledger.client import Client
from keyledger.transport import HttpOptions


async def test_proxy_cache_keeps_hosts_and_schemes_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each origin gets its own answer, asked in any order and asked again."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain-proxy.local:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    async with aiohttp.ClientSession() as session:
        client = Client(session, HttpOptions())
        urls = {
            "https://api.openai.com/v1/models": "http://proxy.local:3128",
            "https://internal.example/v1/models": None,
            "http://api.openai.com/v1/models": "http://plain-proxy.local:3128",
            "https://internal.example:8443/x?y=/z": None,
            "https://api.openai.com?q=1": "http://proxy.local:3128",
        }
        for _ in range(2):
            for url, proxy in urls.items():
                assert client.proxy_for(url) == proxy, url
