"""The library's log lines, to a callable or to the standard logging module."""

from __future__ import annotations

import atexit
import logging
from typing import Callable, Optional

from . import _native
from ._enum import NamedIntEnum


class LogLevel(NamedIntEnum):
    """The values of ``nh_log_level``."""

    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3
    TRACE = 4


_TO_LOGGING = {
    LogLevel.ERROR: logging.ERROR,
    LogLevel.WARN: logging.WARNING,
    LogLevel.INFO: logging.INFO,
    LogLevel.DEBUG: logging.DEBUG,
    LogLevel.TRACE: 5,
}


def set_log_handler(handler: Optional[Callable[[LogLevel, str], None]], level: LogLevel = LogLevel.INFO) -> None:
    """Send the library's log lines at ``level`` and below to ``handler(level, message)``.

    The handler is called from whichever thread logs, with the GIL held;
    exceptions it raises are reported as unraisable. ``None`` restores the
    default (discard, or stderr when the NH_LOG environment variable is set).
    Messages never contain tokens, keys or passwords.
    """
    if handler is None:
        _native._set_log_handler(None, 0)
    else:
        _native._set_log_handler(lambda lvl, msg: handler(LogLevel(lvl), msg), int(level))


def log_to_logging(level: LogLevel = LogLevel.INFO, logger: Optional[logging.Logger] = None) -> None:
    """Route the library's log lines to ``logger`` (default: ``logging.getLogger("nocalhost")``)."""
    target = logger or logging.getLogger("nocalhost")
    set_log_handler(lambda lvl, msg: target.log(_TO_LOGGING[lvl], "%s", msg), level)


# No Python code may run from library threads once the interpreter shuts down.
atexit.register(_native._finalize)
