"""Clinical measures of a recording: rates of one-sided events, blinks, time in spasm, the
involuntary closures of both eyes, the Jankovic frequency estimate, and the face at rest.

Pure arrays: no OpenCV, no MediaPipe.
"""
from __future__ import annotations

import numpy as np

from .classify import ClosureTest, closure_test, episode_starts, window_mask
from .events import Events
from .kinds import KINDS
from .regions import SIDES
from .settings import DEFAULT_SETTINGS, AnalysisSettings


def clinical_measures(events: Events, signals, *, settings: AnalysisSettings = DEFAULT_SETTINGS,
                      segments: tuple = (), closures: ClosureTest | None = None) -> dict:
    """Per-recording measures: the keys in MEASURE_KEYS plus per-side and per-region rates.

    Rates are per minute of tracked face. The affected side is the side with more one-sided
    events. The closures of both eyes (blink_clusters_per_min, prolonged_closures_per_min,
    both_eyes_closed_pct, longest_closure_s; prolonged_closures in closure_minutes) are the
    involuntary ones of ``closures`` (default: :func:`spasmscan.classify.closure_test` with these
    ``settings`` and ``segments``), per minute of tracked face outside prompted steps.
    jrs_frequency_estimate is an ESTIMATE of the Jankovic Rating Scale frequency item (0 none, 1 more
    blinking, 2 fluttering < 1 s, 3 spasms >= 1 s, 4 closed > 50% of the time) from this recording
    alone, one-sided spasms or (when they decide blepharospasm) closures of both eyes, not a clinical
    rating.
    """
    minutes = signals.tracked_s / 60.0
    per_min = (lambda count: count / minutes if minutes > 0 else float("nan"))
    one_sided = events.one_sided
    count = {s: int(np.count_nonzero(one_sided & (events.side == s))) for s in SIDES}
    side = max(SIDES, key=lambda s: (count[s], s == "left"))
    mine = one_sided & (events.side == side)
    durations = events.duration_s[mine]
    spasm_s = _union_seconds(events.start_s[mine], events.end_s[mine])
    counts = {kind.measure: int(np.count_nonzero(events.kind == kind.name)) for kind in KINDS if kind.measure}
    blinks = counts["blinks"]
    eye_events = mine & np.char.startswith(events.region.astype(str), "eye")
    spread = int(np.count_nonzero(mine & (events.region == "eye+mouth")))
    spasm_share = spasm_s / (minutes * 60.0) if minutes > 0 else float("nan")
    closures = closures or closure_test(events, signals, settings=settings, segments=segments)
    chosen = closures.closures
    closed_s = _union_seconds(events.start_s[chosen], events.end_s[chosen])
    closed_share = closed_s / (closures.minutes * 60.0) if closures.minutes > 0 else float("nan")
    measures = {
        "twitches_per_min": per_min(count[side]),
        "twitches_left": count["left"],
        "twitches_right": count["right"],
        "rest_twitches": int(np.count_nonzero(mine & (events.coupled_to < 0))),
        "coupled_twitches": int(np.count_nonzero(mine & (events.coupled_to >= 0))),
        **counts,
        "blinks_per_min": per_min(blinks),
        "spasm_time_pct": 100.0 * spasm_share,
        "longest_spasm_s": float(durations.max()) if durations.size else 0.0,
        "spread_to_mouth": bool(spread > 0),
        "jrs_frequency_estimate": max(_jrs_frequency(mine, events, spasm_share, per_min(blinks)),
                                      _bilateral_jrs(closures, closed_share)),
        "affected_side_by_count": side if count[side] else "none",
        "tonic_spasms": int(np.count_nonzero(mine & (events.kind == "tonic_spasm"))),
        "spread_to_mouth_count": spread,
        "eye_twitches": int(np.count_nonzero(eye_events)),
        "tracked_s": signals.tracked_s,
        "blink_clusters_per_min": closures.per_min(closures.clusters),
        "prolonged_closures_per_min": closures.per_min(closures.prolonged),
        "both_eyes_closed_pct": 100.0 * closed_share,
        "longest_closure_s": closures.longest_s,
        "prolonged_closures": closures.prolonged,
        "closure_minutes": closures.minutes,
    }
    for s in SIDES:
        for region in ("eye", "mouth", "eye+mouth"):
            n = int(np.count_nonzero(one_sided & (events.side == s) & (events.region == region)))
            measures[f"twitches_per_min_{s}_{region}"] = per_min(n)
    measures.update(rest_measures(events, signals))
    return measures


def rest_measures(events: Events, signals) -> dict:
    """The face at rest: tracked frames outside the voluntary movements' windows.

    rest_minutes: their minutes. rest_episodes_SIDE: one-sided episodes of SIDE starting there
    (not coupled to a voluntary movement). rest_eye_aperture_SIDE: median of eye_aperture_raw_SIDE
    (lid distance over eye width) in those frames outside any event; NaN without that signal.
    """
    rest = signals.face_present & ~window_mask(events, signals)
    quiet = rest.copy()
    for start, end in zip(events.start_s, events.end_s):
        quiet &= (signals.times_s < start) | (signals.times_s > end)
    out = {"rest_minutes": float(np.count_nonzero(rest)) / signals.fps / 60.0 if signals.fps > 0 else 0.0}
    for s in SIDES:
        out[f"rest_episodes_{s}"] = int(np.count_nonzero(events.coupled_to[episode_starts(events, s)] < 0))
        aperture = signals.values.get(f"eye_aperture_raw_{s}")
        values = aperture[quiet] if aperture is not None else np.array([])
        values = values[np.isfinite(values)]
        out[f"rest_eye_aperture_{s}"] = float(np.median(values)) if values.size else float("nan")
    return out


NORMAL_BLINKS_PER_MIN = 30.0  # above about this many blinks a minute, blinking is increased


def _jrs_frequency(mine: np.ndarray, events: Events, spasm_share: float, blinks_per_min: float) -> int:
    """Jankovic-style frequency ESTIMATE, 0-4, from one recording."""
    if not mine.any():
        return 1 if np.isfinite(blinks_per_min) and blinks_per_min > NORMAL_BLINKS_PER_MIN else 0
    return _jrs_grade(spasm_share, long_spasms=bool(np.any(events.kind[mine] == "tonic_spasm")))


JRS_LONG_S = 1.0  # the scale's grade 3: spasms lasting a second or more


def _bilateral_jrs(closures, closed_share: float) -> int:
    """The same ESTIMATE from closures of both eyes (a :class:`spasmscan.classify.ClosureTest`), 0 unless
    they decide blepharospasm: 4 closed > 50% of the time, 3 a closure >= 1 s, else 2 (fluttering)."""
    if not closures.decisive:
        return 0
    return _jrs_grade(closed_share, long_spasms=closures.longest_s >= JRS_LONG_S)


def _jrs_grade(closed_share: float, *, long_spasms: bool) -> int:
    """The scale's grade of a recording with spasms: 4 with the eye closed more than half of the time
    (``closed_share``, 0..1), 3 with spasms of JRS_LONG_S or more, else 2 (fluttering)."""
    if closed_share > 0.5:
        return 4
    return 3 if long_spasms else 2


def _union_seconds(starts: np.ndarray, ends: np.ndarray) -> float:
    """Total length of the union of intervals [starts, ends] in seconds."""
    total, reach = 0.0, -np.inf
    for start, end in sorted(zip(starts, ends)):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return float(total)


MEASURE_KEYS = ("twitches_per_min", "twitches_left", "twitches_right", "rest_twitches", "coupled_twitches",
                "blinks", "blinks_per_min", "brow_raises", "spasm_time_pct", "longest_spasm_s",
                "spread_to_mouth", "jrs_frequency_estimate", "blink_clusters_per_min", "prolonged_closures_per_min",
                "both_eyes_closed_pct", "longest_closure_s")
