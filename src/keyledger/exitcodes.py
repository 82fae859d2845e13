"""Exit codes, documented in the README; scripts and cron rely on them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotations: the CLI's start-up does not load the models
    from keyledger.models import Status


class ExitCode(enum.IntEnum):
    """What a ``keyledger`` process tells its caller."""

    OK = 0  # every key checked is ok
    ERROR = 1  # an unexpected internal error
    USAGE = 2  # bad options, unreadable input, no keys found
    NOT_OK = 3  # some keys are definitely not ok (invalid, no quota, deactivated, …)
    INDETERMINATE = 4  # some keys could not be decided (unknown, unreachable, rate limited)
    NOT_OK_AND_INDETERMINATE = 5  # both of the above
    HANGUP = 129  # stopped by SIGHUP (128 + 1); finished results were kept
    INTERRUPTED = 130  # stopped by Ctrl-C (SIGINT); finished results were kept
    TERMINATED = 143  # stopped by SIGTERM (128 + 15); finished results were kept
    BROKEN_PIPE = 141  # the reader of stdout went away (| head); nothing more was written


STOPPED = frozenset({ExitCode.HANGUP, ExitCode.INTERRUPTED, ExitCode.TERMINATED})


def exit_code_for(statuses: Iterable[Status]) -> ExitCode:
    """The exit code for a run whose results have ``statuses``."""
    from keyledger.models import Status

    not_ok = indeterminate = False
    for status in statuses:
        if status is Status.OK:
            continue
        if status.determinate:
            not_ok = True
        else:
            indeterminate = True
    if not_ok and indeterminate:
        return ExitCode.NOT_OK_AND_INDETERMINATE
    if not_ok:
        return ExitCode.NOT_OK
    if indeterminate:
        return ExitCode.INDETERMINATE
    return ExitCode.OK
