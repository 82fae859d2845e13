"""How many connections this process may open at once, from its open-file limit.

Each key in flight holds a socket; the ledger (database, WAL, shared memory), the output file
and the standard streams hold handles too. Concurrency beyond what ``RLIMIT_NOFILE`` allows
would fail locally with ``EMFILE``, so the caller caps it to :func:`handle_budget`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_CONCURRENCY = 200  # keys checked at once unless --concurrency says otherwise

try:
    import resource
except ImportError:  # not POSIX: no limit to read
    resource = None  # type: ignore[assignment]

# Handles kept free for the ledger, the output file, logging and the interpreter's own use.
HEADROOM = 32


def open_handles() -> int:
    """How many file descriptors this process holds now (an estimate when unknown)."""
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            return max(0, len(os.listdir(directory)) - 1)  # minus listdir's own handle
        except OSError:
            continue
    return 16


def handle_budget(headroom: int = HEADROOM) -> tuple[int, int] | None:
    """(connections that fit, the soft open-file limit), or ``None`` when there is no limit."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    return max(1, soft - open_handles() - headroom), soft


@dataclass(frozen=True, slots=True)
class ConcurrencyCap:
    """Concurrency after fitting it to the open-file limit."""

    concurrency: int
    per_host: int
    limit: int | None = None  # the soft open-file limit, when it lowered the concurrency

    @property
    def capped(self) -> bool:
        """Whether the open-file limit lowered what was asked for."""
        return self.limit is not None


def fit_concurrency(concurrency: int, per_host: int, headroom: int = HEADROOM) -> ConcurrencyCap:
    """``concurrency`` and ``per_host``, lowered so their sockets fit in the open-file limit."""
    budget = handle_budget(headroom)
    if budget is None:
        return ConcurrencyCap(concurrency, per_host)
    room, soft = budget
    if max(concurrency, per_host) <= room:
        return ConcurrencyCap(concurrency, per_host)
    return ConcurrencyCap(min(concurrency, room), min(per_host, room), soft)
