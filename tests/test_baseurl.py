"""Custom base URLs (H10): accepted shapes, refusals, and display as scheme://host only."""

from __future__ import annotations

import pytest

from keyledger.baseurl import display_url, is_loopback_host, normalise_base_url
from keyledger.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://relay.example", "https://relay.example"),
        ("https://relay.example/", "https://relay.example"),
        ("https://relay.example/v1", "https://relay.example"),
        ("https://relay.example/v1/", "https://relay.example"),
        ("  https://relay.example/api/v1  ", "https://relay.example/api"),
        ("https://relay.example:8443/v1", "https://relay.example:8443"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://[::1]:3000/v1", "http://[::1]:3000"),
        ("http://sim.localhost/v1", "http://sim.localhost"),
    ],
)
def test_acceptable_base_urls_are_normalised(url: str, normalised: str) -> None:
    """https anywhere, plain http on loopback only; a trailing ``/`` or ``/v1`` is dropped."""
    assert normalise_base_url(url) == normalised


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("relay.example", "base_url must start with https:// and name a host"),
        ("ftp://relay.example", "base_url must start with https:// and name a host"),
        ("https://", "base_url must start with https:// and name a host"),
        ("http://relay.example/v1", "base_url http://relay.example must use https"),
        (
            "https://user:pw@relay.example/v1",
            "base_url https://relay.example must not carry a user",
        ),
        (
            "https://relay.example/v1?key=abc",
            "base_url https://relay.example must not carry a query",
        ),
        ("https://relay.example/v1#frag", "base_url https://relay.example must not carry a query"),
        ("https://relay.example/v1/chat/completions", "base_url https://relay.example ends in an"),
        ("https://relay.example/v1/models", "base_url https://relay.example ends in an"),
        ("https://relay.example:99999", "base_url is not a valid URL"),
        ("https://relay.example/\x1b[2J", "base_url must not contain spaces or control"),
        ("https://relay .example", "base_url must not contain spaces or control"),
    ],
)
def test_unacceptable_base_urls_are_refused_showing_only_scheme_and_host(
    url: str, message: str
) -> None:
    """Each refusal names only ``scheme://host[:port]``, never user info, path or query."""
    with pytest.raises(ConfigError) as info:
        normalise_base_url(url)
    text = str(info.value)
    assert text.startswith(message)
    for private in ("pw@", "key=abc", "#frag", "\x1b"):
        assert private not in text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@relay.example:8443/v1?k=v#f", "https://relay.example:8443"),
        ("http://[::1]:9/x", "http://[::1]:9"),
        ("https://relay.example", "https://relay.example"),
        ("https://relay.example:bad", "<invalid url>"),
    ],
)
def test_display_url_shows_scheme_host_and_port_only(url: str, shown: str) -> None:
    """``display_url`` drops user info, path, query and fragment."""
    assert display_url(url) == shown


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("a.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost.evil.test", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    """Only 127/8, ::1 and localhost names count as loopback."""
    assert is_loopback_host(host) is loopback
