"""Deeply nested TOML is a usage error naming the file, never a RecursionError traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DEEP = "x = " + "[" * 2000 + "]" * 2000 + "\n"


def deep(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text(DEEP, encoding="utf-8")
    return path


def assert_refused(proc: Any, path: Path) -> None:
    assert proc.code == 2, proc.stderr
    assert f"{path}: not valid TOML (nested too deeply)" in proc.stderr
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr


def test_deep_key_file_is_refused(run_cli: Any, tmp_path: Path) -> None:
    """A key file nested 2,000 deep is refused with exit 2."""
    path = deep(tmp_path, "keys.toml")
    path.chmod(0o600)
    assert_refused(run_cli("check", str(path), "--no-record"), path)


def test_deep_providers_file_is_refused(run_cli: Any, tmp_path: Path) -> None:
    """A --providers file nested 2,000 deep is refused with exit 2."""
    path = deep(tmp_path, "mine.toml")
    keys = tmp_path / "keys.txt"
    keys.write_text("", encoding="utf-8")
    assert_refused(run_cli("check", str(keys), "--no-record", "--providers", str(path)), path)


def test_deep_alerts_config_is_refused(run_cli: Any, tmp_path: Path) -> None:
    """An alerts config nested 2,000 deep is refused with exit 2 (check --alerts, alerts test)."""
    path = deep(tmp_path, "config.toml")
    keys = tmp_path / "keys.txt"
    keys.write_text("", encoding="utf-8")
    assert_refused(run_cli("check", str(keys), "--alerts", "--config", str(path)), path)
    assert_refused(run_cli("alerts", "test", "ops", "--config", str(path)), path)


@pytest.mark.parametrize("alerts", [[], ["--alerts"]])
@pytest.mark.parametrize("command", [["check"], ["watch", "--max-runs", "1"]])
def test_missing_config_is_a_usage_error(
    run_cli: Any, tmp_path: Path, command: list[str], alerts: list[str]
) -> None:
    """--config naming a missing file exits 2, with or without --alerts."""
    keys = tmp_path / "keys.txt"
    keys.write_text("", encoding="utf-8")
    missing = tmp_path / "missing.toml"
    proc = run_cli(*command, str(keys), *alerts, "--config", str(missing))
    assert proc.code == 2, proc.stderr
    assert str(missing) in proc.stderr and "no keys found" not in proc.stderr
