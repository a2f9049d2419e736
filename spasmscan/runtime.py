"""The process the analysis runs in: how many cores it may use, its logging, and keeping native
libraries' notices off the terminal."""
from __future__ import annotations

import logging
import os
import sys

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure_logging(level: int, *, native_messages: bool | None = None) -> None:
    """One logging set-up for the command line and every batch worker: ``level`` for the
    ``spasmscan`` loggers, messages on stderr. native_messages: keep what native libraries
    (MediaPipe) print on stderr; default only at debug level."""
    if not (level <= logging.DEBUG if native_messages is None else native_messages):
        silence_native_stderr()
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger("spasmscan").setLevel(level)


def silence_native_stderr() -> None:
    """Send what native code writes to this process's stderr (MediaPipe's notices, several per
    video) to the null device, while Python's own messages (logging, tracebacks, click) keep going
    to the real stderr. Does nothing when ``sys.stderr`` is not file descriptor 2 (captured, or
    silenced already). Processes started afterwards inherit the null device as their stderr."""
    try:
        if sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):  # a stand-in without a file descriptor
        return
    sys.stderr.flush()
    sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)


def usable_cores() -> int:
    """The number of cores this process may use: how many trackers (or batch jobs) to run at once."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
