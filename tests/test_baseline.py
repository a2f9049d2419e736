"""The simple reference method of evaluate: left-right differences of the EAR and the mouth corners."""
from __future__ import annotations

import numpy as np

from spasmscan.baseline import baseline_analysis
from spasmscan.landmarks import LandmarkSeries
from test_signals import pulse, synthetic_series


def series_of(points: np.ndarray, times: np.ndarray) -> LandmarkSeries:
    return LandmarkSeries(times_s=times, points=points, width=640, height=480, fps=30.0, source="synthetic")


def pulses(starts, length_s: float, depth: float):
    parts = [pulse(s, length_s, depth) for s in starts]
    return lambda t: sum(p(t) for p in parts)


def test_one_sided_closures_at_rest_are_hfs_of_that_side():
    points, times = synthetic_series(30.0, closure={"left": pulses([4, 9, 14, 19, 24], 0.2, 0.6)}, noise_px=0.2)
    result = baseline_analysis(series_of(points, times))
    assert (result.verdict.label, result.verdict.side) == ("primary_hfs", "left")
    assert np.count_nonzero(result.events.side == "left") >= 5
    assert np.all(result.events.kind == "twitch")


def test_mouth_pulls_with_every_blink_are_synkinesis():
    blinks = [3, 7, 11, 15, 19, 23, 27]
    shut = pulses(blinks, 0.2, 0.9)
    points, times = synthetic_series(30.0, closure={"left": shut, "right": shut},
                                     mouth={"right": pulses(blinks, 0.3, 0.07)}, noise_px=0.2)
    result = baseline_analysis(series_of(points, times))
    assert (result.verdict.label, result.verdict.side) == ("synkinesis", "right")


def test_a_still_face_is_none():
    points, times = synthetic_series(30.0, noise_px=0.2)
    assert baseline_analysis(series_of(points, times)).verdict.label == "none"
