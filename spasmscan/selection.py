"""Which part of a video is analysed: a span of its time and a frame step.

Input selection is apart from the tracker's settings (:class:`spasmscan.landmarks.TrackerSettings`):
the tracker sees frames, this says which frames it is given. Both are part of the landmark cache key.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ParameterError

MAX_TIME_S = 1e7  # start_s/end_s beyond this (115 days) are no video's times; seeks stay within 64-bit timestamps


def check_part(start_s: float | None, end_s: float | None) -> None:
    """Raise ParameterError unless ``start_s`` and ``end_s`` (seconds, None: the video's own start
    or end) select a part: times in [0, MAX_TIME_S], the end after the start."""
    for option, value in (("start_s", start_s), ("end_s", end_s)):
        if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= MAX_TIME_S):
            raise ParameterError(f"{option} must be a time in seconds from 0 to {MAX_TIME_S:g}, got {value}")
    if end_s is not None and end_s <= (start_s or 0.0):
        raise ParameterError(f"end_s ({end_s:g} s) must come after "
                             + (f"start_s ({start_s:g} s)" if start_s else "the video's start (0 s)"))


def check_frame_step(frame_step) -> None:
    """Raise ParameterError unless ``frame_step`` is a whole number >= 1."""
    if not isinstance(frame_step, int) or frame_step < 1:
        raise ParameterError(f"frame_step must be a whole number >= 1, got {frame_step}")


@dataclass(frozen=True)
class Selection:
    """The part of a video to analyse.

    start_s, end_s: seconds from the video's start (None: its own start or end). frame_step:
    track every this many frames of that part (faster, blind to the frames between; the first
    is always tracked).
    """

    start_s: float | None = None
    end_s: float | None = None
    frame_step: int = 1

    def __post_init__(self):
        check_frame_step(self.frame_step)
        check_part(self.start_s, self.end_s)

    @property
    def is_part(self) -> bool:
        """Whether a span of the video is selected (not all of it)."""
        return bool(self.start_s) or self.end_s is not None

    def key(self) -> str:
        """This selection's part of the landmark cache key."""
        step = f"-fs{self.frame_step}" if self.frame_step != 1 else ""  # keeps earlier caches valid
        return f"-s{self.start_s}-e{self.end_s}{step}"


WHOLE_VIDEO = Selection()
