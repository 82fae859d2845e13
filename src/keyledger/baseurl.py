"""Validate and display custom base URLs (relays, self-hosted gateways, the simulator).

A base URL must be ``https`` unless its host is loopback, must carry no user info, query or
fragment, must hold nothing key-shaped, and is shown only as ``scheme://host[:port]``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from keyledger.errors import ConfigError
from keyledger.sanitize import looks_like_key

_ENDPOINT_SUFFIXES = (
    "/chat/completions",
    "/completions",
    "/models",
    "/dashboard/billing/subscription",
    "/dashboard/billing/usage",
    "/dashboard/billing/credit_grants",
)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def display_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: never a path, query or user info."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def normalise_base_url(url: str) -> str:
    """Validate ``url`` and return it without a trailing ``/`` or ``/v1``.

    Raises:
        ConfigError: the URL is not acceptable (the message shows only scheme and host).
    """
    url = url.strip()
    if looks_like_key(url, tokens=False):  # never lower-cased into a message, never stored
        raise ConfigError("base_url looks like it holds a key; give the relay's root URL")
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in url):
        raise ConfigError("base_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise ConfigError("base_url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError("base_url must start with https:// and name a host")
    shown = display_url(url)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"base_url {shown} must not carry a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError(f"base_url {shown} must not carry a query or fragment")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigError(f"base_url {shown} must use https (plain http only for loopback)")
    path = parts.path.rstrip("/")
    for suffix in _ENDPOINT_SUFFIXES:
        if path.endswith(suffix):
            raise ConfigError(
                f"base_url {shown} ends in an endpoint path; give the root, e.g. {shown}/v1"
            )
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    netloc = parts.netloc
    return f"{parts.scheme}://{netloc}{path}"
