"""The facial palsy examination: per step and side, how far the regions a step moves travel from
the patient's own rest, the weaker side's share of the other side's, the resting asymmetry, what
regions a step should not move do move (synkinesis), and a Sunnybrook-style composite ESTIMATE.

Every excursion is measured against the median of the rest steps of the same recording (never a
fixed absolute level), in the head-normalised frame of :mod:`spasmscan.signals` (IOD units; the eye
as a share of its own open eye at rest). The Sunnybrook figures are an estimate from video, not a
clinical grading.

Pure arrays: no OpenCV, no MediaPipe.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from . import regions
from .signals import Signals, robust_noise

logger = logging.getLogger(__name__)

REST = "rest"
# The examination's steps, each with what it moves: the measure's name and its unit.
STEP_MEASURES = {
    "eye_closure": ("eye closure, share of the open eye at rest", "share"),
    "brow_raises": ("brow lift above rest", "IOD"),
    "smiles": ("mouth-corner excursion up and out from rest", "IOD"),
    "snarl": ("upper-lip lift (its side, between centre and corner) above rest", "IOD"),
    "pucker": ("mouth-corner movement inward from rest (lip protrusion itself is not seen from the front)", "IOD"),
    "cheek_puff": ("cheek (beside the nose and mouth) movement outward from rest", "IOD"),
}
EXAM_STEPS = tuple(STEP_MEASURES)
SUNNYBROOK_EXPRESSIONS = {"brow_raises": "forehead wrinkle", "eye_closure": "gentle eye closure",
                          "smiles": "open mouth smile", "snarl": "snarl", "pucker": "lip pucker"}
# Regions a step should not move, read for synkinesis: the eye (narrowing) and the mouth corner.
SYNKINESIS_REGIONS = {"eye_closure": ("mouth",), "brow_raises": ("eye", "mouth"), "smiles": ("eye",),
                      "snarl": ("eye",), "pucker": ("eye",), "cheek_puff": ("eye",)}

REPETITION_LEVEL = 0.5  # a repetition: both sides' mean excursion above this share of the step's peak (half-height)
REPETITION_PEAK_PERCENTILE = 98.0  # the step's peak: a high percentile, not the maximum (one noisy frame)
REPETITION_MERGE_S = 0.3  # runs above the level closer than this are one repetition (noise dips near the level)
REPETITION_MIN_S = 0.2  # shorter runs are noise crossing the level, not a movement
HELD_PERCENTILE = 90.0  # a side's peak in a repetition: the held part of the movement, not its noisiest frame
MOVEMENT_NOISE_K = 4.0  # the stronger side moved when its excursion exceeds this many noise SDs at rest
MIN_MOVEMENT = {"share": 0.03, "IOD": 0.005}  # ... and this floor (share of the eye; IOD): clean synthetic rests have no noise
# An eye's closure: the lid landmarks' and, when measured, the visible iris's (eye_pixels), averaged: the
# tracker reads a shut eye's lids as still a third to half open, the iris measure over-reads a partial closure.
IMAGE_CLOSURE_WEIGHT = 0.5
ASYMMETRIC_RATIO = 0.8  # a step names a weaker side when its excursion ratio is below this (normal faces: above 0.9)
INCOMPLETE_CLOSURE_SHARE = 0.2  # lagophthalmos: the eye keeps at least this share of its opening (the other eye: closed)
VOLUNTARY_GRADE_RATIOS = (0.1, 0.35, 0.65, 0.85)  # ratio below each -> grades 1-4 (unable, slight, mild, almost); else 5
SYNKINESIS_EYE_GRADES = (0.08, 0.18, 0.35)  # one eye's extra narrowing (share) -> grades 1-3 (mild, moderate, severe)
SYNKINESIS_MOUTH_GRADES = (0.015, 0.035, 0.06)  # one corner's extra movement (IOD) -> grades 1-3
RESTING_FISSURE_RATIO = 0.88  # narrower over wider fissure at rest below this: graded (normal eyes differ by up to a tenth)
RESTING_HEIGHT_IOD = 0.03  # mouth-corner or cheek height differing by more than this (about 2 mm) is graded 1
RESTING_CHEEK_ABSENT_IOD = 0.06  # the weak side's cheek this much lower: the nasolabial fold graded absent (2)
RESTING_WEIGHT, VOLUNTARY_WEIGHT = 5, 4  # the Sunnybrook composite: voluntary * 4 - resting * 5 - synkinesis


@dataclass(frozen=True)
class StepResult:
    """One examination step. Excursions (``unit``) are each side's median peak over the repetitions;
    remaining openings are shares of the open eye at rest left when the stronger eye is closed (its
    closure taken as complete), eye synkinesis shares of the open eye at rest, mouth synkinesis IOD;
    NaN where a step does not read them. ``incomplete_closure``: left, right, both or none for the
    eye-closure step, "" for the others."""

    segment: str
    start_s: float
    end_s: float
    measure: str
    unit: str
    repetitions: int
    excursion_left: float
    excursion_right: float
    weaker_side: str
    excursion_ratio: float
    ratio_spread: float
    incomplete_closure: str
    remaining_opening_left: float
    remaining_opening_right: float
    remaining_opening_share: float
    synkinesis_eye_left: float
    synkinesis_eye_right: float
    synkinesis_mouth_left: float
    synkinesis_mouth_right: float
    synkinesis_side: str
    synkinesis_grade: int  # Sunnybrook-style 0-3, -1 when not read
    voluntary_grade: int  # Sunnybrook-style 1-5 for its five expressions, -1 otherwise or when neither side moved


@dataclass(frozen=True)
class Exam:
    """The whole examination: its steps in recording order, the resting asymmetry (name -> value,
    see :func:`resting_asymmetry`) and the Sunnybrook-style estimate (NaN when the recording lacks a
    rest step or one of the five graded expressions)."""

    steps: tuple
    resting: dict
    weaker_side: str
    resting_score: float
    voluntary_score: float
    synkinesis_score: float
    composite_estimate: float

    def document(self) -> dict:
        """A JSON-ready dict (NaN stays float: the report writers make it null)."""
        return {"weaker_side": self.weaker_side, "resting": dict(self.resting),
                "sunnybrook_estimate": {"resting": self.resting_score, "voluntary": self.voluntary_score,
                                        "synkinesis": self.synkinesis_score, "composite": self.composite_estimate,
                                        "note": "an estimate from video, not a clinical grading"},
                "steps": [asdict(step) for step in self.steps]}


def is_exam_protocol(segments) -> bool:
    """True when every step is rest or an examination step, with at least one rest and one other."""
    names = {s.name for s in segments}
    return REST in names and len(names) > 1 and names <= {REST, *EXAM_STEPS}


def examine(signals: Signals, segments) -> Exam | None:
    """The examination of ``signals`` following ``segments`` (spasmscan.protocol.Segment, seconds);
    None unless :func:`is_exam_protocol`."""
    if not is_exam_protocol(segments):
        return None
    times = signals.times_s
    present = np.asarray(signals.face_present, bool)
    rest = np.zeros(times.shape, bool)
    for segment in segments:
        if segment.name == REST:
            rest |= (times >= segment.start_s) & (times < segment.end_s)
    rest &= present
    steps = tuple(_step(signals, segment, rest, present) for segment in segments if segment.name != REST)
    weaker = exam_weaker_side(steps)
    resting = resting_asymmetry(signals, rest, weaker_side=weaker)
    graded = {s.segment: s for s in steps if s.segment in SUNNYBROOK_EXPRESSIONS}
    scores = [math.nan] * 4
    if set(graded) == set(SUNNYBROOK_EXPRESSIONS) and rest.any() and all(s.voluntary_grade > 0 for s in graded.values()):
        voluntary = VOLUNTARY_WEIGHT * sum(s.voluntary_grade for s in graded.values())
        synkinesis = sum(max(s.synkinesis_grade, 0) for s in graded.values())
        resting_score = RESTING_WEIGHT * resting["resting_grade"]
        scores = [resting_score, voluntary, synkinesis, float(np.clip(voluntary - resting_score - synkinesis, 0, 100))]
    exam = Exam(steps, resting, weaker, *map(float, scores))
    logger.info("exam: %d steps, weaker side %s, composite estimate %s", len(steps), weaker, exam.composite_estimate)
    return exam


def exam_weaker_side(steps) -> str:
    """The side named weaker by most steps (ties: the lower mean ratio); "none" when no step names one."""
    counts = {side: [s.excursion_ratio for s in steps if s.weaker_side == side] for side in regions.SIDES}
    if not any(counts.values()):
        return "none"
    return min(regions.SIDES, key=lambda side: (-len(counts[side]), np.mean(counts[side]) if counts[side] else 1.0))


def region_excursion(signals: Signals, region: str, side: str, rest: np.ndarray) -> np.ndarray:
    """(n,) how far ``region`` of ``side`` is from its rest median: "eye" closure (1 - opening over
    the rest opening, share), "brow" lift, "mouth" (corner up and out, the length of the positive
    parts), "lip" lift, "inward" (corner towards the midline), "cheek_out" (IOD)."""
    def from_rest(name: str, values=None) -> np.ndarray:
        values = signals.levels[name] if values is None else values
        at_rest = values[rest]
        return values - (np.nanmedian(at_rest) if np.isfinite(at_rest).any() else np.nan)

    if region == "eye":
        closures = []
        for name in (f"lid_gap_{side}", f"eye_openness_{side}"):
            opening = signals.levels.get(name)
            if opening is not None and np.isfinite(opening[rest]).any():
                closures.append(1.0 - opening / np.nanmedian(opening[rest]))
        if len(closures) == 2:
            return (1.0 - IMAGE_CLOSURE_WEIGHT) * closures[0] + IMAGE_CLOSURE_WEIGHT * closures[1]
        return closures[0] if closures else np.full(signals.times_s.shape, np.nan)
    if region == "mouth":
        out = np.maximum(from_rest(f"mouth_corner_midline_{side}"), 0.0)
        up = np.maximum(from_rest(f"mouth_corner_vertical_{side}"), 0.0)
        return np.hypot(out, up)
    name = {"brow": "brow_height", "lip": "upper_lip_height", "inward": "mouth_corner_midline",
            "cheek_out": "cheek_lateral"}[region]
    moved = from_rest(f"{name}_{side}")
    return -moved if region == "inward" else moved


STEP_REGION = {"eye_closure": "eye", "brow_raises": "brow", "smiles": "mouth", "snarl": "lip", "pucker": "inward",
               "cheek_puff": "cheek_out"}  # the region each step moves (see region_excursion)


def repetitions(excursion: dict, inside: np.ndarray, times_s: np.ndarray) -> list[np.ndarray]:
    """Frame masks of each repetition of a step: runs where both sides' mean excursion (side -> (n,))
    passes REPETITION_LEVEL of its peak inside the step (``inside``, (n,) bool); the whole step when
    none is found."""
    combined = np.where(inside, np.nanmean(np.vstack(list(excursion.values())), axis=0), np.nan)
    if not np.isfinite(combined).any():
        return []
    level = REPETITION_LEVEL * np.nanpercentile(combined, REPETITION_PEAK_PERCENTILE)
    above = np.nan_to_num(combined, nan=-np.inf) > level
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
    runs = [[a, b] for a, b in zip(edges[::2], edges[1::2])]
    merged: list[list[int]] = []
    for run in runs:
        if merged and times_s[run[0]] - times_s[merged[-1][1] - 1] < REPETITION_MERGE_S:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    masks = []
    for a, b in merged:
        if times_s[b - 1] - times_s[a] >= REPETITION_MIN_S:
            mask = np.zeros(inside.shape, bool)
            mask[a:b] = True
            masks.append(mask)
    return masks or [inside.copy()]


def _held(values: np.ndarray, mask: np.ndarray) -> float:
    chosen = values[mask]
    return float(np.nanpercentile(chosen, HELD_PERCENTILE)) if np.isfinite(chosen).any() else math.nan


def _grade(value: float, bounds) -> int:
    """How many of the increasing ``bounds`` ``value`` reaches (0 for NaN)."""
    return int(sum(value >= bound for bound in bounds)) if math.isfinite(value) else 0


def _step(signals: Signals, segment, rest: np.ndarray, present: np.ndarray) -> StepResult:
    times = signals.times_s
    inside = present & (times >= segment.start_s) & (times < segment.end_s)
    measure, unit = STEP_MEASURES[segment.name]
    region = STEP_REGION[segment.name]
    excursion = {side: region_excursion(signals, region, side, rest) for side in regions.SIDES}
    masks = repetitions(excursion, inside, times) if inside.any() else []
    peaks = {side: np.array([max(_held(excursion[side], m), 0.0) for m in masks]) for side in regions.SIDES}
    median = {side: float(np.median(peaks[side])) if peaks[side].size and np.isfinite(peaks[side]).all()
              else math.nan for side in regions.SIDES}
    floor = max(MIN_MOVEMENT[unit], MOVEMENT_NOISE_K * max(
        (robust_noise(excursion[side][rest]) for side in regions.SIDES), key=lambda v: np.nan_to_num(v)))
    stronger = max(regions.SIDES, key=lambda side: np.nan_to_num(median[side], nan=-1.0))
    weaker = regions.mirror_side(stronger)
    ratio = spread = math.nan
    if math.isfinite(median[stronger]) and median[stronger] > np.nan_to_num(floor):
        ratio = float(np.clip(median[weaker] / median[stronger], 0.0, 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            per_repetition = peaks[weaker] / peaks[stronger]
        per_repetition = per_repetition[np.isfinite(per_repetition)]
        spread = float(np.ptp(per_repetition)) if per_repetition.size else math.nan
    named = weaker if ratio < ASYMMETRIC_RATIO else "none"
    remaining = {side: math.nan for side in regions.SIDES}
    incomplete, remaining_share = "", math.nan
    if segment.name == "eye_closure" and masks and median[stronger] > 0:
        # the stronger eye is taken as closed: the tracker reads a shut eye as partly open (a lagophthalmos of
        # both eyes is not told from that)
        remaining = {side: 1.0 - median[side] / median[stronger] for side in regions.SIDES}
        open_sides = [side for side in regions.SIDES if remaining[side] >= INCOMPLETE_CLOSURE_SHARE]
        incomplete = "both" if len(open_sides) == 2 else (open_sides[0] if open_sides else "none")
        remaining_share = max(remaining.values())
    unwanted = {}
    for other in ("eye", "mouth"):
        for side in regions.SIDES:
            value = math.nan
            if other in SYNKINESIS_REGIONS[segment.name] and masks:
                moved = region_excursion(signals, other, side, rest)
                value = float(np.median([_held(moved, m) for m in masks]))
            unwanted[f"{other}_{side}"] = value
    synkinesis_grade, synkinesis_side = -1, "none"
    if masks:
        synkinesis_grade = 0
        for other, bounds in (("eye", SYNKINESIS_EYE_GRADES), ("mouth", SYNKINESIS_MOUTH_GRADES)):
            if other not in SYNKINESIS_REGIONS[segment.name]:
                continue
            left, right = unwanted[f"{other}_left"], unwanted[f"{other}_right"]
            grade = _grade(abs(left - right), bounds)
            if grade > synkinesis_grade:
                synkinesis_grade, synkinesis_side = grade, "left" if left > right else "right"
    voluntary_grade = -1  # also when neither side moved: in a one-sided palsy the other side always does
    if segment.name in SUNNYBROOK_EXPRESSIONS and math.isfinite(ratio):
        voluntary_grade = 1 + _grade(ratio, VOLUNTARY_GRADE_RATIOS)
    return StepResult(segment=segment.name, start_s=float(segment.start_s), end_s=float(segment.end_s),
                      measure=measure, unit=unit, repetitions=len(masks) if math.isfinite(ratio) else 0,
                      excursion_left=median["left"], excursion_right=median["right"], weaker_side=named,
                      excursion_ratio=ratio, ratio_spread=spread, incomplete_closure=incomplete,
                      remaining_opening_left=remaining["left"], remaining_opening_right=remaining["right"],
                      remaining_opening_share=remaining_share,
                      synkinesis_eye_left=unwanted["eye_left"], synkinesis_eye_right=unwanted["eye_right"],
                      synkinesis_mouth_left=unwanted["mouth_left"], synkinesis_mouth_right=unwanted["mouth_right"],
                      synkinesis_side=synkinesis_side, synkinesis_grade=synkinesis_grade,
                      voluntary_grade=voluntary_grade)


def resting_asymmetry(signals: Signals, rest: np.ndarray, *, weaker_side: str = "none") -> dict:
    """The resting face, medians over the rest frames (``rest``, (n,) bool): palpebral fissure
    (narrower over wider opening, and the wider side), left minus right brow, mouth-corner and cheek
    (nasolabial) heights in IOD, and the Sunnybrook-style resting grades (eye, cheek, mouth: 0-2
    each) with their total ``resting_grade``."""
    def median(values: np.ndarray) -> float:
        chosen = values[rest]
        return float(np.nanmedian(chosen)) if np.isfinite(chosen).any() else math.nan

    fissure = {side: median(signals.levels[f"lid_gap_{side}"]) for side in regions.SIDES}
    wider = max(regions.SIDES, key=lambda side: np.nan_to_num(fissure[side]))
    ratio = fissure[regions.mirror_side(wider)] / fissure[wider] if fissure[wider] > 0 else math.nan
    heights = {name: median(signals.levels[f"{name}_left"]) - median(signals.levels[f"{name}_right"])
               for name in ("brow_height", "mouth_corner_vertical", "cheek_height")}
    eye_grade = int(ratio < RESTING_FISSURE_RATIO) if math.isfinite(ratio) else 0
    mouth_grade = int(abs(heights["mouth_corner_vertical"]) > RESTING_HEIGHT_IOD)
    cheek = heights["cheek_height"]
    weak_lower = (-cheek if weaker_side == "left" else cheek) if weaker_side in regions.SIDES else abs(cheek)
    cheek_grade = 2 if weak_lower > RESTING_CHEEK_ABSENT_IOD else int(abs(cheek) > RESTING_HEIGHT_IOD)
    if not math.isfinite(cheek):
        cheek_grade = 0
    if not math.isfinite(heights["mouth_corner_vertical"]):
        mouth_grade = 0
    return {"palpebral_fissure_ratio": ratio, "wider_fissure_side": wider if eye_grade else "none",
            "brow_height_difference_iod": heights["brow_height"],
            "mouth_corner_height_difference_iod": heights["mouth_corner_vertical"],
            "cheek_height_difference_iod": cheek,
            "resting_eye_grade": eye_grade, "resting_cheek_grade": cheek_grade, "resting_mouth_grade": mouth_grade,
            "resting_grade": eye_grade + cheek_grade + mouth_grade}
