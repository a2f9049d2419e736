"""Classification of a recording: primary hemifacial spasm, synkinesis, none or indeterminate.

The unit is the one-sided episode: a one-sided event, or a burst of them less than
EPISODE_GAP_S apart. The decision rests on stated statistics for the affected side:

- time-locking: of n episodes, k start inside the windows at the onsets of the patient's voluntary
  movements (blinks, brow raises, smiles, held eye closures), which cover a share q of the
  tracked time, and move a region that voluntary movement does not drive (synkinesis is one
  muscle group carried along by the voluntary movement of another: the mouth corner with a
  blink, the eye with a smile; an eye that stays shut after a blink is no synkinesis). Episodes
  that ignore the voluntary movements give k at most Binomial(n, q); synkinesis gives k far
  above n q (one-sided binomial test; its p-value is reported);
- rest: the r = n - k episodes synkinesis does not explain: those outside the windows, in m
  minutes at rest, and those in a window that only prolong the voluntary movement's own region.
  Synkinesis leaves only false detections there, at most FALSE_ALARM_PER_MIN; primary hemifacial
  spasm goes on regardless (Poisson test of r against FALSE_ALARM_PER_MIN x m, where m also counts
  the windows' time when episodes inside them are among the r: false alarms can fall there too);
- steadiness: synkinesis comes with nearly every voluntary movement that drives it. When neither
  test decides and the k episodes came with fewer than STEADY_SHARE of the voluntary movements of
  their kinds, they met those by chance: all n episodes are tested against false alarms.

Confidence of a positive verdict = (1 - p_side) (1 - p_class): p_side is the chance of episodes
this lopsided if they fell on either side alike, p_class the p-value of the deciding test.

Pure arrays: no OpenCV, no MediaPipe.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.special import bdtrc, pdtrc

from .errors import ParameterError
from .events import COUPLE_AFTER_S, COUPLE_BEFORE_S, Events, coupling_windows
from .regions import SIDES

logger = logging.getLogger(__name__)

LABELS = ("primary_hfs", "synkinesis", "none", "indeterminate")

MIN_TRACKED_S = 10.0  # below this a recording holds about two blinks: too little to judge coupling or rate
MIN_FACE_FRACTION = 0.5  # with the face tracked in less than this share of frames the evidence is too thin
MAX_EYE_NOISE = 0.15  # eye opening SD (share of the open eye) above which a twitch (a 10-30% closure) drowns
MIN_EPISODES = 3  # fewer one-sided episodes on a side can be chance; three is the least a binomial test can weigh
MIN_SIDE_SHARE = 0.75  # a spasm keeps to one side: at least this share of the one-sided episodes is on it
EPISODE_GAP_S = 0.5  # one-sided events closer than this are one episode (clonic bursts run at 2-6 Hz)
COUPLING_ALPHA = 0.05  # synkinesis: the time-locking test must reach this level
SYNKINESIS_MIN_SHARE = 0.75  # ... and most episodes must start inside the voluntary windows
# One-sided detections at rest without any spasm: the detector is held to the stated target of at
# most 0.5/min, checked on every evaluation (0.00/min on the none and hard-negative clips of the
# held-out sets). With a margin above it (1.0/min) a mild spasm, 2-3 episodes at rest in the half
# minute a blinking, smiling patient spends at rest in a 60 s clip, could not be told from false alarms.
FALSE_ALARM_PER_MIN = 0.5
REST_ALPHA = 0.05  # primary HFS: more episodes at rest than false alarms explain, at this level
# Fewer than MIN_EPISODES on a side, yet false alarms give that many twitches less than one time in five:
# a hint of a spasm, too thin to judge; 'indeterminate' asks for a longer recording instead of 'none'.
SUGGESTIVE_ALPHA = 0.2
# Synkinesis accompanies the voluntary movement driving it nearly every time ("the mouth corner pulls with
# every blink"); episodes that come with fewer than this share of the movements of their kinds met them
# by chance, and a spasm that ignores the voluntary movements is tested on all its episodes.
STEADY_SHARE = 0.5
REFERENCE_RATE_PER_MIN = 3.0  # a mild spasm (the range is 0.3-25/min): 'none' is as sure as it would have shown
# The region each voluntary movement drives itself; a one-sided movement carried along by it must
# move another region to count as synkinesis.
DRIVEN_REGION = {"blink": "eye", "eye_closure": "eye", "brow_raise": "brow", "smile": "mouth"}


@dataclass(frozen=True)
class Verdict:
    """The decision for one recording.

    label: one of LABELS. side: "left", "right" or "none" (patient's side). confidence: 0..1.
    coupling_p_value: p-value of the test that one-sided events are time-locked to voluntary
    movements (NaN when there were too few to test). reason: one sentence. evidence: plain
    sentences a clinician reads.
    """

    label: str
    side: str
    confidence: float
    coupling_p_value: float
    reason: str
    evidence: tuple = ()


@dataclass(frozen=True)
class CouplingTest:
    """The statistics of one side: k of n one-sided episodes start inside voluntary windows that
    cover a share q of the tracked time and move another region than that voluntary movement; the
    other n - k (rest_episodes) are tested against false alarms in rest_minutes (the time at rest,
    plus the windows' time when some of them fell inside a window). The k start with ``accompanied``
    of the ``of_kinds`` voluntary movements of their kinds."""

    side: str
    n_episodes: int
    n_inside: int
    window_share: float
    p_value: float  # time-locking: P(K >= k) for K ~ Binomial(n, q); NaN when n == 0
    rest_episodes: int
    rest_minutes: float
    rest_p_value: float  # P(R >= r) for R ~ Poisson(FALSE_ALARM_PER_MIN x rest_minutes)
    prolonging: int = 0  # of the rest_episodes, those inside a window that move only its own region
    accompanied: int = 0  # voluntary movements the n_inside episodes start with
    of_kinds: int = 0  # voluntary movements of those movements' kinds (blinks, smiles, ...)

    @property
    def rest_rate_per_min(self) -> float:
        return self.rest_episodes / self.rest_minutes if self.rest_minutes > 0 else float("nan")


def episode_starts(events: Events, side: str, *, gap_s: float = EPISODE_GAP_S) -> np.ndarray:
    """Indices of ``side``'s one-sided events that start an episode (no event of that side ended
    less than ``gap_s`` before)."""
    mine = np.flatnonzero(events.one_sided & (events.side == side))
    starts, reach = [], -np.inf
    for i in mine[np.argsort(events.start_s[mine], kind="stable")]:
        if events.start_s[i] - reach >= gap_s:
            starts.append(i)
        reach = max(reach, events.end_s[i])
    return np.array(starts, dtype=np.int64)


def coupling_test(events: Events, signals, side: str, *, before_s: float = COUPLE_BEFORE_S,
                  after_s: float = COUPLE_AFTER_S) -> CouplingTest:
    """Time-locking and rest statistics of ``side``'s one-sided episodes."""
    in_window = window_mask(events, signals, before_s=before_s, after_s=after_s)
    tracked = signals.face_present
    frames = int(np.count_nonzero(tracked))
    share = float(np.count_nonzero(in_window & tracked)) / frames if frames else float("nan")
    starts = episode_starts(events, side)
    n = int(starts.size)
    carried = carried_along(events)[starts]
    k = int(np.count_nonzero(carried))
    same_region = int(np.count_nonzero(events.coupled_to[starts] >= 0)) - k  # in a window, but not synkinetic
    if n and 0.0 < share < 1.0:
        p_value = binomial_sf(k, n, share)
    elif n:
        p_value = 1.0 if share >= 1.0 or k == 0 else 0.0
    else:
        p_value = float("nan")
    exposed = tracked if same_region else tracked & ~in_window
    rest_minutes = float(np.count_nonzero(exposed)) / signals.fps / 60.0
    rest_p = poisson_sf(n - k, FALSE_ALARM_PER_MIN * rest_minutes)
    partners = np.unique(events.coupled_to[starts[carried]])
    kinds = np.isin(events.kind, events.kind[partners]) & events.voluntary
    return CouplingTest(side=side, n_episodes=n, n_inside=k, window_share=share, p_value=p_value,
                        rest_episodes=n - k, rest_minutes=rest_minutes, rest_p_value=rest_p, prolonging=same_region,
                        accompanied=int(partners.size), of_kinds=int(np.count_nonzero(kinds)))


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(K >= k) for K ~ Binomial(n, p): the p-value of the one-sided binomial test. From
    scipy.special: scipy.stats takes over a second to import, longer than a cached recording's analysis."""
    return 1.0 if k <= 0 else float(bdtrc(k - 1, n, p))


def poisson_sf(r: int, mu: float) -> float:
    """P(R >= r) for R ~ Poisson(mu)."""
    return 1.0 if r <= 0 else float(pdtrc(r - 1, mu))


def carried_along(events: Events) -> np.ndarray:
    """(k,) bool: one-sided events time-locked to a voluntary movement (coupled_to) that move a region
    this voluntary movement does not drive itself (DRIVEN_REGION): what synkinesis looks like."""
    out = np.zeros(len(events), dtype=bool)
    for i in np.flatnonzero(events.one_sided & (events.coupled_to >= 0)):
        driven = DRIVEN_REGION.get(str(events.kind[events.coupled_to[i]]), "")
        out[i] = bool(set(str(events.region[i]).split("+")) - {driven})
    return out


def window_mask(events: Events, signals, *, before_s: float = COUPLE_BEFORE_S,
                after_s: float = COUPLE_AFTER_S) -> np.ndarray:
    """(n,) bool: frames inside the window of some voluntary event."""
    times = signals.times_s
    mask = np.zeros(times.shape, dtype=bool)
    for lo, hi in zip(*coupling_windows(events, before_s=before_s, after_s=after_s)):
        mask |= (times >= lo) & (times <= hi)
    return mask


def classify(events: Events, signals, *, min_tracked_s: float = MIN_TRACKED_S,
             min_face_fraction: float = MIN_FACE_FRACTION, min_episodes: int = MIN_EPISODES) -> Verdict:
    """Verdict from :class:`~spasmscan.events.Events` and :class:`~spasmscan.signals.Signals`.

    min_tracked_s: seconds of tracked face needed to decide. min_face_fraction: share of frames
    with a tracked face needed. min_episodes: one-sided episodes needed on the affected side.
    """
    if min_tracked_s < 0 or not 0 <= min_face_fraction <= 1 or min_episodes < 1:
        raise ParameterError("min_tracked_s must be >= 0, min_face_fraction in [0, 1], min_episodes >= 1")
    n_frames = signals.times_s.size
    face_fraction = float(np.mean(signals.face_present)) if n_frames else 0.0
    tracked_s = signals.tracked_s if n_frames else 0.0
    if tracked_s < min_tracked_s:
        return Verdict("indeterminate", "none", 0.0, float("nan"),
                       f"the recording has only {tracked_s:.1f} s of tracked face; at least "
                       f"{min_tracked_s:.0f} s are needed to judge", ())
    if face_fraction < min_face_fraction:
        return Verdict("indeterminate", "none", 0.0, float("nan"),
                       f"the face was tracked in only {100 * face_fraction:.0f}% of the frames; at least "
                       f"{100 * min_face_fraction:.0f}% are needed", ())

    eye_noise = max(signals.noise.get(f"eye_aperture_{side}", 0.0) for side in SIDES)
    if eye_noise > MAX_EYE_NOISE:
        return Verdict("indeterminate", "none", 0.0, float("nan"),
                       f"the eyes' opening varies too much at rest (SD {eye_noise:.2f} of the open eye; crying, "
                       "laughing or squinting?) to tell twitches from expressions", ())

    tests = {side: coupling_test(events, signals, side) for side in SIDES}
    counts = {side: tests[side].n_episodes for side in SIDES}
    side = max(SIDES, key=lambda s: (counts[s], s == "left"))
    total = sum(counts.values())
    side_p = binomial_sf(counts[side], total, 0.5)
    test = tests[side]
    evidence = tuple(_evidence(events, signals, tests, side))
    where = f"({counts['left']} left, {counts['right']} right) in {tracked_s:.0f} s"
    false_alarms = FALSE_ALARM_PER_MIN * tracked_s / 60.0  # false detections expected in this much spasm-free video

    if counts[side] < min_episodes:
        # False alarms are single detections: a burst counts by its twitches, which false alarms rarely give.
        detections = int(np.count_nonzero(events.one_sided & (events.side == side)))
        chance_p = poisson_sf(detections, false_alarms)
        if chance_p <= SUGGESTIVE_ALPHA and counts[side] >= MIN_SIDE_SHARE * total:
            return Verdict("indeterminate", side, round(1.0 - side_p, 3), test.p_value,
                           f"only {counts[side]} one-sided {side} episode{'s' if counts[side] != 1 else ''} "
                           f"({detections} twitches) {where}: more than false detections usually give "
                           f"(p = {chance_p:.2g}), too few to judge; a longer recording at rest (2-3 minutes) "
                           "would decide", evidence)
        return Verdict("none", "none", _none_confidence(counts[side], tracked_s / 60.0, min_episodes),
                       test.p_value, f"fewer than {min_episodes} one-sided episodes on either side {where}",
                       evidence)
    if counts[side] < MIN_SIDE_SHARE * total:
        return Verdict("none", "none", round(1.0 - counts[side] / total, 3), test.p_value,
                       f"one-sided episodes occur on both sides alike {where}: a spasm of one side would "
                       "favour it", evidence)
    inside = (f"{test.n_inside} of {test.n_episodes} one-sided {side} episodes start within voluntary movements "
              "moving another region,")
    windows = f"whose windows cover {100 * test.window_share:.0f}% of the time"
    if test.p_value <= COUPLING_ALPHA and test.n_inside >= SYNKINESIS_MIN_SHARE * test.n_episodes:
        return Verdict("synkinesis", side, round((1.0 - side_p) * (1.0 - test.p_value), 3), test.p_value,
                       f"{inside} {windows} (binomial p = {test.p_value:.2g}): time-locked", evidence)
    if test.rest_p_value <= REST_ALPHA:
        return Verdict("primary_hfs", side, round((1.0 - side_p) * (1.0 - test.rest_p_value), 3), test.p_value,
                       f"{test.rest_episodes} of {test.n_episodes} one-sided {side} episodes "
                       f"({test.rest_rate_per_min:.1f}/min) happen at rest"
                       + (f" or only prolong a voluntary movement of their own region ({test.prolonging} of them)"
                          if test.prolonging else "") +
                       f", independent of voluntary movements (time-locking p = {test.p_value:.2g})", evidence)
    all_p = poisson_sf(test.n_episodes, false_alarms)
    if test.accompanied < STEADY_SHARE * test.of_kinds and all_p <= REST_ALPHA:
        return Verdict("primary_hfs", side, round((1.0 - side_p) * (1.0 - all_p), 3), test.p_value,
                       f"{test.n_episodes} one-sided {side} episodes in {tracked_s:.0f} s, more than false detections "
                       f"explain (p = {all_p:.2g}); the {test.n_inside} that start with a voluntary movement came with "
                       f"only {test.accompanied} of {test.of_kinds} such movements: by chance, not synkinesis "
                       f"(time-locking p = {test.p_value:.2g})", evidence)
    return Verdict("indeterminate", side, round(1.0 - side_p, 3), test.p_value,
                   f"{inside} {windows} (p = {test.p_value:.2g}) and {test.rest_episodes} at rest: neither "
                   "clearly time-locked nor clearly at rest", evidence)


def _none_confidence(count: int, minutes: float, min_episodes: int) -> float:
    """Confidence in 'none': the chance that a mild spasm (REFERENCE_RATE_PER_MIN) would have shown
    at least ``min_episodes`` episodes in this time, times the share of ``min_episodes`` not seen."""
    seen_if_spasm = poisson_sf(min_episodes, REFERENCE_RATE_PER_MIN * minutes)
    return round(seen_if_spasm * (1.0 - count / min_episodes), 3)


def _evidence(events: Events, signals, tests: dict, side: str) -> list[str]:
    """Plain sentences for the clinician."""
    seconds = signals.tracked_s
    lines = []
    for s in SIDES:
        mine = events.one_sided & (events.side == s)
        if not mine.any():
            continue
        regions = events.region[mine]
        eye = int(np.count_nonzero(np.char.startswith(regions.astype(str), "eye")))
        mouth_only = int(np.count_nonzero(regions == "mouth"))
        spread = int(np.count_nonzero(regions == "eye+mouth"))
        tonic = int(np.count_nonzero(events.kind[mine] == "tonic_spasm"))
        partners = events.coupled_to[mine]
        coupled = int(np.count_nonzero(partners >= 0))
        near_blink = int(np.count_nonzero([events.kind[c] == "blink" for c in partners if c >= 0]))
        parts = []
        if eye:
            parts.append(f"{eye} {s}-eye twitch{'es' if eye != 1 else ''}")
        if mouth_only:
            parts.append(f"{mouth_only} {s} mouth-corner pull{'s' if mouth_only != 1 else ''} without the eye")
        line = (f"{' and '.join(parts)} in {seconds:.0f} s: {int(mine.sum()) - coupled} at rest, {coupled} with a "
                f"voluntary movement ({near_blink} near a blink)")
        if eye:
            line += f"; {spread} of {eye} spread to the mouth corner"
        if tonic:
            line += f"; {tonic} tonic (held >= 1 s)"
        t = tests[s]
        line += (f"; {t.n_episodes} episode{'s' if t.n_episodes != 1 else ''}, {t.rest_episodes} at rest "
                 f"({t.rest_rate_per_min:.1f}/min at rest).")
        lines.append(line)
    blinks = int(np.count_nonzero(events.kind == "blink"))
    raises = int(np.count_nonzero(events.kind == "brow_raise"))
    smiles = int(np.count_nonzero(events.kind == "smile"))
    closures = int(np.count_nonzero(events.kind == "eye_closure"))
    lines.append(f"Voluntary movements: {blinks} blinks, {raises} brow raises, {smiles} smiles, {closures} held "
                 f"eye closures; their windows cover {100 * tests[side].window_share:.0f}% of the tracked time.")
    return lines


def clinical_measures(events: Events, signals) -> dict:
    """Per-recording measures: the keys in MEASURE_KEYS plus per-side and per-region rates.

    Rates are per minute of tracked face. The affected side is the side with more one-sided
    events. jrs_frequency_estimate is an ESTIMATE of the Jankovic Rating Scale frequency item
    (0 none, 1 more blinking, 2 fluttering < 1 s, 3 spasms >= 1 s, 4 closed > 50% of the time)
    from this recording alone, not a clinical rating.
    """
    minutes = signals.tracked_s / 60.0
    per_min = (lambda count: count / minutes if minutes > 0 else float("nan"))
    one_sided = events.one_sided
    count = {s: int(np.count_nonzero(one_sided & (events.side == s))) for s in SIDES}
    side = max(SIDES, key=lambda s: (count[s], s == "left"))
    mine = one_sided & (events.side == side)
    durations = events.duration_s[mine]
    spasm_s = _union_seconds(events.start_s[mine], events.end_s[mine])
    blinks = int(np.count_nonzero(events.kind == "blink"))
    eye_events = mine & np.char.startswith(events.region.astype(str), "eye")
    spread = int(np.count_nonzero(mine & (events.region == "eye+mouth")))
    spasm_share = spasm_s / (minutes * 60.0) if minutes > 0 else float("nan")
    measures = {
        "twitches_per_min": per_min(count[side]),
        "twitches_left": count["left"],
        "twitches_right": count["right"],
        "rest_twitches": int(np.count_nonzero(mine & (events.coupled_to < 0))),
        "coupled_twitches": int(np.count_nonzero(mine & (events.coupled_to >= 0))),
        "blinks": blinks,
        "blinks_per_min": per_min(blinks),
        "brow_raises": int(np.count_nonzero(events.kind == "brow_raise")),
        "spasm_time_pct": 100.0 * spasm_share,
        "longest_spasm_s": float(durations.max()) if durations.size else 0.0,
        "spread_to_mouth": bool(spread > 0),
        "jrs_frequency_estimate": _jrs_frequency(mine, events, spasm_share, per_min(blinks)),
        "affected_side_by_count": side if count[side] else "none",
        "smiles": int(np.count_nonzero(events.kind == "smile")),
        "tonic_spasms": int(np.count_nonzero(mine & (events.kind == "tonic_spasm"))),
        "spread_to_mouth_count": spread,
        "eye_twitches": int(np.count_nonzero(eye_events)),
        "tracked_s": signals.tracked_s,
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
    if spasm_share > 0.5:
        return 4
    if np.any(events.kind[mine] == "tonic_spasm"):
        return 3
    return 2


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
                "spread_to_mouth", "jrs_frequency_estimate")
