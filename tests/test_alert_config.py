"""[channels.NAME] validation: file:line errors that never echo a secret; the config reader."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from keyledger.alerts.channels import channel_redactor, load_channels
from keyledger.config import config_path, load_config
from keyledger.errors import ConfigError

from .alert_receivers import Receiver, receiver

__all__ = ["receiver"]

TOKEN = "T0k3nT0k3nSecretPart99"

CONFIG = """\
# keyledger config
[[rules]]
name = "dead"
url = "not a channel"

[channels.ops]
type = "webhook"
url_env = "OPS_HOOK"

[channels.mail]
type = "email"
host = "smtp.example.com"
from = "keyledger@example.com"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    config = load_config(path, required=True)
    return load_channels(config.data["channels"], config.where, env or {})


def test_where_finds_the_line_of_a_key_and_of_a_table(tmp_path: Path) -> None:
    """where() names the key's own line, else its table's header line."""
    config = load_config(write(tmp_path, CONFIG), required=True)
    assert config.where("channels.ops.url_env").endswith("config.toml:8")
    assert config.where("channels.mail").endswith("config.toml:10")
    assert config.where("channels.mail.to").endswith("config.toml:10")
    assert config.where("channels.ops.url").endswith("config.toml:6")


def test_missing_field_error_names_file_and_line(tmp_path: Path) -> None:
    """An e-mail channel without `to` fails at its table's line."""
    path = write(tmp_path, CONFIG)
    with pytest.raises(ConfigError) as caught:
        load(path, {"OPS_HOOK": f"https://hooks.example.com/{TOKEN}"})
    assert str(caught.value) == f"{path}:10: channels.mail: needs to (one address or a list)"


def test_unset_env_variable_is_named_not_a_value(tmp_path: Path) -> None:
    """url_env naming an unset variable says which variable."""
    path = write(tmp_path, CONFIG)
    with pytest.raises(ConfigError, match=r"config.toml:8: .*OPS_HOOK is not set"):
        load(path)


@pytest.mark.parametrize(
    "table",
    [
        {"type": "slack", "url": f"hooks.example.com/services/{TOKEN}"},
        {"type": "slack", "url": f"ftp://hooks.example.com/services/{TOKEN}"},
        {"type": "slack", "url": f"https://hooks.example.com/{TOKEN}\nx"},
        {"type": "feishu", "url": f"https://x.example/{TOKEN}", "secret": 3},
        {"type": "dingtalk", "url": "https://x.example/a", "secret": TOKEN, "secret_env": "S"},
        {"type": "webhook", "url": f"https://x.example/{TOKEN}", "tokn": TOKEN},
        {"type": "ntfy", "topic": f"bad topic {TOKEN}"},
        {"type": "ntfy", "topic": "ok-topic", "priority": "loud"},
        {"type": "email", "host": "h", "from": "a@b.c", "to": "x", "password": TOKEN},
        {"type": "teams", "url": f"https://x.example/{TOKEN}"},
    ],
)
def test_invalid_tables_are_refused_without_echoing_secrets(table: dict[str, Any]) -> None:
    """Every refusal is a ConfigError with file:line and the path, never the secret."""
    with pytest.raises(ConfigError) as caught:
        load_channels({"c": table}, lambda p: "cfg.toml:3", {"S": TOKEN})
    text = str(caught.value)
    assert text.startswith("cfg.toml:3: channels.c")
    assert TOKEN not in text and TOKEN[:8] not in text


def test_redactor_removes_url_tokens_but_keeps_the_host() -> None:
    """A whole URL, its path and query and any piece of its token are removed; a host alone
    stays readable."""
    channels = load_channels(
        {
            "d": {
                "type": "dingtalk",
                "url": f"https://oapi.example.com/robot/send?access_token={TOKEN}",
            }
        },
        lambda p: "x:1",
        {},
    )
    redact = channel_redactor(channels)
    whole = redact(f"url=URL('https://oapi.example.com/robot/send?access_token={TOKEN}')")
    assert whole == "url=URL('[REDACTED]')"
    text = redact(f"oapi.example.com said /robot/send?access_token={TOKEN} and {TOKEN[2:14]}")
    assert TOKEN[:8] not in text and TOKEN[2:14] not in text
    assert text.startswith("oapi.example.com said [REDACTED]")


def test_config_path_order(tmp_path: Path) -> None:
    """--config wins over KEYLEDGER_CONFIG, which wins over the XDG config directory."""
    env = {"KEYLEDGER_CONFIG": str(tmp_path / "env.toml")}
    assert config_path(env, tmp_path / "x.toml") == tmp_path / "x.toml"
    assert config_path(env) == tmp_path / "env.toml"
    default = config_path({})
    assert default.name == "config.toml" and default.parent.name == "keyledger"
    assert str(default).startswith(os.environ["XDG_CONFIG_HOME"])


async def keyledger(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "keyledger",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_alerts_test_sends_one_test_message(tmp_path: Path, receiver: Receiver) -> None:
    """`keyledger alerts test ops` sends one kind=test message and exits 0."""
    path = write(tmp_path, CONFIG.split("[channels.mail]")[0])
    code, out, err = await keyledger(
        "alerts",
        "test",
        "ops",
        "--config",
        str(path),
        env={"OPS_HOOK": receiver.url(f"/h/{TOKEN}")},
    )
    assert code == 0, err
    (hit,) = receiver.at(f"/h/{TOKEN}")
    assert json.loads(hit.body)["event"]["kind"] == "test"
    assert receiver.base in out and TOKEN not in out + err


async def test_alerts_test_reports_a_failure_with_exit_3(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A receiver answering 500 gives exit 3 and a message without the token."""
    receiver.on(f"/h/{TOKEN}", (500, f"no such hook /h/{TOKEN}"))
    path = write(tmp_path, CONFIG.split("[channels.mail]")[0])
    code, out, err = await keyledger(
        "alerts",
        "test",
        "ops",
        env={"OPS_HOOK": receiver.url(f"/h/{TOKEN}"), "KEYLEDGER_CONFIG": str(path)},
    )
    assert code == 3
    assert "HTTP 500" in err and TOKEN[:8] not in out + err


async def test_alerts_test_config_errors_exit_2(tmp_path: Path) -> None:
    """A bad config or an unknown channel name is a usage error (exit 2) with file:line."""
    path = write(tmp_path, CONFIG)
    code, _out, err = await keyledger("alerts", "test", "ops", "--config", str(path))
    assert code == 2 and f"{path}:8:" in err and "OPS_HOOK is not set" in err
    slim = write(tmp_path, CONFIG.split("[channels.mail]")[0])
    code, _out, err = await keyledger(
        "alerts", "test", "pager", "--config", str(slim), env={"OPS_HOOK": "https://h.example/x"}
    )
    assert code == 2 and "no channel 'pager'" in err and "ops" in err


async def test_alerts_help_names_the_test_subcommand() -> None:
    """`keyledger alerts --help` lists the ``test`` subcommand beside the listing options."""
    code, out, _err = await keyledger("alerts", "--help")
    assert code == 0 and "test" in out and "--format" in out


def test_ntfy_server_credentials_are_redacted() -> None:
    """A password in the ntfy server URL and the topic are secrets; the host is not."""
    channels = load_channels(
        {
            "n": {
                "type": "ntfy",
                "server": f"https://me:{TOKEN}@ntfy.example.com",
                "topic": "t0pic-42xyz",
            }
        },
        lambda p: "x:1",
        {},
    )
    text = channel_redactor(channels)(f"ntfy.example.com refused {TOKEN} on t0pic-42xyz")
    assert text == "ntfy.example.com refused [REDACTED] on [REDACTED]"
