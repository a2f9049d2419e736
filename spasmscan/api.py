"""The Python API: one recording in, one :class:`~spasmscan.analysis.Analysis` out.

Thin functions over the same pipeline the ``spasmscan`` command runs. They never print and
never exit; bad input raises the :mod:`spasmscan.errors` kinds, whose messages name the
parameter (``frame_step``), not a command-line flag.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple

from .analysis import Analysis, analyze_series
from .errors import ParameterError
from .landmarks import LandmarkSeries, TrackerSettings
from .selection import Selection

if TYPE_CHECKING:  # pandas is an optional extra
    import pandas as pd


def track(source: str | int | os.PathLike, *, start_s: float | None = None, end_s: float | None = None,
          mirrored: bool = False, frame_step: int = 1, cache_dir: str | os.PathLike | None = None,
          use_cache: bool = True) -> LandmarkSeries:
    """The landmarks of the face in ``source`` (a video file, camera index or stream URL).

    ``start_s``, ``end_s``: the part to track, in seconds of the video (None: from the start, to
    the end). ``mirrored``: the video is mirrored (selfie camera). ``frame_step``: track every Nth
    frame only. ``cache_dir``: where landmark caches live (None: ``$SPASMSCAN_CACHE_DIR`` or
    ``~/.cache/spasmscan``); a file tracked before with the same choices is read from there.
    ``use_cache=False`` tracks again and stores nothing.
    """
    from .pipeline import video_landmarks  # OpenCV and MediaPipe load only when a video is tracked

    return video_landmarks(source, settings=TrackerSettings(mirrored=mirrored),
                           selection=Selection(start_s=start_s, end_s=end_s, frame_step=frame_step),
                           cache_dir=cache_dir, use_cache=use_cache)


def analyze(source: str | int | os.PathLike, *, start_s: float | None = None, end_s: float | None = None,
            mirrored: bool = False, frame_step: int = 1, cache_dir: str | os.PathLike | None = None,
            use_cache: bool = True, settings=None) -> Analysis:
    """Track ``source`` (or read its cached landmarks) and analyse it, as ``spasmscan analyze`` does.

    The keywords are those of :func:`track`; ``settings`` is that of :func:`analyze_landmarks`.
    """
    _check_settings(settings)  # before the tracking, which takes long
    series = track(source, start_s=start_s, end_s=end_s, mirrored=mirrored, frame_step=frame_step,
                   cache_dir=cache_dir, use_cache=use_cache)
    return analyze_landmarks(series, settings=settings)


def analyze_landmarks(series: LandmarkSeries, *, segments: tuple = (), settings=None) -> Analysis:
    """Analyse landmarks already tracked (from :func:`track`, or ``Analysis.series``): signals,
    events, verdict and measures, without touching the video again.

    ``segments``: the examination steps (:func:`spasmscan.protocol.load_protocol`) when the
    recording followed a protocol. ``settings``: the analysis thresholds, an
    :class:`~spasmscan.settings.AnalysisSettings` (None: the defaults).
    """
    _check_settings(settings)
    if not isinstance(series, LandmarkSeries):
        raise ParameterError(f"series must be a LandmarkSeries (from spasmscan.track or Analysis.series), "
                             f"got {type(series).__name__}")
    return analyze_series(series, segments=segments, settings=settings)


def _check_settings(settings) -> None:
    from .settings import AnalysisSettings

    if settings is not None and not isinstance(settings, AnalysisSettings):
        raise ParameterError(f"settings must be a spasmscan.AnalysisSettings or None, got {type(settings).__name__}")


class Tables(NamedTuple):
    """The reports of one analysis as pandas DataFrames (see :func:`dataframes`)."""

    summary: pd.DataFrame
    events: pd.DataFrame
    signals: pd.DataFrame


def dataframes(analysis: Analysis, *, file: str | None = None) -> Tables:
    """``summary`` (one row), ``events`` (one row per event) and ``signals`` (one row per frame) as
    pandas DataFrames with the columns of the CSV reports; ``file`` fills their file column
    (default: the analysis' source). Values keep full precision; missing numbers are NaN and
    ``quality_flags`` is one text joined by ``;``, as in the CSV."""
    try:
        import pandas as pd
    except ImportError:
        from .errors import SpasmscanError
        raise SpasmscanError("to_dataframes needs pandas, which is not installed: "
                             "pip install 'spasmscan[pandas]'") from None
    import numpy as np

    from .report import EVENT_COLUMNS, FLAG_SEPARATOR, SUMMARY_COLUMNS, event_rows, signal_columns, summary_row

    file = analysis.source if file is None else file
    summary = summary_row(analysis, file=file)
    summary["quality_flags"] = FLAG_SEPARATOR.join(summary["quality_flags"])
    columns, _ = signal_columns(analysis)
    signals = analysis.signals
    arrays = [signals.times_s, signals.face_present] + [signals.values[name] for name in columns[2:]]
    return Tables(
        summary=pd.DataFrame([summary], columns=list(SUMMARY_COLUMNS)),
        events=pd.DataFrame(event_rows(analysis, file=file), columns=list(EVENT_COLUMNS)),
        signals=pd.DataFrame({column: np.asarray(array) for column, array in zip(columns, arrays)},
                             columns=list(columns)),
    )
