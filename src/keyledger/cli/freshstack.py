"""Import modules on a fresh thread, where the interpreter's frame stack starts empty.

CPython (3.11+) keeps Python frames on a per-thread stack of 16 KiB chunks: a call that does
not fit in the current chunk maps a new one, and returning from that call unmaps it. Importing
aiohttp compiles many regular expressions (``email``'s header parser, ``http.cookies``,
aiohttp's cookie helpers), and ``re``'s compiler recurses deeply. Started from ``check``'s
call depth (click, the command, nested imports), that recursion crosses a chunk boundary over
and over: about 1,600 ``mmap``/``munmap`` pairs and as many fresh-page faults before the first
request, where a bare ``import aiohttp`` at module level makes none. On a new thread the same
imports start at the bottom of an empty stack and stay inside its first chunk.
"""

from __future__ import annotations

import importlib
import threading


def import_on_fresh_stack(*modules: str) -> None:
    """Import ``modules`` (absolute names, in order) on a new thread and wait for it; an
    exception the imports raise is raised here. Modules already imported cost nothing."""
    failure: list[BaseException] = []

    def load() -> None:
        try:
            for name in modules:
                importlib.import_module(name)
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=load, name="keyledger-import", daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


__all__ = ["import_on_fresh_stack"]
