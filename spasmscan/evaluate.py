"""Accuracy on clips with ground truth: classification, affected side, and event detection.

A detected event matches a true one of the same family on the same side when their onsets
differ by at most ``ONSET_TOLERANCE_S`` (one-to-one, closest pairs first). Families (the kinds'
``family`` in :data:`spasmscan.kinds.KINDS`): "twitch" (twitch and tonic_spasm, one-sided) and
"blink" (bilateral). True events of other kinds (voluntary movements, blepharospasm's
bilateral_closure and flutter) are not scored. Blinks are not scored on clips
rendered on a real video, whose own blinks are unknown (``base_events_known`` false).

The confusion matrix has a row for every truth label the analysis can name and for every other
truth label present, and a column for every verdict label (:data:`spasmscan.kinds.VERDICT_LABELS`).
The side is scored on clips whose label has an affected side to find (not "none" nor
blepharospasm, :data:`spasmscan.simulate.UNSIDED_LABELS`); bilateral HFS is right with side "both",
and its clips are classified right by a primary HFS verdict on side "both" (VERDICT_OF_LABEL).

No OpenCV here: the analysis is a callable (default: track with the landmark cache, then run
the analysis stages), so scoring is testable with hand-made analyses.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import InputNotFoundError, ParameterError, SpasmscanError
from .kinds import VERDICT_LABELS, family_kinds
from .report import write_csv
from .simulate import LABELS, UNSIDED_LABELS, Truth, read_truth, truth_path
from .video import is_video_path

logger = logging.getLogger(__name__)

ONSET_TOLERANCE_S = 0.150  # onsets this close are the same event: about 4 frames at 25-30 fps
# Truth labels the analysis names otherwise: bilateral HFS is a primary spasm whose affected side is "both".
VERDICT_OF_LABEL = {"bilateral_hfs": ("primary_hfs", "both")}
FAMILIES = {family: family_kinds(family) for family in ("twitch", "blink")}  # scored, in this order
# the verdict labels, those also simulated first in the simulator's order
PREDICTED_LABELS = (tuple(label for label in LABELS if label in VERDICT_LABELS)
                    + tuple(label for label in VERDICT_LABELS if label not in LABELS))


@dataclass
class FamilyScore:
    """Matches of one event family: counts and the |onset error| of every matched pair (seconds)."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    onset_errors_s: list = field(default_factory=list)

    def add(self, other: "FamilyScore") -> None:
        self.true_positives += other.true_positives
        self.false_positives += other.false_positives
        self.false_negatives += other.false_negatives
        self.onset_errors_s += other.onset_errors_s

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else float("nan")

    @property
    def recall(self) -> float:
        present = self.true_positives + self.false_negatives
        return self.true_positives / present if present else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else float("nan")

    @property
    def mean_onset_error_s(self) -> float:
        return float(np.mean(self.onset_errors_s)) if self.onset_errors_s else float("nan")

    @property
    def max_onset_error_s(self) -> float:
        return float(np.max(self.onset_errors_s)) if self.onset_errors_s else float("nan")


@dataclass
class ClipScore:
    """The score of one clip. predicted/predicted_side are empty when no verdict was made; status
    says why ("ok", "tracking only: ...", "error: ...")."""

    video: str
    truth: Truth
    status: str = "ok"
    predicted: str = ""
    predicted_side: str = ""
    confidence: float = float("nan")
    face_pct: float = float("nan")
    families: dict = field(default_factory=dict)  # family -> FamilyScore (only the families scored)

    @property
    def has_verdict(self) -> bool:
        return self.predicted != ""

    @property
    def minutes(self) -> float:
        return self.truth.duration_s / 60.0

    @property
    def label_correct(self) -> bool:
        """Whether the verdict names the truth label (bilateral HFS: a primary spasm on side "both")."""
        expected = VERDICT_OF_LABEL.get(self.truth.label)
        return self.predicted == self.truth.label if expected is None else (self.predicted, self.predicted_side) == expected

    @property
    def verdict_correct(self) -> bool:
        """Whether the verdict is right as a clinician reads it: the label and, where the truth has an
        affected side, that side (a right-sided spasm called left is wrong)."""
        return self.label_correct and (not has_side(self.truth) or self.predicted_side == self.truth.side)


def match_onsets(true_onsets, found_onsets, *, tolerance_s: float = ONSET_TOLERANCE_S) -> list[tuple[int, int]]:
    """(true index, found index) pairs of onsets (seconds) within ``tolerance_s``, one-to-one,
    the closest pairs first."""
    true_onsets = np.asarray(true_onsets, dtype=np.float64)
    found_onsets = np.asarray(found_onsets, dtype=np.float64)
    if true_onsets.size == 0 or found_onsets.size == 0:
        return []
    distance = np.abs(true_onsets[:, None] - found_onsets[None, :])
    candidates = np.argwhere(distance <= tolerance_s)
    order = np.argsort(distance[candidates[:, 0], candidates[:, 1]], kind="stable")
    used_true, used_found, pairs = set(), set(), []
    for i, j in candidates[order]:
        if i not in used_true and j not in used_found:
            used_true.add(int(i))
            used_found.add(int(j))
            pairs.append((int(i), int(j)))
    return sorted(pairs)


def score_family(truth: Truth, events, family: str, *, tolerance_s: float = ONSET_TOLERANCE_S) -> FamilyScore:
    """Match the true and detected events of ``family``, side by side. ``events`` is an
    :class:`spasmscan.events.Events` (or anything with kind, side and start_s arrays)."""
    kinds = FAMILIES[family]
    score = FamilyScore()
    found_kind = np.asarray(events.kind).astype(str)
    found_side = np.asarray(events.side).astype(str)
    found_start = np.asarray(events.start_s, dtype=np.float64)
    true_events = [e for e in truth.events if e.kind in kinds]
    sides = sorted({e.side for e in true_events} | set(found_side[np.isin(found_kind, kinds)]))
    for side in sides:
        true_onsets = [e.start_s for e in true_events if e.side == side]
        found = np.isin(found_kind, kinds) & (found_side == side)
        found_onsets = found_start[found]
        pairs = match_onsets(true_onsets, found_onsets, tolerance_s=tolerance_s)
        score.true_positives += len(pairs)
        score.false_negatives += len(true_onsets) - len(pairs)
        score.false_positives += int(found.sum()) - len(pairs)
        score.onset_errors_s += [abs(true_onsets[i] - found_onsets[j]) for i, j in pairs]
    return score


def score_clip(video: str, truth: Truth, result, *, tolerance_s: float = ONSET_TOLERANCE_S) -> ClipScore:
    """Score one analysed clip. ``result`` is an Analysis-like object (verdict, events, series) or,
    when the analysis stages are not available, a LandmarkSeries (tracking quality only)."""
    score = ClipScore(video=video, truth=truth)
    series = getattr(result, "series", result)
    if hasattr(series, "face_fraction"):
        score.face_pct = 100.0 * float(series.face_fraction)
    verdict = getattr(result, "verdict", None)
    if verdict is None:
        score.status = "tracking only: the analysis stages are not available"
        return score
    score.predicted = str(verdict.label)
    score.predicted_side = str(verdict.side)
    score.confidence = float(verdict.confidence)
    score.families["twitch"] = score_family(truth, result.events, "twitch", tolerance_s=tolerance_s)
    if truth.base_events_known:
        score.families["blink"] = score_family(truth, result.events, "blink", tolerance_s=tolerance_s)
    return score


def find_clips(directory: str | os.PathLike) -> list[tuple[str, Truth]]:
    """Every video under ``directory`` (recursively, sorted) with a truth file beside it."""
    root = Path(directory)
    if not root.exists():
        raise InputNotFoundError(f"{directory}: no such folder")
    if not root.is_dir():
        raise ParameterError(f"{directory}: not a folder; give the folder holding the clips and their .json files")
    clips = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or not is_video_path(path) or path.name.endswith(".partial.mp4"):
            continue
        if os.path.exists(truth_path(path)):
            clips.append((str(path), read_truth(truth_path(path))))
    if not clips:
        raise ParameterError(f"{directory}: holds no video with a truth file beside it (clip.mp4 + clip.json); "
                             "make some with 'spasmscan simulate'")
    return clips


METHODS = ("analysis", "baseline")  # the analysis, and the simple reference it must beat (spasmscan.baseline)


def default_analyze(*, settings=None, selection=None, cache_dir=None, use_cache: bool = True,
                    method: str = "analysis") -> Callable[[str], object]:
    """Track (or load the cached landmarks of) a clip with tracker ``settings`` and input
    ``selection`` (default: the defaults, the whole clip) and analyse it with ``method``: "analysis" (the analysis stages) or "baseline"
    (:func:`spasmscan.baseline.baseline_analysis`)."""
    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {method!r}")

    def analyze(video: str):
        from .analysis import analyze_series
        from .baseline import baseline_analysis
        from .landmarks import TrackerSettings
        from .pipeline import video_landmarks
        from .selection import WHOLE_VIDEO

        series = video_landmarks(video, settings=settings or TrackerSettings(), selection=selection or WHOLE_VIDEO,
                                 cache_dir=cache_dir, use_cache=use_cache)
        return baseline_analysis(series) if method == "baseline" else analyze_series(series)

    return analyze


@dataclass
class Evaluation:
    """Scores of every clip and their totals."""

    clips: list

    @property
    def judged(self) -> list:
        return [c for c in self.clips if c.has_verdict]

    def confusion(self) -> dict:
        """{true label: {predicted label: count}} over the clips with a verdict: a row for every truth
        label that is a verdict label and for every other truth label of the clips, a column for
        every verdict label (PREDICTED_LABELS; a predicted label outside them counts as indeterminate)."""
        present = {clip.truth.label for clip in self.judged}
        rows = [t for t in LABELS if t in PREDICTED_LABELS or t in present]
        rows += sorted(present - set(rows))  # labels of truth files from elsewhere
        table = {t: {p: 0 for p in PREDICTED_LABELS} for t in rows}
        for clip in self.judged:
            table[clip.truth.label][clip.predicted if clip.predicted in PREDICTED_LABELS else "indeterminate"] += 1
        return table

    @property
    def accuracy(self) -> float:
        judged = self.judged
        return sum(c.label_correct for c in judged) / len(judged) if judged else float("nan")

    @property
    def verdict_accuracy(self) -> float:
        """Share of the judged clips whose label and affected side are both right (ClipScore.verdict_correct)."""
        judged = self.judged
        return sum(c.verdict_correct for c in judged) / len(judged) if judged else float("nan")

    def _positive(self) -> list:
        """The judged clips with an affected side to find."""
        return [c for c in self.judged if has_side(c.truth)]

    @property
    def side_accuracy(self) -> float:
        """Share of the clips with an affected side whose predicted side is that side ("both" for
        bilateral HFS)."""
        positive = self._positive()
        return sum(c.predicted_side == c.truth.side for c in positive) / len(positive) if positive else float("nan")

    def family(self, name: str) -> FamilyScore:
        total = FamilyScore()
        for clip in self.judged:
            if name in clip.families:
                total.add(clip.families[name])
        return total

    @property
    def false_twitches_per_min_at_none(self) -> float:
        """Detected twitches and tonic spasms per minute on clips labelled none (all are false)."""
        clips = [c for c in self.judged if c.truth.label == "none"]
        minutes = sum(c.minutes for c in clips)
        return sum(c.families["twitch"].false_positives for c in clips) / minutes if minutes else float("nan")

    def text(self) -> str:
        """A readable table of the clips and the totals."""
        lines = [f"{'clip':28s} {'truth':22s} {'predicted':22s} {'face%':>6s} {'twitch tp/fp/fn':>15s} "
                 f"{'blink tp/fp/fn':>14s}  status"]
        for c in self.clips:
            truth = f"{c.truth.label}/{c.truth.side}"
            predicted = f"{c.predicted}/{c.predicted_side}" if c.has_verdict else "-"
            lines.append(f"{_short(c.video, 28):28s} {truth:22s} {predicted:22s} {c.face_pct:6.1f} "
                         f"{_counts(c.families.get('twitch')):>15s} {_counts(c.families.get('blink')):>14s}  {c.status}")
        judged = self.judged
        lines.append("")
        if not judged:
            lines.append(f"no verdicts: {len(self.clips)} clips tracked, mean face coverage "
                         f"{np.nanmean([c.face_pct for c in self.clips]):.1f}%; accuracy needs the analysis stages")
            return "\n".join(lines)
        correct = sum(c.label_correct for c in judged)
        lines.append(f"classification accuracy: {correct}/{len(judged)} ({100 * self.accuracy:.0f}%); label and "
                     f"side right: {sum(c.verdict_correct for c in judged)}/{len(judged)} "
                     f"({100 * self.verdict_accuracy:.0f}%)")
        lines.append("confusion matrix (rows: truth, columns: predicted):")
        lines.append(f"  {'':14s}" + "".join(f"{p:>15s}" for p in PREDICTED_LABELS))
        for label, row in self.confusion().items():
            lines.append(f"  {label:14s}" + "".join(f"{row[p]:15d}" for p in PREDICTED_LABELS))
        positive = self._positive()
        if positive:
            right = sum(c.predicted_side == c.truth.side for c in positive)
            lines.append(f"affected side right: {right}/{len(positive)} clips with a spasm "
                         f"({100 * self.side_accuracy:.0f}%)")
        for name in FAMILIES:
            f = self.family(name)
            lines.append(f"{name + ('es' if name.endswith('h') else 's')}: precision {_fmt(f.precision)}, recall {_fmt(f.recall)}, F1 {_fmt(f.f1)} "
                         f"(tp {f.true_positives}, fp {f.false_positives}, fn {f.false_negatives}); onset error "
                         f"mean {_ms(f.mean_onset_error_s)}, max {_ms(f.max_onset_error_s)}")
        rate = self.false_twitches_per_min_at_none
        if math.isfinite(rate):
            lines.append(f"false twitches on 'none' clips: {rate:.2f} per minute")
        return "\n".join(lines)

    def write_csv(self, path: str | os.PathLike) -> None:
        """One row per clip, then a row "ALL" with the totals (accuracies as shares)."""
        columns = ["video", "label", "side", "predicted", "predicted_side", "confidence", "face_pct",
                   "label_correct", "side_correct", "verdict_correct"]
        for name in FAMILIES:
            columns += [f"{name}_{k}" for k in ("tp", "fp", "fn", "precision", "recall", "f1",
                                               "onset_error_mean_s", "onset_error_max_s")]
        columns += ["status"]
        rows = []
        for c in self.clips:
            row = {"video": c.video, "label": c.truth.label, "side": c.truth.side, "predicted": c.predicted,
                   "predicted_side": c.predicted_side, "confidence": c.confidence, "face_pct": c.face_pct,
                   "label_correct": int(c.label_correct) if c.has_verdict else "",
                   "side_correct": (int(c.predicted_side == c.truth.side)
                                    if c.has_verdict and has_side(c.truth) else ""),
                   "verdict_correct": int(c.verdict_correct) if c.has_verdict else "",
                   "status": c.status}
            for name in FAMILIES:
                row.update(_family_columns(name, c.families.get(name)))
            rows.append(row)
        total = {"video": "ALL", "label": "", "side": "", "predicted": "", "predicted_side": "", "confidence": "",
                 "face_pct": float(np.nanmean([c.face_pct for c in self.clips])) if self.clips else "",
                 "label_correct": self.accuracy, "side_correct": self.side_accuracy,
                 "verdict_correct": self.verdict_accuracy,
                 "status": f"{len(self.judged)} of {len(self.clips)} clips with a verdict"}
        for name in FAMILIES:
            total.update(_family_columns(name, self.family(name)))
        rows.append(total)
        write_csv(path, rows, columns, force=True)

    def write_confusion_csv(self, path: str | os.PathLike) -> None:
        """The confusion matrix: one row per true label, one column per predicted label."""
        rows = [{"truth": label, **row} for label, row in self.confusion().items()]
        write_csv(path, rows, ["truth", *PREDICTED_LABELS], force=True)


def has_side(truth: Truth) -> bool:
    """Whether the side is scored on a clip of ``truth``: its label has an affected side to find."""
    return truth.label not in UNSIDED_LABELS


def _family_columns(name: str, score: FamilyScore | None) -> dict:
    if score is None:
        return {}
    return {f"{name}_tp": score.true_positives, f"{name}_fp": score.false_positives,
            f"{name}_fn": score.false_negatives, f"{name}_precision": score.precision,
            f"{name}_recall": score.recall, f"{name}_f1": score.f1,
            f"{name}_onset_error_mean_s": score.mean_onset_error_s,
            f"{name}_onset_error_max_s": score.max_onset_error_s}


def _counts(score: FamilyScore | None) -> str:
    return "-" if score is None else f"{score.true_positives}/{score.false_positives}/{score.false_negatives}"


def _fmt(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}"


def _ms(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{1000 * value:.0f} ms"


def _short(text: str, width: int) -> str:
    name = os.path.basename(text)
    return name if len(name) <= width else "…" + name[-(width - 1):]


def evaluate_clips(clips: Iterable[tuple[str, Truth]], *, analyze: Callable[[str], object] | None = None,
                   tolerance_s: float = ONSET_TOLERANCE_S,
                   on_clip: Callable[[ClipScore], None] | None = None) -> Evaluation:
    """Analyse and score every (video, truth) pair. A clip whose analysis fails with a spasmscan
    error is kept with that error as its status; ``on_clip`` sees each score as it is done."""
    if not (tolerance_s > 0):
        raise ParameterError(f"the onset tolerance must be > 0 s, got {tolerance_s}")
    analyze = analyze or default_analyze()
    scores = []
    for video, truth in clips:
        try:
            score = score_clip(video, truth, analyze(video), tolerance_s=tolerance_s)
        except SpasmscanError as error:
            logger.warning("%s: %s", video, error)
            score = ClipScore(video=video, truth=truth, status=f"error: {error}")
        scores.append(score)
        if on_clip is not None:
            on_clip(score)
    return Evaluation(clips=scores)


def evaluate_directory(directory: str | os.PathLike, *, analyze: Callable[[str], object] | None = None,
                       tolerance_s: float = ONSET_TOLERANCE_S,
                       on_clip: Callable[[ClipScore], None] | None = None) -> Evaluation:
    """:func:`evaluate_clips` on every video with a truth file under ``directory``."""
    return evaluate_clips(find_clips(directory), analyze=analyze, tolerance_s=tolerance_s, on_clip=on_clip)


LENGTH_BINS_S = (20.0, 45.0)  # clip lengths are reported short (< 20 s), medium and long (>= 45 s)
CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.9, 1.0001)  # calibration: share right among verdicts in each band


def clip_group(clip: ClipScore, by: str) -> str:
    """The group of ``clip`` by "face" (the truth's base), "renderer", "length" or "label"."""
    truth = clip.truth
    if by == "face":
        return os.path.splitext(os.path.basename(truth.base))[0]
    if by == "renderer":
        return str(getattr(truth, "renderer", "mesh"))
    if by == "length":
        low, high = LENGTH_BINS_S
        return (f"< {low:.0f} s" if truth.duration_s < low else f">= {high:.0f} s" if truth.duration_s >= high
                else f"{low:.0f}-{high:.0f} s")
    if by == "label":
        return truth.label
    raise ParameterError(f"by must be face, renderer, length or label, got {by!r}")


def grouped(evaluation: Evaluation, by: str) -> dict:
    """Group name -> :class:`Evaluation` of that group's clips, sorted by name."""
    groups: dict[str, list] = {}
    for clip in evaluation.clips:
        groups.setdefault(clip_group(clip, by), []).append(clip)
    return {name: Evaluation(clips=groups[name]) for name in sorted(groups)}


SUMMARY_FIGURES = ("accuracy", "verdict", "side", "twitch_f1", "blink_f1", "false_per_min")  # summary_row's, in table order


def summary_row(evaluation: Evaluation) -> dict:
    """The headline figures of an evaluation: clips, accuracy (label), verdict (label and side), side,
    twitch and blink F1, false twitches per minute on 'none' clips (NaN where a figure has no clips)."""
    return {"clips": len(evaluation.judged), "accuracy": evaluation.accuracy, "verdict": evaluation.verdict_accuracy,
            "side": evaluation.side_accuracy,
            "twitch_f1": evaluation.family("twitch").f1, "blink_f1": evaluation.family("blink").f1,
            "false_per_min": evaluation.false_twitches_per_min_at_none}


def calibration(evaluation: Evaluation) -> list[tuple[float, float, int, float]]:
    """(low, high, verdicts, share right: label and side) of the verdicts whose confidence falls in each
    CONFIDENCE_BINS band."""
    rows = []
    for low, high in zip(CONFIDENCE_BINS[:-1], CONFIDENCE_BINS[1:]):
        band = [c for c in evaluation.judged if low <= c.confidence < high]
        right = sum(c.verdict_correct for c in band)
        rows.append((low, min(high, 1.0), len(band), right / len(band) if band else float("nan")))
    return rows


def comparison_table(evaluations: dict, by: str) -> str:
    """A text table: one row per group of ``by``; each cell gives every method's figure, in the
    order of ``evaluations`` (method name -> Evaluation of the same clips), separated by "/"."""
    methods = list(evaluations)
    columns = SUMMARY_FIGURES
    tables = {m: grouped(e, by) for m, e in evaluations.items()}
    width = 5 * len(methods) + 1
    lines = [f"{by + ' (' + ' / '.join(methods) + ')':34s} {'clips':>5s}" + "".join(f" {c:>{width}s}" for c in columns)]
    for name in tables[methods[0]]:
        rows = [summary_row(tables[m][name]) for m in methods]
        cells = ["/".join(_fmt(row[c]) for row in rows) for c in columns]
        lines.append(f"{name[:34]:34s} {rows[0]['clips']:5d}" + "".join(f" {cell:>{width}s}" for cell in cells))
    return "\n".join(lines)
