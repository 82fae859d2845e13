"""Channels from the ``[channels.NAME]`` tables of the config file, validated.

Each table has a ``type`` and that type's fields. A secret (webhook URL, signing secret, ntfy
token, SMTP password) is given inline or, better, through an environment variable named by the
``*_env`` twin of its field (``url_env = "SLACK_WEBHOOK_URL"``). Errors are
:class:`ConfigError` with ``file:line: message`` and never echo a secret: a URL is shown as
``scheme://host`` at most. See docs/alerts-channels.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote, urlsplit

from keyledger.alerts.redact import ChannelRedactor, url_parts
from keyledger.alerts.senders import (
    Channel,
    DeliveryError,
    DingTalkChannel,
    EmailChannel,
    FeishuChannel,
    NtfyChannel,
    Security,
    SlackChannel,
    WebhookChannel,
    WeComChannel,
    secrets_of,
)
from keyledger.errors import ConfigError
from keyledger.sanitize import clean_label

Where = Callable[[str], str]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,64}")  # ntfy's topic alphabet
_PRIORITIES: Final = {
    "min": "1",
    "low": "2",
    "default": "3",
    "high": "4",
    "urgent": "5",
    "max": "5",
}
_COMMON: Final = frozenset({"type", "timeout"})
_FIELDS: Final[dict[str, frozenset[str]]] = {
    "webhook": frozenset({"url", "url_env"}),
    "slack": frozenset({"url", "url_env", "blocks"}),
    "wecom": frozenset({"url", "url_env"}),
    "feishu": frozenset({"url", "url_env", "secret", "secret_env"}),
    "dingtalk": frozenset({"url", "url_env", "secret", "secret_env"}),
    "ntfy": frozenset({"server", "topic", "topic_env", "token", "token_env", "priority", "tags"}),
    "email": frozenset(
        {"host", "port", "security", "username", "password", "password_env", "from", "to"}
        | {"subject_prefix"}
    ),
}
_SMTP_PORTS: Final[dict[str, int]] = {"starttls": 587, "ssl": 465, "none": 25}


class _Table:
    """One ``[channels.NAME]`` table with its location helpers and collected secrets."""

    def __init__(self, name: str, data: Mapping[str, Any], where: Where, env: Mapping[str, str]):
        self.name = name
        self.data = data
        self.where = where
        self.env = env
        self.exact: list[str] = []
        self.tokens: list[str] = []

    def path(self, key: str | None = None) -> str:
        base = f"channels.{self.name}"
        return f"{base}.{key}" if key else base

    def error(self, key: str | None, message: str) -> ConfigError:
        return ConfigError(f"{self.where(self.path(key))}: {self.path(key)}: {message}")

    def text(self, key: str, *, default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self.error(key, "must be a string")
        if value is not None and any(ord(c) < 0x20 or c == "\x7f" for c in value):
            raise self.error(key, "must not contain control characters (value not shown)")
        return value

    def secret(self, key: str, *, required: bool) -> str | None:
        """``key`` inline, or from the variable named by ``key_env``; never echoed."""
        env_key = f"{key}_env"
        inline = self.data.get(key)
        variable = self.data.get(env_key)
        if inline is not None and variable is not None:
            raise self.error(key, f"give {key} or {env_key}, not both")
        if variable is not None:
            if not isinstance(variable, str) or not variable:
                raise self.error(env_key, "must name an environment variable")
            value = self.env.get(variable)
            if not value:
                raise self.error(
                    env_key, f"environment variable {clean_label(variable)} is not set"
                )
            where_key = env_key
        elif inline is not None:
            if not isinstance(inline, str) or not inline:
                raise self.error(key, "must be a non-empty string (value not shown)")
            value = inline
            where_key = key
        else:
            if required:
                raise self.error(None, f"needs {key} or {env_key}")
            return None
        value = value.strip()
        if any(ord(c) < 0x20 or c == "\x7f" for c in value):
            raise self.error(where_key, "must not contain control characters (value not shown)")
        return value

    def url(self, key: str = "url", *, secret: bool = True) -> str:
        value = self.secret(key, required=True) if secret else self.text(key)
        assert value is not None
        try:
            parts = urlsplit(value)
            host = parts.hostname
            _ = parts.port
        except ValueError:
            raise self.error(key, "is not a valid URL (value not shown)") from None
        if parts.scheme not in ("http", "https") or not host or " " in value:
            raise self.error(key, "must be an http:// or https:// URL (value not shown)")
        if secret:
            exact, tokens = url_parts(value)
            self.exact.extend(exact)
            self.tokens.extend(tokens)
        return value

    def timeout(self) -> float:
        value = self.data.get("timeout", 10)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error("timeout", "must be a number of seconds")
        if not math.isfinite(value) or not 0 < value <= 300:
            raise self.error("timeout", "must be between 0 and 300 seconds")
        return float(value)

    def redactor(self) -> ChannelRedactor:
        return ChannelRedactor(self.exact, self.tokens)


def _http(table: _Table, kind: str) -> Channel:
    url = table.url()
    common: dict[str, Any] = {"name": table.name, "timeout": table.timeout(), "url": url}
    if kind in ("feishu", "dingtalk"):
        secret = table.secret("secret", required=False)
        if secret:
            table.tokens.append(secret)
        if kind == "feishu":
            return FeishuChannel(secret=secret, redactor=table.redactor(), **common)
        return DingTalkChannel(secret=secret, redactor=table.redactor(), **common)
    if kind == "slack":
        blocks = table.data.get("blocks", False)
        if not isinstance(blocks, bool):
            raise table.error("blocks", "must be true or false")
        return SlackChannel(blocks=blocks, redactor=table.redactor(), **common)
    if kind == "wecom":
        return WeComChannel(redactor=table.redactor(), **common)
    return WebhookChannel(redactor=table.redactor(), **common)


def _ntfy(table: _Table) -> Channel:
    server = (table.text("server", default="https://ntfy.sh") or "").rstrip("/")
    table.data = {**table.data, "server": server}
    table.url("server", secret=False)
    table.tokens.extend(url_parts(server)[1])  # user info or a token in the server URL
    topic = table.secret("topic", required=True)
    assert topic is not None
    if not _TOPIC.fullmatch(topic):
        raise table.error("topic", "must be 1-64 letters, digits, '-' or '_' (value not shown)")
    if len(topic) >= 4:
        table.exact.append(topic)
    if len(topic) >= 8:
        table.tokens.append(topic)
    token = table.secret("token", required=False)
    if token:
        table.tokens.append(token)
    priority = table.data.get("priority")
    if priority is not None:
        if isinstance(priority, int) and not isinstance(priority, bool) and 1 <= priority <= 5:
            priority = str(priority)
        elif isinstance(priority, str) and priority in _PRIORITIES:
            priority = _PRIORITIES[priority]
        else:
            raise table.error("priority", "must be 1-5 or min, low, default, high, urgent, max")
    tags = table.data.get("tags", [])
    if not isinstance(tags, list) or not all(
        isinstance(t, str) and re.fullmatch(r"[A-Za-z0-9_+-]{1,64}", t) for t in tags
    ):
        raise table.error("tags", "must be a list of words (letters, digits, _ + -)")
    url = f"{server}/{quote(topic, safe='')}"
    table.exact.append(url)
    return NtfyChannel(
        name=table.name,
        timeout=table.timeout(),
        url=url,
        token=token,
        priority=priority,
        tags=tuple(tags),
        redactor=table.redactor(),
    )


def _address(table: _Table, key: str, value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+", value):
        raise table.error(key, "must be an e-mail address like alerts@example.com")
    return value


def _email(table: _Table) -> Channel:
    host = table.text("host")
    if not host or not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host):
        raise table.error("host" if host else None, "needs host, the SMTP server's name")
    security = table.text("security", default="starttls")
    if security not in _SMTP_PORTS:
        raise table.error("security", 'must be "starttls", "ssl" or "none"')
    port = table.data.get("port", _SMTP_PORTS[security])
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise table.error("port", "must be a port number")
    username = table.text("username")
    password = table.secret("password", required=False)
    if password:
        table.tokens.append(password)
    if password and not username:
        raise table.error("password", "needs username too")
    if "from" not in table.data:
        raise table.error(None, "needs from (the sender address)")
    sender = _address(table, "from", table.data["from"])
    to = table.data.get("to")
    recipients = [to] if isinstance(to, str) else to
    if not isinstance(recipients, list) or not recipients:
        raise table.error("to" if to is not None else None, "needs to (one address or a list)")
    checked = tuple(_address(table, "to", r) for r in recipients)
    prefix = table.text("subject_prefix", default="[keyledger]") or ""
    sec: Security = security  # type: ignore[assignment]
    return EmailChannel(
        name=table.name,
        timeout=table.timeout(),
        host=host,
        port=port,
        security=sec,
        username=username,
        password=password,
        sender=sender,
        recipients=checked,
        subject_prefix=prefix,
        redactor=table.redactor(),
    )


def load_channels(
    section: Mapping[str, object], where: Where, env: Mapping[str, str]
) -> dict[str, Channel]:
    """The channels of a parsed ``[channels]`` table, by name.

    Raises:
        ConfigError: ``file:line: channels.NAME.field: message``; never shows a secret.
    """
    channels: dict[str, Channel] = {}
    for name, data in section.items():
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"{where('channels')}: channel name {clean_label(name)!r} must be letters, "
                "digits, '.', '_' or '-'"
            )
        table = _Table(name, {}, where, env)
        if not isinstance(data, Mapping):
            raise table.error(None, "must be a table")
        table.data = dict(data)
        kind = data.get("type")
        if kind not in _FIELDS:
            raise table.error(
                "type" if kind is not None else None, "type must be one of " + ", ".join(_FIELDS)
            )
        unknown = sorted(set(data) - _FIELDS[kind] - _COMMON)
        if unknown:
            raise table.error(unknown[0], f"unknown field for a {kind} channel")
        if kind == "ntfy":
            channels[name] = _ntfy(table)
        elif kind == "email":
            channels[name] = _email(table)
        else:
            channels[name] = _http(table, kind)
    return channels


def channel_redactor(channels: Mapping[str, Channel]) -> ChannelRedactor:
    """One redactor removing every loaded channel's secrets (for errors, logs, rows)."""
    return secrets_of(channels)


__all__ = ["Channel", "DeliveryError", "channel_redactor", "load_channels"]
