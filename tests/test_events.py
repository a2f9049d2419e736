"""Events from synthetic signals whose events are known (no landmarks, no video)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from spasmscan.errors import ParameterError
from spasmscan.events import EVENT_KINDS, Events, detect_events, hysteresis_runs, ramp_onset, split_at_dips
from spasmscan.settings import AnalysisSettings
from spasmscan.regions import SIDES
from spasmscan.signals import SIGNAL_BASES, Signals, compute_signals, robust_noise

FULL_BLINK = 0.35  # a shut eye moves MediaPipe's lid landmarks only about this share of the way


def make_signals(duration_s: float = 30.0, fps: float = 30.0, *, noise: float = 0.01, seed: int = 0,
                 eye=None, mouth=None, brow=None) -> Signals:
    """Signals of a patient at rest plus the given movements.

    eye, mouth, brow: lists of (side or "both", start_s, length_s, depth): lid closure (share of
    the open aperture), mouth pull along the up-and-out diagonal (IOD) and brow rise (IOD), each
    a smooth bump. noise: Gaussian SD in the signals' units.
    """
    times = np.arange(int(round(duration_s * fps))) / fps
    rng = np.random.default_rng(seed)
    closure = {s: np.zeros_like(times) for s in SIDES}
    pull = {s: np.zeros_like(times) for s in SIDES}
    rise = {s: np.zeros_like(times) for s in SIDES}
    for table, spec in ((closure, eye), (pull, mouth), (rise, brow)):
        for side, start, length, depth in spec or ():
            inside = (times >= start) & (times < start + length)
            shape = np.sin(np.pi * (times[inside] - start) / length) ** 0.3  # quick rise, plateau, quick fall
            for s in (SIDES if side == "both" else (side,)):
                table[s][inside] += depth * shape
    values = {}
    for s in SIDES:
        values[f"eye_aperture_{s}"] = 1.0 - closure[s] + rng.normal(0, noise, times.size)
        values[f"brow_height_{s}"] = rise[s] + rng.normal(0, noise / 3, times.size)
        component = pull[s] / np.sqrt(2.0)
        values[f"mouth_corner_lateral_{s}"] = component + rng.normal(0, noise / 3, times.size)
        values[f"mouth_corner_vertical_{s}"] = component + rng.normal(0, noise / 3, times.size)
        values[f"cheek_height_{s}"] = rng.normal(0, noise / 3, times.size)
    noise_levels = {name: robust_noise(v - (1.0 if name.startswith("eye") else 0.0)) for name, v in values.items()}
    return Signals(times_s=times, face_present=np.ones(times.size, bool), values=values,
                   units=dict.fromkeys(values, "test units"), noise=noise_levels, fps=fps)


def kinds(events: Events, kind: str, side: str | None = None) -> np.ndarray:
    mask = events.kind == kind
    if side is not None:
        mask &= events.side == side
    return np.flatnonzero(mask)


def blinks_at(starts, length=0.2, depth=FULL_BLINK):
    return [("both", s, length, depth) for s in starts]


def test_quiet_face_has_no_events():
    events = detect_events(make_signals(60.0, noise=0.015))
    assert len(events) == 0


@pytest.mark.parametrize("fps", [25.0, 30.0, 60.0])
def test_blinks_are_found_with_their_timing(fps):
    starts = [2.0, 6.5, 11.0, 15.2, 19.9]
    events = detect_events(make_signals(25.0, fps, eye=blinks_at(starts, 0.25)))
    found = kinds(events, "blink")
    assert len(found) == len(starts)
    assert events.start_s[found] == pytest.approx(starts, abs=0.06)
    assert events.duration_s[found] == pytest.approx(0.25, abs=0.1)
    assert (events.side[found] == "both").all()
    assert len(kinds(events, "twitch")) == 0


def test_slightly_lopsided_blinks_are_not_twitches():
    eye = []
    for start in np.arange(2.0, 28.0, 3.0):
        eye += [("left", start, 0.22, FULL_BLINK), ("right", start + 0.03, 0.2, 0.75 * FULL_BLINK)]
    events = detect_events(make_signals(30.0, eye=eye))
    assert len(kinds(events, "blink")) == len(np.arange(2.0, 28.0, 3.0))
    assert len(kinds(events, "twitch")) == 0


@pytest.mark.parametrize("side", SIDES)
def test_one_sided_twitches_at_rest(side):
    starts = [3.0, 7.1, 12.4, 18.0, 24.6]
    eye = [(side, s, 0.12, 0.15) for s in starts] + blinks_at([5.0, 15.0, 27.0])
    events = detect_events(make_signals(30.0, eye=eye))
    found = kinds(events, "twitch")
    assert len(found) == len(starts)
    assert (events.side[found] == side).all()
    assert (events.region[found] == "eye").all()
    assert (events.coupled_to[found] == -1).all()
    assert events.start_s[found] == pytest.approx(starts, abs=0.06)
    assert len(kinds(events, "blink")) == 3


def test_strength_is_the_peak_over_the_detection_threshold():
    """Twice as deep a closure on the same noise stands twice as far over the same threshold."""
    eye = [("left", 6.0, 0.2, 0.15), ("left", 16.0, 0.2, 0.3)] + blinks_at([10.0, 22.0])
    events = detect_events(make_signals(30.0, eye=eye))
    twitches = kinds(events, "twitch")
    assert len(twitches) == 2 and np.all(events.strength[twitches] > 1.0)
    assert events.strength[twitches[1]] == pytest.approx(2 * events.strength[twitches[0]], rel=0.2)
    assert np.all(events.strength[kinds(events, "blink")] > 1.0)
    made = Events(kind=events.kind, side=events.side, region=events.region, start_s=events.start_s,
                  end_s=events.end_s, amplitude=events.amplitude, coupled_to=events.coupled_to)
    assert np.isnan(made.strength).all() and made.strength.shape == events.kind.shape  # unknown unless given
    assert Events.empty().strength.shape == (0,)


def test_long_one_sided_closure_is_a_tonic_spasm():
    events = detect_events(make_signals(20.0, eye=[("right", 8.0, 1.6, 0.25)]))
    assert kinds(events, "tonic_spasm", "right").size == 1
    i = kinds(events, "tonic_spasm")[0]
    assert events.duration_s[i] == pytest.approx(1.6, abs=0.15)
    assert events.amplitude[i] == pytest.approx(0.25, abs=0.05)
    assert len(kinds(events, "twitch")) == 0


def test_twitch_riding_on_a_blink_is_found_and_coupled():
    eye = blinks_at([5.0, 10.0, 15.0]) + [("left", 10.0, 0.7, FULL_BLINK)]  # the left eye stays shut longer
    events = detect_events(make_signals(20.0, eye=eye))
    assert len(kinds(events, "blink")) == 3
    twitch = kinds(events, "twitch", "left")
    assert twitch.size == 1
    assert events.start_s[twitch[0]] == pytest.approx(10.0, abs=0.06)  # the closure began with the blink
    coupled = events.coupled_to[twitch[0]]
    assert events.kind[coupled] == "blink"
    assert events.start_s[coupled] == pytest.approx(10.0, abs=0.06)


def test_mouth_pull_with_every_blink_is_coupled_to_the_blinks():
    starts = [2.0, 5.0, 8.5, 12.0, 16.0]
    pulls = [("right", s, 0.3, 0.06) for s in starts]
    events = detect_events(make_signals(20.0, eye=blinks_at(starts), mouth=pulls))
    twitches = kinds(events, "twitch", "right")
    assert len(twitches) == len(starts)
    assert (events.region[twitches] == "mouth").all()
    assert all(events.kind[events.coupled_to[i]] == "blink" for i in twitches)


def test_mouth_pull_on_a_blink_that_lifts_both_corners_is_found():
    """A blink lifts both tracked corners a little, each peaking at its own frame; the pulled corner's
    lead over the other corner at the same frame is the synkinetic pull (no lag tolerance)."""
    starts = [2.0, 5.0, 8.5, 12.0, 16.0]
    lift = [("both", s, 0.2, 0.03) for s in starts]  # the blink's echo in both corners
    pulls = [("left", s + 0.03, 0.2, 0.03) for s in starts]  # a short pull, barely above the threshold
    events = detect_events(make_signals(20.0, noise=0.006, eye=blinks_at(starts), mouth=lift + pulls))
    twitches = kinds(events, "twitch", "left")
    assert len(twitches) == len(starts)
    assert len(kinds(events, "twitch", "right")) == 0


def test_a_lopsided_smile_is_no_twitch():
    smiles = [("both", s, 1.5, 0.06) for s in (3.0, 9.0, 15.0)]
    extra = [("left", s + 0.3, 0.8, 0.04) for s in (3.0, 9.0, 15.0)]  # the left corner pulls further
    events = detect_events(make_signals(20.0, mouth=smiles + extra))
    assert kinds(events, "smile").size == 3
    assert len(kinds(events, "twitch")) + len(kinds(events, "tonic_spasm")) == 0


def test_a_slow_smile_starts_where_it_began_to_rise():
    times_s = np.arange(int(20.0 * 30)) / 30.0
    signals = make_signals(20.0, noise=0.006)
    ramp = np.clip((times_s - 8.0) / 0.6, 0.0, 1.0) * (times_s < 11.0) * 0.06  # 0.6 s to reach a 0.06 pull
    for s in SIDES:
        for axis in ("lateral", "vertical"):
            signals.values[f"mouth_corner_{axis}_{s}"] += ramp / np.sqrt(2.0)
    events = detect_events(signals)
    smile = kinds(events, "smile")
    assert smile.size == 1
    assert events.start_s[smile[0]] == pytest.approx(8.0, abs=0.1)  # not where it passed half its threshold


def test_eye_and_mouth_together_make_one_eye_plus_mouth_event():
    events = detect_events(make_signals(20.0, eye=[("left", 6.0, 0.3, 0.2)], mouth=[("left", 6.05, 0.3, 0.06)]))
    twitch = kinds(events, "twitch", "left")
    assert twitch.size == 1
    assert events.region[twitch[0]] == "eye+mouth"


def test_brow_raises_and_smiles_are_voluntary_bilateral_events():
    events = detect_events(make_signals(20.0, brow=[("both", 4.0, 1.0, 0.07)], mouth=[("both", 10.0, 1.5, 0.06)]))
    assert kinds(events, "brow_raise").size == 1
    assert kinds(events, "smile").size == 1
    assert events.start_s[kinds(events, "smile")[0]] == pytest.approx(10.0, abs=0.15)
    assert len(kinds(events, "twitch")) == 0


def test_eye_narrowing_with_smiles_is_coupled_to_the_smile():
    smiles = [3.0, 9.0, 15.0]
    events = detect_events(make_signals(20.0, mouth=[("both", s, 1.2, 0.06) for s in smiles],
                                        eye=[("right", s + 0.1, 1.0, 0.15) for s in smiles]))
    narrowing = np.flatnonzero(events.one_sided & (events.side == "right"))
    assert len(narrowing) == 3
    assert all(events.kind[events.coupled_to[i]] == "smile" for i in narrowing)


def test_coupling_is_overlap_with_the_movement_widened_by_the_tolerances():
    """A co-contraction may start late in a movement and outlast it: an eye closing 1.5 s into a 3 s
    smile overlaps it (whether by chance is the classification's permutation test); one starting
    well after the smile and its lag tolerance does not."""
    smiles = [3.0, 12.0]
    events = detect_events(make_signals(20.0, mouth=[("both", s, 3.0, 0.06) for s in smiles],
                                        eye=[("right", 4.5, 0.8, 0.2), ("right", 16.0, 0.3, 0.3)]))
    narrowing = np.flatnonzero(events.one_sided & (events.side == "right"))
    assert events.start_s[narrowing].round(1).tolist() == pytest.approx([4.5, 16.0], abs=0.15)
    assert events.kind[events.coupled_to[narrowing[0]]] == "smile"
    assert events.coupled_to[narrowing[1]] == -1


def test_swapping_the_sides_swaps_the_events():
    signals = make_signals(30.0, eye=blinks_at([4.0, 14.0]) + [("left", 7.0, 0.1, 0.2), ("left", 20.0, 1.5, 0.2)],
                           mouth=[("right", 11.0, 0.3, 0.06)])
    a, b = detect_events(signals), detect_events(signals.swapped_sides())
    swap = {"left": "right", "right": "left", "both": "both"}
    assert a.kind.tolist() == b.kind.tolist()
    assert [swap[s] for s in a.side] == b.side.tolist()
    np.testing.assert_allclose(a.start_s, b.start_s)


def test_long_tracking_gap_makes_no_events():
    signals = make_signals(20.0, eye=[("left", 5.0, 0.2, 0.2)])
    gap = (signals.times_s > 10) & (signals.times_s < 14)
    for name in signals.values:
        signals.values[name][gap] = np.nan
    events = detect_events(signals)
    assert kinds(events, "twitch").size == 1


def test_events_are_well_formed():
    events = detect_events(make_signals(30.0, eye=blinks_at([3, 9]) + [("right", 5.0, 0.1, 0.2)],
                                        brow=[("both", 15.0, 1.0, 0.07)]))
    assert set(events.kind) <= set(EVENT_KINDS)
    assert (events.end_s > events.start_s).all()
    assert np.all(np.diff(events.start_s) >= 0)
    assert events.coupled_to.dtype == np.int64
    voluntary = events.voluntary
    assert (events.coupled_to[voluntary] == -1).all()


def test_bad_options_are_refused():
    with pytest.raises(ParameterError, match="noise_k"):
        detect_events(make_signals(5.0), settings=AnalysisSettings(noise_k=0))


def test_hysteresis_runs():
    values = np.array([0, 0.6, 1.2, 0.6, 0, 0.6, 0.7, 0])
    assert hysteresis_runs(values, 1.0, 0.5) == [(1, 3)]


def test_events_read_the_signals_under_the_names_the_signal_stage_gives_them():
    from test_signals import pulse, synthetic_series

    points, times = synthetic_series(20.0, closure={"left": pulse(8.0, 0.15, 0.6)}, noise_px=0.2)
    signals = compute_signals(points, times)
    assert {f"{base}_{side}" for base in SIGNAL_BASES for side in SIDES} <= set(signals.names)
    events = detect_events(signals)
    assert kinds(events, "twitch", "left").size == 1 and kinds(events, "twitch", "right").size == 0
    assert events.start_s[kinds(events, "twitch", "left")] == pytest.approx([8.0], abs=0.1)


def test_burst_of_clonic_twitches_gives_one_event_per_twitch():
    starts = [6.0, 6.25, 6.5, 6.75]  # 4 Hz; the eye reopens for 0.1 s between twitches
    eye = [("right", s, 0.15, 0.2) for s in starts]
    events = detect_events(make_signals(20.0, eye=eye))
    twitches = kinds(events, "twitch", "right")
    assert len(twitches) == len(starts)
    assert events.start_s[twitches] == pytest.approx(starts, abs=0.06)


def test_split_at_dips():
    values = np.array([0, 1.0, 0.2, 1.0, 0.9, 1.0, 0])
    assert split_at_dips(values, 1, 5, dip_share=0.5, height=0.3, floor=0.25) == [(1, 1), (2, 5)]
    assert split_at_dips(values, 1, 5, dip_share=0.9, height=0.3, floor=0.25) == [(1, 5)]
    assert split_at_dips(values, 1, 5, dip_share=0.5, height=0.3, floor=0.1) == [(1, 5)]


def test_lopsided_blinks_of_a_hard_negative_are_not_twitches():
    eye = []
    for start in np.arange(2.0, 28.0, 3.0):  # one eye's landmarks close twice as far, but the eyes move together
        eye += [("left", start, 0.25, 0.8), ("right", start, 0.25, 0.4)]
    events = detect_events(make_signals(30.0, eye=eye))
    assert len(kinds(events, "blink")) == len(np.arange(2.0, 28.0, 3.0))
    assert not events.one_sided.any()


def test_held_bilateral_closure_is_an_eye_closure_not_a_blink():
    events = detect_events(make_signals(20.0, eye=blinks_at([3.0, 12.0]) + [("both", 7.0, 2.0, 0.2)]))
    assert len(kinds(events, "blink")) == 2
    closure = kinds(events, "eye_closure")
    assert closure.size == 1
    assert events.start_s[closure[0]] == pytest.approx(7.0, abs=0.15)
    assert events.voluntary[closure[0]]


@pytest.mark.parametrize("seed", range(20))
def test_local_peaks_are_find_peaks_ones(seed):
    from scipy.signal import find_peaks

    from spasmscan.events import local_peaks

    rng = np.random.default_rng(seed)
    values = np.round(rng.uniform(0, 1, rng.integers(0, 60)), 1)  # rounding makes flat tops and plateaus
    height = rng.uniform(0, 1)
    np.testing.assert_array_equal(local_peaks(values, height=height), find_peaks(values, height=height)[0])


def test_ramp_onset_extends_the_steep_part_of_a_rise_back_to_zero():
    values = np.concatenate((np.zeros(10), np.linspace(0.0, 1.0, 21), np.ones(30)))  # rises over frames 10-30
    assert ramp_onset(values, 15, 60) == 10  # from the frame the rise left the noise, back to its true start
    assert ramp_onset(values, 15, 30) == 10  # the peak within a shorter span: the same line
    assert ramp_onset(-values, 15, 60) == 15  # no rise: the start stays


def test_a_slow_one_sided_narrowing_starts_where_it_began_to_rise():
    """Synkinetic eye narrowings ramp up over a few tenths of a second; in noise, their lead first
    passes half a noise SD well after they began, but the steep part of the ramp points back to it."""
    signals = make_signals(40.0, noise=0.02, seed=5)
    times = signals.times_s
    starts = np.arange(2.0, 38.0, 4.0)
    for start in starts:  # a 0.5 s cosine ramp to a 0.2 narrowing, held, relaxing over 0.4 s
        rise = 0.5 - 0.5 * np.cos(np.pi * np.clip((times - start) / 0.5, 0.0, 1.0))
        fall = 0.5 - 0.5 * np.cos(np.pi * np.clip((start + 1.5 - times) / 0.4, 0.0, 1.0))
        signals.values["eye_aperture_left"] -= 0.2 * np.minimum(rise, fall)
    events = detect_events(signals)
    found = events.start_s[events.one_sided & (events.side == "left")]
    assert found.size == starts.size
    assert np.sum(np.abs(found - starts) <= 0.15) >= 8  # within the matching tolerance (was 5 of 9)


def drag_lip_centre(signals: Signals, starts, *, pull: float, length_s: float = 0.25) -> None:
    """Half the outward part of right-corner pulls of ``pull`` IOD at ``starts`` moves with the lip
    centre, the lateral reference: the right corner reads that much less outward, the left that much more."""
    times = signals.times_s
    for start in starts:
        inside = (times >= start) & (times < start + length_s)
        drag = 0.5 * pull / np.sqrt(2.0) * np.sin(np.pi * (times[inside] - start) / length_s) ** 0.3
        signals.values["mouth_corner_lateral_right"][inside] -= drag
        signals.values["mouth_corner_lateral_left"][inside] += drag


def test_a_one_sided_pull_that_drags_the_lip_centre_is_found_on_a_blink():
    """A one-sided pull drags the lip centre, the lateral reference, towards its side: the pulled
    corner reads half its outward shift and the other corner the other half, and the blink lifts
    both. The pulled corner then leads by well under half of its reading, but it is a one-sided pull."""
    starts = [2.0, 5.0, 8.5, 12.0, 16.0]
    signals = make_signals(20.0, noise=0.006, eye=blinks_at(starts),
                           mouth=[("both", s, 0.25, 0.03) for s in starts] + [("right", s, 0.25, 0.06) for s in starts])
    drag_lip_centre(signals, starts, pull=0.06)
    events = detect_events(signals)
    twitches = kinds(events, "twitch", "right")
    assert len(twitches) == len(starts)
    assert (events.region[twitches] == "mouth").all()
    assert len(kinds(events, "twitch", "left")) == 0


def test_a_one_sided_pull_is_judged_on_its_steadier_component():
    """The corners' lateral shifts (against the lip centre, which the pull drags along) are the noisier
    and keep little of a one-sided pull; the vertical ones are steady and keep it. Weighing each by its
    steadiness finds the pull that the plain up-and-out diagonal leaves under its noise threshold."""
    starts = [2.0, 5.0, 8.5, 12.0, 16.0]
    pull = 0.045
    signals = make_signals(20.0, noise=0.006, eye=blinks_at(starts), mouth=[("right", s, 0.25, pull) for s in starts])
    times = signals.times_s
    rng = np.random.default_rng(1)
    for side in SIDES:  # the lateral shifts jitter three times as much as the vertical ones
        signals.values[f"mouth_corner_lateral_{side}"] += rng.normal(0, 0.006, times.size)
    drag_lip_centre(signals, starts, pull=pull)
    events = detect_events(signals)
    twitches = kinds(events, "twitch", "right")
    assert len(twitches) == len(starts)
    assert (events.region[twitches] == "mouth").all()
    assert len(kinds(events, "twitch", "left")) == 0


def test_a_mouth_held_askew_at_rest_is_no_spasm_but_with_a_brow_raise_it_counts():
    """Primary HFS holds the eye shut; a mouth corner held askew for seconds without the eye is a
    lopsided expression, unless it comes with a voluntary movement (a synkinetic pull outlasting it)."""
    held = detect_events(make_signals(20.0, mouth=[("left", 8.0, 2.5, 0.05)]))
    assert not held.one_sided.any()
    short = detect_events(make_signals(20.0, mouth=[("left", 8.0, 0.4, 0.05)]))
    assert np.count_nonzero(short.one_sided & (short.side == "left")) == 1
    raised = detect_events(make_signals(20.0, brow=[("both", 8.0, 1.5, 0.07)], mouth=[("left", 8.1, 2.5, 0.05)]))
    pulls = np.flatnonzero(raised.one_sided & (raised.side == "left"))
    assert pulls.size == 1 and raised.kind[raised.coupled_to[pulls[0]]] == "brow_raise"


def test_a_movement_under_way_in_the_first_frame_is_not_an_event():
    events = detect_events(make_signals(20.0, eye=[("right", 0.0, 0.3, 0.25), ("right", 9.0, 0.3, 0.25)]))
    onsets = events.start_s[events.one_sided]
    assert onsets.round(1).tolist() == [9.0]


def fused_signals(duration_s: float, *, lids=(), iris=(), both=(), seed: int = 0) -> Signals:
    """Signals whose eye opening fuses two measures, as with the visible iris: ``lids`` closures show in the
    lid landmarks only, ``iris`` ones in the image only, ``both`` in both (make_signals' eye specs)."""
    lid = make_signals(duration_s, seed=seed, eye=list(lids) + list(both))
    image = make_signals(duration_s, seed=seed + 1, eye=list(iris) + list(both))
    values = dict(lid.values)
    for side in SIDES:
        values[f"eye_lid_aperture_{side}"] = lid[f"eye_aperture_{side}"]
        values[f"eye_openness_{side}"] = image[f"eye_aperture_{side}"]
        values[f"eye_aperture_{side}"] = (lid[f"eye_aperture_{side}"] + image[f"eye_aperture_{side}"]) / 2
    return replace(lid, values=values, units=dict.fromkeys(values, "test units"))


def test_with_the_iris_fused_in_a_one_sided_closure_must_show_in_both_measures():
    """A closure only the iris measure sees (a squeeze darkening the strip) and one only the lids see are
    one measure's noise; a closure that moves the lids and covers the iris is a twitch."""
    both = detect_events(fused_signals(20.0, both=[("left", 8.0, 0.3, 0.4)]))
    assert np.count_nonzero(both.one_sided & (both.side == "left")) == 1
    for alone in ({"iris": [("left", 8.0, 0.3, 0.8)]}, {"lids": [("left", 8.0, 0.3, 0.8)]}):
        assert not detect_events(fused_signals(20.0, **alone)).one_sided.any()


def test_a_lead_between_two_close_blinks_is_their_unevenness():
    """Two blinks 0.3 s apart with the left eye still closing between them: the lids never settled, so the
    left's lead there is no twitch. The same lead a second after the pair is one."""
    pair = blinks_at([8.0, 8.5])
    between = detect_events(make_signals(20.0, eye=pair + [("left", 8.15, 0.4, 0.2)]))
    assert not between.one_sided.any()
    after = detect_events(make_signals(20.0, eye=pair + [("left", 9.7, 0.4, 0.2)]))
    assert np.count_nonzero(after.one_sided & (after.side == "left")) == 1
