"""Fewer garbage collections while a check run allocates.

A run makes many short-lived container objects per key (aiohttp's request and response,
futures, the result, its output dict). With CPython's default threshold (700 net new
containers) the youngest generation is collected every few keys while hundreds of requests
are in flight, so their live objects are traversed again and again and pushed into the older
generations, which then get collected too: about a seventh of a run's CPU time. A higher
threshold lets most of them die before any collection sees them. Reference counting frees
everything that is not in a cycle as before; only cycles wait a little longer.

The CLI raises it for the duration of a run (:func:`fewer_collections`); the library never
changes a process-wide setting behind its caller's back.

Importing a command's modules (click's option classes, the providers' registry, the engine,
aiohttp) makes tens of thousands of containers (classes, functions, their dicts) that all stay
alive, and almost no cycles of garbage: collections in that span traverse only what lives on
(about 4 % of the instructions ``check`` spends before its first request). The CLI turns
automatic collection off while it imports them (:func:`no_collections`).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

RUN_THRESHOLD = 10_000  # net new containers between two collections of the youngest generation


@contextlib.contextmanager
def fewer_collections(threshold: int = RUN_THRESHOLD) -> Iterator[None]:
    """Collect the youngest generation only every ``threshold`` net new containers (unless it
    already is rarer, or automatic collection is off), and put the old setting back after."""
    old = gc.get_threshold()
    if old[0] == 0 or old[0] >= threshold:  # off (threshold 0), or already rarer: keep it
        yield
        return
    gc.set_threshold(threshold, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


@contextlib.contextmanager
def no_collections() -> Iterator[None]:
    """Automatic collection off while inside (for imports), and on again after if it was.

    What was made inside (modules, classes, functions: they live on) then leaves the young
    generations without being traversed, so the first allocation after does not set off a
    collection that walks all of it: with nothing frozen before, everything moves to the
    oldest generation (``gc.freeze()`` then ``gc.unfreeze()``: collected, like any long-lived
    object, by the next full collection); inside a caller's freeze (``check``'s
    :func:`~keyledger.cli.keys_input.frozen_heap`) it joins the frozen objects, which that
    caller hands back to the GC when it unfreezes.
    """
    was_on = gc.isenabled()
    frozen_before = gc.get_freeze_count()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if not frozen_before:
            gc.unfreeze()
        if was_on:
            gc.enable()
