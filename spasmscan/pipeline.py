"""The whole job for one video: read, track (or load the cached landmarks), analyse.

Tracking is the cost, and one Face Mesh keeps one core busy. A video file is therefore cut
into consecutive parts tracked at the same time, one decoder and one tracker per part, and
the parts are joined again; the join is checked (no frame lost or doubled, the same face on
both sides of every cut) and the video is tracked in one pass where a check fails.
"""
from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import cache
from .analysis import Analysis, analyze_series
from .errors import NoVideoStreamError, OutputError, ParameterError
from .landmarks import (MATCH_RADIUS_FACE_WIDTHS, PIXEL_MEASURES, REACQUIRE_AFTER_S, LandmarkSeries, TrackerSettings,
                        face_center, require_face, track_frames)
from .runtime import usable_cores
from .selection import WHOLE_VIDEO, Selection
from .video import VideoSource, opencv_threads

logger = logging.getLogger(__name__)

Progress = Callable[[float, float], None]  # (seconds done, seconds in all or nan)

MIN_PART_S = 15.0  # shorter parts would spend a noticeable share of their time seeking and finding the face
WARM_UP_S = 1.0  # a part's tracker starts this long before its cut: its first, detected, frames are off by pixels
MAX_CUT_GAP_FRAMES = 1.5  # consecutive parts must meet within this many frame steps: else a seek went astray
MIN_FRAMES = 2  # one frame has no duration, rate or movement: nothing to analyse
PROGRESS_EVERY_S = 0.25  # how often the parallel tracking reports progress


def video_landmarks(source: str | int | os.PathLike, *, settings: TrackerSettings = TrackerSettings(),
                    selection: Selection = WHOLE_VIDEO, cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                    progress: Progress | None = None, workers: int | None = None,
                    content_digest: str | None = None) -> LandmarkSeries:
    """Landmarks of the chosen face in every frame of ``source`` (of its ``selection``), from the
    cache when possible.

    ``workers``: trackers run at once on parts of a file (default: one per core; cameras and
    streams are tracked in one pass). ``content_digest``: the file's :func:`cache.file_digest`
    when the caller has it already. Raises the :mod:`spasmscan.errors` kinds for missing,
    unreadable, empty or faceless videos.
    """
    with VideoSource(source, start_s=selection.start_s, end_s=selection.end_s, frame_step=selection.frame_step,
                     planar=True) as video:
        name = video.info.name
        entry = None
        if use_cache and not video.live:
            content_digest = content_digest or cache.file_digest(source)
            binding = cache.Binding.of(video.info, content_digest=content_digest, settings=settings,
                                       selection=selection, file_bytes=os.path.getsize(source))
            entry = (Path(cache_dir or cache.default_cache_dir())
                     / (cache.cache_key(content_digest, settings, selection) + ".npz"))
            cached = cache.load_series(entry, binding=binding, settings=settings, selection=selection,
                                      source=name)
            if cached is not None:
                logger.info("%s: landmarks from cache %s", name, entry)
                return require_face(cached)
        if video.expected_frames > 0:
            _check_frames(name, selection, tracked=math.ceil(video.expected_frames / selection.frame_step),
                          frames=video.expected_frames)
        total_s = _expected_seconds(video.info.duration_s, selection)
        parts = _part_count(video, total_s, workers or usable_cores())
        logger.info("%s: tracking %dx%d at %.3g fps in %d part(s)", name, video.info.width, video.info.height,
                    video.info.fps, parts)
        if parts == 1:
            series = _track_one_pass(video, settings, selection, total_s, progress)
    if parts > 1:
        series = _track_in_parts(source, name, video.info.fps, settings, selection, total_s, parts, progress)
    if series.n_frames == 0:
        raise NoVideoStreamError(f"{name}: no frames could be decoded"
                                 + (" in the selected part" if selection.is_part else ""))
    _check_frames(name, selection, tracked=series.n_frames)
    if entry is not None:
        try:
            cache.save_series(series, entry, binding=binding)
        except (OSError, OutputError) as error:
            logger.warning("could not write landmark cache %s (%s); continuing without it", entry, error)
    return require_face(series)


def _check_frames(name: str, selection: Selection, *, tracked: int, frames: int = 0) -> None:
    """Raise unless ``tracked`` frames (of ``frames`` in the part, 0: not known) are enough to analyse."""
    if tracked >= MIN_FRAMES:
        return
    part = " in the selected part" if selection.is_part else ""
    if selection.frame_step > 1 and frames != 1:
        of = f" of the {frames} frames{part}" if frames else f"{part} of {name}"
        raise ParameterError(f"frame_step {selection.frame_step} leaves {tracked} frame{'s' * (tracked != 1)}{of}; "
                             f"spasmscan needs at least {MIN_FRAMES}: choose a smaller step")
    raise NoVideoStreamError(f"{name}: holds a single frame{part}, a still picture; spasmscan needs a video "
                             "of the face (about a minute at rest)")


def _expected_seconds(duration_s: float, selection: Selection) -> float:
    end = duration_s if selection.end_s is None else min(selection.end_s, duration_s)
    return end - (selection.start_s or 0.0)


def _part_count(video: VideoSource, total_s: float, workers: int) -> int:
    if not video.seekable or not math.isfinite(total_s):
        return 1
    return int(max(1, min(workers, total_s // MIN_PART_S)))


class _Stopped(Exception):
    """Raised inside a part's tracking when another part failed or the user interrupted."""


def _track_in_parts(source, name: str, fps: float, settings: TrackerSettings, selection: Selection, total_s: float,
                    parts: int, progress: Progress | None) -> LandmarkSeries:
    """Track ``parts`` consecutive parts of a file at once and join them (see the module docstring)."""
    first_s = selection.start_s or 0.0
    cuts = [first_s + total_s * k / parts for k in range(parts + 1)]
    cuts[-1] = selection.end_s  # the last part runs to the end, whatever the container's length claim
    done_s = [0.0] * parts
    results: list = [None] * parts
    stop = threading.Event()

    def track_part(k: int) -> None:
        def on_frame(time_s: float) -> None:
            if stop.is_set():
                raise _Stopped
            done_s[k] = time_s - cuts[k]

        try:
            start_s = max(cuts[k] - WARM_UP_S, first_s) if k else selection.start_s
            with VideoSource(source, start_s=start_s, end_s=cuts[k + 1], frame_step=selection.frame_step,
                             planar=True, decoder_threads=1) as video:  # the other cores track other parts
                series = _ending(track_frames(video.frames(), settings=settings, fps=fps / selection.frame_step,
                                              source=name, on_frame=on_frame), video)
            results[k] = _from(series, cuts[k]) if k else series
        except BaseException as error:  # handed to the calling thread
            results[k] = error
            stop.set()

    threads = [threading.Thread(target=track_part, args=(k,), name=f"spasmscan-part-{k}", daemon=True)
               for k in range(parts)]
    with opencv_threads(1):  # every core tracks a part already
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(PROGRESS_EVERY_S)
                    if progress is not None:
                        progress(sum(done_s), total_s)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, _Stopped)]
    if errors:
        raise errors[0]
    return _joined(results, source, settings, selection, total_s, progress)


def _from(series: LandmarkSeries, start_s: float) -> LandmarkSeries:
    """The frames of ``series`` at or after ``start_s``."""
    first = int(np.searchsorted(series.times_s, start_s))  # times increase: a slice, not a copy
    pixels = {name: None if getattr(series, name) is None else getattr(series, name)[first:] for name in PIXEL_MEASURES}
    return replace(series, times_s=series.times_s[first:], points=series.points[first:], **pixels)


def _joined(part_series: list[LandmarkSeries], source, settings: TrackerSettings, selection: Selection,
            total_s: float, progress: Progress | None) -> LandmarkSeries:
    """One series from consecutive parts; tracks again in one pass where a cut does not check out."""
    first = part_series[0]
    step_s = selection.frame_step / first.fps if first.fps > 0 else math.inf
    joined = [first]
    for k, part in enumerate(part_series[1:], start=1):
        before = joined[-1]
        if part.n_frames == 0 and k == len(part_series) - 1:
            continue  # the video ended before the last cut: its length was announced too long
        if part.n_frames == 0 or before.n_frames == 0 or not _meet(before, part, step_s):
            logger.warning("%s: parts tracked at once do not meet at %.2f s; tracking it in one pass",
                           first.source, part.times_s[0] if part.n_frames else float("nan"))
            return _track_rest(source, settings, selection, None, total_s, progress)
        if not _same_face_across(before, part):
            logger.info("%s: another face was chosen after the cut at %.2f s; following the earlier one on",
                        first.source, part.times_s[0])
            joined.append(_track_rest(source, settings, selection, before, total_s, progress))
            return replace(_concatenate(joined), end_s=joined[-1].end_s)
        joined.append(part)
    return replace(_concatenate(joined), end_s=joined[-1].end_s)


def _meet(before: LandmarkSeries, after: LandmarkSeries, step_s: float) -> bool:
    """Whether ``after`` starts right where ``before`` ends: one frame interval later, judged by
    the intervals next to the cut (variable-rate phone videos have uneven ones)."""
    nearby = np.diff(np.concatenate([before.times_s[-4:], after.times_s[:4]]))
    gap = float(after.times_s[0] - before.times_s[-1])
    return 0 < gap <= MAX_CUT_GAP_FRAMES * max(step_s, float(np.median(nearby)))


def _same_face_across(before: LandmarkSeries, after: LandmarkSeries) -> bool:
    """False when the face followed just before a cut and the one chosen just after it are not
    the same (centres further apart than the tracker would accept between frames)."""
    seen_before = np.flatnonzero(before.face_found)
    seen_after = np.flatnonzero(after.face_found)
    if not len(seen_before) or not len(seen_after):
        return True
    last, first = before.points[seen_before[-1]], after.points[seen_after[0]]
    if after.times_s[seen_after[0]] - before.times_s[seen_before[-1]] >= REACQUIRE_AFTER_S:
        return True  # a tracker in one pass would choose anew too
    width = float(np.ptp(last[:, 0]))
    return float(np.linalg.norm(face_center(first) - face_center(last))) <= MATCH_RADIUS_FACE_WIDTHS * width


def _track_rest(source, settings: TrackerSettings, selection: Selection, before: LandmarkSeries | None,
                total_s: float, progress: Progress | None) -> LandmarkSeries:
    """Track in one pass from the end of ``before`` (None: from the start), following its last face."""
    start_s = selection.start_s
    resume_from = None
    if before is not None:
        start_s = float(before.times_s[-1]) + 0.5 * selection.frame_step / before.fps
        seen = np.flatnonzero(before.face_found)
        if len(seen):
            resume_from = (before.points[seen[-1]], float(before.times_s[seen[-1]]))
    with VideoSource(source, start_s=start_s, end_s=selection.end_s, frame_step=selection.frame_step,
                     planar=True) as video:
        return _track_one_pass(video, settings, selection, total_s, progress, resume_from=resume_from)


def _track_one_pass(video: VideoSource, settings: TrackerSettings, selection: Selection, total_s: float,
                    progress: Progress | None, resume_from: tuple[np.ndarray, float] | None = None) -> LandmarkSeries:
    """Track the open ``video`` to its end in this thread; progress counts from ``selection.start_s``."""
    first_s = selection.start_s or 0.0
    on_frame = None if progress is None else (lambda t: progress(t - first_s, total_s))
    return _ending(track_frames(video.frames(), settings=settings, fps=video.info.fps / selection.frame_step,
                                source=video.info.name, on_frame=on_frame, resume_from=resume_from), video)


def _ending(series: LandmarkSeries, video: VideoSource) -> LandmarkSeries:
    """``series`` tracked from ``video`` to its end, with its ``end_s``: one frame after the last one
    decoded (tracked or stepped over)."""
    return replace(series, end_s=video.last_frame_s + 1.0 / video.info.fps)


def _concatenate(parts: list[LandmarkSeries]) -> LandmarkSeries:
    """Consecutive series of one video as one."""
    sized = next((part for part in parts if part.n_frames), parts[0])  # an empty part knows no frame size
    pixels = {name: np.concatenate([part.pixel_rows(name) for part in parts])  # a part without it: NaN rows
              if any(getattr(part, name) is not None for part in parts) else None for name in PIXEL_MEASURES}
    return replace(sized, times_s=np.concatenate([part.times_s for part in parts]),
                   points=np.concatenate([part.points for part in parts]), **pixels)


def analyze_video(source: str | int | os.PathLike, *, settings: TrackerSettings = TrackerSettings(),
                  selection: Selection = WHOLE_VIDEO, cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                  progress: Progress | None = None, segments: tuple = (), workers: int | None = None,
                  content_digest: str | None = None) -> Analysis:
    """Track (or load cached landmarks for) ``source`` and run the array stages on it.

    ``segments``: the examination steps (:class:`spasmscan.protocol.Segment`) when the recording
    followed a protocol. ``selection``, ``workers``, ``content_digest``: see :func:`video_landmarks`.
    """
    series = video_landmarks(source, settings=settings, selection=selection, cache_dir=cache_dir, use_cache=use_cache,
                             progress=progress, workers=workers, content_digest=content_digest)
    return analyze_series(series, segments=segments)
