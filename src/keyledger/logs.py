"""Logging that cannot leak a key: a redaction filter on every handler.

Every loaded key is registered; anything key-shaped is caught by a pattern too. The HTTP
libraries' loggers are held at WARNING so no request line is ever logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TextIO

from keyledger.sanitize import neutralise, redact


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and arguments) with every secret removed."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def register(self, secrets: Iterable[str]) -> None:
        """Add secrets to remove."""
        self.secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            message += f" [{type(record.exc_info[1]).__name__}]"
        record.msg = neutralise(redact(message, self.secrets))
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        for name, value in list(vars(record).items()):
            if isinstance(value, str) and name not in ("msg", "name", "levelname", "pathname"):
                setattr(record, name, redact(value, self.secrets))
        return True


def setup_logging(stream: TextIO, level: int = logging.WARNING) -> RedactingFilter:
    """Send keyledger's logs to ``stream`` through a fresh redacting filter."""
    redactor = RedactingFilter()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redactor)
    handler.setFormatter(logging.Formatter("keyledger: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("aiohttp", "aiohttp.access", "aiohttp.client", "aiohttp.server", "asyncio"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    return redactor
