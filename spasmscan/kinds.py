"""The vocabulary every stage and view shares: the kinds of event and the verdict labels.

Adding an event kind means adding one row to ``KINDS`` (and the detector in ``events.py`` that
finds it); events, classify, the plot, the annotated video, the review page, evaluate and the
summary text all read from here. Plain data: no OpenCV, MediaPipe or matplotlib.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventKind:
    """One kind of event.

    name: the code in ``Events.kind`` and the events CSV. voluntary: a bilateral movement the
    patient makes (else a one-sided, involuntary one). region: the region a voluntary movement
    drives itself (a one-sided movement carried along by it must move another region to count as
    synkinesis); "" for involuntary kinds, whose region is found per event. color: timeline colour.
    label: the short text on the timeline and the video. plural: the text after a count in
    sentences. measure: the clinical-measure key counting it (None: not counted). family: the
    evaluate family it is scored in (None: not scored).
    """

    name: str
    voluntary: bool
    region: str
    color: str
    label: str
    plural: str
    measure: str | None = None
    family: str | None = None


KINDS = (  # voluntary movements in greens, involuntary in red/purple
    EventKind("blink", True, "eye", "#4daf4a", "blink", "blinks", measure="blinks", family="blink"),
    EventKind("brow_raise", True, "brow", "#a6d854", "brow raise", "brow raises", measure="brow_raises"),
    EventKind("smile", True, "mouth", "#66c2a5", "smile", "smiles", measure="smiles"),
    # both eyes held shut or narrowed longer than a blink (squeezing, squinting)
    EventKind("eye_closure", True, "eye", "#1b9e77", "eye closure", "held eye closures"),
    EventKind("twitch", False, "", "#e41a1c", "twitch", "twitches", family="twitch"),
    EventKind("tonic_spasm", False, "", "#984ea3", "tonic spasm", "tonic spasms", family="twitch"),
)
KIND = {kind.name: kind for kind in KINDS}
VOLUNTARY_KINDS = tuple(kind.name for kind in KINDS if kind.voluntary)
INVOLUNTARY_KINDS = tuple(kind.name for kind in KINDS if not kind.voluntary)
EVENT_KINDS = VOLUNTARY_KINDS + INVOLUNTARY_KINDS
DRIVEN_REGION = {kind.name: kind.region for kind in KINDS if kind.voluntary}


def kind_label(name: str) -> str:
    """The short text of an event kind (an unknown code as itself, underscores as spaces)."""
    return KIND[name].label if name in KIND else str(name).replace("_", " ")


def family_kinds(family: str) -> tuple:
    """The kinds scored together as ``family`` by evaluate."""
    return tuple(kind.name for kind in KINDS if kind.family == family)


VERDICT_TEXT = {  # verdict label -> the words a clinician reads
    "primary_hfs": "primary hemifacial spasm",
    "synkinesis": "synkinesis",
    "blepharospasm": "blepharospasm (both eyes)",
    "none": "no one-sided spasm found",
    "indeterminate": "indeterminate",
}
VERDICT_LABELS = tuple(VERDICT_TEXT)


def verdict_text(label: str) -> str:
    """The words for a verdict label (an unknown label as itself)."""
    return VERDICT_TEXT.get(str(label), str(label))


SIDE_TEXT = {"left": "left side", "right": "right side", "both": "both sides"}  # a verdict's side in words


def side_text(side: str) -> str:
    """', left side' (or right, both sides) after a verdict's words; '' without a side."""
    return f", {SIDE_TEXT[side]}" if side in SIDE_TEXT else ""
