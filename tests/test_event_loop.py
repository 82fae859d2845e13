"""The check command's event loop: uvloop where installed, asyncio's when asked or missing."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest

from keyledger.cli import loop


def test_asyncio_loop_when_turned_off() -> None:
    """``KEYLEDGER_EVENT_LOOP=asyncio`` keeps asyncio's own loop."""
    assert loop.loop_factory({loop.ENV_VAR: "asyncio"}) is asyncio.new_event_loop


def test_asyncio_loop_when_uvloop_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without uvloop (Windows, minimal installs) the run falls back to asyncio's loop."""
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert loop.loop_factory({}) is asyncio.new_event_loop


def test_run_returns_the_coroutines_value() -> None:
    """``run`` runs the coroutine to its end on the chosen loop and returns its value."""

    async def answer() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__

    module = loop.run(answer())
    uvloop = pytest.importorskip("uvloop")
    assert module.startswith(uvloop.__name__)
