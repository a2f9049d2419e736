"""Analysis of one tracked recording: landmarks -> signals -> events -> verdict and measures."""
from __future__ import annotations

from dataclasses import dataclass

from .classify import Verdict, classify, clinical_measures
from .events import Events, detect_events
from .landmarks import LandmarkSeries
from .signals import Signals, compute_signals


@dataclass(frozen=True)
class Analysis:
    """Everything known about one recording after analysis."""

    series: LandmarkSeries
    signals: Signals
    events: Events
    verdict: Verdict
    measures: dict
    quality_flags: tuple = ()

    @property
    def source(self) -> str:
        return self.series.source

    @property
    def duration_s(self) -> float:
        return self.series.duration_s

    @property
    def fps(self) -> float:
        return self.series.fps

    @property
    def frames(self) -> int:
        return self.series.n_frames

    @property
    def face_frames_pct(self) -> float:
        return 100.0 * self.series.face_fraction


def analyze_series(series: LandmarkSeries) -> Analysis:
    """Run the array stages on a tracked series."""
    signals = compute_signals(series.points, series.times_s)
    events = detect_events(signals)
    verdict = classify(events, signals)
    measures = clinical_measures(events, signals)
    return Analysis(series=series, signals=signals, events=events, verdict=verdict, measures=measures,
                    quality_flags=())
