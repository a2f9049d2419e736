"""Classification of a recording: primary hemifacial spasm, synkinesis, blepharospasm, none or
indeterminate.

The unit is the one-sided episode: a one-sided event, or a burst of them less than
``episode_gap_s`` apart. Every threshold comes from one :class:`~spasmscan.settings.AnalysisSettings`,
the same the events were detected with. The decision rests on stated statistics per side:

- time-locking: k of n episodes start during a voluntary movement (blink, brow raise, smile, held eye
  closure; its span widened by the lead and lag tolerances, since co-contraction varies in lag and
  outlasts the movement) that drives another region than the episode moves (synkinesis is one
  muscle group carried along by the voluntary movement of another: the mouth corner with a blink,
  the eye with a smile; an eye that stays shut after a blink is no synkinesis; a clonic burst of
  ``clonic_min_twitches`` or more twitches is a spasm, not one co-contraction). The p-value is the
  share of circular shifts of the episode train that meet such movements at least k times: it keeps
  the train's own timing and the movements' lengths, whatever the lag. Synkinesis is decided first,
  and its side is weighed by the time-locked episodes only;
- rest: the r = n - k episodes synkinesis does not explain, in m minutes at rest (plus the
  windows' time when some of them fell inside a window). Synkinesis leaves only false detections
  there, at most ``false_alarm_per_min``; primary hemifacial spasm goes on regardless (Poisson test);
- strength of evidence: one or two bursts at rest whose twitches false alarms would give less than
  ``strong_alpha`` of the time give primary hemifacial spasm with a capped confidence and a request
  to record longer; weaker hints give 'indeterminate' with the side;
- steadiness: synkinesis comes with most voluntary movements that drive it. When neither test
  decides and the k episodes came with fewer than ``steady_share`` of the voluntary movements of
  their kinds, they met those by chance: all n episodes are tested against false alarms.

Confidence of a positive verdict = (1 - p_side) (1 - p_class): p_side is the chance of episodes
this lopsided if they fell on either side alike, p_class the p-value of the deciding test.

Both sides:

- bilateral hemifacial spasm: one side's episodes at rest beyond false alarms at ``bilateral_alpha``
  (or its large detections beyond their own false rate at ``strong_alpha``), the other side's
  episodes, twitches or large detections at rest beyond theirs at ``rest_alpha``, however unequal
  the two sides, and starting independently of each other (few onsets within ``sync_window_s`` of
  each other, against circular shifts of one train): primary HFS, side "both". Onsets that
  coincide are one bilateral movement: 'none' says so;
- blepharospasm: when the one-sided episodes leave 'none' or 'indeterminate', involuntary closures of
  both eyes (no smile, no prompted step) held ``prolonged_closure_s`` or longer, more often than
  healthy adults' ``normal_closures_per_min``, together with the blink rate against the talking
  normal (two Poisson tests joined by Fisher's method, at ``closure_alpha``): side "both",
  confidence 1 - p, at most ``blepharospasm_confidence`` (the closures alone cannot tell it from
  repeated squeezing).

Pure arrays: no OpenCV, no MediaPipe.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import bdtrc, pdtr, pdtrc

from .events import EYE_ONE_SIDED_FLOOR, MOUTH_FLOOR, Events, coupling_windows, mouth_pull
from .kinds import DRIVEN_REGION, KINDS
from .regions import SIDES, mirror_side
from .settings import DEFAULT_SETTINGS, AnalysisSettings
from .signals import robust_noise

logger = logging.getLogger(__name__)

EPISODE_REGIONS = (frozenset({"eye"}), frozenset({"mouth"}), frozenset({"eye", "mouth"}))
PERMUTATION_SEED = 0  # the circular shifts are drawn from a fixed seed: the same recording, the same p-value
# Shifts at least this long: a shorter one leaves an episode on the movement it came with (a smile
# lasts 1-3 s, the tolerances add half a second), which is no test of chance.
MIN_SHIFT_S = 3.0


@dataclass(frozen=True)
class Verdict:
    """The decision for one recording.

    label: one of spasmscan.kinds.VERDICT_LABELS. side: "left", "right", "both" (blepharospasm,
    bilateral hemifacial spasm) or "none" (patient's side). confidence: 0..1.
    coupling_p_value: p-value of the test that one-sided episodes are time-locked to voluntary
    movements (NaN when there were none to test, and for blepharospasm). reason: one sentence. evidence: plain
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
    """The statistics of one side: k of n one-sided episodes start during voluntary movements (widened
    by the lead and lag tolerances; their windows cover a share q of the tracked time) that drive another
    region than the episode moves (a co-contraction starts with the movement that carries it: a burst
    already under way when a movement begins is not carried by it; nor is a clonic burst of
    ``clonic_min_twitches`` or more twitches, as a co-contraction is one contraction); p_value is the
    share of circular shifts of the episode train whose onsets meet such movements as often. The other n - k
    (rest_episodes) are tested against false alarms in rest_minutes (the time at rest, plus the
    windows' time when some of them fell inside a window: false alarms can fall there too). The k meet ``accompanied`` of the ``of_kinds`` voluntary
    movements of their kinds; ``rest_detections`` counts the one-sided events of the rest episodes."""

    side: str
    n_episodes: int
    n_inside: int
    window_share: float
    p_value: float  # time-locking: circular-shift permutation p-value; NaN when n == 0
    rest_episodes: int
    rest_minutes: float
    rest_p_value: float  # P(R >= r) for R ~ Poisson(false_alarm_per_min x rest_minutes)
    prolonging: int = 0  # of the rest_episodes, those inside a window that move only its own region
    clonic: int = 0  # ... and those inside a window that are clonic bursts (clonic_min_twitches or more twitches)
    accompanied: int = 0  # voluntary movements the n_inside episodes come with
    of_kinds: int = 0  # voluntary movements of those movements' kinds (blinks, smiles, ...)
    rest_detections: int = 0  # one-sided events in the rest episodes (a burst counts by its twitches)
    rest_tonic: int = 0  # tonic spasms (one-sided closures held a second or more) among them
    rest_large: int = 0  # ... and those reaching large_event_strength times their detection threshold

    @property
    def rest_rate_per_min(self) -> float:
        return self.rest_episodes / self.rest_minutes if self.rest_minutes > 0 else float("nan")


def side_episodes(events: Events, side: str, *, gap_s: float = DEFAULT_SETTINGS.episode_gap_s) -> list[np.ndarray]:
    """``side``'s one-sided events grouped into episodes: each an array of event indices, in onset
    order; an event starting ``gap_s`` or more after every earlier one of the side ended starts a new one."""
    mine = np.flatnonzero(events.one_sided & (events.side == side))
    groups, reach = [], -np.inf
    for i in mine[np.argsort(events.start_s[mine], kind="stable")]:
        if events.start_s[i] - reach >= gap_s:
            groups.append([])
        groups[-1].append(int(i))
        reach = max(reach, events.end_s[i])
    return [np.array(g, dtype=np.int64) for g in groups]


def episode_starts(events: Events, side: str, *, gap_s: float = DEFAULT_SETTINGS.episode_gap_s) -> np.ndarray:
    """Indices of ``side``'s one-sided events that start an episode (see :func:`side_episodes`)."""
    return np.array([g[0] for g in side_episodes(events, side, gap_s=gap_s)], dtype=np.int64)


def _span_mask(times: np.ndarray, starts, ends) -> np.ndarray:
    """(n,) bool: frames inside any of the [start, end] spans (seconds)."""
    change = np.zeros(times.size + 1, dtype=np.int64)
    np.add.at(change, np.searchsorted(times, np.asarray(starts), "left"), 1)
    np.add.at(change, np.searchsorted(times, np.asarray(ends), "right"), -1)
    return np.cumsum(change)[:-1] > 0


def carrier_masks(events: Events, times: np.ndarray, *, settings: AnalysisSettings = DEFAULT_SETTINGS) -> dict:
    """Episode regions (a frozenset of "eye", "mouth") -> (n,) bool frames inside the widened span of
    a voluntary movement that drives another region (DRIVEN_REGION), so could carry such an episode."""
    lo, hi = coupling_windows(events, settings=settings)
    kinds = events.kind[events.voluntary].astype(str)
    masks = {}
    for regions in EPISODE_REGIONS:
        carries = np.array([bool(regions - {DRIVEN_REGION.get(k, "")}) for k in kinds], dtype=bool)
        masks[regions] = _span_mask(times, lo[carries], hi[carries])
    return masks


def _episode_regions(events: Events, episode: np.ndarray) -> frozenset:
    return frozenset(r for i in episode for r in str(events.region[i]).split("+") if r in ("eye", "mouth"))


def _circular_sums(values: np.ndarray, first: np.ndarray, width: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(len(shifts), k) sums of ``values`` (n,) over frames [first, first + width) of k windows (width
    at most n), each moved circularly by every shift (frames)."""
    n = values.size
    doubled = np.concatenate(([0.0], np.cumsum(np.concatenate((values, values)), dtype=np.float64)))
    a = (first[None, :] + shifts[:, None]) % n
    return doubled[a + width[None, :]] - doubled[a]


def permutation_shifts(n_frames: int, fps: float, *, count: int) -> np.ndarray:
    """(count,) circular shifts in frames, each at least MIN_SHIFT_S from no shift either way (all
    shifts when the recording is too short for that), from the fixed PERMUTATION_SEED."""
    margin = int(round(MIN_SHIFT_S * fps)) if fps > 0 else 0
    if n_frames <= 2 * margin + 1:
        margin = 0
    return np.random.default_rng(PERMUTATION_SEED).integers(1 + margin, max(n_frames - margin, 2 + margin), count)


# Movement-locked averaging: the left-right difference of a region, read during every voluntary movement
# of the kinds that do not drive it, against the second before each. Small co-contractions that drown
# in a talking face's noise one by one add up over a dozen blinks. The median over the movements, not the
# mean: synkinesis comes with most of them, and one large one-sided event that happens to meet one of a
# few movements (a spasm during a smile) would carry a mean alone.
TRIGGER_KINDS = {region: tuple(kind for kind, driven in DRIVEN_REGION.items() if driven != region)
                 for region in ("eye", "mouth")}
TRIGGER_PRE_S = 1.0  # the patient's own level just before the movement: long enough to average, short of the last one
RESPONSE_FLOOR = {"eye": EYE_ONE_SIDED_FLOOR, "mouth": MOUTH_FLOOR}  # a smaller response is no visible synkinesis


@dataclass(frozen=True)
class TriggeredTest:
    """Movement-locked response of one region's left-right difference: ``response`` is its median over
    the ``triggers`` voluntary movements (signal units; positive = the patient's left more closed or
    pulled), p_value the share of circular shifts of those movements giving a median as far from 0."""

    region: str
    side: str
    response: float
    p_value: float
    triggers: int


def _window_means(values: np.ndarray, first: np.ndarray, last: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(len(shifts), k) means of ``values`` (n,) over frames [first, last) of k windows moved circularly."""
    width = np.clip(last - first, 1, values.size - 1)
    return _circular_sums(values, first, width, shifts) / width[None, :]


def triggered_tests(events: Events, signals, *, settings: AnalysisSettings = DEFAULT_SETTINGS) -> list[TriggeredTest]:
    """One :class:`TriggeredTest` per region (eye, mouth) with at least ``min_episodes`` triggering movements."""
    names = {"eye_aperture_left", "eye_aperture_right", "mouth_corner_lateral_left", "mouth_corner_vertical_left",
             "mouth_corner_lateral_right", "mouth_corner_vertical_right"}
    if not names <= set(signals.values) or signals.times_s.size < 3:
        return []
    times = signals.times_s
    differences = {"eye": signals["eye_aperture_right"] - signals["eye_aperture_left"],
                   "mouth": mouth_pull(signals, "left") - mouth_pull(signals, "right")}
    shifts = np.concatenate(([0], permutation_shifts(times.size, signals.fps, count=int(settings.permutations))))
    tests = []
    for region, kinds in TRIGGER_KINDS.items():
        chosen = np.flatnonzero(np.isin(events.kind, kinds))
        if chosen.size < settings.min_episodes:
            continue
        values = differences[region]
        values = np.where(np.isfinite(values), values, np.nanmedian(values) if np.isfinite(values).any() else 0.0)
        onset = np.searchsorted(times, events.start_s[chosen] - settings.lead_tolerance_s)
        end = np.searchsorted(times, events.end_s[chosen] + settings.lag_tolerance_s, "right")
        before = np.searchsorted(times, events.start_s[chosen] - settings.lead_tolerance_s - TRIGGER_PRE_S)
        responses = np.median(_window_means(values, onset, end, shifts) - _window_means(values, before, onset, shifts),
                              axis=1)
        observed = float(responses[0])
        p_value = float((1 + np.count_nonzero(np.abs(responses[1:]) >= abs(observed))) / shifts.size)
        tests.append(TriggeredTest(region=region, side="left" if observed > 0 else "right", response=observed,
                                   p_value=p_value, triggers=int(chosen.size)))
    return tests


def coupling_test(events: Events, signals, side: str, *, settings: AnalysisSettings = DEFAULT_SETTINGS) -> CouplingTest:
    """Time-locking and rest statistics of ``side``'s one-sided episodes."""
    times = signals.times_s
    tracked = signals.face_present
    in_window = window_mask(events, signals, settings=settings)
    frames = int(np.count_nonzero(tracked))
    share = float(np.count_nonzero(in_window & tracked)) / frames if frames else float("nan")
    episodes = side_episodes(events, side, gap_s=settings.episode_gap_s)
    n = len(episodes)
    masks = carrier_masks(events, times, settings=settings)
    first = np.array([np.searchsorted(times, events.start_s[e].min(), "left") for e in episodes], dtype=np.int64)
    last = np.array([max(np.searchsorted(times, events.end_s[e].max(), "right") - 1, 0) for e in episodes],
                    dtype=np.int64)
    first = np.minimum(first, last)
    regions = [_episode_regions(events, e) for e in episodes]
    carried = np.zeros(n, dtype=bool)
    near = np.zeros(n, dtype=bool)  # overlaps some voluntary movement, carrying it or not
    clonic = np.array([np.count_nonzero(events.kind[e] == "twitch") >= settings.clonic_min_twitches
                       for e in episodes], dtype=bool)
    for k in range(n):
        carried[k] = bool(masks[regions[k]][first[k]]) if regions[k] in masks and not clonic[k] else False
        near[k] = bool(in_window[first[k]:last[k] + 1].any())
    observed = int(np.count_nonzero(carried))
    if n == 0:
        p_value = float("nan")
    elif observed == 0:
        p_value = 1.0
    else:
        shifts = permutation_shifts(times.size, signals.fps, count=int(settings.permutations))
        hits = np.zeros((shifts.size, n), dtype=bool)
        for group in set(regions):
            if group in masks:
                columns = np.array([r == group for r in regions])
                hits[:, columns] = masks[group][(first[columns][None, :] + shifts[:, None]) % times.size]
        p_value = float((1 + np.count_nonzero(hits.sum(axis=1) >= observed)) / (shifts.size + 1))
    same_region = int(np.count_nonzero(near & ~carried & ~clonic))  # in a window, but only prolonging its own region
    bursts = int(np.count_nonzero(near & clonic))  # in a window, but a clonic burst
    exposed = tracked if same_region or bursts else tracked & ~in_window
    rest_minutes = float(np.count_nonzero(exposed)) / signals.fps / 60.0 if signals.fps > 0 else 0.0
    rest_episodes = n - observed
    rest_p = poisson_sf(rest_episodes, settings.false_alarm_per_min * rest_minutes)
    partners = np.unique([events.coupled_to[i] for k in np.flatnonzero(carried) for i in episodes[k]
                          if events.coupled_to[i] >= 0]).astype(np.int64)
    kinds = np.isin(events.kind, events.kind[partners]) & events.voluntary if partners.size else np.zeros(0, bool)
    at_rest = [i for k in np.flatnonzero(~carried) for i in episodes[k]]
    detections, tonic = len(at_rest), int(np.count_nonzero(events.kind[at_rest] == "tonic_spasm")) if at_rest else 0
    large = int(np.count_nonzero(events.strength[at_rest] >= settings.large_event_strength)) if at_rest else 0
    return CouplingTest(side=side, n_episodes=n, n_inside=observed, window_share=share, p_value=p_value,
                        rest_episodes=rest_episodes, rest_minutes=rest_minutes, rest_p_value=rest_p,
                        prolonging=same_region, clonic=bursts, accompanied=int(partners.size),
                        of_kinds=int(np.count_nonzero(kinds)), rest_detections=int(detections), rest_tonic=tonic,
                        rest_large=large)


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(K >= k) for K ~ Binomial(n, p): the p-value of the one-sided binomial test. From
    scipy.special: scipy.stats takes over a second to import, longer than a cached recording's analysis."""
    return 1.0 if k <= 0 else float(bdtrc(k - 1, n, p))


def poisson_sf(r: int, mu: float) -> float:
    """P(R >= r) for R ~ Poisson(mu)."""
    return 1.0 if r <= 0 else float(pdtrc(r - 1, mu))


def window_mask(events: Events, signals, *, settings: AnalysisSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """(n,) bool: frames inside the widened span of some voluntary event."""
    return _span_mask(signals.times_s, *coupling_windows(events, settings=settings))


CLOSURE_KINDS = ("blink", "eye_closure")  # both eyes closing together


@dataclass(frozen=True)
class ClosureTest:
    """Involuntary closures of both eyes: blinks and held closures that start in the recording, meet no
    smile (its span widened by the lead and lag tolerances: laughing squints) and fall in no prompted
    step, in ``minutes`` of tracked face outside the prompted steps. ``closures``: their event indices
    in onset order; ``prolonged`` of them last prolonged_closure_s or more and shut the eyes (closed_share
    of the recording's median blink: squints do not count), the longest ``longest_s``;
    ``clusters``: runs of cluster_min_blinks or more starting within cluster_gap_s of one another.
    p_value: P(>= prolonged) for Poisson(normal_closures_per_min x minutes); blink_p_value: P(>= blinks)
    for Poisson(talking_blinks_per_min x minutes); combined_p_value: the two joined by Fisher's method.
    ``decisive``: these decide blepharospasm."""

    minutes: float
    closures: np.ndarray
    blinks: int
    prolonged: int
    clusters: int
    longest_s: float
    p_value: float
    blink_p_value: float
    combined_p_value: float = 1.0
    decisive: bool = False
    confidence: float = 0.0

    def per_min(self, count: int) -> float:
        return count / self.minutes if self.minutes > 0 else float("nan")

    def sentence(self, settings: AnalysisSettings) -> str:
        """The closures in plain words, against the normal values."""
        return (f"Both eyes: {self.prolonged} prolonged closure{'s' if self.prolonged != 1 else ''} "
                f"(>= {settings.prolonged_closure_s:g} s, as deep as the blinks, without a smile or a prompt) in "
                f"{60 * self.minutes:.0f} s, {self.per_min(self.prolonged):.1f}/min against under "
                f"{settings.normal_closures_per_min:g}/min in healthy adults (p = {self.p_value:.2g}), the longest "
                f"{self.longest_s:.1f} s; {self.per_min(self.blinks):.0f} blinks/min (normal "
                f"{settings.talking_blinks_per_min:g} talking, p = {self.blink_p_value:.2g}) in {self.clusters} "
                f"cluster{'s' if self.clusters != 1 else ''} of {settings.cluster_min_blinks} or more.")

    def reason(self, settings: AnalysisSettings) -> str:
        return (f"{self.prolonged} prolonged closures of both eyes (>= {settings.prolonged_closure_s:g} s, as deep as "
                f"the blinks, none with a smile or a prompt) in {60 * self.minutes:.0f} s "
                f"({self.per_min(self.prolonged):.1f}/min, against healthy adults' under "
                f"{settings.normal_closures_per_min:g}/min: Poisson p = {self.p_value:.2g}) with "
                f"{self.per_min(self.blinks):.0f} blinks/min (against {settings.talking_blinks_per_min:g} talking: "
                f"p = {self.blink_p_value:.2g}), together p = {self.combined_p_value:.2g}; the longest "
                f"{self.longest_s:.1f} s: bilateral involuntary closure")


# Said with every blepharospasm verdict: what the closures alone cannot tell (AnalysisSettings.blepharospasm_confidence).
BLEPHAROSPASM_CAUTION = "; repeated squeezing of the eyes (crying, laughing, bright light) looks the same: watch the recording"


def closure_test(events: Events, signals, *, settings: AnalysisSettings = DEFAULT_SETTINGS,
                 segments: tuple = ()) -> ClosureTest:
    """The statistics of the involuntary closures of both eyes (see :class:`ClosureTest`).

    Blepharospasm is decided by at least ``min_episodes`` prolonged closures, one of them held
    ``tonic_min_s`` or more, when they and the blink rate are together beyond the normal rates at
    ``closure_alpha`` (Fisher's method: the increased blinking of blepharospasm backs fewer closures,
    a normal blink rate asks for more).
    """
    times = signals.times_s
    prompted = [(s.start_s, s.end_s) for s in segments if s.name != "rest"]
    exposed = signals.face_present & ~_span_mask(times, [a for a, _ in prompted], [b for _, b in prompted])
    minutes = float(np.count_nonzero(exposed)) / signals.fps / 60.0 if signals.fps > 0 else 0.0
    smile = events.kind == "smile"
    smile_lo, smile_hi = events.start_s[smile] - settings.lead_tolerance_s, events.end_s[smile] + settings.lag_tolerance_s
    chosen = []
    for i in np.flatnonzero(np.isin(events.kind, CLOSURE_KINDS)):
        start, end = events.start_s[i], events.end_s[i]
        if (times.size and start <= times[0]) or np.any((smile_lo <= end) & (start <= smile_hi)) \
                or any(a <= start < b for a, b in prompted):
            continue
        chosen.append(int(i))
    closures = np.array(sorted(chosen, key=lambda i: events.start_s[i]), dtype=np.int64)
    durations = np.where(_shut(events, closures, settings), events.duration_s[closures], 0.0)  # squints: none
    prolonged = int(np.count_nonzero(durations >= settings.prolonged_closure_s))
    blinks = int(np.count_nonzero(events.kind[closures] == "blink"))
    runs = np.split(np.arange(closures.size), np.flatnonzero(np.diff(events.start_s[closures]) > settings.cluster_gap_s) + 1)
    clusters = sum(1 for run in runs if run.size >= settings.cluster_min_blinks)
    p_value = poisson_sf(prolonged, settings.normal_closures_per_min * minutes)
    blink_p = poisson_sf(blinks, settings.talking_blinks_per_min * minutes)
    longest = float(durations.max()) if durations.size else 0.0
    # A spasm of the orbicularis holds the eyes shut: at least one closure lasts as long as a tonic spasm.
    # A talker's long blinks (0.5-0.8 s, several a minute on two of the real faces) are not held.
    enough = prolonged >= settings.min_episodes and longest >= settings.tonic_min_s
    combined_p = fisher_p((p_value, blink_p))
    decisive = enough and combined_p <= settings.closure_alpha
    return ClosureTest(minutes=minutes, closures=closures, blinks=blinks, prolonged=prolonged, clusters=clusters,
                       longest_s=longest, p_value=p_value, blink_p_value=blink_p, combined_p_value=combined_p,
                       decisive=decisive, confidence=round(1.0 - combined_p, 3) if decisive else 0.0)


def fisher_p(p_values) -> float:
    """Fisher's combination of k independent p-values: P(chi2 with 2k degrees of freedom >= -2 sum ln p),
    which for even degrees of freedom is P(Poisson(-sum ln p) <= k - 1)."""
    half = -float(np.sum(np.log(np.maximum(np.asarray(p_values, dtype=np.float64), 1e-300))))
    return float(pdtr(len(p_values) - 1, half))


def _shut(events: Events, closures: np.ndarray, settings: AnalysisSettings) -> np.ndarray:
    """(k,) bool: whether each of the ``closures`` (event indices) shuts the eyes at least
    ``closed_share`` as far as the recording's median blink does (all True without blinks to compare)."""
    blinks = events.amplitude[events.kind == "blink"]
    depth = float(np.median(blinks)) if blinks.size else 0.0
    return events.amplitude[closures] >= settings.closed_share * depth


def onset_synchrony(events: Events, signals, *, settings: AnalysisSettings = DEFAULT_SETTINGS) -> tuple[int, float]:
    """(k, p): k of the right side's episodes start within ``sync_window_s`` of a left episode's start;
    p is the share of circular shifts of the right train (:func:`permutation_shifts`) giving k or more
    such coincidences. Two independent spasms meet by chance; one bilateral movement read as two
    one-sided ones starts together on both sides."""
    times = signals.times_s
    left = events.start_s[episode_starts(events, "left", gap_s=settings.episode_gap_s)] - times[0]
    right = events.start_s[episode_starts(events, "right", gap_s=settings.episode_gap_s)] - times[0]
    if not (left.size and right.size and signals.fps > 0):
        return 0, 1.0
    period = times.size / signals.fps

    def coincidences(shift_s: np.ndarray) -> np.ndarray:
        moved = (right[None, :] + shift_s[:, None]) % period
        gap = np.abs(moved[:, :, None] - left[None, None, :])
        return (np.minimum(gap, period - gap) <= settings.sync_window_s).any(axis=2).sum(axis=1)

    observed = int(coincidences(np.zeros(1))[0])
    if observed == 0:
        return 0, 1.0
    shifts = permutation_shifts(times.size, signals.fps, count=int(settings.permutations)) / signals.fps
    return observed, float((1 + np.count_nonzero(coincidences(shifts) >= observed)) / (shifts.size + 1))


def classify(events: Events, signals, *, settings: AnalysisSettings = DEFAULT_SETTINGS,
             segments: tuple = (), closures: ClosureTest | None = None) -> Verdict:
    """Verdict from :class:`~spasmscan.events.Events` and :class:`~spasmscan.signals.Signals`.

    settings: the thresholds (:class:`~spasmscan.settings.AnalysisSettings`), the same the events
    were detected with. segments: the examination steps (:class:`spasmscan.protocol.Segment`) when
    the recording followed a protocol: eye closures in a prompted step are voluntary.
    A recording the one-sided episodes leave 'none' or 'indeterminate' is blepharospasm when its
    involuntary closures of both eyes decide it (``closures``, default: :func:`closure_test` of these);
    so is one they call synkinesis only by episodes that came with closures of both eyes, when those
    closures decide blepharospasm (they are spasms then, not the voluntary movements synkinesis needs).
    """
    n_frames = signals.times_s.size
    face_fraction = float(np.mean(signals.face_present)) if n_frames else 0.0
    tracked_s = signals.tracked_s if n_frames else 0.0
    if tracked_s < settings.min_tracked_s:
        return Verdict("indeterminate", "none", 0.0, float("nan"),
                       f"the recording has only {tracked_s:.1f} s of tracked face; at least "
                       f"{settings.min_tracked_s:.0f} s are needed to judge", ())
    if face_fraction < settings.min_face_fraction:
        return Verdict("indeterminate", "none", 0.0, float("nan"),
                       f"the face was tracked in only {100 * face_fraction:.0f}% of the frames; at least "
                       f"{100 * settings.min_face_fraction:.0f}% are needed", ())
    # Noisy eyes are no reason to withhold a verdict: the thresholds grow with the noise, so what is found
    # stands out of it; what they hide lowers the confidence in 'none'.
    visible = float(np.clip(1.0 - asymmetry_noise(signals, events) / settings.max_asymmetry_noise, 0.0, 1.0))
    verdict = _one_sided_verdict(events, signals, visible=visible, settings=settings)
    if verdict.label not in ("none", "indeterminate", "synkinesis"):
        return verdict
    closures = closures or closure_test(events, signals, settings=settings, segments=segments)
    if verdict.label == "synkinesis" and not (closures.decisive and _carried_by_closures(events, verdict.side)):
        return verdict
    if closures.decisive:
        return Verdict("blepharospasm", "both", min(closures.confidence, settings.blepharospasm_confidence),
                       float("nan"), closures.reason(settings) + BLEPHAROSPASM_CAUTION,
                       verdict.evidence + (closures.sentence(settings),))
    if closures.p_value <= settings.rest_alpha:  # suggestive, not enough: said, not decided on
        return replace(verdict, evidence=verdict.evidence + (closures.sentence(settings),))
    return verdict


def _carried_by_closures(events: Events, side: str) -> bool:
    """Whether ``side``'s one-sided events that came with a voluntary movement all came with closures
    of both eyes (CLOSURE_KINDS), and some did."""
    partners = events.coupled_to[events.one_sided & (events.side == side) & (events.coupled_to >= 0)]
    return bool(partners.size) and bool(np.isin(events.kind[partners], CLOSURE_KINDS).all())


def _one_sided_verdict(events: Events, signals, *, visible: float, settings: AnalysisSettings) -> Verdict:
    """The verdict from the one-sided episodes alone (``visible``: 0..1, how well twitches show
    through the two eyes' restless difference)."""
    tracked_s = signals.tracked_s
    tests = {side: coupling_test(events, signals, side, settings=settings) for side in SIDES}
    synkinetic = _synkinesis(tests, settings)
    if synkinetic is not None:
        side = synkinetic
        test, other = tests[side], tests[mirror_side(side)]
        side_p = binomial_sf(test.n_inside, test.n_inside + other.n_inside, 0.5)
        return Verdict("synkinesis", side, round((1.0 - side_p) * (1.0 - test.p_value), 3), test.p_value,
                       f"{test.n_inside} of {test.n_episodes} one-sided {side} episodes come with voluntary movements "
                       f"of another region, whose spans cover {100 * test.window_share:.0f}% of the time "
                       f"(circular-shift p = {test.p_value:.2g}): time-locked",
                       tuple(_evidence(events, signals, tests, side)))
    # Synkinesis is quiet at rest: a side whose episodes at rest already beat false detections meets
    # the voluntary movements with its spasms, and its movement-locked response says nothing more.
    locked = [t for t in triggered_tests(events, signals, settings=settings)
              if t.p_value <= settings.coupling_alpha / len(TRIGGER_KINDS) and abs(t.response) >= RESPONSE_FLOOR[t.region]
              and tests[t.side].rest_p_value > settings.rest_alpha]
    if locked and len({t.side for t in locked}) == 1:
        best = min(locked, key=lambda t: t.p_value)
        return Verdict("synkinesis", best.side, round(1.0 - best.p_value * len(TRIGGER_KINDS), 3), best.p_value,
                       f"with the median of {best.triggers} voluntary movements that do not move it, the {best.region} "
                       f"{'closes' if best.region == 'eye' else 'pulls'} more on the {best.side} by "
                       f"{abs(best.response):.3f} (circular-shift p = {best.p_value:.2g}): a co-contraction "
                       "time-locked to them, though too small to stand out one by one",
                       tuple(_evidence(events, signals, tests, best.side)))
    counts = {side: tests[side].n_episodes for side in SIDES}
    side = max(SIDES, key=lambda s: (counts[s], s == "left"))
    total = sum(counts.values())
    side_p = binomial_sf(counts[side], total, 0.5)
    test = tests[side]
    evidence = tuple(_evidence(events, signals, tests, side))
    where = f"({counts['left']} left, {counts['right']} right) in {tracked_s:.0f} s"
    one_sided = counts[side] >= settings.min_side_share * total

    # Bilateral hemifacial spasm: one side's episodes at rest a spasm of their own beyond doubt, the other
    # side's beyond false detections as a primary spasm's must be, the two starting independently.
    own_p = {s: _own_spasm_p(tests[s], tracked_s, settings) for s in SIDES}
    rest_p = {s: _rest_spasm_p(tests[s], tracked_s, settings) for s in SIDES}
    firsts = [s for s in SIDES if own_p[s] is not None and rest_p[mirror_side(s)] <= settings.rest_alpha]
    strong = bool(firsts)
    coincident, sync_p = onset_synchrony(events, signals, settings=settings) if strong else (0, 1.0)
    if strong and sync_p > settings.coupling_alpha:
        first = min(firsts, key=lambda s: own_p[s])
        at_rest_p = {first: own_p[first], mirror_side(first): rest_p[mirror_side(first)]}
        left, right = tests["left"], tests["right"]
        return Verdict("primary_hfs", "both", round((1.0 - at_rest_p["left"]) * (1.0 - at_rest_p["right"]), 3),
                       min(left.p_value, right.p_value),
                       f"one-sided episodes at rest on both sides, each more than false detections give "
                       f"({left.rest_episodes} left, {left.rest_detections} twitches, {left.rest_large} large, "
                       f"p = {at_rest_p['left']:.2g}; {right.rest_episodes} right, {right.rest_detections} twitches, "
                       f"{right.rest_large} large, p = {at_rest_p['right']:.2g}) in {tracked_s:.0f} s, starting "
                       f"independently of each other ({coincident} within {settings.sync_window_s:g} s of the "
                       f"other side's, circular-shift p = {sync_p:.2g}): bilateral hemifacial spasm", evidence)
    if counts[side] < settings.min_episodes:
        # False alarms are single detections: one or two bursts at rest count by their twitches.
        chance_p = _twitches_p(test, tracked_s, settings)
        twitches = f"{test.rest_detections} twitch{'es' if test.rest_detections != 1 else ''}"
        episodes = f"{counts[side]} one-sided {side} episode{'s' if counts[side] != 1 else ''}"
        large_p = _decisive_large_p(test, tracked_s, settings)
        if one_sided and test.rest_detections >= settings.min_episodes and chance_p <= settings.strong_alpha:
            return Verdict("primary_hfs", side,
                           round(min(settings.few_episodes_confidence, (1.0 - side_p) * (1.0 - chance_p)), 3),
                           test.p_value, f"{episodes} ({twitches}) at rest {where}, far more than false detections "
                           f"give (p = {chance_p:.2g}); a longer recording at rest (2-3 minutes) would confirm it",
                           evidence)
        if one_sided and large_p is not None:
            return Verdict("primary_hfs", side,
                           round(min(settings.few_episodes_confidence, (1.0 - side_p) * (1.0 - large_p)), 3),
                           test.p_value, f"{episodes} ({twitches}) at rest {where}, {test.rest_large} of them "
                           f"standing at least {settings.large_event_strength:g} times the detection threshold out "
                           f"of the noise, which false detections almost never do (p = {large_p:.2g}); a longer "
                           "recording at rest (2-3 minutes) would confirm it", evidence)
        # A pair of detections is what one tracker glitch, split at a dip, can give: a hint needs a burst
        # rarer than false detections give, or an eye held shut on one side for a second or more at rest
        # (the tonic spasm of primary HFS; false detections last a few tenths of a second).
        burst = test.rest_detections >= settings.min_episodes and chance_p <= settings.suggestive_alpha
        if one_sided and (burst or test.rest_tonic > 0):
            return Verdict("indeterminate", side, round(1.0 - side_p, 3), test.p_value,
                           f"only {episodes} ({twitches}) at rest {where}: "
                           + ("a held one-sided closure" if test.rest_tonic else "more than false detections usually give")
                           + f" (p = {chance_p:.2g}), too few to judge; a longer recording at rest (2-3 minutes) "
                           "would decide", evidence)
        hidden = ("" if visible >= 0.5 else "; the two eyes' openings differ a lot from moment to moment, "
                  "so small twitches may be missed")
        return Verdict("none", "none", round(visible * _none_confidence(counts[side], tracked_s / 60.0, settings), 3),
                       test.p_value, f"fewer than {settings.min_episodes} one-sided episodes on either side {where}"
                       + hidden, evidence)
    if not one_sided:
        together = (f"; they start together ({coincident} within {settings.sync_window_s:g} s, circular-shift "
                    f"p = {sync_p:.2g}): one movement of both sides, not two spasms" if strong else "")
        return Verdict("none", "none", round(1.0 - counts[side] / total, 3), test.p_value,
                       f"one-sided episodes occur on both sides alike {where}: a spasm of one side would "
                       "favour it" + together, evidence)
    if test.rest_p_value <= settings.rest_alpha:
        return Verdict("primary_hfs", side, round((1.0 - side_p) * (1.0 - test.rest_p_value), 3), test.p_value,
                       f"{test.rest_episodes} of {test.n_episodes} one-sided {side} episodes "
                       f"({test.rest_rate_per_min:.1f}/min) happen at rest"
                       + (f" or only prolong a voluntary movement of their own region ({test.prolonging} of them)"
                          if test.prolonging else "")
                       + (f" or meet one as a clonic burst, which no co-contraction is ({test.clonic} of them)"
                          if test.clonic else "") +
                       f", independent of voluntary movements (time-locking p = {test.p_value:.2g})", evidence)
    all_p = poisson_sf(test.n_episodes, settings.false_alarm_per_min * tracked_s / 60.0)
    if test.accompanied < settings.steady_share * test.of_kinds and all_p <= settings.rest_alpha:
        return Verdict("primary_hfs", side, round((1.0 - side_p) * (1.0 - all_p), 3), test.p_value,
                       f"{test.n_episodes} one-sided {side} episodes in {tracked_s:.0f} s, more than false detections "
                       f"explain (p = {all_p:.2g}); the {test.n_inside} that meet a voluntary movement came with "
                       f"only {test.accompanied} of {test.of_kinds} such movements: by chance, not synkinesis "
                       f"(time-locking p = {test.p_value:.2g})", evidence)
    return Verdict("indeterminate", side, round(1.0 - side_p, 3), test.p_value,
                   f"{test.n_inside} of {test.n_episodes} one-sided {side} episodes come with voluntary movements "
                   f"(p = {test.p_value:.2g}) and {test.rest_episodes} at rest: neither clearly time-locked nor "
                   "clearly at rest", evidence)


REST_MARGIN_S = 0.1  # the asymmetry at rest is read this far from every detected event (their ramps)
MIN_REST_SHARE = 0.2  # ... when at least this share of the frames is left; else over all frames


def _decisive_large_p(test: CouplingTest, tracked_s: float, settings: AnalysisSettings) -> float | None:
    """P(>= the side's large detections at rest) for false ones in ``tracked_s`` when it decides (at least
    ``min_large_detections`` of them, p at most ``strong_alpha``), else None: noise barely passes a
    threshold, so large detections count against the far lower rate of false ones that large (one
    glitch split at a dip is rarely large twice)."""
    large_p = _large_p(test, tracked_s, settings)
    return large_p if test.rest_large >= settings.min_large_detections and large_p <= settings.strong_alpha else None


def _own_spasm_p(test: CouplingTest, tracked_s: float, settings: AnalysisSettings) -> float | None:
    """The p-value by which one side's episodes at rest are a spasm of their own, as each side of
    bilateral hemifacial spasm must be: far more episodes than false detections give (at
    ``bilateral_alpha``), or enough large detections (:func:`_decisive_large_p`); None when neither holds."""
    if test.rest_p_value <= settings.bilateral_alpha:
        return test.rest_p_value
    return _decisive_large_p(test, tracked_s, settings)


def _twitches_p(test: CouplingTest, tracked_s: float, settings: AnalysisSettings) -> float:
    """P(>= the side's one-sided events at rest) for false detections at false_alarm_per_min in ``tracked_s``."""
    return poisson_sf(test.rest_detections, settings.false_alarm_per_min * tracked_s / 60.0)


def _large_p(test: CouplingTest, tracked_s: float, settings: AnalysisSettings) -> float:
    """P(>= the side's large detections at rest) for false ones at large_false_alarm_per_min in ``tracked_s``."""
    return poisson_sf(test.rest_large, settings.large_false_alarm_per_min * tracked_s / 60.0)


def _rest_spasm_p(test: CouplingTest, tracked_s: float, settings: AnalysisSettings) -> float:
    """The p-value of ``test``'s side's activity at rest against false detections, the smallest of three
    counts against their own false rates: its episodes, their twitches and the large ones among them."""
    return min(test.rest_p_value, _twitches_p(test, tracked_s, settings), _large_p(test, tracked_s, settings))


def asymmetry_noise(signals, events: Events) -> float:
    """Robust SD of the left-right difference of the eye openings (share of the open eye) at rest,
    away from every detected event: what a one-sided closure must stand out of. Expressions that
    move both eyes cancel in it; frequent spasms do not inflate it. 0 when unknown."""
    difference = signals.values.get("eye_asymmetry")
    if difference is None:
        return 0.0
    known = np.isfinite(difference)
    rest = known & ~_span_mask(signals.times_s, events.start_s - REST_MARGIN_S, events.end_s + REST_MARGIN_S)
    level = robust_noise(difference[rest if rest.mean() >= MIN_REST_SHARE else known])
    return float(level) if np.isfinite(level) else 0.0


def _synkinesis(tests: dict, settings: AnalysisSettings) -> str | None:
    """The side whose episodes are time-locked to voluntary movements of other regions, or None. The
    sides are weighed by those time-locked episodes alone: stray events of the other side do not
    make a synkinesis 'both sides alike'."""
    def locked(s: str) -> bool:
        t = tests[s]
        return (t.n_inside >= settings.min_episodes and t.p_value <= settings.coupling_alpha
                and t.n_inside >= settings.synkinesis_min_share * t.n_episodes)

    candidates = [s for s in SIDES if locked(s)]
    if not candidates:
        return None
    side = min(candidates, key=lambda s: (tests[s].p_value, -tests[s].n_inside))
    inside = tests[side].n_inside + tests[mirror_side(side)].n_inside
    return side if tests[side].n_inside >= settings.min_side_share * inside else None


def _none_confidence(count: int, minutes: float, settings: AnalysisSettings) -> float:
    """Confidence in 'none': the chance that a mild spasm (reference_rate_per_min) would have shown
    at least ``min_episodes`` episodes in this time, times the share of ``min_episodes`` not seen."""
    seen_if_spasm = poisson_sf(settings.min_episodes, settings.reference_rate_per_min * minutes)
    return round(seen_if_spasm * (1.0 - count / settings.min_episodes), 3)


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
    counts = ", ".join(f"{np.count_nonzero(events.kind == kind.name)} {kind.plural}" for kind in KINDS if kind.voluntary)
    lines.append(f"Voluntary movements: {counts}; their windows cover {100 * tests[side].window_share:.0f}% of the "
                 "tracked time.")
    return lines
