"""Classification of a recording: primary hemifacial spasm, synkinesis, none or indeterminate.

Pure arrays: no OpenCV, no MediaPipe.
"""
from __future__ import annotations

from dataclasses import dataclass

LABELS = ("primary_hfs", "synkinesis", "none", "indeterminate")


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


def classify(events, signals, **options) -> Verdict:
    """Verdict from :class:`~spasmscan.events.Events` and :class:`~spasmscan.signals.Signals`."""
    raise NotImplementedError  # filled in by the classification work (issue 4)


def clinical_measures(events, signals) -> dict:
    """Per-recording measures; keys listed in MEASURE_KEYS."""
    raise NotImplementedError  # filled in by the classification work (issue 4)


MEASURE_KEYS = ("twitches_per_min", "twitches_left", "twitches_right", "rest_twitches", "coupled_twitches",
                "blinks", "blinks_per_min", "brow_raises", "spasm_time_pct", "longest_spasm_s",
                "spread_to_mouth", "jrs_frequency_estimate")
