"""Events in the signals: blinks, brow raises, smiles, held eye closures, one-sided twitches and
tonic spasms.

Pure arrays: no OpenCV, no MediaPipe. Events come as aligned arrays, like the properties
scipy.signal.find_peaks returns.

Bilateral movements (both eyes closing, both brows rising, both mouth corners pulling) are the
patient's voluntary movements. One-sided movements are found in the difference between the two
sides (each eye against the other's nearby peak, so a blink tracked a frame apart on the two
eyes is no twitch; each mouth corner against the other at the same frame, so a pull riding on a
blink's small lift of both corners is kept, its outward and upward shifts weighted by their
steadiness at rest), which also finds a twitch riding on a blink when
that eye stays closed after the other reopened. A lopsided blink (one eye's landmarks closing
further while both close together) is not a twitch, nor are eyes reopening unevenly after a held
closure, nor one corner pulling further in a smile. Every
threshold is the larger of a multiple of the signal's own noise and a floor in relative units;
one-sided thresholds use the noise at rest, away from voluntary movements.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from .kinds import EVENT_KINDS, INVOLUNTARY_KINDS, VOLUNTARY_KINDS
from .regions import SIDES
from .settings import DEFAULT_SETTINGS, AnalysisSettings
from .signals import robust_noise

logger = logging.getLogger(__name__)


HYSTERESIS = 0.5  # an event spans the frames above this share of its threshold: full onset and offset
EYE_FLOOR = 0.06  # min closure (fraction of open aperture): below it the lid landmarks jitter on real faces
EYE_ONE_SIDED_FLOOR = 0.06  # min left-right closure difference: the asymmetry noise of real faces is 0.02-0.03
ONE_SIDED_SHARE = 0.5  # the one-sided part must reach this share of that side's movement (not a lopsided blink)
MOUTH_ONE_SIDED_SHARE = 0.25  # ... of a corner: its pull drags the lip centre, a blink lifts both: it reads 0.3-0.6
MIN_BLINK_S = 0.05  # the shortest blink; a one-frame dip at 25-30 fps is tracker noise
MAX_BLINK_S = 0.6  # blinks last 0.1-0.4 s (up to 0.5 s tracked); longer bilateral closures are held or squinting
BLINK_BALANCE = 0.4  # in a blink the weaker eye closes at least this share of the stronger one
MOUTH_FLOOR = 0.02  # min mouth-corner pull, IOD: talking moves the corners about this much
MIN_COMPONENT_NOISE = 0.001  # IOD (0.1 px at a 100 px IOD): below it a noise estimate is rounding, not noise
BROW_FLOOR = 0.025  # min brow rise, IOD: a deliberate raise is 0.05-0.1 IOD
MIN_VOLUNTARY_S = 0.4  # brow raises and smiles are held about 0.5 s or more; shorter is jitter or a blink's echo
SPLIT_DIP = 0.5  # a run holds several twitches when the side reopens between them by this share of the lower peak
SPLIT_SMOOTH_S = 0.07  # ... judged on the excess averaged over this long, so one noisy frame does not split a hold
ONSET_NOISE_SHARE = 0.5  # a one-sided movement starts where its lead first rises this many noise SDs (slow ramps)
MAX_RISE_S = 0.5  # a one-sided contraction reaches its peak within this long (ramps: 0.1-0.3 s)
RAMP_LOW, RAMP_HIGH = 0.25, 0.75  # a rise's steep part, in shares of its peak: clear of the noise and the top
OUTLAST_S = 0.1  # a one-sided closure during a blink must hold this long after the other eye reopened
# Blinks this close after one another (a flurry) leave the lids no time to settle at their open level between
# them: a one-sided lead inside such a pair is the pair's unevenness, as it is inside one blink.
BLINK_PAIR_GAP_S = 0.5
# With the visible iris fused into the eye opening, a one-sided closure must show in both measures on their
# own, each leading on that side by this many of its own robust SDs over the closure's middle half: a real
# closure moves the lids and covers the iris, while the two measures' noises are nearly independent
# (squeezes fool the iris, talking the lids).
CONFIRM_SD = 1.0
LAG_TOLERANCE_S = 0.04  # one blink's eyes may be tracked a frame apart: compare with the other's peak this near
MERGE_GAP_S = 0.1  # one-sided eye and mouth movements of a side this close together are one event
MIN_REST_SHARE = 0.2  # noise is read at rest when at least this share of the frames is at rest


@dataclass(frozen=True)
class Events:
    """k detected events as aligned (k,) arrays.

    kind: one of EVENT_KINDS, the kinds in :data:`spasmscan.kinds.KINDS`. side: "left", "right" or "both" (patient's side). region: "eye",
    "mouth", "brow" or "eye+mouth". start_s, end_s: seconds. amplitude: peak size in the
    signal's relative units. coupled_to: index (into these same arrays) of the voluntary event
    a one-sided event overlaps (within the settings' lead and lag tolerances), -1 when none.
    strength: the peak over the threshold it was detected at (1 = just detected; a one-sided event
    of two regions, the larger of the two); NaN where unknown (the default).
    """

    kind: np.ndarray
    side: np.ndarray
    region: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    amplitude: np.ndarray
    coupled_to: np.ndarray
    strength: np.ndarray | None = None

    def __post_init__(self):
        if self.strength is None:
            object.__setattr__(self, "strength", np.full(self.kind.shape, np.nan))

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @property
    def duration_s(self) -> np.ndarray:
        return self.end_s - self.start_s

    @classmethod
    def empty(cls) -> "Events":
        text = np.array([], dtype="<U16")
        number = np.array([], dtype=np.float64)
        return cls(kind=text, side=text, region=text, start_s=number, end_s=number, amplitude=number,
                   coupled_to=np.array([], dtype=np.int64))

    def describe(self, index: int) -> str:
        """A short label for event ``index``, e.g. ``"blink@12.30s"``."""
        return f"{self.kind[index]}@{self.start_s[index]:.2f}s"

    @property
    def one_sided(self) -> np.ndarray:
        """(k,) bool: twitches and tonic spasms."""
        return np.isin(self.kind, INVOLUNTARY_KINDS)

    @property
    def voluntary(self) -> np.ndarray:
        """(k,) bool: blinks, brow raises and smiles."""
        return np.isin(self.kind, VOLUNTARY_KINDS)


def detect_events(signals, *, settings: AnalysisSettings = DEFAULT_SETTINGS) -> Events:
    """All events in ``signals`` (a :class:`spasmscan.signals.Signals`), sorted by onset.

    settings: its noise_k (thresholds in robust noise SDs), tonic_min_s (one-sided events at least
    this long are tonic spasms) and lead/lag tolerances (a one-sided event overlapping a voluntary
    movement widened by them is coupled to it) are used here.
    """
    noise_k, tonic_min_s = settings.noise_k, settings.tonic_min_s
    times = signals.times_s
    if times.size < 2:
        return Events.empty()
    frame_s = 1.0 / signals.fps
    closure = {s: _zero_gaps(1.0 - signals[f"eye_aperture_{s}"]) for s in SIDES}
    pull = {s: _zero_gaps(mouth_pull(signals, s)) for s in SIDES}
    brow = {s: _zero_gaps(signals[f"brow_height_{s}"]) for s in SIDES}

    # Blinks against the lids' noise with the eyes open: a first pass against the frame-to-frame
    # jitter finds the closures, the noise is then read without them (eyes held closed for
    # seconds, as in crying, would otherwise pass for noise and hide every blink).
    first_pass = _blinks(times, frame_s, closure, max(noise_k * max(jitter_sd(closure[s]) for s in SIDES),
                                                      EYE_FLOOR))
    open_eyes = _rest_frames(times, first_pass, margin_s=HYSTERESIS * MIN_BLINK_S)
    blink_threshold = max(noise_k * max(robust_sd(closure[s][open_eyes]) for s in SIDES), EYE_FLOOR)
    rows = _blinks(times, frame_s, closure, blink_threshold)
    brow_noise = max(robust_sd(brow[s]) for s in SIDES)
    brow_threshold = max(settings.voluntary_noise_k * brow_noise, BROW_FLOOR)
    rows += _held_bilateral(times, frame_s, "brow_raise", "brow", brow, brow_threshold,
                            onset_level=ONSET_NOISE_SHARE * brow_noise)
    pull_noise = max(robust_sd(pull[s]) for s in SIDES)
    smile_threshold = max(settings.voluntary_noise_k * pull_noise, MOUTH_FLOOR)
    rows += _held_bilateral(times, frame_s, "smile", "mouth", pull, smile_threshold,
                            onset_level=ONSET_NOISE_SHARE * pull_noise)
    # One-sided movements are judged against their noise at rest, away from voluntary movements,
    # which synkinesis may fill with one-sided movement.
    rest = _rest_frames(times, rows, margin_s=settings.lag_tolerance_s)
    held = np.zeros(times.shape, dtype=bool)  # both eyes held closed: uneven reopening is voluntary too
    smiling = np.zeros(times.shape, dtype=bool)  # both corners pulled: one pulling more is a lopsided smile
    for kind, _, _, start, end, _, _ in rows:
        if kind == "eye_closure":
            held |= (times >= start) & (times < end)
        if kind == "smile":
            smiling |= (times >= start - settings.lead_tolerance_s) & (times < end)
    lopsided = {s: _zero_gaps(v) for s, v in one_sided_pull(signals, rest).items()}
    one_sided = _one_sided(times, frame_s, closure, lopsided, rest=rest, held=held, smiling=smiling, noise_k=noise_k,
                           blink_threshold=blink_threshold, tonic_min_s=tonic_min_s, fps=signals.fps,
                           flurry=_between_close_blinks(times, rows), confirmations=_confirmations(signals))
    rows += [row for row in one_sided if _plausible(row, rows, times, settings)]
    events = _to_events(rows)
    events = couple(events, settings=settings)
    logger.debug("events: %s", {k: int(np.sum(events.kind == k)) for k in EVENT_KINDS})
    return events


def _blinks(times: np.ndarray, frame_s: float, closure: dict, threshold: float) -> list[tuple]:
    """Both eyes closing together, the weaker at least BLINK_BALANCE of the stronger: blinks, or
    eye closures when held longer than MAX_BLINK_S (squeezing, squinting). Rows of _to_events."""
    shared = np.minimum(closure["left"], closure["right"])
    stronger = np.maximum(closure["left"], closure["right"])
    rows = []
    for first, last in hysteresis_runs(shared, threshold, HYSTERESIS * threshold):
        peak = first + int(np.argmax(shared[first:last + 1]))
        end = times[last] + frame_s
        if shared[peak] >= BLINK_BALANCE * stronger[peak] and end - times[first] >= MIN_BLINK_S:
            kind = "blink" if end - times[first] <= MAX_BLINK_S else "eye_closure"
            rows.append((kind, "both", "eye", times[first], end, float(stronger[peak]), float(shared[peak] / threshold)))
    return rows


def _held_bilateral(times: np.ndarray, frame_s: float, kind: str, region: str, per_side: dict,
                    threshold: float, *, onset_level: float = np.inf) -> list[tuple]:
    """Both sides moving the same way above ``threshold`` for at least MIN_VOLUNTARY_S. The movement
    starts where both sides first rose above ``onset_level`` (a slow smile or raise is under way well
    before it passes half its threshold, and a movement it carries along starts with it)."""
    together = np.minimum(per_side["left"], per_side["right"])
    rows = []
    for first, last in hysteresis_runs(together, threshold, HYSTERESIS * threshold):
        if times[last] + frame_s - times[first] >= MIN_VOLUNTARY_S:
            earliest = int(np.searchsorted(times, rows[-1][4])) if rows else 0
            start = first
            while start > earliest and together[start - 1] > onset_level:
                start -= 1
            peak = float(together[first:last + 1].max())
            rows.append((kind, "both", region, times[start], times[last] + frame_s, peak, peak / threshold))
    return rows


def _one_sided(times: np.ndarray, frame_s: float, closure: dict, pull: dict, *, rest: np.ndarray, held: np.ndarray,
               smiling: np.ndarray, noise_k: float, blink_threshold: float, tonic_min_s: float,
               fps: float, flurry: np.ndarray, confirmations: tuple = ()) -> list[tuple]:
    """One side's eye and/or mouth corner moving while the other does not (or much less). An eye
    that starts inside a held bilateral closure (``held``) is the eyes reopening unevenly, one wholly
    between two close blinks (``flurry``) their unevenness, and one not leading on its side in every
    measure of ``confirmations`` (:func:`_confirmations`, :func:`_confirmed`) is one measure's noise; a mouth
    corner moving on its own during a smile (``smiling``, its onset jitter included) is a lopsided
    smile: all skipped."""
    eye_noise = robust_sd((closure["left"] - closure["right"])[rest])
    eye_threshold = max(noise_k * eye_noise, EYE_ONE_SIDED_FLOOR)
    mouth_noise = robust_sd((pull["left"] - pull["right"])[rest])
    mouth_threshold = max(noise_k * mouth_noise, MOUTH_FLOOR)
    lag_frames = int(LAG_TOLERANCE_S * fps)
    frames = dict(smooth_frames=2 * int(SPLIT_SMOOTH_S / 2 * fps) + 1,  # odd, centred
                  solo_frames=max(1, int(round(OUTLAST_S * fps))), rise_frames=int(round(MAX_RISE_S * fps)))
    rows = []
    for side in SIDES:
        other = "right" if side == "left" else "left"
        other_eye = _nearby_peak(closure[other], lag_frames)
        # No lag tolerance for the corners: a blink lifts both tracked corners together, and the other
        # corner's nearby peak would eat most of a synkinetic pull riding on it.
        other_mouth = pull[other]
        lead = 1.0 if side == "left" else -1.0  # the confirmations are left minus right
        eye_runs = [(a, b) for a, b in _one_sided_runs(closure[side], other_eye, eye_threshold,
                                                        onset_level=ONSET_NOISE_SHARE * eye_noise,
                                                        other_active=blink_threshold, **frames)
                    if not held[a] and not flurry[a:b + 1].all()
                    and _confirmed(confirmations, a, b, lead)]
        mouth_runs = [(a, b) for a, b in _one_sided_runs(pull[side], other_mouth, mouth_threshold,
                                                          onset_level=ONSET_NOISE_SHARE * mouth_noise,
                                                          other_active=np.inf, share=MOUTH_ONE_SIDED_SHARE,
                                                          **frames)
                      if not smiling[a:b + 1].any()]
        eye_excess = closure[side] - np.maximum(other_eye, 0.0)
        mouth_excess = pull[side] - np.maximum(other_mouth, 0.0)
        for first, last, regions_in in _attach_mouth(eye_runs, mouth_runs, int(round(MERGE_GAP_S / frame_s))):
            start, end = times[first], times[last] + frame_s
            region = "+".join(r for r in ("eye", "mouth") if r in regions_in)
            amplitude = float((eye_excess if "eye" in regions_in else mouth_excess)[first:last + 1].max())
            strength = max(float(excess[first:last + 1].max()) / threshold for name, excess, threshold in
                           (("eye", eye_excess, eye_threshold), ("mouth", mouth_excess, mouth_threshold))
                           if name in regions_in)
            kind = "tonic_spasm" if end - start >= tonic_min_s else "twitch"
            rows.append((kind, side, region, start, end, amplitude, strength))
    return rows


def _between_close_blinks(times: np.ndarray, rows: list[tuple]) -> np.ndarray:
    """(n,) bool: frames from a blink's (or held closure's) start to the end of the next one, when that
    starts within BLINK_PAIR_GAP_S of the first one's end."""
    closing = sorted((start, end) for kind, _, _, start, end, _, _ in rows if kind in ("blink", "eye_closure"))
    mask = np.zeros(times.shape, dtype=bool)
    for (start, end), (next_start, next_end) in zip(closing, closing[1:]):
        if next_start - end <= BLINK_PAIR_GAP_S:
            mask |= (times >= start) & (times < next_end)
    return mask


def _confirmed(confirmations: tuple, first: int, last: int, lead: float) -> bool:
    """Whether frames first..last lead on the side of sign ``lead`` (+1 left, -1 right) by CONFIRM_SD or
    more in every measure of ``confirmations``, averaged over their middle half (a closure holds there;
    a noise peak of one measure is brief). A measure unknown on all those frames does not judge."""
    quarter = (last - first + 1) // 4
    for z in confirmations:
        middle = lead * z[first + quarter:last + 1 - quarter]
        known = middle[np.isfinite(middle)]
        if known.size and known.mean() < CONFIRM_SD:
            return False
    return True


def _confirmations(signals) -> tuple:
    """The left-minus-right closure of each measure fused into the eye opening (the lid landmarks and the
    visible iris), (n,) each in its own robust SDs from its median over the recording (robust: the events
    are few); () when the opening is one measure."""
    if "eye_lid_aperture_left" not in signals.values:
        return ()
    out = []
    for base in ("eye_lid_aperture", "eye_openness"):
        difference = signals[f"{base}_right"] - signals[f"{base}_left"]  # closure: 1 - opening
        known = np.isfinite(difference)
        noise = robust_sd(difference[known])
        if not noise > 0:
            return ()
        out.append((difference - np.median(difference[known])) / noise)
    return tuple(out)


def _plausible(row: tuple, voluntary: list[tuple], times: np.ndarray, settings: AnalysisSettings) -> bool:
    """Whether a one-sided row can be an involuntary movement: not one already under way in the first
    frame (its onset is not in the recording, and the tracker's first frames come from a fresh face
    detection), and not a mouth corner held askew for a tonic spasm's length without the eye (primary
    HFS holds the eye shut, a lopsided expression holds the mouth) unless it comes with a voluntary
    movement, as a synkinetic pull outlasting a brow raise does."""
    _, _, region, start, end, _, _ = row
    if start <= times[0]:
        return False
    if region != "mouth" or end - start < settings.tonic_min_s:
        return True
    return any(v_start - settings.lead_tolerance_s <= end and start <= v_end + settings.lag_tolerance_s
               for _, _, _, v_start, v_end, _, _ in voluntary)


def mouth_pull(signals, side: str) -> np.ndarray:
    """(n,) mouth-corner pull of one side, IOD: the shift along the up-and-outward diagonal."""
    return (signals[f"mouth_corner_lateral_{side}"] + signals[f"mouth_corner_vertical_{side}"]) / np.sqrt(2.0)


def one_sided_pull(signals, rest: np.ndarray) -> dict:
    """Side -> (n,) mouth-corner pull for judging one-sidedness, IOD: each corner's lateral and vertical
    shifts weighted by the inverse variance of their left-right difference at ``rest`` ((n,) bool), and
    scaled so a pull along the up-and-outward diagonal reads its size, as in :func:`mouth_pull`.

    The lateral shift, read against the lip centre that a one-sided pull drags along (the other corner
    then reads part of the pull), keeps less of a one-sided pull and is the noisier: the vertical, which
    the pull barely passes to the other corner, carries most of the evidence. A face whose lateral
    shifts are the steadier gets the opposite weights.
    """
    weight = {}
    for component in ("lateral", "vertical"):
        left, right = (signals[f"mouth_corner_{component}_{s}"] for s in SIDES)
        weight[component] = 1.0 / max(robust_sd((left - right)[rest]), MIN_COMPONENT_NOISE) ** 2
    total = weight["lateral"] + weight["vertical"]
    return {s: np.sqrt(2.0) * (weight["lateral"] * signals[f"mouth_corner_lateral_{s}"]
                               + weight["vertical"] * signals[f"mouth_corner_vertical_{s}"]) / total for s in SIDES}


def robust_sd(values: np.ndarray) -> float:
    """Robust SD of the finite entries of ``values`` (signals.robust_noise); 0 when there are none."""
    level = robust_noise(values)
    return level if np.isfinite(level) else 0.0


def _rest_frames(times: np.ndarray, rows: list[tuple], *, margin_s: float) -> np.ndarray:
    """(n,) bool: frames at least ``margin_s`` away from every event in ``rows``; all frames when
    fewer than MIN_REST_SHARE of them are left."""
    rest = np.ones(times.shape, dtype=bool)
    for _, _, _, start, end, _, _ in rows:
        rest &= (times < start - margin_s) | (times > end + margin_s)
    return rest if rest.mean() >= MIN_REST_SHARE else np.ones(times.shape, dtype=bool)


def jitter_sd(values: np.ndarray) -> float:
    """Frame-to-frame noise of ``values``: the robust SD of its steps over sqrt(2); 0 when unknown."""
    finite = values[np.isfinite(values)]
    return robust_sd(np.diff(finite)) / np.sqrt(2.0) if finite.size > 2 else 0.0


def _nearby_peak(values: np.ndarray, frames: int) -> np.ndarray:
    """(n,) running maximum of ``values`` over +-``frames`` frames."""
    return maximum_filter1d(values, size=2 * frames + 1, mode="nearest") if frames > 0 else values


def _zero_gaps(values: np.ndarray) -> np.ndarray:
    """Untracked frames (NaN) read as no movement, so no event spans a long gap."""
    return np.where(np.isfinite(values), values, 0.0)


def hysteresis_runs(values: np.ndarray, high: float, low: float,
                    extent: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(first, last) frame indices of runs where ``extent`` (default: ``values``) > ``low`` that
    reach above ``high`` in ``values``."""
    above = (values if extent is None else extent) > low
    if not above.any():
        return []
    edges = np.diff(np.concatenate(([0], above.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return [(int(a), int(b)) for a, b in zip(starts, ends) if values[a:b + 1].max() > high]


def _one_sided_runs(moving: np.ndarray, other: np.ndarray, threshold: float, *, onset_level: float,
                    other_active: float, smooth_frames: int, solo_frames: int, rise_frames: int,
                    share: float = ONE_SIDED_SHARE) -> list[tuple[int, int]]:
    """Runs where ``moving`` exceeds ``other`` by ``threshold``, the excess being, at some frame,
    ``share`` of the movement; a run that reopens in between (a burst of clonic twitches) is split there.
    A run starts where its lead rose out of the noise or, when earlier, where the steep part of its
    rise (within ``rise_frames`` of that) points back to (:func:`ramp_onset`).

    While the other side moves too (above ``other_active``: a blink), the run counts only if it
    outlasts the other side's movement by ``solo_frames``: a lopsided blink is no spasm, a closure
    that holds after the blink is. (Blinks shift both mouth corners a little in tracking, so the
    mouth passes ``other_active=inf``.)
    """
    excess = moving - np.maximum(other, 0.0)
    low = HYSTERESIS * threshold
    smooth = uniform_filter1d(excess, size=smooth_frames, mode="nearest") if smooth_frames > 1 else excess
    runs = []
    for first, last in hysteresis_runs(excess, threshold, low, extent=smooth):  # noise does not cut a hold
        for a, b in split_at_dips(smooth, first, last, dip_share=SPLIT_DIP, height=threshold, floor=low):
            if not np.any(excess[a:b + 1] >= np.maximum(threshold, share * moving[a:b + 1])):
                continue  # never clearly one-sided
            during = other[a:b + 1]
            if during.max() > other_active and np.count_nonzero(during <= HYSTERESIS * other_active) < solo_frames:
                continue
            # The movement began when its lead over the other side rose out of the noise, or, when
            # both sides were in a blink just before, with the blink (a spasm that outlasts a blink
            # started with it); a slow ramp began before that, where its steep part points back to.
            earliest = runs[-1][1] + 1 if runs else 0
            while a > earliest and (smooth[a - 1] > onset_level
                                    or (moving[a - 1] > low and other[a - 1] > other_active)):
                a -= 1
            runs.append((max(earliest, min(a, ramp_onset(smooth, a, min(b, a + rise_frames)))), b))
    return runs


def ramp_onset(values: np.ndarray, first: int, last: int) -> int:
    """Where the rise of ``values[first:last + 1]`` starts: its line through the first crossings of
    a quarter and of three quarters of the peak, extended back to zero. A slow ramp's first frames
    hide in the noise; its steep part tells when it began."""
    segment = values[first:last + 1]
    peak = segment.max()
    quarter = int(np.argmax(segment >= RAMP_LOW * peak))
    three_quarters = int(np.argmax(segment >= RAMP_HIGH * peak))
    steps = (three_quarters - quarter) * RAMP_LOW / (RAMP_HIGH - RAMP_LOW)  # frames from zero to a quarter
    return first + int(np.floor(quarter - steps))


def local_peaks(values: np.ndarray, *, height: float) -> np.ndarray:
    """Indices of the local maxima of ``values`` (n,) at least ``height`` high, a flat top once at its
    middle: what scipy.signal.find_peaks(values, height=height) returns, without importing
    scipy.signal (which takes over a second: longer than analysing a cached 20-minute recording)."""
    values = np.asarray(values)
    if values.size < 3:
        return np.empty(0, dtype=np.intp)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(values) != 0) + 1))  # runs of equal values
    ends = np.concatenate((starts[1:], [values.size])) - 1
    level = values[starts]
    peak = np.zeros(level.size, dtype=bool)
    peak[1:-1] = (level[1:-1] > level[:-2]) & (level[1:-1] > level[2:])
    return ((starts + ends) // 2)[peak & (level >= height)]


def split_at_dips(values: np.ndarray, first: int, last: int, *, dip_share: float, height: float,
                  floor: float) -> list[tuple[int, int]]:
    """Split the run ``values[first:last + 1]`` at the lowest point between two peaks above ``height``
    when it falls to ``floor`` and below both peaks by ``dip_share`` of the lower one: the side
    reopened between two twitches."""
    segment = values[first:last + 1]
    peaks = local_peaks(np.concatenate(([0.0], segment, [0.0])), height=height)
    peaks = peaks - 1
    bounds = [first]
    for a, b in zip(peaks[:-1], peaks[1:]):
        low = a + int(np.argmin(segment[a:b + 1]))
        if segment[low] <= min(floor, (1.0 - dip_share) * min(segment[a], segment[b])):
            bounds.append(first + low)  # the dip starts the next twitch
    bounds.append(last + 1)
    return [(a, b - 1) for a, b in zip(bounds[:-1], bounds[1:])]


def _attach_mouth(eye_runs, mouth_runs, gap_frames: int):
    """Events of one side as (first, last, set of regions): each eye run takes the mouth runs that
    overlap it or lie within ``gap_frames``; the other mouth runs stand alone."""
    merged = [[a, b, {"eye"}] for a, b in eye_runs]
    for a, b in mouth_runs:
        near = [m for m in merged if a <= m[1] + gap_frames and b >= m[0] - gap_frames]
        for m in near:
            m[2].add("mouth")
        if not near:
            merged.append([a, b, {"mouth"}])
    return sorted((a, b, r) for a, b, r in merged)


def _to_events(rows: list[tuple]) -> Events:
    if not rows:
        return Events.empty()
    rows = sorted(rows, key=lambda r: (r[3], r[4]))
    kind, side, region, start, end, amplitude, strength = zip(*rows)
    return Events(kind=np.array(kind, dtype="<U16"), side=np.array(side, dtype="<U16"),
                  region=np.array(region, dtype="<U16"), start_s=np.array(start, dtype=np.float64),
                  end_s=np.array(end, dtype=np.float64), amplitude=np.array(amplitude, dtype=np.float64),
                  coupled_to=np.full(len(rows), -1, dtype=np.int64), strength=np.array(strength, dtype=np.float64))


def coupling_windows(events: Events, *, settings: AnalysisSettings = DEFAULT_SETTINGS) -> tuple[np.ndarray, np.ndarray]:
    """(start_s, end_s) of every voluntary event, in event order, widened by the settings' lead and
    lag tolerances: a co-contraction may start a little before the movement and outlast it."""
    voluntary = events.voluntary
    return events.start_s[voluntary] - settings.lead_tolerance_s, events.end_s[voluntary] + settings.lag_tolerance_s


def couple(events: Events, *, settings: AnalysisSettings = DEFAULT_SETTINGS) -> Events:
    """``events`` with coupled_to set: each one-sided event to the voluntary event whose widened
    span (:func:`coupling_windows`) it overlaps (the one with the nearest onset when several do), else -1."""
    coupled = np.full(len(events), -1, dtype=np.int64)
    voluntary_index = np.flatnonzero(events.voluntary)
    lo, hi = coupling_windows(events, settings=settings)
    for i in np.flatnonzero(events.one_sided):
        overlapping = (lo <= events.end_s[i]) & (events.start_s[i] <= hi)
        if overlapping.any():
            candidates = voluntary_index[overlapping]
            coupled[i] = candidates[np.argmin(np.abs(events.start_s[candidates] - events.start_s[i]))]
    return replace(events, coupled_to=coupled)
