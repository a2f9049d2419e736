"""A deliberately simple reference method: thresholded left-right differences, nothing more.

Each eye's aspect ratio (EAR, the six-point lid distance over eye width) and each mouth corner's
height below the eye line are taken per frame; a run where the left-right difference leaves its
median by more than ``BASELINE_K`` robust SDs is a one-sided event on the side that closes (eye) or
rises (mouth). The verdict counts them: too few is ``none``, events of one side mostly during
blinks are ``synkinesis``, else ``primary_hfs``. It exists to be beaten on every held-out group:
a rule the analysis adds must do better than this.

Pure arrays: no OpenCV, no MediaPipe.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classify import Verdict
from .events import Events, hysteresis_runs
from .landmarks import LandmarkSeries
from .signals import robust_noise

BASELINE_K = 4.0  # a difference this many robust SDs from its median is rare in noise alone
BASELINE_MIN_S = 0.05  # shorter runs are one-frame tracker jumps at 25-30 fps
BASELINE_MIN_EVENTS = 3  # fewer one-sided events can be chance
BASELINE_BLINK_DROP = 0.25  # both EARs this far below their medians: a blink
BASELINE_SIDE_SHARE = 0.75  # a spasm keeps to one side

# Six-point EAR landmarks per patient side: outer corner, two upper lid, inner corner, two lower lid.
EAR_POINTS = {"right": (33, 160, 158, 133, 153, 144), "left": (263, 387, 385, 362, 380, 373)}
MOUTH_CORNER = {"right": 61, "left": 291}


@dataclass(frozen=True)
class BaselineResult:
    """What :func:`baseline_analysis` found: the series, one-sided events and the verdict."""

    series: LandmarkSeries
    events: Events
    verdict: Verdict


def eye_aspect_ratio(points: np.ndarray, column: dict, side: str) -> np.ndarray:
    """(n,) six-point EAR of one eye from (n, k, 2) pixels; ``column`` maps landmark -> column."""
    p1, p2, p3, p4, p5, p6 = (points[:, column[i]] for i in EAR_POINTS[side])
    vertical = np.linalg.norm(p2 - p6, axis=1) + np.linalg.norm(p3 - p5, axis=1)
    return vertical / (2.0 * np.linalg.norm(p1 - p4, axis=1))


def _runs(difference: np.ndarray, times: np.ndarray, frame_s: float):
    """(first, last, sign) of runs where ``difference`` leaves its median by BASELINE_K robust SDs."""
    centred = difference - np.nanmedian(difference)
    threshold = BASELINE_K * robust_noise(centred)
    if not np.isfinite(threshold) or threshold <= 0:
        return []
    centred = np.where(np.isfinite(centred), centred, 0.0)
    out = []
    for sign in (1.0, -1.0):
        for first, last in hysteresis_runs(sign * centred, threshold, 0.5 * threshold):
            if times[last] + frame_s - times[first] >= BASELINE_MIN_S:
                out.append((first, last, sign))
    return out


def baseline_analysis(series: LandmarkSeries) -> BaselineResult:
    """One-sided eye and mouth events and a verdict by counting them (see the module docstring)."""
    column = {int(landmark): k for k, landmark in enumerate(series.landmark_ids)}
    points = series.points.astype(np.float64)
    times = series.times_s
    frame_s = 1.0 / series.fps
    ear = {s: eye_aspect_ratio(points, column, s) for s in EAR_POINTS}
    relative = {s: ear[s] / np.nanmedian(ear[s]) for s in ear}
    iod = np.linalg.norm(points[:, column[33]] - points[:, column[263]], axis=1)
    eye_line = (points[:, column[33], 1] + points[:, column[263], 1]) / 2.0
    mouth_rise = {s: (eye_line - points[:, column[MOUTH_CORNER[s]], 1]) / iod for s in MOUTH_CORNER}
    blink = (relative["left"] < 1 - BASELINE_BLINK_DROP) & (relative["right"] < 1 - BASELINE_BLINK_DROP)
    rows = []  # (side, region, start_s, end_s, during_blink)
    # EAR left minus right: positive = right eye more closed
    for first, last, sign in _runs(relative["left"] - relative["right"], times, frame_s):
        rows.append(("right" if sign > 0 else "left", "eye", first, last))
    # mouth rise left minus right: positive = left corner up
    for first, last, sign in _runs(mouth_rise["left"] - mouth_rise["right"], times, frame_s):
        rows.append(("left" if sign > 0 else "right", "mouth", first, last))
    rows.sort(key=lambda r: r[2])
    events = _events(rows, times, frame_s)
    with_blink = np.array([bool(blink[max(0, a - 3):b + 4].any()) for _, _, a, b in rows], dtype=bool)
    return BaselineResult(series=series, events=events, verdict=_verdict(events, with_blink))


def _events(rows, times: np.ndarray, frame_s: float) -> Events:
    if not rows:
        return Events.empty()
    side, region, first, last = zip(*rows)
    start = times[list(first)]
    return Events(kind=np.full(len(rows), "twitch", dtype="<U16"), side=np.array(side, dtype="<U16"),
                  region=np.array(region, dtype="<U16"), start_s=start,
                  end_s=times[list(last)] + frame_s, amplitude=np.full(len(rows), np.nan),
                  coupled_to=np.full(len(rows), -1, dtype=np.int64))


def _verdict(events: Events, with_blink: np.ndarray) -> Verdict:
    counts = {s: int(np.count_nonzero(events.side == s)) for s in ("left", "right")}
    side = max(counts, key=lambda s: (counts[s], s == "left"))
    total = sum(counts.values())
    if counts[side] < BASELINE_MIN_EVENTS or counts[side] < BASELINE_SIDE_SHARE * total:
        return Verdict("none", "none", 0.5, float("nan"), f"{counts[side]} of {total} one-sided events on the "
                       f"{side}: too few or not one-sided")
    mine = events.side == side
    share = float(with_blink[mine].mean())
    if share >= 0.5:
        return Verdict("synkinesis", side, 0.5, float("nan"), f"{share:.0%} of the {side} events come with blinks")
    return Verdict("primary_hfs", side, 0.5, float("nan"), f"{counts[side]} {side} events, mostly without blinks")
