"""The plain-text summary of an analysis a clinician reads in the terminal, and the words for the
quality flags (shared with the review page)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .kinds import side_text, verdict_text

if TYPE_CHECKING:
    from .analysis import Analysis

FLAG_TEXT = {
    "low_face_coverage": "the face was not tracked in part of the video",
    "short_recording": "the recording is short",
    "head_motion": "the head moved a lot (movement is compensated, but check the result)",
    "restless_eyes": "the two eyes' openings differ a lot from moment to moment: one-sided twitches may be missed",
}


def summary_text(analysis: Analysis) -> str:
    """A clinician-readable summary: verdict, side, confidence, the evidence in plain words, measures."""
    verdict, m = analysis.verdict, analysis.measures
    label = verdict_text(verdict.label)
    side = side_text(verdict.side)
    lines = [f"verdict: {label}{side} (confidence {verdict.confidence:.2f})",
             f"reason: {verdict.reason}"]
    if np.isfinite(verdict.coupling_p_value):
        lines.append(f"time-locking to voluntary movements: circular-shift p = {verdict.coupling_p_value:.3g}")
    lines += [f"  - {sentence}" for sentence in verdict.evidence]
    mouth = "yes" if m["spread_to_mouth"] else "no"
    lines.append(f"measures: {m['twitches_per_min']:.1f} twitches/min on the more active side "
                 f"(left {m['twitches_left']}, right {m['twitches_right']}; {m['rest_twitches']} at rest, "
                 f"{m['coupled_twitches']} with voluntary movements), spasm {m['spasm_time_pct']:.1f}% of the "
                 f"time, longest {m['longest_spasm_s']:.2f} s, spreads to the mouth: {mouth}")
    lines.append(f"          {m['blinks']} blinks ({m['blinks_per_min']:.1f}/min), {m['brow_raises']} brow "
                 f"raises; Jankovic frequency ESTIMATE {m['jrs_frequency_estimate']}/4 (not a clinical rating)")
    lines.append(f"          both eyes: {m['prolonged_closures_per_min']:.1f} prolonged closures/min, closed "
                 f"{m['both_eyes_closed_pct']:.1f}% of the time, longest {m['longest_closure_s']:.2f} s, "
                 f"{m['blink_clusters_per_min']:.1f} blink clusters/min")
    exam = getattr(analysis, "exam", None)
    if exam is not None:
        steps = ", ".join(f"{s.segment} {s.excursion_ratio:.2f}" for s in exam.steps if np.isfinite(s.excursion_ratio))
        composite = (f"{exam.composite_estimate:.0f}/100" if np.isfinite(exam.composite_estimate)
                     else "not estimated (needs rest and the five graded expressions)")
        lines.append(f"palsy exam: weaker side {exam.weaker_side}; weaker/stronger excursion {steps or 'none'}; "
                     f"Sunnybrook composite ESTIMATE {composite} (not a clinical grading)")
    for flag in analysis.quality_flags:
        lines.append(f"note: {FLAG_TEXT.get(flag, flag)}")
    return "\n".join(lines)
