"""The whole job for one video: read, track (or load the cached landmarks), analyse."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from . import cache
from .analysis import Analysis, analyze_series
from .errors import NoVideoStreamError
from .landmarks import LandmarkSeries, TrackerSettings, require_face, track_frames
from .video import VideoSource

logger = logging.getLogger(__name__)

Progress = Callable[[float, float], None]  # (seconds done, seconds in all or nan)


def video_landmarks(source: str | int | os.PathLike, *, settings: TrackerSettings = TrackerSettings(),
                    cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                    progress: Progress | None = None) -> LandmarkSeries:
    """Landmarks of the chosen face in every frame of ``source``, from the cache when possible.

    Raises the :mod:`spasmscan.errors` kinds for missing, unreadable, empty or faceless videos.
    """
    with VideoSource(source, start_s=settings.start_s, end_s=settings.end_s) as video:
        name = video.info.name
        entry = None
        if use_cache and not video.live:
            entry = Path(cache_dir or cache.default_cache_dir()) / (
                cache.cache_key(cache.file_digest(source), settings) + ".npz")
            cached = cache.load_series(entry, source=name)
            if cached is not None:
                logger.info("%s: landmarks from cache %s", name, entry)
                return require_face(cached)
        total_s = _expected_seconds(video.info.duration_s, settings)
        first_s = settings.start_s or 0.0
        on_frame = None if progress is None else (lambda t: progress(t - first_s, total_s))
        logger.info("%s: tracking %dx%d at %.3g fps", name, video.info.width, video.info.height, video.info.fps)
        series = track_frames(video.frames(), settings=settings, fps=video.info.fps, source=name,
                              on_frame=on_frame)
    if series.n_frames == 0:
        raise NoVideoStreamError(f"{name}: no frames could be decoded"
                                 + (" in the selected part" if settings.start_s or settings.end_s else ""))
    if entry is not None:
        try:
            cache.save_series(series, entry)
        except OSError as error:
            logger.warning("could not write landmark cache %s (%s); continuing without it", entry, error)
    return require_face(series)


def _expected_seconds(duration_s: float, settings: TrackerSettings) -> float:
    end = duration_s if settings.end_s is None else min(settings.end_s, duration_s)
    return end - (settings.start_s or 0.0)


def analyze_video(source: str | int | os.PathLike, *, settings: TrackerSettings = TrackerSettings(),
                  cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                  progress: Progress | None = None, segments: tuple = ()) -> Analysis:
    """Track (or load cached landmarks for) ``source`` and run the array stages on it.

    ``segments``: the examination steps (:class:`spasmscan.live.Segment`) when the recording
    followed a protocol.
    """
    series = video_landmarks(source, settings=settings, cache_dir=cache_dir, use_cache=use_cache,
                             progress=progress)
    return analyze_series(series, segments=segments)
