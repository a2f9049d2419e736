"""The analysis settings: every threshold and window that event detection and classification share.

One :class:`AnalysisSettings` is passed to :func:`spasmscan.events.detect_events` and
:func:`spasmscan.classify.classify` alike, so the coupling windows the events are labelled with are
the ones the classification tests. Times are in seconds, rates per minute of tracked face, sizes
in the signals' relative units; each field says why it has its default. The shape constants of the
detectors themselves (hysteresis, ramp shares, merge gaps) stay beside their code in ``events``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .errors import ParameterError


@dataclass(frozen=True)
class AnalysisSettings:
    """Thresholds and windows of the analysis (see the comment on each field for its reason)."""

    # -- detection
    noise_k: float = 4.0  # an event stands this many robust noise SDs clear of its baseline: rare in noise alone
    # Brow raises and smiles move both sides together: both sides passing this many SDs at once is rare in
    # noise, and one movement too many only widens the windows the time-locking test weighs by chance.
    # (Talking faces move their brows and mouth corners a lot: at noise_k, deliberate raises went unseen.)
    voluntary_noise_k: float = 2.5
    tonic_min_s: float = 1.0  # a one-sided closure held this long is a tonic spasm, shorter ones clonic twitches
    # -- coupling: a one-sided episode overlapping a voluntary movement widened by these is carried along by it
    lead_tolerance_s: float = 0.15  # co-contraction may start 0.1 s before the movement's detected onset, plus jitter
    lag_tolerance_s: float = 0.3  # ... or trail its end by 0.2 s and more (it outlasts the movement), plus jitter
    permutations: int = 999  # circular shifts of the episode train for the time-locking test (p >= 0.001)
    # -- eye evidence
    # Fuse the visible iris (eye_openness, measured while tracking) into each eye's opening: it sees one-sided
    # closures 1.5-2 times as far out of the noise as the lids on talking faces. A one-sided closure must then
    # show in both measures on their own (events.CONFIRM_SD): squeezes of a crying face fool the iris alone.
    fuse_eye_pixels: bool = True
    # The mouth corners' fast movements from their pixels' optical flow (mouth_flow, measured while tracking)
    # instead of the tracked corners, which Face Mesh drags along with every blink on some faces (tracked with
    # TrackerSettings(mouth_flow=True)). Off: it helps faces held still, but on a fresh held-out set it lost
    # two clips of a small talking face.
    fuse_mouth_pixels: bool = False
    # -- what a recording must give to be judged
    min_tracked_s: float = 5.0  # below this a recording holds about one blink: no baseline to compare sides against
    min_face_fraction: float = 0.5  # with the face tracked in less than this share of frames the evidence is too thin
    # A full one-sided closure moves the tracked lids by only about a third (face-mesh notes): with the
    # left-right difference of the eye openings this noisy at rest, even it would not stand noise_k SDs clear
    # (flagged 'restless_eyes'; the confidence in 'none' falls in proportion as the noise nears it).
    max_asymmetry_noise: float = 0.09
    # -- classification
    min_episodes: int = 3  # fewer one-sided episodes can be chance; three is the least a test can weigh
    min_side_share: float = 0.75  # a spasm keeps to one side: at least this share of the one-sided episodes is on it
    episode_gap_s: float = 0.5  # one-sided events closer than this are one episode (clonic bursts run at 2-6 Hz)
    # A synkinetic co-contraction is one contraction carried by the movement; a run of clonic twitches (this
    # many or more in one episode, 2-6 Hz) is the ectopic firing of hemifacial spasm, met by chance.
    clonic_min_twitches: int = 3
    coupling_alpha: float = 0.05  # synkinesis: episodes meet voluntary movements more often than chance, at this level
    synkinesis_min_share: float = 0.7  # ... and most of that side's episodes come with voluntary movements
    # One-sided detections at rest without any spasm: the detector is held to the target of at most
    # 0.5/min on real faces without spasm; above it a mild spasm could not be told from false alarms.
    false_alarm_per_min: float = 0.5
    rest_alpha: float = 0.05  # primary HFS: more episodes at rest than false alarms explain, at this level
    # Fewer than min_episodes episodes (one or two bursts), yet false alarms would give that many one-sided
    # twitches at rest this rarely: strong evidence from a short recording, a verdict asking to confirm it.
    strong_alpha: float = 1e-3
    # One-sided detections peaking at this multiple of their threshold (6 robust SDs at noise_k 4) are large:
    # noise excursions barely pass a threshold (on the development and real faces 1 of 17 false detections
    # reached 1.5 times it, against 98 of 135 simulated spasms), so large ones have a false-alarm rate of their own.
    large_event_strength: float = 1.5
    large_false_alarm_per_min: float = 0.05  # ... 1 false large detection in 34 minutes (0.03/min), with a margin
    min_large_detections: int = 2  # one detection, however large, can be one tracker glitch
    few_episodes_confidence: float = 0.6  # the most confidence a verdict from one or two bursts may claim
    suggestive_alpha: float = 0.2  # weaker than that, yet rarer than one time in five: 'indeterminate, record longer'
    # Synkinesis accompanies most voluntary movements of the kinds that drive it (60-100% of them); a train
    # that met fewer than this share met them by chance and is tested as a spasm.
    steady_share: float = 0.5
    reference_rate_per_min: float = 3.0  # a mild spasm (0.3-25/min): 'none' is as sure as such a spasm would have shown
    # -- both eyes: blepharospasm, bilateral hemifacial spasm
    # Ordinary blinks last 0.1-0.4 s (tracked up to 0.5 s with their ramps): both eyes shut this long or
    # longer is a prolonged closure.
    prolonged_closure_s: float = 0.5
    # Healthy adults rarely hold both eyes shut 0.5 s or more unprompted: under one such closure a minute
    # at rest, talking or reading, where they blink 17, 26 and 4.5 times a minute (Bentivoglio et al. 1997,
    # Mov Disord 12:1028), nearly all blinks short; a generous ceiling, since squints pass for closures.
    normal_closures_per_min: float = 1.0
    # ... and shut: a prolonged closure closes the eyes at least this share as far as the patient's own blinks
    # do (the median blink), a squint narrows them (a crying face's 2-s squints reach 0.5-0.75 of its blinks).
    closed_share: float = 0.8
    # Blepharospasm: more prolonged closures than that normal rate gives and more blinks than the talking
    # rate below, the two Poisson tests joined by Fisher's method, at this level (as strong_alpha; a crying
    # face's three long closures in 20 s give p = 0.005 alone, and must not be called blepharospasm).
    # Increased blinking is blepharospasm's commonest sign: it backs fewer closures, a normal rate asks more.
    closure_alpha: float = 1e-3
    # Mean blink rate while talking (Bentivoglio et al. 1997, Mov Disord 12:1028: 26/min; 17 at rest, 4.5
    # reading): the blink rate's test against it joins the prolonged closures' (closure_alpha).
    talking_blinks_per_min: float = 26.0
    cluster_gap_s: float = 1.0  # blinks starting this close after one another form a cluster (flutter: several in 1-2 s)
    cluster_min_blinks: int = 3  # ... of at least this many (a pair of blinks within a second is common in talking)
    # The closures' rate cannot tell blepharospasm from a face squeezing its eyes shut again and again
    # (crying, laughing, bright light): on the development faces 3 of 11 blepharospasm verdicts were right,
    # the others crying or low-resolution talking faces. Its confidence claims no more than this.
    blepharospasm_confidence: float = 0.6
    sync_window_s: float = 0.2  # the two sides' episodes starting this close start together: one bilateral movement
    # Bilateral HFS is rare (a few % of HFS): one side's episodes at rest must exceed false alarms at this
    # level (or its large detections theirs at strong_alpha), so that noise detections on both sides (a
    # 'none' face) never pass for it; the other side's then need only rest_alpha, as a primary spasm's do
    # (a spasm established, the question is whether it has a second side; on the development corpora
    # the other side of a one-sided spasm never reached it).
    bilateral_alpha: float = 1e-6

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)) or value < 0:
                raise ParameterError(f"{f.name} must be a finite number >= 0, got {value!r}")
        for name in ("noise_k", "voluntary_noise_k", "tonic_min_s", "episode_gap_s", "false_alarm_per_min",
                     "prolonged_closure_s", "normal_closures_per_min", "talking_blinks_per_min",
                     "large_event_strength", "large_false_alarm_per_min"):
            if getattr(self, name) <= 0:
                raise ParameterError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("min_face_fraction", "min_side_share", "synkinesis_min_share", "coupling_alpha", "rest_alpha",
                     "strong_alpha", "suggestive_alpha", "steady_share", "few_episodes_confidence", "closed_share",
                     "blepharospasm_confidence", "closure_alpha", "bilateral_alpha"):
            if getattr(self, name) > 1:
                raise ParameterError(f"{name} must be at most 1, got {getattr(self, name)!r}")
        for name, least in (("min_episodes", 1), ("min_large_detections", 1), ("cluster_min_blinks", 2),
                            ("clonic_min_twitches", 2),
                            ("permutations", 19)):
            value = getattr(self, name)
            if value < least or int(value) != value:
                raise ParameterError(f"{name} must be a whole number >= {least}, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_SETTINGS = AnalysisSettings()
