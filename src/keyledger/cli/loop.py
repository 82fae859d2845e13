"""The event loop the check commands run on: uvloop's where it is installed, else asyncio's.

uvloop (Linux and macOS) spends less CPU per request than asyncio's own loop; results are the
same either way. ``KEYLEDGER_EVENT_LOOP=asyncio`` keeps asyncio's loop (e.g. to compare).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

ENV_VAR = "KEYLEDGER_EVENT_LOOP"


def loop_factory(environ: dict[str, str] | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop factory when it is installed and not turned off, else asyncio's own."""
    choice = (os.environ if environ is None else environ).get(ENV_VAR, "").strip().lower()
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:  # not installed (Windows, or a minimal install): asyncio's loop
            pass
        else:
            factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
            return factory
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
