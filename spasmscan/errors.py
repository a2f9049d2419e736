"""The one exception root of spasmscan and its kinds, each with its documented exit code."""

import signal

# Signals that end a run as Ctrl-C does (KeyboardInterrupt, exit code 130): SIGTERM (timeout, systemd,
# docker stop, batch schedulers) and SIGHUP (a closed terminal).
TERMINATION_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class SpasmscanError(Exception):
    """Base of every error spasmscan raises on purpose; the message says what was wrong and what to do."""

    exit_code = 1


class ParameterError(SpasmscanError, ValueError):
    """A function or option was given a value it cannot use."""

    exit_code = 2


class InputNotFoundError(SpasmscanError, FileNotFoundError):
    """The input file does not exist."""

    exit_code = 3


class VideoReadError(SpasmscanError):
    """The file exists but OpenCV cannot decode it (corrupt, truncated or not a video)."""

    exit_code = 4


class NoVideoStreamError(SpasmscanError):
    """The file opens but holds no readable video frames (audio only, empty, zero frames)."""

    exit_code = 5


class NoFaceError(SpasmscanError):
    """No face was found in any frame of the video."""

    exit_code = 6


class OutputError(SpasmscanError):
    """A report cannot be written (folder not writable, disk full, file exists without --force)."""

    exit_code = 7


class CameraError(SpasmscanError):
    """A camera is missing or busy."""

    exit_code = 9
