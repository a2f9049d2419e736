"""Simulated facial events with ground truth: schedules, per-frame motion channels, landmark motion.

Pure numpy: no OpenCV, no MediaPipe (the pixels are moved by :mod:`spasmscan.render`).

A clip is a list of :class:`SimEvent` (what the truth file states) each made of
:class:`Motion` pieces: one "channel" of facial movement ramping up, holding and relaxing.
Channels, per anatomical side ``s``:

- ``eye_close_s``: share of the lid gap closed (0 open, 1 lids meeting);
- ``brow_s``: brow rise, inter-ocular distances (IOD; negative = pulled down);
- ``cheek_s``: cheek rise, IOD;
- ``mouth_s``: mouth-corner pull up and outward, IOD;
- ``jaw``: jaw opening (talking), IOD;
- ``lip_s``: the upper lip's side lifted (a snarl), IOD;
- ``pucker_s``: the mouth corner drawn towards the midline (a pucker), IOD;
- ``puff_s``: the cheek beside the nose and mouth pushed outward (a cheek puff), IOD.

A facial palsy examination (labels PALSY_LABELS) follows a protocol's steps instead of a random
schedule: :func:`exam_schedule`.

:func:`move_landmarks` turns one frame's channel values into displaced Face Mesh landmarks.
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from . import regions
from .errors import InputNotFoundError, ParameterError

logger = logging.getLogger(__name__)

LABEL_SIDES = {  # label -> the sides a clip of it may state
    "none": ("none",),
    "primary_hfs": regions.SIDES,
    "synkinesis": regions.SIDES,
    "blepharospasm": ("both",),
    "bilateral_hfs": ("both",),
}
LABELS = tuple(LABEL_SIDES)
STILL_PREFIX = "still_"  # a base named still_<video> is that face video's neutral frame (render.neutral_still)
UNSIDED_LABELS = ("none", "blepharospasm")  # no affected side to find: evaluate does not score their side
TRUTH_VERSION = 2  # 2 added "renderer"; version 1 files (all rendered by "mesh") are still read
READABLE_TRUTH_VERSIONS = (1, 2)
CHANNELS = tuple(f"{base}_{side}" for base in ("eye_close", "brow", "cheek", "mouth") for side in regions.SIDES) + ("jaw",)
EXAM_CHANNELS = tuple(f"{base}_{side}" for base in ("lip", "pucker", "puff") for side in regions.SIDES)
CHANNELS += EXAM_CHANNELS

# Timing (seconds) and rates: typical clinical ranges.
LEAD_IN_S = 1.5  # no event in the first seconds: the analysis needs a resting baseline
TAIL_S = 0.6  # nor in the last moments, so every event is complete in the clip
BLINK_S = (0.1, 0.4)  # a normal blink
BLINK_RATE_PER_MIN = (8.0, 25.0)  # resting blink rate of adults
BLINK_CLOSURE = (0.85, 1.0)  # share of the lid gap a blink closes
BLINK_SIDE_DIFFERENCE = 0.05  # normal blinks: each eye closes within this share of the other
HARD_NEGATIVE_WEAKER_EYE = (0.10, 0.25)  # hard negatives: one eye closes this share less
MIN_BLINK_GAP_S = 0.8  # blinks this close would merge into one
BLINK_CLEARANCE_S = 0.2  # blinks keep this clear of brow raises, smiles and talking: one voluntary movement at a time
BROW_RAISE_S = (0.5, 2.0)  # a deliberate brow raise
BROW_RAISE_IOD = (0.05, 0.10)  # deliberate raises lift the brow this far
SMILE_S = (1.0, 3.0)  # a smile
SMILE_PULL_IOD = (0.06, 0.10)  # mouth-corner pull of a smile
SMILE_EYE_NARROWING = (0.05, 0.15)  # a smile narrows both eyes a little
HARD_NEGATIVE_SMILE_NARROWING = (0.15, 0.30)  # hard negatives squint clearly when smiling
TALK_S = (1.0, 4.0)  # a stretch of talking
TALK_JAW_IOD = (0.04, 0.10)  # jaw opening while talking
TALK_HZ = (3.0, 5.0)  # syllable rate
TWITCH_S = (0.05, 0.3)  # one clonic twitch
TWITCH_CLOSURE = (0.15, 0.75)  # a clonic twitch closes the eye partly: from a flicker to a clear squeeze
BURST_SIZE = (2, 6)  # clonic twitches in one burst
BURST_HZ = (2.0, 6.0)  # their repetition rate
TONIC_S = (1.0, 3.0)  # a tonic spasm holds the eye closed this long
TONIC_CLOSURE = (0.7, 0.95)  # ... mostly closed
TWITCH_RATE_PER_MIN = (0.3, 25.0)  # primary HFS: one-sided spasm episodes per minute (drawn log-uniform)
MAX_TWITCH_RATE_PER_MIN = 60.0  # a stated rate above this is no longer episodes but a continuous spasm
CHEEK_LIFT_IOD = (0.015, 0.04)  # orbicularis oculi spasm lifts the cheek
BROW_PULL_DOWN_IOD = (0.01, 0.03)  # ... and pulls the brow down
SPASM_MOUTH_PULL_IOD = (0.04, 0.08)  # spread to the mouth: the corner pulls up and out
SYNKINESIS_MOUTH_IOD = (0.04, 0.08)  # synkinetic mouth-corner pull with each voluntary movement
SYNKINESIS_EYE_NARROWING = (0.2, 0.4)  # synkinetic eye narrowing with brow raises and smiles
SYNKINESIS_LAG_S = (-0.1, 0.2)  # co-contraction onset after the voluntary movement's: may lead a little or trail
SYNKINESIS_LENGTH_SHARE = (0.8, 2.0)  # co-contraction length over the movement's: may end early or outlast it
SYNKINESIS_SHARE = (0.6, 1.0)  # per clip: share of the voluntary movements that carry a co-contraction
BLINK_SYNKINESIS_LAG_S = (0.0, 0.08)  # a mouth pull with a blink starts this long after the blink
BLINK_SYNKINESIS_EXTRA_S = (0.1, 0.3)  # ... and lasts this much longer than the blink
SYNKINESIS_DRIVERS = ("blink", "eye_closure", "brow_raise", "smile")  # movements that carry a co-contraction
EYE_CLOSURE_S = (0.6, 2.0)  # a prompted or held eye closure, both eyes
EYE_CLOSURE_CLOSURE = (0.9, 1.0)  # ... the lids meet or nearly
EYE_CLOSURE_CHEEK_IOD = 0.01  # squeezing the eyes shut lifts both cheeks a little
# Blepharospasm: bilateral, synchronous involuntary closure beyond normal blinking. Each clip draws a
# severity (0 mild .. 1 severe); a "(mild, severe)" pair is interpolated at it. Normal blink rates, for
# comparison (Bentivoglio et al. 1997, Mov Disord 12:1028): about 17/min at rest, 26/min talking, 4.5/min reading.
BLEPH_SEVERITY = (0.0, 1.0)  # drawn uniformly: a third of the clips are mild (severity below 1/3)
BLEPH_BLINK_RATE_PER_MIN = ((22.0, 30.0), (40.0, 60.0))  # all blinks, clusters too: over 17/min (rest) even if mild
BLEPH_BLINK_GAP_S = 0.3  # frequent blinks: the lids stay open at least this long between two
BLEPH_BLINK_ROUNDS = 8  # blinks are scattered over the free time in up to this many rounds (each retries the clashes)
BLEPH_CLUSTER_RATE_PER_MIN = (1.0, 8.0)  # blink clusters per minute, mild .. severe
BLEPH_CLUSTER_SIZE = (2, 5)  # blinks in one cluster
BLEPH_CLUSTER_SPAN_S = (1.0, 2.0)  # ... all within this long
BLEPH_CLUSTER_BLINK_SHARE = 0.8  # a cluster blink lasts at most this share of its period: the lids reopen between
BLEPH_FLUTTER_RATE_PER_MIN = (0.5, 3.0)  # eyelid flutter episodes per minute, mild .. severe
BLEPH_FLUTTER_S = (0.5, 2.0)  # one flutter episode
BLEPH_FLUTTER_HZ = (3.0, 8.0)  # its rapid partial closures, both lids beating in phase
BLEPH_FLUTTER_CLOSURE = (0.2, 0.5)  # share of the lid gap each beat closes
BLEPH_CLOSURE_RATE_PER_MIN = (3.0, 8.0)  # held involuntary closures per minute, mild .. severe (at least one a clip)
BLEPH_CLOSURE_S = (0.5, 5.0)  # one held closure, log-uniform up to the longest of the clip's severity ...
BLEPH_MILD_LONGEST_CLOSURE_S = 2.0  # ... which is this for the mildest case, BLEPH_CLOSURE_S[1] for the severest
BLEPH_CLOSURE_CLOSURE = (0.85, 1.0)  # a held closure shuts the eyes or nearly
BLEPH_SIDE_DIFFERENCE = 0.08  # both eyes close together: within this share of each other ...
BLEPH_ONSET_SPREAD_S = 0.03  # ... starting within this of each other
BLEPH_GAP_S = 0.4  # closures, flutters and clusters keep this clear of each other and of blinks: each stays countable
BLEPH_CLEAR_OF_KINDS = ("brow_raise", "smile", "eye_closure")  # voluntary eye and brow movements: kept clear of
MAX_CLOSURE = 0.97  # summed closures are capped: the lids never pass each other
MAX_WIDENING = 0.5  # a negative closure widens the eye (a palsied lid at rest); never beyond this share of the gap


@dataclass(frozen=True)
class MotionProfile:
    """How the face moves under one rendering model (a row of MOTION_PROFILES). Lengths in eye widths."""

    upper_lid_share: float  # a closing eye: the upper lid travels this share of the gap, the lower lid the rest
    lower_skin_reach: float  # skin below the lower lid follows it this far down
    cheek_radius: float  # a cheek lift spreads this far around the cheek points
    cheek_inward: float  # ... and moves the skin this much towards the nose for each unit up (bunching)
    mouth_up_share: float  # a mouth-corner pull's direction: this much up for each unit outward
    spasm_rise: tuple  # (share of its length, at most seconds) an involuntary contraction takes to rise
    spasm_fall: tuple  # ... and to relax


# One row per renderer: the same schedule moves the face differently under each.
MOTION_PROFILES = {
    # upper lid does most of the closing, cheek lifts straight up, corner pulls about 33 degrees
    # above outward, symmetric cosine ramps
    "mesh": MotionProfile(upper_lid_share=0.85, lower_skin_reach=0.4, cheek_radius=0.6, cheek_inward=0.0,
                          mouth_up_share=0.65, spasm_rise=(0.4, 0.3), spasm_fall=(0.6, 0.4)),
    # lids squeeze from both sides (the lower lid rises 40 % of the gap), the skin below the eye bunches
    # up and inward, the corner pulls mostly outward (about 17 degrees up), fast rise and slow relaxation
    "field": MotionProfile(upper_lid_share=0.6, lower_skin_reach=0.7, cheek_radius=0.45, cheek_inward=0.6,
                           mouth_up_share=0.3, spasm_rise=(0.15, 0.06), spasm_fall=(0.85, 0.7)),
}
RENDERERS = tuple(MOTION_PROFILES)
DEFAULT_RENDERER = "mesh"


def motion_profile(renderer: str) -> MotionProfile:
    """The row of MOTION_PROFILES for ``renderer``; ParameterError for an unknown name."""
    if renderer not in MOTION_PROFILES:
        raise ParameterError(f"renderer must be one of {', '.join(RENDERERS)}, got {renderer!r}")
    return MOTION_PROFILES[renderer]


@dataclass(frozen=True)
class Motion:
    """One channel moving: ramps to ``peak`` over ``rise_s``, holds, relaxes over ``fall_s``.

    ``wobble_hz`` > 0 modulates the held value (talking: the jaw opens and closes).
    """

    channel: str
    start_s: float
    end_s: float
    peak: float
    rise_s: float
    fall_s: float
    wobble_hz: float = 0.0

    def at(self, times_s: np.ndarray) -> np.ndarray:
        """(n,) channel value at ``times_s`` (seconds)."""
        t = np.asarray(times_s, dtype=np.float64)
        up = smooth_ramp((t - self.start_s) / max(self.rise_s, 1e-6))
        down = smooth_ramp((self.end_s - t) / max(self.fall_s, 1e-6))
        value = self.peak * np.minimum(up, down)
        if self.wobble_hz > 0:
            value = value * (0.5 - 0.5 * np.cos(2 * np.pi * self.wobble_hz * (t - self.start_s)))
        return value


def smooth_ramp(x: np.ndarray) -> np.ndarray:
    """0 for x <= 0, 1 for x >= 1, a cosine ramp between."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


@dataclass(frozen=True)
class SimEvent:
    """One true event. kind: blink, eye_closure, brow_raise, smile, talk, twitch, tonic_spasm,
    bilateral_closure (blepharospasm: both eyes held shut involuntarily, 0.5-5 s) or flutter
    (blepharospasm: rapid partial closures of both eyes, 3-8 Hz). side: "left", "right" (patient's) or
    "both". region: eye, mouth, brow or eye+mouth. amplitude: peak closure share for eye events, IOD
    for brow and mouth events. coupled_to: index of the voluntary event a synkinetic twitch rides on,
    -1 when none."""

    kind: str
    side: str
    region: str
    start_s: float
    end_s: float
    amplitude: float
    coupled_to: int = -1
    motions: tuple = field(default=(), compare=False)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "side": self.side, "region": self.region, "start_s": round(self.start_s, 4),
                "end_s": round(self.end_s, 4), "amplitude": round(self.amplitude, 4), "coupled_to": self.coupled_to}


@dataclass(frozen=True)
class Truth:
    """Ground truth of one simulated clip, as written beside it (``clip.json``)."""

    label: str
    side: str
    fps: float
    duration_s: float
    width: int
    height: int
    seed: int
    base: str
    base_events_known: bool
    events: tuple
    parameters: dict = field(default_factory=dict, hash=False)  # the clip's drawn rates and shares (clip_parameters)
    renderer: str = DEFAULT_RENDERER  # the rendering model (a key of MOTION_PROFILES)

    def to_json(self) -> dict:
        data = {"spasmscan_truth": TRUTH_VERSION}
        data.update({k: v for k, v in asdict(self).items() if k != "events"})
        data["events"] = [e.to_dict() for e in self.events]
        return data


def truth_path(video_path: str | os.PathLike) -> str:
    """The truth file beside a video: ``clip.mp4`` -> ``clip.json``."""
    return os.path.splitext(os.fspath(video_path))[0] + ".json"


def write_truth(truth: Truth, path: str | os.PathLike) -> None:
    """Write ``truth`` as JSON: the clip's fields, then one event a line."""
    data = truth.to_json()
    events = data.pop("events")
    head = json.dumps(data, indent=1)[:-2]
    lines = ",\n  ".join(json.dumps(e) for e in events)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f'{head},\n "events": [\n  {lines}\n ]\n}}\n' if events else f'{head},\n "events": []\n}}\n')


def read_truth(path: str | os.PathLike) -> Truth:
    """Load a truth file; raises InputNotFoundError or ParameterError when missing or malformed."""
    if not os.path.exists(path):
        raise InputNotFoundError(f"{path}: no such truth file")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("spasmscan_truth") not in READABLE_TRUTH_VERSIONS:
            raise ParameterError(f"{path}: not a spasmscan truth file (no \"spasmscan_truth\": {TRUTH_VERSION})")
        events = tuple(SimEvent(kind=e["kind"], side=e["side"], region=e["region"], start_s=float(e["start_s"]),
                                end_s=float(e["end_s"]), amplitude=float(e["amplitude"]),
                                coupled_to=int(e.get("coupled_to", -1))) for e in data["events"])
        return Truth(label=data["label"], side=data["side"], fps=float(data["fps"]),
                     duration_s=float(data["duration_s"]), width=int(data["width"]), height=int(data["height"]),
                     seed=int(data["seed"]), base=str(data["base"]),
                     base_events_known=bool(data["base_events_known"]), events=events,
                     parameters=dict(data.get("parameters", {})), renderer=str(data.get("renderer", DEFAULT_RENDERER)))
    except (ValueError, KeyError, TypeError) as error:
        if isinstance(error, ParameterError):
            raise
        raise ParameterError(f"{path}: malformed truth file ({type(error).__name__}: {error})") from None


# -- schedules ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleOptions:
    """What kind of clip to schedule. Rates per minute; None picks one at random in the stated range."""

    hard_negative: bool = False  # asymmetric blinks, squinting smiles, many brow raises
    twitch_rate_per_min: float | None = None  # primary HFS spasm episodes per minute
    spread_to_mouth: bool | None = None  # primary HFS: spasms also pull the mouth corner
    blink_rate_per_min: float | None = None
    voluntary_movements: bool = True  # brow raises, smiles, eye closures and talking besides the blinks
    severity: float | None = None  # blepharospasm: 0 (mild) to 1 (severe)
    blocked_s: tuple = ()  # (start, end) spans where no event may fall (e.g. the face leaves a base video)


def make_schedule(label: str, side: str, duration_s: float, *, seed: int,
                  options: ScheduleOptions = ScheduleOptions(), renderer: str = DEFAULT_RENDERER) -> list[SimEvent]:
    """Events of a clip of ``duration_s`` seconds, sorted by onset, with ``coupled_to`` resolved.

    label: one of LABELS. side: the affected side (left/right; none for "none"; both for blepharospasm
    and bilateral_hfs). renderer: whose motion profile shapes the involuntary contractions' ramps (same
    times and sizes).
    """
    profile = motion_profile(renderer)
    check_label_side(label, side)
    if label in PALSY_LABELS:
        raise ParameterError(f"a {label} clip follows an examination's steps: schedule it with exam_schedule")
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ParameterError(f"duration must be a positive number of seconds, got {duration_s}")
    drawn = clip_parameters(label, seed=seed, options=options)
    rng = np.random.default_rng(seed)
    timeline = _Timeline(LEAD_IN_S, duration_s - TAIL_S, options.blocked_s)
    voluntary = _voluntary_movements(rng, timeline, label, options)
    involuntary: list[tuple[SimEvent, int]] = []  # (event, index into voluntary or -1)
    if label == "blepharospasm":  # its own blinks too
        involuntary = [(e, -1) for e in _blepharospasm(rng, timeline, drawn, voluntary, profile)]
    else:
        voluntary += _blinks(rng, timeline, drawn["blink_rate_per_min"], options.hard_negative)
    if label == "primary_hfs":
        involuntary = [(e, -1) for e in _spasm_episodes(rng, timeline, side, voluntary,
                                                        rate_per_min=drawn["twitch_rate_per_min"],
                                                        spread=drawn["spread_to_mouth"], profile=profile)]
    elif label == "bilateral_hfs":  # each side its own rate, spread and timing: two asynchronous trains
        for s in regions.SIDES:
            involuntary += [(e, -1) for e in _spasm_episodes(rng, timeline, s, voluntary,
                                                             rate_per_min=drawn[f"twitch_rate_per_min_{s}"],
                                                             spread=drawn[f"spread_to_mouth_{s}"], profile=profile,
                                                             lane=f"spasm_{s}")]
    elif label == "synkinesis":
        drivers = [i for i, v in enumerate(voluntary) if v.kind in SYNKINESIS_DRIVERS]
        count = min(len(drivers), max(1, round(drawn["synkinesis_share"] * len(drivers))))
        chosen = sorted(int(i) for i in rng.choice(drivers, size=count, replace=False)) if drivers else []
        involuntary = [(_synkinetic(rng, voluntary[i], side, timeline, profile), i) for i in chosen]
    order = sorted(range(len(voluntary)), key=lambda i: voluntary[i].start_s)
    rows = [(voluntary[i], None) for i in order] + [(e, i) for e, i in involuntary]
    rows.sort(key=lambda row: row[0].start_s)
    position = {id(event): k for k, (event, _) in enumerate(rows)}
    events = []
    for event, parent in rows:
        if parent is not None and parent >= 0:
            event = replace(event, coupled_to=position[id(voluntary[parent])])
        events.append(event)
    logger.debug("schedule %s/%s: %d events", label, side, len(events))
    return events


def clip_parameters(label: str, *, seed: int, options: ScheduleOptions = ScheduleOptions()) -> dict:
    """The clip-wide draws of a schedule, from their own random stream of ``seed`` (what the truth
    file states under "parameters"): blink_rate_per_min; for primary HFS twitch_rate_per_min
    (log-uniform in TWITCH_RATE_PER_MIN) and spread_to_mouth; for bilateral HFS the same per side
    (twitch_rate_per_min_left, ..., spread_to_mouth_right), drawn independently; for synkinesis
    synkinesis_share; for blepharospasm severity (0 mild .. 1 severe), the blink rate of that
    severity and the rates (per minute) of held closures, flutters and blink clusters, and the
    longest held closure (s). Values set in ``options`` are taken as given (a stated twitch rate
    or spread holds for both sides)."""
    rng = np.random.default_rng([seed, 2])
    blink, rate, spread, share = (_u(rng, BLINK_RATE_PER_MIN), float(np.exp(_u(rng, np.log(TWITCH_RATE_PER_MIN)))),
                                  bool(rng.random() < 0.5), _u(rng, SYNKINESIS_SHARE))
    # drawn after the draws above, so that those (and every earlier clip) stay as they were
    severity, blink_share = _u(rng, BLEPH_SEVERITY), float(rng.random())
    other_rate, other_spread = float(np.exp(_u(rng, np.log(TWITCH_RATE_PER_MIN)))), bool(rng.random() < 0.5)
    if label == "blepharospasm":
        severity = _stated_severity(options.severity) if options.severity is not None else severity
        low, high = _at_severity(BLEPH_BLINK_RATE_PER_MIN, severity)
        blink = low + blink_share * (high - low)
    blink = options.blink_rate_per_min or blink
    if label == "synkinesis":
        blink = max(blink, 12.0)  # enough blinks to show the time-locking
    drawn = {"blink_rate_per_min": round(blink, 4)}
    trains = {"primary_hfs": {"": (rate, spread)},  # key suffix -> one spasm train's rate and spread
              "bilateral_hfs": {"_left": (rate, spread), "_right": (other_rate, other_spread)}}
    for suffix, (train_rate, train_spread) in trains.get(label, {}).items():
        drawn[f"twitch_rate_per_min{suffix}"] = round(_stated_rate(options.twitch_rate_per_min or train_rate), 4)
        drawn[f"spread_to_mouth{suffix}"] = train_spread if options.spread_to_mouth is None else options.spread_to_mouth
    if label == "synkinesis":
        drawn["synkinesis_share"] = round(share, 4)
    elif label == "blepharospasm":
        drawn.update(severity=round(severity, 4),
                     closure_rate_per_min=round(_at_severity(BLEPH_CLOSURE_RATE_PER_MIN, severity), 4),
                     longest_closure_s=round(_at_severity((BLEPH_MILD_LONGEST_CLOSURE_S, BLEPH_CLOSURE_S[1]),
                                                          severity), 4),
                     flutter_rate_per_min=round(_at_severity(BLEPH_FLUTTER_RATE_PER_MIN, severity), 4),
                     cluster_rate_per_min=round(_at_severity(BLEPH_CLUSTER_RATE_PER_MIN, severity), 4))
    return drawn


def _stated_rate(rate: float) -> float:
    if not (TWITCH_RATE_PER_MIN[0] <= rate <= MAX_TWITCH_RATE_PER_MIN):
        raise ParameterError(f"twitch rate must be {TWITCH_RATE_PER_MIN[0]}-{MAX_TWITCH_RATE_PER_MIN:g} "
                             f"per minute, got {rate}")
    return rate


def _stated_severity(severity: float) -> float:
    if not (BLEPH_SEVERITY[0] <= severity <= BLEPH_SEVERITY[1]):
        raise ParameterError(f"severity must be {BLEPH_SEVERITY[0]:g} (mild) to {BLEPH_SEVERITY[1]:g} (severe), "
                             f"got {severity}")
    return float(severity)


def _at_severity(mild_severe, severity: float):
    """A (mild, severe) pair of numbers, or of (low, high) ranges, interpolated at ``severity`` (0-1)."""
    mild, severe = (np.asarray(v, dtype=np.float64) for v in mild_severe)
    value = mild + severity * (severe - mild)
    return tuple(float(v) for v in value) if value.ndim else float(value)


def check_label_side(label: str, side: str) -> None:
    """ParameterError unless ``label`` is one of LABELS and ``side`` one of its LABEL_SIDES, or
    ``label`` one of PALSY_LABELS and ``side`` the weak side (left or right)."""
    if label in PALSY_LABELS:
        if side not in regions.SIDES:
            raise ParameterError(f"label {label!r} needs the weak side 'left' or 'right', got {side!r}")
        return
    if label not in LABELS:
        raise ParameterError(f"label must be one of {', '.join(LABELS + PALSY_LABELS)}, got {label!r}")
    if side in LABEL_SIDES[label]:
        return
    if label == "none":
        raise ParameterError("a clip labelled 'none' has no affected side: use side 'none'")
    if LABEL_SIDES[label] == ("both",):
        raise ParameterError(f"label {label!r} affects both sides: use side 'both', got {side!r}")
    raise ParameterError(f"label {label!r} needs the affected side 'left' or 'right', got {side!r}")


class _Timeline:
    """Free time for events: [first_s, last_s] minus blocked spans and already placed events."""

    def __init__(self, first_s: float, last_s: float, blocked_s=()):
        self.first_s, self.last_s = first_s, last_s
        self.blocked = [(float(a), float(b)) for a, b in blocked_s]
        self.taken: dict[str, list] = {}

    def free(self, start_s: float, end_s: float, *, lane: str, gap_s: float = 0.0, clear_of: tuple = ()) -> bool:
        """Whether [start_s, end_s] is in the clip, ``gap_s`` clear of blocked spans and of ``lane``'s
        events, and clear of the further lanes of ``clear_of`` ((lane, gap_s) pairs)."""
        if start_s < self.first_s or end_s > self.last_s:
            return False
        for name, gap in ((lane, gap_s),) + tuple(clear_of):
            if not all(end_s + gap <= a or start_s - gap >= b for a, b in self.blocked + self.taken.get(name, [])):
                return False
        return True

    def free_spans(self, *, lanes: tuple) -> list[tuple[float, float]]:
        """(start, end) stretches of [first_s, last_s] clear of blocked spans and of every lane of
        ``lanes`` ((lane, gap_s) pairs) by its gap."""
        busy = sorted(self.blocked + [(a - gap, b + gap) for name, gap in lanes for a, b in self.taken.get(name, [])])
        spans, t = [], self.first_s
        for a, b in busy:
            if a > t:
                spans.append((t, min(a, self.last_s)))
            t = max(t, b)
        if t < self.last_s:
            spans.append((t, self.last_s))
        return [(a, b) for a, b in spans if b > a]

    def take(self, start_s: float, end_s: float, *, lane: str) -> None:
        self.taken.setdefault(lane, []).append((start_s, end_s))

    def place(self, rng, length_s: float, *, lane: str, gap_s: float = 0.0, tries: int = 50,
              clear_of: tuple = ()) -> float | None:
        """A random free onset for an event of ``length_s`` in ``lane``, or None. ``clear_of``: (lane,
        gap_s) pairs of further lanes the event must keep clear of."""
        for _ in range(tries):
            start = rng.uniform(self.first_s, max(self.first_s, self.last_s - length_s))
            if self.free(start, start + length_s, lane=lane, gap_s=gap_s, clear_of=clear_of):
                self.take(start, start + length_s, lane=lane)
                return float(start)
        return None


def _u(rng, bounds) -> float:
    return float(rng.uniform(*bounds))


def _voluntary_movements(rng, timeline: _Timeline, label: str, options: ScheduleOptions) -> list[SimEvent]:
    """Brow raises, smiles, eye closures and talking, when wanted."""
    events = []
    usable_s = max(timeline.last_s - timeline.first_s, 0.0)
    if options.voluntary_movements:
        minutes = usable_s / 60.0
        extra = 1 if options.hard_negative else 0
        counts = {"brow_raise": rng.poisson(max(4.0 * minutes, 0.5)) + extra,
                  "smile": rng.poisson(max(3.0 * minutes, 0.5)) + extra,
                  "eye_closure": rng.poisson(max(1.5 * minutes, 0.3)) + extra,
                  "talk": rng.poisson(max(2.0 * minutes, 0.3)) if not options.hard_negative else 0}
        if label == "synkinesis":  # the coupling must be shown: at least one raise and one smile
            counts["brow_raise"] = max(counts["brow_raise"], 1)
            counts["smile"] = max(counts["smile"], 1)
        for kind, count in counts.items():
            for _ in range(int(count)):
                event = _make_voluntary(rng, timeline, kind, options)
                if event is not None:
                    events.append(event)
    return events


def _blinks(rng, timeline: _Timeline, rate: float, hard_negative: bool) -> list[SimEvent]:
    """Blinks at ``rate`` per minute, in the time the other movements leave free."""
    events = []
    t = timeline.first_s + rng.exponential(60.0 / rate) * 0.5
    length = _u(rng, BLINK_S)
    while t + length < timeline.last_s:
        if not (timeline.free(t, t + length, lane="blink", gap_s=MIN_BLINK_GAP_S)
                and timeline.free(t, t + length, lane="voluntary", gap_s=BLINK_CLEARANCE_S)):
            t += BLINK_CLEARANCE_S  # postponed until the other movement is over
            continue
        timeline.take(t, t + length, lane="blink")
        events.append(_blink(rng, t, length, hard_negative))
        t += max(MIN_BLINK_GAP_S + length, rng.gamma(4.0, 60.0 / rate / 4.0))
        length = _u(rng, BLINK_S)
    return events


def _make_voluntary(rng, timeline: _Timeline, kind: str, options: ScheduleOptions) -> SimEvent | None:
    length = _u(rng, {"brow_raise": BROW_RAISE_S, "smile": SMILE_S, "eye_closure": EYE_CLOSURE_S, "talk": TALK_S}[kind])
    start = timeline.place(rng, length, lane="voluntary", gap_s=0.5)
    if start is None:
        return None
    if kind == "brow_raise":
        lift = _u(rng, BROW_RAISE_IOD)
        ramp = min(0.25, length / 3)
        motions = tuple(Motion(f"brow_{s}", start, start + length, lift * _u(rng, (0.9, 1.1)), ramp, ramp * 1.3)
                        for s in regions.SIDES)
        return SimEvent("brow_raise", "both", "brow", start, start + length, lift, motions=motions)
    if kind == "smile":
        pull = _u(rng, SMILE_PULL_IOD)
        narrowing = _u(rng, HARD_NEGATIVE_SMILE_NARROWING if options.hard_negative else SMILE_EYE_NARROWING)
        ramp = min(0.35, length / 3)
        motions = []
        for s in regions.SIDES:
            motions += [Motion(f"mouth_{s}", start, start + length, pull * _u(rng, (0.9, 1.1)), ramp, ramp),
                        Motion(f"eye_close_{s}", start, start + length, narrowing * _u(rng, (0.85, 1.15)), ramp, ramp),
                        Motion(f"cheek_{s}", start, start + length, 0.4 * pull, ramp, ramp)]
        return SimEvent("smile", "both", "mouth", start, start + length, pull, motions=tuple(motions))
    if kind == "eye_closure":
        closure = _u(rng, EYE_CLOSURE_CLOSURE)
        scale = _eye_scales(rng, options.hard_negative)
        rise, fall = min(0.15, length / 4), min(0.25, length / 3)
        motions = []
        for s in regions.SIDES:
            motions += [Motion(f"eye_close_{s}", start, start + length, closure * scale[s], rise, fall),
                        Motion(f"cheek_{s}", start, start + length, EYE_CLOSURE_CHEEK_IOD, rise, fall)]
        return SimEvent("eye_closure", "both", "eye", start, start + length, closure, motions=tuple(motions))
    jaw = _u(rng, TALK_JAW_IOD)
    hz = _u(rng, TALK_HZ)
    motions = (Motion("jaw", start, start + length, jaw, 0.15, 0.15, wobble_hz=hz),)
    motions += tuple(Motion(f"mouth_{s}", start, start + length, 0.15 * jaw, 0.15, 0.15, wobble_hz=hz * 0.5)
                     for s in regions.SIDES)
    return SimEvent("talk", "both", "mouth", start, start + length, jaw, motions=motions)


def _blink(rng, start: float, length: float, hard_negative: bool) -> SimEvent:
    """A bilateral blink: fast close (~35%), short hold, slower reopening; sides differ a little."""
    closure = _u(rng, BLINK_CLOSURE)
    scale = _eye_scales(rng, hard_negative)
    rise, fall = 0.35 * length, 0.55 * length
    motions = tuple(Motion(f"eye_close_{s}", start + _u(rng, (0.0, 0.01)), start + length,
                           closure * scale[s], rise, fall) for s in regions.SIDES)
    return SimEvent("blink", "both", "eye", start, start + length, closure, motions=motions)


def _eye_scales(rng, hard_negative: bool) -> dict[str, float]:
    """Side -> share of a bilateral closure that eye makes: nearly even, one eye clearly weaker in
    hard negatives."""
    scale = {s: 1.0 - _u(rng, (0.0, BLINK_SIDE_DIFFERENCE)) for s in regions.SIDES}
    if hard_negative:
        weaker = str(rng.choice(regions.SIDES))
        scale[weaker] = scale[regions.mirror_side(weaker)] * (1.0 - _u(rng, HARD_NEGATIVE_WEAKER_EYE))
    return scale


def _ramps(length_s: float, profile: MotionProfile) -> tuple[float, float]:
    """Rise and fall (seconds) of an involuntary contraction lasting ``length_s``."""
    return (min(profile.spasm_rise[0] * length_s, profile.spasm_rise[1]),
            min(profile.spasm_fall[0] * length_s, profile.spasm_fall[1]))


def _twitch(rng, start: float, length: float, side: str, *, closure: float, mouth: bool, profile: MotionProfile,
            kind: str = "twitch") -> SimEvent:
    """A one-sided orbicularis oculi contraction: partial closure, cheek up, brow down (+ mouth corner)."""
    rise, fall = _ramps(length, profile)
    motions = [Motion(f"eye_close_{side}", start, start + length, closure, rise, fall),
               *_squeeze(rng, side, start, start + length, closure, rise, fall)]
    if mouth:
        motions.append(Motion(f"mouth_{side}", start, start + length, _u(rng, SPASM_MOUTH_PULL_IOD), rise, fall))
    return SimEvent(kind, side, "eye+mouth" if mouth else "eye", start, start + length, closure,
                    motions=tuple(motions))


def _squeeze(rng, side: str, start: float, end: float, closure: float, rise: float, fall: float) -> list[Motion]:
    """The cheek lift and brow pull-down on ``side`` that go with an orbicularis oculi closure of ``closure``."""
    return [Motion(f"cheek_{side}", start, end, _u(rng, CHEEK_LIFT_IOD) * closure, rise, fall),
            Motion(f"brow_{side}", start, end, -_u(rng, BROW_PULL_DOWN_IOD) * closure, rise, fall)]


def _bilateral_closure(rng, kind: str, start: float, length: float, closure: float, profile: MotionProfile, *,
                       beat_hz: float = 0.0) -> SimEvent:
    """Both eyes closing together by about ``closure`` (each within BLEPH_SIDE_DIFFERENCE of it, onsets
    within BLEPH_ONSET_SPREAD_S; with ``beat_hz`` > 0 the lids beat at that rate, in phase), both
    cheeks lifted and both brows pulled down a little."""
    rise, fall = _ramps(length, profile)
    end = start + length
    motions = []
    for side in regions.SIDES:
        onset = start if beat_hz > 0 else start + _u(rng, (0.0, BLEPH_ONSET_SPREAD_S))
        peak = closure * (1.0 - _u(rng, (0.0, BLEPH_SIDE_DIFFERENCE)))
        motions += [Motion(f"eye_close_{side}", onset, end, peak, rise, fall, wobble_hz=beat_hz),
                    *_squeeze(rng, side, start, end, closure, rise, fall)]
    return SimEvent(kind, "both", "eye", start, end, closure, motions=tuple(motions))


def _blepharospasm(rng, timeline: _Timeline, drawn: dict, voluntary: list[SimEvent],
                   profile: MotionProfile) -> list[SimEvent]:
    """Blepharospasm at the rates of ``drawn`` (clip_parameters): held bilateral closures (at least
    one), flutters and blink clusters at random times, BLEPH_GAP_S clear of each other, then blinks
    scattered over the time left until all blinks make the drawn blink rate (fewer where too little
    time is left). All keep clear of the voluntary movements of BLEPH_CLEAR_OF_KINDS."""
    for event in voluntary:
        if event.kind in BLEPH_CLEAR_OF_KINDS:
            timeline.take(event.start_s, event.end_s, lane="upper_face")
    clear_of = (("upper_face", BLINK_CLEARANCE_S),)
    lanes = dict(lane="blink", gap_s=BLEPH_GAP_S, clear_of=clear_of)
    minutes = max(timeline.last_s - timeline.first_s, 0.0) / 60.0
    events = []
    longest = (BLEPH_CLOSURE_S[0], drawn["longest_closure_s"])
    for _ in range(max(1, int(rng.poisson(drawn["closure_rate_per_min"] * minutes)))):
        length = float(np.exp(_u(rng, np.log(longest))))
        start = timeline.place(rng, length, **lanes)
        if start is not None:
            events.append(_bilateral_closure(rng, "bilateral_closure", start, length,
                                             _u(rng, BLEPH_CLOSURE_CLOSURE), profile))
    for _ in range(int(rng.poisson(drawn["flutter_rate_per_min"] * minutes))):
        length = _u(rng, BLEPH_FLUTTER_S)
        start = timeline.place(rng, length, **lanes)
        if start is not None:
            events.append(_bilateral_closure(rng, "flutter", start, length, _u(rng, BLEPH_FLUTTER_CLOSURE), profile,
                                             beat_hz=_u(rng, BLEPH_FLUTTER_HZ)))
    for _ in range(int(rng.poisson(drawn["cluster_rate_per_min"] * minutes))):
        count = int(rng.integers(BLEPH_CLUSTER_SIZE[0], BLEPH_CLUSTER_SIZE[1] + 1))
        span = _u(rng, BLEPH_CLUSTER_SPAN_S)
        period = span / count
        start = timeline.place(rng, span, **lanes)
        if start is not None:
            events += [_blink(rng, start + k * period, min(_u(rng, BLINK_S), BLEPH_CLUSTER_BLINK_SHARE * period),
                              hard_negative=False) for k in range(count)]
    wanted = round(drawn["blink_rate_per_min"] * minutes) - sum(e.kind == "blink" for e in events)
    return events + _scattered_blinks(rng, timeline, wanted, clear_of=clear_of)


def _scattered_blinks(rng, timeline: _Timeline, count: int, *, clear_of: tuple) -> list[SimEvent]:
    """Up to ``count`` blinks at random onsets over the time the blink lane (BLEPH_BLINK_GAP_S apart) and
    the lanes of ``clear_of`` leave free; onsets that clash are drawn again, BLEPH_BLINK_ROUNDS times at most."""
    events = []
    for _ in range(BLEPH_BLINK_ROUNDS):
        missing = count - len(events)
        spans = timeline.free_spans(lanes=(("blink", BLEPH_BLINK_GAP_S),) + clear_of)
        if missing <= 0 or not spans:
            break
        lengths = np.array([b - a for a, b in spans])
        ends = np.cumsum(lengths)
        for offset in np.sort(rng.uniform(0.0, ends[-1], missing)):  # uniform over the free time
            k = min(int(np.searchsorted(ends, offset, side="right")), len(spans) - 1)
            start, length = spans[k][0] + offset - (ends[k] - lengths[k]), _u(rng, BLINK_S)
            if timeline.free(start, start + length, lane="blink", gap_s=BLEPH_BLINK_GAP_S, clear_of=clear_of):
                timeline.take(start, start + length, lane="blink")
                events.append(_blink(rng, start, length, hard_negative=False))
    return events


def _spasm_episodes(rng, timeline: _Timeline, side: str, voluntary: list[SimEvent], *, rate_per_min: float,
                    spread: bool, profile: MotionProfile, lane: str = "spasm") -> list[SimEvent]:
    """Primary HFS: single twitches, bursts and tonic spasms at random times (independent of voluntary
    movements); about one episode in ten rides on a blink (that eye closes harder and longer). A clip
    with a single episode (low rates, short clips) gets a burst or a tonic spasm. Episodes keep clear
    of each other in ``lane`` of the timeline."""
    usable_s = max(timeline.last_s - timeline.first_s, 0.0)
    count = max(1, int(rng.poisson(rate_per_min * usable_s / 60.0)))
    blinks = [e for e in voluntary if e.kind == "blink"]
    events: list[SimEvent] = []
    for _ in range(count):
        mouth = spread and rng.random() < 0.7
        if count == 1:
            shape = rng.choice(["burst", "tonic"], p=[0.7, 0.3])
        else:
            shape = rng.choice(["single", "burst", "tonic"], p=[0.4, 0.4, 0.2])
        if count > 1 and blinks and rng.random() < 0.1:  # rides on a blink: same onset, harder and longer closure
            blink = blinks[int(rng.integers(len(blinks)))]
            start, length = blink.start_s + 0.02, blink.end_s - blink.start_s + _u(rng, (0.15, 0.3))
            if timeline.free(start, start + length, lane=lane, gap_s=0.3):
                timeline.take(start, start + length, lane=lane)
                events.append(_twitch(rng, start, length, side, closure=_u(rng, TWITCH_CLOSURE), mouth=mouth,
                                      profile=profile))
            continue
        if shape == "tonic":
            length = _u(rng, TONIC_S)
            start = timeline.place(rng, length + 0.6, lane=lane, gap_s=0.4)
            if start is not None:
                events.append(_twitch(rng, start, length, side, closure=_u(rng, TONIC_CLOSURE), mouth=mouth,
                                      profile=profile, kind="tonic_spasm"))
            continue
        n = 1 if shape == "single" else int(rng.integers(BURST_SIZE[0], BURST_SIZE[1] + 1))
        period = 1.0 / _u(rng, BURST_HZ)
        lengths = [min(_u(rng, TWITCH_S), 0.75 * period) for _ in range(n)]
        total = period * (n - 1) + lengths[-1]
        start = timeline.place(rng, total, lane=lane, gap_s=0.4)
        if start is None:
            continue
        for k in range(n):
            onset = start + k * period + _u(rng, (-0.1, 0.1)) * period * (k > 0)
            events.append(_twitch(rng, onset, max(lengths[k], 0.05), side, closure=_u(rng, TWITCH_CLOSURE),
                                  mouth=mouth, profile=profile))
    return events


def _synkinetic(rng, voluntary: SimEvent, side: str, timeline: _Timeline, profile: MotionProfile) -> SimEvent:
    """The affected side's mouth corner (and, with brow raises and smiles, its eye) co-contracting
    with a voluntary movement: onset SYNKINESIS_LAG_S after it, lasting SYNKINESIS_LENGTH_SHARE of
    it (with a blink: BLINK_SYNKINESIS_LAG_S after, BLINK_SYNKINESIS_EXTRA_S longer); kept in the clip."""
    length = voluntary.end_s - voluntary.start_s
    if voluntary.kind == "blink":
        lag, length = _u(rng, BLINK_SYNKINESIS_LAG_S), length + _u(rng, BLINK_SYNKINESIS_EXTRA_S)
    else:
        lag, length = _u(rng, SYNKINESIS_LAG_S), length * _u(rng, SYNKINESIS_LENGTH_SHARE)
    start = max(voluntary.start_s + lag, timeline.first_s)
    end = min(start + max(length, 0.2), timeline.last_s)
    rise, fall = _ramps(end - start, profile)
    pull = _u(rng, SYNKINESIS_MOUTH_IOD)
    motions = [Motion(f"mouth_{side}", start, end, pull, rise, fall)]
    region, amplitude = "mouth", pull
    if voluntary.kind in ("brow_raise", "smile"):  # blinks and eye closures shut the eye already
        narrowing = _u(rng, SYNKINESIS_EYE_NARROWING)
        motions += [Motion(f"eye_close_{side}", start, end, narrowing, rise, fall),
                    Motion(f"cheek_{side}", start, end, 0.02, rise, fall)]
        region, amplitude = "eye+mouth", narrowing
    return SimEvent("twitch", side, region, start, end, amplitude, motions=tuple(motions))


def channel_values(events, times_s: np.ndarray) -> dict[str, np.ndarray]:
    """Channel name -> (n,) value at ``times_s`` (seconds), summed over every event's motions."""
    times_s = np.asarray(times_s, dtype=np.float64)
    values = {name: np.zeros(times_s.shape) for name in CHANNELS}
    for event in events:
        for motion in event.motions:
            values[motion.channel] += motion.at(times_s)
    for side in regions.SIDES:
        values[f"eye_close_{side}"] = np.clip(values[f"eye_close_{side}"], -MAX_WIDENING, MAX_CLOSURE)
    return values


# -- facial palsy examinations ---------------------------------------------------------------------

PALSY_LABELS = ("palsy", "palsy_synkinesis")  # one side's voluntary movement reduced; with synkinesis too
EXAM_REPETITIONS = 3  # each step repeats its movement this often, evenly spread over the step
EXAM_HOLD_SHARE = (0.35, 0.5)  # each repetition lasts this share of its slot (the rest: relaxed between)
EXAM_RAMP_S = 0.3  # ... rising and relaxing over this long (a deliberate, not a sudden, movement)
EXAM_REPETITION_JITTER = 0.05  # each repetition's size varies by up to this share (people do not repeat exactly)
# Full (healthy side) movement of each step: channel -> peak (eye closure: share of the lid gap; others IOD).
EXAM_MOVES = {
    "eye_closure": {"eye_close": 0.95, "cheek": EYE_CLOSURE_CHEEK_IOD},
    "brow_raises": {"brow": 0.08},
    "smiles": {"mouth": 0.09, "cheek": 0.035},
    "snarl": {"lip": 0.05, "cheek": 0.015},
    "pucker": {"pucker": 0.06},
    "cheek_puff": {"puff": 0.06},
}
EXAM_BILATERAL = {"smiles": {"jaw": 0.05}}  # movements of the face's middle, unaffected by a one-sided palsy
EXAM_SMILE_NARROWING = 0.08  # a smile narrows both eyes a little, on a palsied face too (the healthy side leads)
# Resting asymmetry of the weak side at a share of 0 (it shrinks in proportion as the share grows):
PALSY_WIDER_EYE = 0.35  # the lid gap widens by this share (a weak orbicularis oculi lets the lid retract)
PALSY_BROW_DROP_IOD = 0.04  # the brow sags by this much (a weak frontalis)
PALSY_CORNER_DROP_IOD = 0.035  # the mouth corner droops down and in by this much
PALSY_CHEEK_DROP_IOD = 0.02  # the cheek sags: a flatter nasolabial fold
# Synkinesis on the weak side (palsy_synkinesis): with every repetition of a step, the regions it
# should not move co-contract.
EXAM_SYNKINESIS_EYE = 0.3  # eye narrowing (share of the lid gap) with brow raises, smiles, snarls, puckers, puffs
EXAM_SYNKINESIS_MOUTH_IOD = 0.05  # mouth-corner pull with eye closures and brow raises


def exam_schedule(label: str, side: str, segments, *, share: float, seed: int) -> tuple[list[SimEvent], dict]:
    """Events of a facial palsy examination following ``segments`` (spasmscan.protocol.Segment:
    rest or a step of ``EXAM_MOVES``), and the truth's parameters.

    label: a PALSY_LABELS entry; side: the weak side; share: its voluntary movement as a share of
    the healthy side's (0-1). Every step repeats its movement EXAM_REPETITIONS times. The weak side
    rests asymmetric (wider eye, lower brow, corner and cheek, in proportion to 1 - share); with
    synkinesis its eye narrows (or, with eye closures and brow raises, its mouth corner pulls) with
    every repetition. parameters: palsy_share, synkinesis, and per step its true share (the weak
    side's excursion over the healthy side's, as measured from rest), the remaining opening of the
    weak eye's closure and the co-contraction sizes.
    """
    if label not in PALSY_LABELS or side not in regions.SIDES:
        raise ParameterError(f"an examination needs a label of {', '.join(PALSY_LABELS)} and the weak side left "
                             f"or right, got {label!r}, {side!r}")
    if not (math.isfinite(share) and 0.0 <= share <= 1.0):
        raise ParameterError(f"palsy share must be from 0 to 1 (0-100 %), got {share}")
    unknown = sorted({s.name for s in segments} - set(EXAM_MOVES) - {"rest"})
    if unknown:
        raise ParameterError(f"the examination's steps must be rest or {', '.join(EXAM_MOVES)}; got {unknown}")
    rng = np.random.default_rng([seed, 3])
    synkinesis = label == "palsy_synkinesis"
    healthy = regions.mirror_side(side)
    end = max(s.end_s for s in segments)
    slack = 1.0 - share
    widening = PALSY_WIDER_EYE * slack
    resting = [Motion(f"{channel}_{side}", -1.0, end + 1.0, -size * slack, 1e-3, 1e-3)
               for channel, size in (("eye_close", PALSY_WIDER_EYE), ("brow", PALSY_BROW_DROP_IOD),
                                     ("mouth", PALSY_CORNER_DROP_IOD), ("cheek", PALSY_CHEEK_DROP_IOD))]
    events = [SimEvent("palsy_rest", side, "face", 0.0, end, share, motions=tuple(resting))]
    steps = []
    for segment in segments:
        if segment.name == "rest":
            continue
        slot = (segment.end_s - segment.start_s) / EXAM_REPETITIONS
        sizes = {healthy: [], side: []}
        co = {"eye": 0.0, "mouth": 0.0}
        for k in range(EXAM_REPETITIONS):
            length = slot * _u(rng, EXAM_HOLD_SHARE)
            start = segment.start_s + k * slot + (slot - length) * _u(rng, (0.3, 0.7))
            ramp = min(EXAM_RAMP_S, length / 3)
            motions, scale = [], {}
            for s in regions.SIDES:
                scale[s] = (share if s == side else 1.0) * _u(rng, (1 - EXAM_REPETITION_JITTER,
                                                                    1 + EXAM_REPETITION_JITTER))
                sizes[s].append(scale[s])
                motions += [Motion(f"{channel}_{s}", start, start + length, peak * scale[s], ramp, ramp)
                            for channel, peak in EXAM_MOVES[segment.name].items()]
                if segment.name == "smiles":
                    motions.append(Motion(f"eye_close_{s}", start, start + length, EXAM_SMILE_NARROWING, ramp, ramp))
            motions += [Motion(channel, start, start + length, peak, ramp, ramp)
                        for channel, peak in EXAM_BILATERAL.get(segment.name, {}).items()]
            events.append(SimEvent(segment.name, "both", "face", start, start + length, share, motions=tuple(motions)))
            if synkinesis:
                parent = len(events) - 1
                if segment.name in ("eye_closure", "brow_raises"):
                    co["mouth"] = EXAM_SYNKINESIS_MOUTH_IOD
                    pull = Motion(f"mouth_{side}", start, start + length, co["mouth"], ramp, ramp)
                    events.append(SimEvent("twitch", side, "mouth", start, start + length, co["mouth"],
                                           coupled_to=parent, motions=(pull,)))
                if segment.name != "eye_closure":
                    co["eye"] = EXAM_SYNKINESIS_EYE
                    narrowing = Motion(f"eye_close_{side}", start, start + length, co["eye"], ramp, ramp)
                    events.append(SimEvent("twitch", side, "eye", start, start + length, co["eye"],
                                           coupled_to=parent, motions=(narrowing,)))
        ratio = float(np.median(sizes[side]) / np.median(sizes[healthy]))
        step = {"segment": segment.name, "start_s": round(segment.start_s, 4), "end_s": round(segment.end_s, 4)}
        if segment.name == "eye_closure":  # the closure is measured against the eye's own (wider) resting opening
            full = EXAM_MOVES["eye_closure"]["eye_close"]
            weak_closure = min(full * float(np.median(sizes[side])), MAX_CLOSURE + widening) / (1.0 + widening)
            healthy_closure = min(full * float(np.median(sizes[healthy])), MAX_CLOSURE)
            ratio = weak_closure / healthy_closure
            step["remaining_opening"] = round(1.0 - weak_closure, 4)
        step["true_share"] = round(min(ratio, 1.0), 4)
        step["synkinesis_eye"], step["synkinesis_mouth_iod"] = co["eye"], co["mouth"]
        steps.append(step)
    parameters = {"palsy_share": round(share, 4), "synkinesis": synkinesis, "steps": steps}
    logger.debug("exam %s/%s share %.2f: %d events", label, side, share, len(events))
    return events, parameters


# -- landmark motion -----------------------------------------------------------------------------

LID_SKIN_REACH = 0.8  # skin above the upper lid follows it up to this many eye widths above
CORNER_TAPER = 0.25  # beyond the eye corners the lid motion fades over this many eye widths
BROW_FOREHEAD_REACH = 1.5  # a brow raise lifts the forehead up to this many eye widths above the brow
MOUTH_RADIUS_IOD = 0.25  # a mouth-corner pull spreads over this many IOD around the corner
MEASURED_MOUTH_UP_SHARE = MOTION_PROFILES["mesh"].mouth_up_share  # landmark_measures reads pulls along this
JAW_WIDTH_IOD = 0.6  # the jaw's lateral spread around the mouth centre when it opens


def _fade(x: np.ndarray) -> np.ndarray:
    """1 at x <= 0, 0 at x >= 1, smooth between."""
    return 1.0 - smooth_ramp(x)


def face_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The face's right-to-left axis, its downward axis (unit (2,) vectors, image coordinates) and
    its inter-ocular distance in pixels, from (478, 2) landmarks."""
    left = points[list(regions.EYE_CONTOUR["left"])].mean(axis=0)
    right = points[list(regions.EYE_CONTOUR["right"])].mean(axis=0)
    across = left - right
    iod = float(np.linalg.norm(across))
    across = across / max(iod, 1e-6)
    down = np.array([-across[1], across[0]])
    mouth = points[[regions.MOUTH_CORNER["left"], regions.MOUTH_CORNER["right"]]].mean(axis=0)
    if np.dot(mouth - (left + right) / 2, down) < 0:
        down = -down
    return across, down, iod


def move_landmarks(points: np.ndarray, values: dict[str, float], *, renderer: str = DEFAULT_RENDERER) -> np.ndarray:
    """(478, 2) landmarks displaced by one frame's channel ``values`` (name -> float, see CHANNELS),
    the way ``renderer``'s motion profile moves a face.

    Eye closure moves the upper lid down and the lower lid up, squeezes everything between them
    (iris included) and drags the skin above and below along; brow, cheek, mouth and jaw channels
    move smooth neighbourhoods of their landmarks.
    """
    profile = motion_profile(renderer)
    points = np.asarray(points, dtype=np.float64)
    across, down, iod = face_frame(points)
    shift = np.zeros_like(points)
    for side in regions.SIDES:
        closure = float(values.get(f"eye_close_{side}", 0.0))
        brow = float(values.get(f"brow_{side}", 0.0))
        if closure != 0 or brow != 0:
            shift += _eye_and_brow_shift(points, side, down, closure, brow * iod, profile)
        cheek = float(values.get(f"cheek_{side}", 0.0))
        if cheek != 0:
            shift += _cheek_shift(points, side, across, down, cheek * iod, profile)
        mouth = float(values.get(f"mouth_{side}", 0.0))
        if mouth != 0:
            shift += _mouth_shift(points, side, across, down, mouth * iod, iod, profile.mouth_up_share)
    jaw = float(values.get("jaw", 0.0))
    if jaw != 0:
        shift += _jaw_shift(points, across, down, jaw * iod, iod)
    shift += _exam_shift(points, values, across, down, iod)
    return points + shift


def _eye_coordinates(points: np.ndarray, side: str, down: np.ndarray):
    """Every point's position along the eye (u: 0 outer corner, 1 inner corner) and below its
    corner line (v, pixels, positive down), and the eye width in pixels."""
    outer = points[regions.EYE_OUTER_CORNER[side]]
    inner = points[regions.EYE_INNER_CORNER[side]]
    axis = inner - outer
    width = float(np.linalg.norm(axis))
    axis = axis / max(width, 1e-6)
    normal = down - np.dot(down, axis) * axis
    normal = normal / max(np.linalg.norm(normal), 1e-6)
    rel = points - outer
    return rel @ axis / max(width, 1e-6), rel @ normal, width, normal


def _lid_curve(u: np.ndarray, v: np.ndarray, indices, query: np.ndarray) -> np.ndarray:
    """A lid's v at positions ``query`` (u), from its landmarks plus the corners (v = 0 at u = 0, 1)."""
    knots_u = np.concatenate(([0.0], u[list(indices)], [1.0]))
    knots_v = np.concatenate(([0.0], v[list(indices)], [0.0]))
    order = np.argsort(knots_u)
    return np.interp(np.clip(query, 0.0, 1.0), knots_u[order], knots_v[order])


def _eye_and_brow_shift(points, side: str, down: np.ndarray, closure: float, brow_px: float,
                        profile: MotionProfile) -> np.ndarray:
    u, v, width, normal = _eye_coordinates(points, side, down)
    upper = _lid_curve(u, v, regions.UPPER_LID[side], u)
    lower = _lid_curve(u, v, regions.LOWER_LID[side], u)
    gap = np.maximum(lower - upper, 0.0)
    lateral = _fade(np.maximum(-u, u - 1.0) / CORNER_TAPER)  # 1 inside the eye's span, fading beyond the corners
    d_up = closure * profile.upper_lid_share * gap
    d_low = -closure * (1.0 - profile.upper_lid_share) * gap
    between = np.clip((v - upper) / np.maximum(gap, 1e-6), 0.0, 1.0)
    dv = np.where(v < upper, d_up * _fade((upper - v) / (LID_SKIN_REACH * width)),
                  np.where(v > lower, d_low * _fade((v - lower) / (profile.lower_skin_reach * width)),
                           d_up + (d_low - d_up) * between))
    dv = dv * lateral
    if brow_px != 0:
        brow_idx = list(regions.BROW_UPPER[side])
        order = np.argsort(u[brow_idx])
        brow_v = np.interp(u, u[brow_idx][order], v[brow_idx][order])
        span = np.maximum(upper - brow_v, 1e-6)
        # 0 at the upper lid, 1 at the brow, 1 above it fading over the forehead
        weight = np.where(v >= brow_v, smooth_ramp((upper - v) / span),
                          _fade((brow_v - v) / (BROW_FOREHEAD_REACH * width)))
        brow_lateral = _fade(np.maximum(u[brow_idx].min() - u, u - u[brow_idx].max()) / 0.3)
        dv = dv - brow_px * weight * brow_lateral * (v < lower)
    shift = dv[:, None] * normal[None, :]
    iris = list(regions.IRIS[side])  # the iris is squeezed with the eye opening, even where the lid hides it
    shift[iris] = (d_up[iris] + (d_low[iris] - d_up[iris]) * between[iris])[:, None] * normal
    return shift


def _cheek_shift(points, side: str, across: np.ndarray, down: np.ndarray, lift_px: float,
                 profile: MotionProfile) -> np.ndarray:
    center = points[list(regions.CHEEK[side])].mean(axis=0)
    width = float(np.linalg.norm(points[regions.EYE_INNER_CORNER[side]] - points[regions.EYE_OUTER_CORNER[side]]))
    distance = np.linalg.norm(points - center, axis=1) / (profile.cheek_radius * width)
    weight = _fade(distance)
    inward = -across if side == "left" else across  # towards the nose (the patient's left is towards +across)
    direction = -down + profile.cheek_inward * inward
    return lift_px * weight[:, None] * direction[None, :]


def _mouth_shift(points, side: str, across: np.ndarray, down: np.ndarray, pull_px: float, iod: float,
                 up_share: float):
    corner = points[regions.MOUTH_CORNER[side]]
    outward = across if side == "left" else -across  # the patient's left is towards +across
    direction = outward - up_share * down
    direction = direction / np.linalg.norm(direction)
    distance = np.linalg.norm(points - corner, axis=1) / (MOUTH_RADIUS_IOD * iod)
    weight = np.exp(-0.5 * distance ** 2) * (distance < 3.0)
    return pull_px * weight[:, None] * direction[None, :]


def _jaw_shift(points, across: np.ndarray, down: np.ndarray, open_px: float, iod: float) -> np.ndarray:
    center = points[[regions.INNER_UPPER_LIP, regions.INNER_LOWER_LIP]].mean(axis=0)
    rel = points - center
    below = rel @ down
    lip_gap = max(float((points[regions.INNER_LOWER_LIP] - points[regions.INNER_UPPER_LIP]) @ down), 1.0)
    vertical = smooth_ramp((below + lip_gap) / (2 * lip_gap))  # 0 above the upper lip's inside, 1 below the lower
    lateral = np.exp(-0.5 * ((rel @ across) / (JAW_WIDTH_IOD * iod)) ** 2)
    return open_px * (vertical * lateral)[:, None] * down[None, :]


LIP_RADIUS_IOD = 0.1  # a snarl lifts the upper lip's side over this radius around its landmarks (the other side barely)
LIP_LINE_FADE_IOD = 0.04  # ... fading out below the line between the lips (the lower lip stays)
PUFF_RADIUS_IOD = 0.35  # a cheek puff bulges the cheek over this radius around the buccal points


def _exam_shift(points, values: dict, across: np.ndarray, down: np.ndarray, iod: float) -> np.ndarray:
    """(478, 2) shift of the examination channels (EXAM_CHANNELS): upper lip lifted, mouth corner
    drawn towards the midline, cheek pushed outward."""
    shift = np.zeros_like(points)
    lip_line = points[[regions.INNER_UPPER_LIP, regions.INNER_LOWER_LIP]].mean(axis=0) @ down
    for side in regions.SIDES:
        outward = across if side == "left" else -across  # the patient's left is towards +across
        lift = float(values.get(f"lip_{side}", 0.0)) * iod
        if lift != 0:
            centre = points[list(regions.UPPER_LIP_SIDE[side])].mean(axis=0)
            distance = np.linalg.norm(points - centre, axis=1) / (LIP_RADIUS_IOD * iod)
            above = _fade((points @ down - lip_line) / (LIP_LINE_FADE_IOD * iod))
            shift -= lift * (np.exp(-0.5 * distance ** 2) * (distance < 3.0) * above)[:, None] * down[None, :]
        inward = float(values.get(f"pucker_{side}", 0.0)) * iod
        if inward != 0:
            distance = np.linalg.norm(points - points[regions.MOUTH_CORNER[side]], axis=1) / (MOUTH_RADIUS_IOD * iod)
            shift -= inward * (np.exp(-0.5 * distance ** 2) * (distance < 3.0))[:, None] * outward[None, :]
        puff = float(values.get(f"puff_{side}", 0.0)) * iod
        if puff != 0:
            centre = points[list(regions.BUCCAL[side])].mean(axis=0)
            distance = np.linalg.norm(points - centre, axis=1) / (PUFF_RADIUS_IOD * iod)
            shift += puff * _fade(distance)[:, None] * outward[None, :]
    return shift


# -- checking the simulation against the tracker ---------------------------------------------------

APERTURE_PAIRS = slice(1, 6)  # the five central lid pairs; those next to the corners barely move
RESPONSE_MARGIN_S = 0.1  # an event's response is read in its span widened by this (tracker lag, frame steps)


def landmark_measures(points: np.ndarray) -> dict[str, np.ndarray]:
    """Simple per-frame measures of tracked (n, 478, 2) landmarks, NaN where untracked.

    eye_aperture_s: mean lid distance of the central lid pairs over the eye width.
    brow_s: brow height above the eye corners, IOD (here: between the eye-corner midpoints).
    mouth_s: mouth-corner position along its up-and-outward pull direction from the eyes'
    midpoint, IOD. mouth_open: gap between the inner lips, IOD.
    """
    points = np.asarray(points, dtype=np.float64)
    corners = {s: (points[:, regions.EYE_INNER_CORNER[s]] + points[:, regions.EYE_OUTER_CORNER[s]]) / 2
               for s in regions.SIDES}  # eye corners stay put when the lids move
    left, right = corners["left"], corners["right"]
    across = left - right
    iod = np.linalg.norm(across, axis=1)
    across = across / iod[:, None]
    down = np.stack([-across[:, 1], across[:, 0]], axis=1)
    middle = (left + right) / 2
    out = {}
    for side in regions.SIDES:
        upper = points[:, list(regions.UPPER_LID[side][APERTURE_PAIRS])]
        lower = points[:, list(regions.LOWER_LID[side][APERTURE_PAIRS])]
        width = np.linalg.norm(points[:, regions.EYE_INNER_CORNER[side]] - points[:, regions.EYE_OUTER_CORNER[side]],
                               axis=1)
        out[f"eye_aperture_{side}"] = np.linalg.norm(upper - lower, axis=2).mean(axis=1) / width
        brow = points[:, list(regions.BROW_UPPER[side])].mean(axis=1)
        out[f"brow_{side}"] = -np.einsum("ij,ij->i", brow - corners[side], down) / iod
        outward = across if side == "left" else -across
        direction = outward - MEASURED_MOUTH_UP_SHARE * down
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        corner = points[:, regions.MOUTH_CORNER[side]] - middle
        out[f"mouth_{side}"] = np.einsum("ij,ij->i", corner, direction) / iod
    lips = points[:, regions.INNER_LOWER_LIP] - points[:, regions.INNER_UPPER_LIP]
    out["mouth_open"] = np.einsum("ij,ij->i", lips, down) / iod
    return out


def event_responses(measures: dict[str, np.ndarray], times_s: np.ndarray, events,
                    reference: dict[str, np.ndarray] | None = None) -> list[dict]:
    """For each event, the tracked change of every measure in the event's span.

    The change is taken against ``reference`` (the same measures tracked frame by frame on the
    same clip rendered without events) when given, else against the clip's resting baseline
    (median over frames outside all events). Returns one dict per event: ``closure_s``
    (1 - aperture / reference, the largest in the span), ``brow_s``, ``mouth_s`` and
    ``mouth_open`` (largest change in IOD, signed as the larger of the rise and the fall).
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    busy = np.zeros(times_s.shape, dtype=bool)
    for event in events:
        busy |= (times_s >= event.start_s - 0.3) & (times_s <= event.end_s + 0.3)
    baseline = {}
    for name, values in measures.items():
        if reference is not None:
            baseline[name] = np.asarray(reference[name], dtype=np.float64)
        else:
            rest = values[~busy] if np.isfinite(values[~busy]).any() else values
            baseline[name] = np.full(values.shape, np.nanmedian(rest))
    rows = []
    for event in events:
        span = (times_s >= event.start_s - RESPONSE_MARGIN_S) & (times_s <= event.end_s + RESPONSE_MARGIN_S)
        row = {}
        for name, values in measures.items():
            side = name.rsplit("_", 1)[1]
            key = f"closure_{side}" if name.startswith("eye_aperture_") else name
            if name.startswith("eye_aperture_"):
                change = 1.0 - values[span] / baseline[name][span]
            else:
                change = values[span] - baseline[name][span]
            if not np.isfinite(change).any():
                row[key] = float("nan")
            elif name.startswith("eye_aperture_"):
                row[key] = float(np.nanmax(change))
            else:
                high, low = np.nanmax(change), np.nanmin(change)
                row[key] = float(high if abs(high) >= abs(low) else low)
        rows.append(row)
    return rows
