"""Video input: files, cameras and stream URLs as a stream of (timestamp, frame) pairs.

Frames are decoded one at a time (never the whole video in memory), carry the container's
own timestamps (phone videos have variable frame rates), and are rotated as the file's
rotation metadata says.
"""
from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from .errors import CameraError, InputNotFoundError, NoVideoStreamError, ParameterError, VideoReadError

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
PLAUSIBLE_FPS = (1.0, 480.0)  # outside this the container's claim is ignored and timestamps decide
FALLBACK_FPS = 30.0  # assumed when neither the container nor the timestamps give a rate
READ_AHEAD_FRAMES = 8  # decoded frames buffered by the reader thread: bounded memory


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video before decoding it."""

    name: str
    width: int
    height: int
    fps: float  # nominal frames per second (FALLBACK_FPS when the container gives none)
    frame_count: int  # estimate from the container, 0 when unknown (cameras, streams)

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.frame_count > 0 else float("nan")


def _is_live(source) -> bool:
    return isinstance(source, int) or (isinstance(source, str) and "://" in source)


class VideoSource:
    """A video file, camera index or stream URL, read as ``(time_s, frame_bgr)`` pairs.

    Use as a context manager. ``start_s``/``end_s`` select a part of a file, in seconds.
    ``threaded=True`` decodes in a background thread so decoding overlaps the caller's work.
    """

    def __init__(self, source: str | int | os.PathLike, *, start_s: float | None = None,
                 end_s: float | None = None, threaded: bool = True):
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
        if isinstance(source, str) and source.isdigit() and not os.path.exists(source):
            source = int(source)
        if start_s is not None and (not math.isfinite(start_s) or start_s < 0):
            raise ParameterError(f"--start must be a time in seconds >= 0, got {start_s}")
        if end_s is not None and start_s is not None and end_s <= start_s:
            raise ParameterError(f"--end ({end_s} s) must come after --start ({start_s} s)")
        self.source = source
        self.live = _is_live(source)
        self.start_s = start_s
        self.end_s = end_s
        self.threaded = threaded
        self._cap = None
        self.info = self._open()

    # -- opening -----------------------------------------------------------------------------
    def _open(self) -> VideoInfo:
        source = self.source
        if not self.live:
            if not os.path.exists(source):
                raise InputNotFoundError(f"{source}: no such file; check the path")
            if os.path.isdir(source):
                raise VideoReadError(f"{source}: is a folder, not a video file (use 'spasmscan batch' for folders)")
            if os.path.getsize(source) == 0:
                raise NoVideoStreamError(f"{source}: the file is empty; it holds no video")
        if isinstance(source, int):
            cap = cv2.VideoCapture(source)
            if not cap.isOpened():
                raise CameraError(f"camera {source}: not found or busy; check that it is connected "
                                  "and that no other program uses it")
        else:
            cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
            if not cap.isOpened():
                raise VideoReadError(f"{source}: cannot be decoded as a video (corrupt, truncated or not a "
                                     "video file); check that it plays in a video player")
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            cap.release()
            raise NoVideoStreamError(f"{source}: holds no video stream (audio only or empty)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not (PLAUSIBLE_FPS[0] <= fps <= PLAUSIBLE_FPS[1]):
            logger.warning("%s: container claims %.3g fps; using frame timestamps instead", source, fps)
            fps = 0.0
        frame_count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0) if not self.live else 0
        rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
        if rotation % 180 == 90:  # OpenCV reports the stored size; frames come out rotated
            width, height = height, width
        self._cap = cap
        name = f"camera {source}" if isinstance(source, int) else str(source)
        return VideoInfo(name=name, width=width, height=height, fps=fps or FALLBACK_FPS,
                         frame_count=frame_count)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------
    def _decode(self) -> Iterator[tuple[float, np.ndarray]]:
        """Frames with timestamps in seconds, from the decoder, in this thread."""
        cap = self._cap
        if cap is None:
            raise VideoReadError(f"{self.info.name}: the video was already closed")
        nominal_dt = 1.0 / self.info.fps
        if self.start_s and not self.live:
            cap.set(cv2.CAP_PROP_POS_MSEC, self.start_s * 1000.0)
        wall_start = time.monotonic()
        last_t = -math.inf
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            if self.live:
                t = time.monotonic() - wall_start
            else:
                t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                # Some containers report 0 or repeated times for early frames: keep time monotonic.
                if not math.isfinite(t) or t <= last_t:
                    t = last_t + nominal_dt if math.isfinite(last_t) else index * nominal_dt
            index += 1
            last_t = t
            if self.start_s is not None and t < self.start_s - 0.5 * nominal_dt:
                continue
            if self.end_s is not None and t >= self.end_s:
                break
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            yield t, frame

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(time_s, frame_bgr)``; frame is (H, W, 3) uint8, time in seconds from the file's start."""
        if not self.threaded:
            yield from self._decode()
            return
        yield from _read_ahead(self._decode(), READ_AHEAD_FRAMES)


_END = object()


def _read_ahead(items: Iterator, depth: int) -> Iterator:
    """Run ``items`` in a background thread, ``depth`` items ahead of the consumer."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_END)
        except BaseException as error:  # handed to the consumer, raised there
            buffer.put(error)

    worker = threading.Thread(target=produce, name="spasmscan-decoder", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=2.0)


def is_video_path(path: str | os.PathLike) -> bool:
    """True when the file name ends in a known video extension."""
    return os.fspath(path).lower().endswith(VIDEO_EXTENSIONS)
