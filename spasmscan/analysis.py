"""Analysis of one tracked recording: landmarks -> signals -> events -> verdict and measures."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from .classify import Verdict, asymmetry_noise, binomial_sf, classify, closure_test
from .events import Events, detect_events
from .exam import Exam, examine
from .landmarks import LandmarkSeries
from .measures import clinical_measures
from .settings import DEFAULT_SETTINGS, AnalysisSettings
from .signals import Signals, compute_signals

logger = logging.getLogger(__name__)

LOW_COVERAGE_FRACTION = 0.8  # flag recordings with the face tracked in fewer frames than this share
HEAD_SHIFT_IOD = 0.5  # flag head travel beyond this many inter-ocular distances from its median place
HEAD_ROLL_RANGE_DEG = 15.0  # ... or a roll range wider than this (5th to 95th percentile)
HEAD_SCALE_RANGE = 0.2  # ... or a change of face size by more than this share (leaning in or out)
SHORT_RECORDING_S = 10.0  # a mild spasm (3/min) shows no episode in this long more than half the time: flagged, still judged

@dataclass(frozen=True)
class Analysis:
    """Everything known about one recording after analysis."""

    series: LandmarkSeries
    signals: Signals
    events: Events
    verdict: Verdict
    measures: dict
    quality_flags: tuple = ()
    segments: tuple = ()  # examination steps (spasmscan.protocol.Segment) when the recording followed a protocol
    session: dict = field(default_factory=dict)  # live-mode figures: frames dropped, processing rate, latency
    exam: Exam | None = None  # the facial palsy examination, when the steps were an exam protocol's (exam.py)

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

    def to_dataframes(self, *, file: str | None = None):
        """``(summary, events, signals)`` as pandas DataFrames with the CSV reports' columns
        (needs pandas: ``pip install 'spasmscan[pandas]'``); see :func:`spasmscan.api.dataframes`."""
        from .api import dataframes

        return dataframes(self, file=file)


def analyze_series(series: LandmarkSeries, *, settings: AnalysisSettings | None = None, segments: tuple = (),
                   session: dict | None = None) -> Analysis:
    """Run the array stages on a tracked series.

    settings: the analysis thresholds (default :class:`~spasmscan.settings.AnalysisSettings`()),
    shared by event detection and classification.
    segments: the examination steps (name "rest" or a prompted action, start_s, end_s) when
    the recording followed a protocol; one-sided events are then also counted per kind of step,
    and an exam protocol's steps (:func:`spasmscan.exam.is_exam_protocol`) give ``exam``.
    session: live-mode figures kept with the result.
    """
    settings = settings or DEFAULT_SETTINGS
    signals, events = series_events(series, settings=settings)
    closures = closure_test(events, signals, settings=settings, segments=tuple(segments))
    verdict = classify(events, signals, settings=settings, segments=tuple(segments), closures=closures)
    measures = clinical_measures(events, signals, settings=settings, segments=tuple(segments), closures=closures)
    if segments:
        measures.update(protocol_measures(events, segments))
        verdict = protocol_verdict(verdict, events, segments)
    flags = quality_flags(signals, events, settings=settings)
    logger.info("%s: %s (%s side, confidence %.2f); flags %s", series.source, verdict.label, verdict.side,
                verdict.confidence, flags)
    return Analysis(series=series, signals=signals, events=events, verdict=verdict, measures=measures,
                    quality_flags=flags, segments=tuple(segments), session=dict(session or {}),
                    exam=examine(signals, segments))


def series_events(series: LandmarkSeries, *, settings: AnalysisSettings | None = None) -> tuple[Signals, Events]:
    """The first array stages on a tracked series: its signals and the events found in them (what
    :func:`analyze_series` classifies, and what live mode reports over its recent past)."""
    settings = settings or DEFAULT_SETTINGS
    signals = compute_signals(series.points, series.times_s, landmark_ids=series.landmark_ids,
                              eye_openness=series.eye_openness, fuse_eye_openness=settings.fuse_eye_pixels,
                              mouth_flow=series.mouth_flow if settings.fuse_mouth_pixels else None)
    return signals, detect_events(signals, settings=settings)


PROTOCOL_ALPHA = 0.05  # one-sided events must favour the rest or the prompted steps beyond chance at this level
PROTOCOL_MIN_EVENTS = 3  # fewer one-sided events in the steps cannot favour either kind of step


def protocol_verdict(verdict: Verdict, events: Events, segments: tuple) -> Verdict:
    """The verdict with the protocol's evidence: one-sided events in the rest steps against the
    prompted steps, compared with the time each kind of step covers (binomial test).

    An indeterminate verdict with a side is decided by it: events concentrated in the prompted
    steps mean synkinesis, events spread into the rest steps mean primary hemifacial spasm.
    """
    mine = events.one_sided & (events.side == verdict.side) if verdict.side in ("left", "right") else events.one_sided
    rest_s = sum(s.end_s - s.start_s for s in segments if s.name == "rest")
    action_s = sum(s.end_s - s.start_s for s in segments if s.name != "rest")
    counts = protocol_measures(events, segments, mask=mine)
    n_rest, n_action = counts["protocol_rest_twitches"], counts["protocol_action_twitches"]
    sentence = (f"Protocol: {n_rest} one-sided events in {rest_s:.0f} s of rest steps, {n_action} in "
                f"{action_s:.0f} s of prompted blinks, brow raises and smiles.")
    evidence = tuple(verdict.evidence) + (sentence,)
    if verdict.label != "indeterminate" or verdict.side not in ("left", "right") or rest_s <= 0 or action_s <= 0 \
            or n_rest + n_action < PROTOCOL_MIN_EVENTS:
        return replace(verdict, evidence=evidence)
    action_share = action_s / (rest_s + action_s)
    p_action = binomial_sf(n_action, n_rest + n_action, action_share)
    if p_action <= PROTOCOL_ALPHA and n_rest == 0:
        return replace(verdict, label="synkinesis", confidence=round(1.0 - p_action, 3), evidence=evidence,
                       reason=f"all {n_action} one-sided {verdict.side} events came during the prompted voluntary "
                              f"movements, none at rest (binomial p = {p_action:.2g} against the time shares)")
    if n_rest > 0 and n_rest / rest_s >= 0.5 * n_action / action_s:
        return replace(verdict, label="primary_hfs", confidence=round(min(verdict.confidence, 0.7), 3),
                       evidence=evidence,
                       reason=f"{n_rest} one-sided {verdict.side} events happened in the rest steps, at a rate "
                              "comparable to the prompted steps: not bound to voluntary movement")
    return replace(verdict, evidence=evidence)


def protocol_measures(events: Events, segments: tuple, *, mask: np.ndarray | None = None) -> dict:
    """One-sided events (or those in ``mask``) starting in the rest steps and in the prompted steps."""
    onsets = events.start_s[events.one_sided if mask is None else mask]
    in_rest = np.zeros(onsets.shape, bool)
    in_action = np.zeros(onsets.shape, bool)
    for segment in segments:
        inside = (onsets >= segment.start_s) & (onsets < segment.end_s)
        if segment.name == "rest":
            in_rest |= inside
        else:
            in_action |= inside
    return {"protocol_rest_twitches": int(in_rest.sum()), "protocol_action_twitches": int(in_action.sum())}


def quality_flags(signals: Signals, events: Events, *, settings: AnalysisSettings = DEFAULT_SETTINGS) -> tuple:
    """Names of the problems of a recording: low_face_coverage, short_recording, head_motion,
    restless_eyes (the two eyes' openings differ too much from moment to moment to see twitches)."""
    flags = []
    n = signals.times_s.size
    if n == 0 or np.mean(signals.face_present) < max(LOW_COVERAGE_FRACTION, settings.min_face_fraction):
        flags.append("low_face_coverage")
    if signals.tracked_s < SHORT_RECORDING_S:
        flags.append("short_recording")
    if asymmetry_noise(signals, events) > settings.max_asymmetry_noise:
        flags.append("restless_eyes")
    roll = signals.values.get("head_roll_deg", np.array([]))
    scale = signals.values.get("head_scale", np.array([]))
    shift = signals.values.get("head_shift", np.array([]))
    if np.isfinite(roll).sum() > 1:
        roll_range = np.subtract(*np.nanpercentile(roll, [95, 5]))
        low, high = np.nanpercentile(scale, [5, 95])
        if (roll_range > HEAD_ROLL_RANGE_DEG or high / low - 1.0 > HEAD_SCALE_RANGE
                or np.nanpercentile(shift, 95) > HEAD_SHIFT_IOD):
            flags.append("head_motion")
    return tuple(flags)
