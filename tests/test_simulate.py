"""The simulator: schedules and ground truth (pure), landmark motion, and what the real tracker sees.

Rendered clips are made once per session (small, short) and tracked with the real MediaPipe
tracker; every simulated event must move the tracked landmarks the right way by at least the
minimum stated in docs/simulator.md.
"""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from spasmscan import regions, simulate
from spasmscan.cli import cli
from spasmscan.errors import ParameterError
from spasmscan.simulate import ScheduleOptions, make_schedule

REAL_FACES = Path(__file__).resolve().parents[2] / "shared" / "real-faces"
ONE_SIDED = ("twitch", "tonic_spasm")


# -- schedules and truth (pure) -------------------------------------------------------------------

def test_same_seed_same_schedule_other_seed_other_schedule():
    a = make_schedule("primary_hfs", "left", 30.0, seed=4)
    b = make_schedule("primary_hfs", "left", 30.0, seed=4)
    c = make_schedule("primary_hfs", "left", 30.0, seed=5)
    assert [e.to_dict() for e in a] == [e.to_dict() for e in b]
    assert [e.to_dict() for e in a] != [e.to_dict() for e in c]


@pytest.mark.parametrize("seed", range(6))
def test_none_clips_hold_only_bilateral_movements_within_the_clip(seed):
    events = make_schedule("none", "none", 40.0, seed=seed)
    assert events and {e.side for e in events} == {"both"}
    assert not {e.kind for e in events} & set(ONE_SIDED)
    assert all(simulate.LEAD_IN_S <= e.start_s < e.end_s <= 40.0 - simulate.TAIL_S for e in events)
    blinks = [e for e in events if e.kind == "blink"]
    assert blinks and all(0.1 <= e.end_s - e.start_s <= 0.4 for e in blinks)
    assert [e.start_s for e in events] == sorted(e.start_s for e in events)


@pytest.mark.parametrize("seed", range(6))
def test_primary_hfs_spasms_are_one_sided_uncoupled_and_in_range(seed):
    events = make_schedule("primary_hfs", "right", 60.0, seed=seed, options=ScheduleOptions(twitch_rate_per_min=10))
    spasms = [e for e in events if e.kind in ONE_SIDED]
    assert spasms
    for e in spasms:
        assert e.side == "right" and e.coupled_to == -1 and e.region in ("eye", "eye+mouth")
        length = e.end_s - e.start_s
        if e.kind == "tonic_spasm":
            assert 1.0 <= length <= 3.0 and 0.7 <= e.amplitude <= 0.95
        else:
            assert 0.05 <= length <= 0.7 and 0.15 <= e.amplitude <= 0.75  # riding on a blink: up to blink + 0.3 s


def test_spasm_rates_are_log_uniform_from_a_third_to_25_per_minute():
    rates = np.array([simulate.clip_parameters("primary_hfs", seed=seed)["twitch_rate_per_min"]
                      for seed in range(400)])
    assert rates.min() >= 0.3 and rates.max() <= 25.0
    assert rates.min() < 0.5 and rates.max() > 20.0
    # log-uniform: as many clips below the geometric middle (about 2.7/min) as above it
    assert 0.4 < np.mean(rates < np.sqrt(0.3 * 25.0)) < 0.6


@pytest.mark.parametrize("seed", range(8))
def test_a_clip_with_one_spasm_episode_shows_a_burst_or_a_tonic_spasm(seed):
    events = make_schedule("primary_hfs", "left", 15.0, seed=seed, options=ScheduleOptions(twitch_rate_per_min=0.3))
    spasms = [e for e in events if e.kind in ONE_SIDED]
    tonic = [e for e in spasms if e.kind == "tonic_spasm"]
    assert spasms and (tonic == spasms == spasms[:1] or (not tonic and 2 <= len(spasms) <= simulate.BURST_SIZE[1]))
    assert spasms[-1].start_s - spasms[0].start_s < 3.0  # one episode


def test_twitch_sizes_reach_down_to_a_15_percent_closure():
    sizes = [e.amplitude for seed in range(20)
             for e in make_schedule("primary_hfs", "right", 60.0, seed=seed,
                                    options=ScheduleOptions(twitch_rate_per_min=20)) if e.kind == "twitch"]
    assert min(sizes) >= 0.15 and min(sizes) < 0.25 and max(sizes) > 0.65


def test_a_stated_rate_out_of_range_is_a_parameter_error():
    with pytest.raises(ParameterError, match="twitch rate"):
        make_schedule("primary_hfs", "left", 20.0, seed=0, options=ScheduleOptions(twitch_rate_per_min=0.1))


def test_spread_to_mouth_option_decides_the_region():
    with_mouth = make_schedule("primary_hfs", "left", 60.0, seed=1,
                               options=ScheduleOptions(twitch_rate_per_min=20, spread_to_mouth=True))
    without = make_schedule("primary_hfs", "left", 60.0, seed=1,
                            options=ScheduleOptions(twitch_rate_per_min=20, spread_to_mouth=False))
    assert any(e.region == "eye+mouth" for e in with_mouth)
    assert all(e.region == "eye" for e in without if e.kind in ONE_SIDED)


@pytest.mark.parametrize("seed", range(8))
def test_synkinesis_moves_with_most_voluntary_movements_and_never_at_rest(seed):
    events = make_schedule("synkinesis", "left", 40.0, seed=seed)
    share = simulate.clip_parameters("synkinesis", seed=seed)["synkinesis_share"]
    voluntary = [k for k, e in enumerate(events) if e.kind in simulate.SYNKINESIS_DRIVERS]
    twitches = [e for e in events if e.kind in ONE_SIDED]
    assert 0.6 <= share <= 1.0 and twitches
    assert len(twitches) == max(1, round(share * len(voluntary)))
    assert len({e.coupled_to for e in twitches}) == len(twitches) and {e.coupled_to for e in twitches} <= set(voluntary)
    for e in twitches:
        parent = events[e.coupled_to]
        lag, length, parent_length = e.start_s - parent.start_s, e.end_s - e.start_s, parent.end_s - parent.start_s
        assert e.side == "left" and "mouth" in e.region
        assert simulate.LEAD_IN_S <= e.start_s and e.end_s <= 40.0 - simulate.TAIL_S
        if parent.kind == "blink":
            assert 0.0 <= lag <= 0.08 + 1e-9 and e.region == "mouth"
            extra = length - parent_length
            assert 0.1 - 1e-6 <= extra <= 0.3 + 1e-6 or e.end_s == 40.0 - simulate.TAIL_S
        else:
            assert -0.1 - 1e-9 <= lag <= 0.2 + 1e-9 or e.start_s == simulate.LEAD_IN_S
            assert (0.8 * parent_length - 1e-6 <= length <= 2.0 * parent_length + 1e-6 or length == 0.2
                    or e.end_s == 40.0 - simulate.TAIL_S)
            assert e.region == ("mouth" if parent.kind == "eye_closure" else "eye+mouth")


def test_synkinesis_lags_and_lengths_cover_their_ranges_and_every_driver():
    lags, shares, drivers = [], [], set()
    for seed in range(30):
        events = make_schedule("synkinesis", "right", 60.0, seed=seed)
        for e in events:
            if e.coupled_to >= 0 and events[e.coupled_to].kind != "blink":
                parent = events[e.coupled_to]
                lags.append(e.start_s - parent.start_s)
                shares.append((e.end_s - e.start_s) / (parent.end_s - parent.start_s))
            if e.coupled_to >= 0:
                drivers.add(events[e.coupled_to].kind)
    assert min(lags) < -0.05 and max(lags) > 0.15  # leads and trails
    assert min(shares) < 0.9 and max(shares) > 1.8  # ends early and outlasts
    assert drivers == set(simulate.SYNKINESIS_DRIVERS)


def test_eye_closures_hold_both_eyes_shut_for_0_6_to_2_s():
    closures = [e for seed in range(10) for e in make_schedule("none", "none", 60.0, seed=seed)
                if e.kind == "eye_closure"]
    assert closures
    for e in closures:
        assert e.side == "both" and 0.6 <= e.end_s - e.start_s <= 2.0 and e.amplitude >= 0.9
        assert {m.channel for m in e.motions} >= {"eye_close_left", "eye_close_right"}


def test_hard_negative_blinks_close_one_eye_10_to_25_percent_less():
    events = make_schedule("none", "none", 60.0, seed=3, options=ScheduleOptions(hard_negative=True))
    for blink in (e for e in events if e.kind == "blink"):
        peaks = sorted(m.peak for m in blink.motions)
        assert 0.10 - 1e-9 <= 1 - peaks[0] / peaks[1] <= 0.25 + 1e-9


def test_blocked_spans_are_kept_free():
    events = make_schedule("primary_hfs", "left", 30.0, seed=2,
                           options=ScheduleOptions(twitch_rate_per_min=25, blocked_s=((5.0, 15.0),)))
    assert events and all(e.end_s <= 5.0 or e.start_s >= 15.0 for e in events)


@pytest.mark.parametrize("label, side", [("none", "left"), ("primary_hfs", "none"), ("hfs", "left"),
                                         ("synkinesis", "both"), ("none", "both"), ("blepharospasm", "left"),
                                         ("bilateral_hfs", "none")])
def test_bad_label_or_side_is_a_parameter_error(label, side):
    with pytest.raises(ParameterError, match="side|label must be"):
        make_schedule(label, side, 10.0, seed=0)


def test_only_the_bilateral_labels_take_side_both():
    assert {label for label, sides in simulate.LABEL_SIDES.items() if "both" in sides} == {"blepharospasm",
                                                                                           "bilateral_hfs"}
    for label in ("blepharospasm", "bilateral_hfs"):
        simulate.check_label_side(label, "both")
    with pytest.raises(ParameterError, match="affects both sides: use side 'both'"):
        simulate.check_label_side("blepharospasm", "right")


# -- blepharospasm and bilateral HFS ----------------------------------------------------------------

USABLE_MIN = (60.0 - simulate.LEAD_IN_S - simulate.TAIL_S) / 60.0  # minutes of a 60 s clip open to events
NORMAL_RESTING_BLINKS_PER_MIN = 17.0  # Bentivoglio et al. 1997


def _blepharospasm(seed, **options):
    return make_schedule("blepharospasm", "both", 60.0, seed=seed, options=ScheduleOptions(**options))


@pytest.mark.parametrize("seed", range(6))
def test_blepharospasm_closes_both_eyes_together_beyond_normal_blinking(seed):
    events = _blepharospasm(seed)
    kinds = {e.kind for e in events}
    assert {"blink", "bilateral_closure"} <= kinds and not kinds & set(ONE_SIDED)
    assert {e.side for e in events} == {"both"}
    blinks = sum(e.kind == "blink" for e in events)
    assert blinks / USABLE_MIN > NORMAL_RESTING_BLINKS_PER_MIN
    for e in events:
        if e.kind not in ("bilateral_closure", "flutter"):
            continue
        assert e.region == "eye" and simulate.LEAD_IN_S <= e.start_s and e.end_s <= 60.0 - simulate.TAIL_S
        if e.kind == "bilateral_closure":
            assert 0.5 - 1e-9 <= e.end_s - e.start_s <= 5.0 + 1e-9 and e.amplitude >= 0.85
        else:
            assert 0.5 <= e.end_s - e.start_s <= 2.0 and 0.2 <= e.amplitude <= 0.5
        motion = {m.channel: m for m in e.motions}
        left, right = motion["eye_close_left"], motion["eye_close_right"]
        assert abs(left.start_s - right.start_s) <= 0.03 and left.end_s == right.end_s
        assert abs(left.peak - right.peak) <= 0.08 * e.amplitude + 1e-9
        assert left.wobble_hz == right.wobble_hz and (e.kind == "flutter") == (3.0 <= left.wobble_hz <= 8.0)
        for side in regions.SIDES:  # orbicularis and corrugator: brows down, cheeks up, a little
            assert -0.03 <= motion[f"brow_{side}"].peak < 0 < motion[f"cheek_{side}"].peak <= 0.04


def _runs_of_blinks(events, *, within_s: float) -> int:
    """The most blink onsets of a clip within ``within_s`` of each other's first."""
    onsets = sorted(e.start_s for e in events if e.kind == "blink")
    return max((sum(1 for b in onsets[k:] if b - a <= within_s) for k, a in enumerate(onsets)), default=0)


def test_blepharospasm_severity_ranges_from_mild_to_most_of_the_time_shut():
    severities = [simulate.clip_parameters("blepharospasm", seed=seed)["severity"] for seed in range(60)]
    assert min(severities) < 0.1 and max(severities) > 0.9 and sum(s < 1 / 3 for s in severities) >= 10
    shut, rates, stated = {}, {}, {}
    for severity in (0.0, 1.0):
        clips = [_blepharospasm(seed, severity=severity) for seed in range(8)]
        shut[severity] = np.mean([sum(e.end_s - e.start_s for e in c if e.kind == "bilateral_closure") / 60.0
                                  for c in clips])
        rates[severity] = np.mean([sum(e.kind == "blink" for e in c) / USABLE_MIN for c in clips])
        stated[severity] = [simulate.clip_parameters("blepharospasm", seed=seed,
                                                     options=ScheduleOptions(severity=severity))["blink_rate_per_min"]
                            for seed in range(8)]
    assert all(22.0 <= r <= 30.0 for r in stated[0.0]) and all(40.0 <= r <= 60.0 for r in stated[1.0])
    assert 22.0 <= rates[0.0] <= 30.0 and rates[1.0] > 30.0  # severe: closures leave less time to blink in
    assert shut[0.0] < 0.1 < 0.2 < shut[1.0]
    mild = [_blepharospasm(seed, severity=0.0) for seed in range(8)]
    assert all(any(e.kind == "bilateral_closure" for e in c) for c in mild)
    severe = [_blepharospasm(seed, severity=1.0) for seed in range(8)]
    assert max(_runs_of_blinks(c, within_s=2.0) for c in severe) >= 4  # blink clusters
    assert any(e.kind == "flutter" for c in severe for e in c)
    with pytest.raises(ParameterError, match="severity"):
        simulate.clip_parameters("blepharospasm", seed=0, options=ScheduleOptions(severity=1.5))


@pytest.mark.parametrize("seed", range(6))
def test_bilateral_hfs_runs_one_spasm_train_on_each_side_independently(seed):
    events = make_schedule("bilateral_hfs", "both", 60.0, seed=seed)
    drawn = simulate.clip_parameters("bilateral_hfs", seed=seed)
    onsets = {s: np.array([e.start_s for e in events if e.kind in ONE_SIDED and e.side == s]) for s in regions.SIDES}
    assert all(len(v) for v in onsets.values())
    assert {e.side for e in events if e.kind in ONE_SIDED} == {"left", "right"}
    rates = [drawn[f"twitch_rate_per_min_{s}"] for s in regions.SIDES]
    assert all(0.3 <= r <= 25.0 for r in rates) and rates[0] != rates[1]
    assert {f"spread_to_mouth_{s}" for s in regions.SIDES} <= set(drawn)
    for side, other in (("left", "right"), ("right", "left")):
        together = [np.min(np.abs(onsets[other] - t)) < 0.05 for t in onsets[side]]
        assert np.mean(together) < 0.3  # asynchronous: not the two sides of one spasm


def test_bilateral_hfs_draws_each_sides_rate_and_spread_on_its_own():
    drawn = [simulate.clip_parameters("bilateral_hfs", seed=seed) for seed in range(200)]
    left, right = (np.log([d[f"twitch_rate_per_min_{s}"] for d in drawn]) for s in regions.SIDES)
    assert abs(np.corrcoef(left, right)[0, 1]) < 0.2
    assert 0.3 < np.mean([d["spread_to_mouth_left"] != d["spread_to_mouth_right"] for d in drawn]) < 0.7
    stated = simulate.clip_parameters("bilateral_hfs", seed=1, options=ScheduleOptions(twitch_rate_per_min=5.0,
                                                                                        spread_to_mouth=False))
    assert stated["twitch_rate_per_min_left"] == stated["twitch_rate_per_min_right"] == 5.0
    assert stated["spread_to_mouth_left"] is stated["spread_to_mouth_right"] is False


@pytest.mark.parametrize("label", ["blepharospasm", "bilateral_hfs"])
def test_bilateral_labels_are_reproducible_and_round_trip(tmp_path, label):
    a, b, c = (make_schedule(label, "both", 30.0, seed=seed) for seed in (4, 4, 5))
    assert [e.to_dict() for e in a] == [e.to_dict() for e in b] != [e.to_dict() for e in c]
    truth = simulate.Truth(label=label, side="both", fps=25.0, duration_s=30.0, width=320, height=240, seed=4,
                           base="x.png", base_events_known=True, events=tuple(a),
                           parameters=simulate.clip_parameters(label, seed=4))
    simulate.write_truth(truth, tmp_path / "clip.json")
    again = simulate.read_truth(tmp_path / "clip.json")
    assert again.to_json() == truth.to_json() and again.side == "both"


def test_truth_file_round_trip_and_malformed_file(tmp_path):
    events = tuple(make_schedule("synkinesis", "right", 20.0, seed=8))
    truth = simulate.Truth(label="synkinesis", side="right", fps=25.0, duration_s=20.0, width=480, height=360,
                           seed=8, base="x.png", base_events_known=True, events=events,
                           parameters=simulate.clip_parameters("synkinesis", seed=8), renderer="field")
    path = tmp_path / "clip.json"
    simulate.write_truth(truth, path)
    data = json.loads(path.read_text())
    assert data["spasmscan_truth"] == 2 and data["label"] == "synkinesis" and len(data["events"]) == len(events)
    assert data["renderer"] == "field"
    assert set(data["events"][0]) == {"kind", "side", "region", "start_s", "end_s", "amplitude", "coupled_to"}
    again = simulate.read_truth(path)
    assert again.to_json() == truth.to_json()  # times and amplitudes are stored to 4 decimals
    assert 0.6 <= again.parameters["synkinesis_share"] <= 1.0 and again.renderer == "field"
    old = {k: v for k, v in data.items() if k not in ("renderer", "parameters")} | {"spasmscan_truth": 1}
    path.write_text(json.dumps(old))  # a version 1 file: rendered before there was a second renderer
    assert simulate.read_truth(path).renderer == "mesh" and simulate.read_truth(path).events == again.events
    path.write_text(json.dumps(data | {"spasmscan_truth": 3}))
    with pytest.raises(ParameterError, match="not a spasmscan truth file"):
        simulate.read_truth(path)
    path.write_text('{"spasmscan_truth": 1, "label": "none"}')
    with pytest.raises(ParameterError, match="malformed"):
        simulate.read_truth(path)
    assert simulate.truth_path("a/b.mp4") == os.path.join("a", "b.json")


def test_channel_values_peak_at_the_event_and_are_zero_outside():
    events = make_schedule("primary_hfs", "left", 20.0, seed=7,
                           options=ScheduleOptions(voluntary_movements=False, twitch_rate_per_min=10))
    times = np.arange(0, 20.0, 1 / 200)
    values = simulate.channel_values(events, times)
    busy = np.zeros(times.shape, bool)
    for e in events:
        busy |= (times >= e.start_s) & (times <= e.end_s)
    for name, channel in values.items():
        assert np.all(channel[~busy] == 0), name
    twitch = next(e for e in events if e.kind == "twitch")
    inside = (times >= twitch.start_s) & (times <= twitch.end_s)
    assert values["eye_close_left"][inside].max() == pytest.approx(twitch.amplitude, rel=0.05)
    assert np.all(values["eye_close_left"] <= simulate.MAX_CLOSURE)


def test_a_short_base_video_plays_forward_and_back():
    from spasmscan.render import _Base, _base_indices
    base = _Base(name="b.mp4", fps=10.0, frames=lambda: iter(()), points=np.zeros((4, 478, 2)), is_video=True)
    indices = _base_indices(base, np.arange(12) / 10.0)
    assert list(indices) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]
    still = replace(base, is_video=False, points=np.zeros((1, 478, 2)))
    assert not _base_indices(still, np.arange(5) / 10.0).any()


# -- landmark motion --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def portrait_points():
    """(478, 2) landmarks of the bundled portrait at 480x360, tracked once."""
    from spasmscan.render import load_base
    return load_base(None, width=480, height=360).points[0]


def _lid_gap(points, side):
    upper = points[list(regions.UPPER_LID[side][1:6])]
    lower = points[list(regions.LOWER_LID[side][1:6])]
    return float(np.mean(lower[:, 1] - upper[:, 1]))


def test_eye_closure_moves_only_that_eye_and_keeps_lids_in_order(portrait_points):
    moved = simulate.move_landmarks(portrait_points, {"eye_close_left": 0.9})
    assert _lid_gap(moved, "left") < 0.3 * _lid_gap(portrait_points, "left")
    right_eye = list(regions.EYE_CONTOUR["right"]) + list(regions.IRIS["right"])
    assert np.allclose(moved[right_eye], portrait_points[right_eye])
    assert np.allclose(moved[list(regions.MOUTH_CORNER.values())], portrait_points[list(regions.MOUTH_CORNER.values())])


@settings(max_examples=30, deadline=None)
@given(closure=st.floats(0.0, simulate.MAX_CLOSURE), brow=st.floats(-0.05, 0.1), cheek=st.floats(0.0, 0.05))
def test_lids_never_cross_and_every_shift_is_bounded(portrait_points, closure, brow, cheek):
    moved = simulate.move_landmarks(portrait_points, {"eye_close_right": closure, "brow_right": brow,
                                                      "cheek_right": cheek})
    assert _lid_gap(moved, "right") >= -0.5  # pixels: the lids may meet, never pass each other
    _, _, iod = simulate.face_frame(portrait_points)
    assert np.abs(moved - portrait_points).max() <= 0.35 * iod


def test_brow_mouth_and_jaw_channels_move_their_landmarks_the_right_way(portrait_points):
    across, down, iod = simulate.face_frame(portrait_points)
    brow = list(regions.BROW_UPPER["right"])
    raised = simulate.move_landmarks(portrait_points, {"brow_right": 0.08})
    assert np.mean((raised[brow] - portrait_points[brow]) @ down) < -0.06 * iod
    pulled = simulate.move_landmarks(portrait_points, {"mouth_left": 0.06})
    corner = regions.MOUTH_CORNER["left"]
    shift = pulled[corner] - portrait_points[corner]
    assert shift @ across > 0.03 * iod and shift @ down < -0.02 * iod  # outward (patient's left) and up
    other = regions.MOUTH_CORNER["right"]
    assert np.linalg.norm(pulled[other] - portrait_points[other]) < 0.1 * np.linalg.norm(shift)
    opened = simulate.move_landmarks(portrait_points, {"jaw": 0.08})
    lips = opened[regions.INNER_LOWER_LIP] - opened[regions.INNER_UPPER_LIP]
    before = portrait_points[regions.INNER_LOWER_LIP] - portrait_points[regions.INNER_UPPER_LIP]
    assert (lips - before) @ down > 0.05 * iod


# -- rendered clips through the real tracker --------------------------------------------------------

# Minimum tracked responses, stated in docs/simulator.md (measured medians are 2-4 times larger).
BLINK_MIN_CLOSURE = 0.25  # each eye: 1 - tracked aperture / resting aperture
TWITCH_MIN_CLOSURE = 0.08  # affected eye, clonic twitch (the shortest last 1-2 frames)
TWITCH_MIN_EXCESS = 0.06  # affected minus other eye
TONIC_MIN_CLOSURE = 0.25
SYNKINESIS_MIN_NARROWING = 0.06  # affected minus other eye, with a brow raise or smile
MOUTH_MIN_PULL_IOD = 0.012  # affected corner minus other corner, up-and-out, IOD
BROW_MIN_RISE_IOD = 0.02
SMILE_MIN_PULL_IOD = 0.02
TALK_MIN_OPENING_IOD = 0.02


def _render_and_track(folder: Path, name: str, **kwargs):
    from spasmscan.pipeline import video_landmarks
    from spasmscan.render import simulate_video

    path = folder / f"{name}.mp4"
    truth = simulate_video(path, **kwargs)
    series = video_landmarks(path, use_cache=False)
    return path, truth, series


def _tracked_set(tmp_path_factory, renderer: str) -> dict:
    """Three 10 s clips on the portrait (480x360, 30 fps, normal nuisance) by ``renderer``, tracked."""
    folder = tmp_path_factory.mktemp(f"simulated-{renderer}")
    common = dict(duration_s=10.0, fps=30.0, width=480, height=360, renderer=renderer)
    return {
        "hfs": _render_and_track(folder, "hfs", label="primary_hfs", side="left", seed=21,
                                 options=ScheduleOptions(twitch_rate_per_min=20, spread_to_mouth=True), **common),
        "synkinesis": _render_and_track(folder, "synkinesis", label="synkinesis", side="right", seed=22, **common),
        "negative": _render_and_track(folder, "negative", label="none", side="none", seed=23,
                                      options=ScheduleOptions(hard_negative=True), **common),
    }


@pytest.fixture(scope="session")
def tracked_clips(tmp_path_factory):
    return _tracked_set(tmp_path_factory, "mesh")


@pytest.fixture(scope="session")
def tracked_field_clips(tmp_path_factory):
    return _tracked_set(tmp_path_factory, "field")


def _isolated(index, events, margin_s=0.3) -> bool:
    """No event of another kind (other than its coupled partner) within ``margin_s``."""
    event = events[index]
    partners = {index, event.coupled_to} | {k for k, e in enumerate(events) if e.coupled_to == index}
    return not any(k not in partners and e.kind != event.kind and e.start_s < event.end_s + margin_s
                   and e.end_s > event.start_s - margin_s for k, e in enumerate(events))


def _check_event(event, r, events) -> list[str]:
    """The ways a tracked response ``r`` falls short of the stated minimum for ``event``."""
    problems = []

    def need(condition, text):
        if not condition:
            problems.append(f"{event.kind} {event.side} {event.region} at {event.start_s:.2f} s: {text} {r}")

    if event.side in regions.SIDES:
        a, o = event.side, regions.mirror_side(event.side)
        coupled_to = events[event.coupled_to].kind if event.coupled_to >= 0 else None
        if "eye" in event.region:
            excess = r[f"closure_{a}"] - r[f"closure_{o}"]
            if coupled_to is not None:
                need(excess >= SYNKINESIS_MIN_NARROWING, "eye narrowing")
            elif event.kind == "tonic_spasm":
                need(r[f"closure_{a}"] >= TONIC_MIN_CLOSURE and excess >= TONIC_MIN_CLOSURE / 2, "tonic closure")
            else:
                need(r[f"closure_{a}"] >= TWITCH_MIN_CLOSURE and excess >= TWITCH_MIN_EXCESS, "twitch closure")
        if "mouth" in event.region:
            need(r[f"mouth_{a}"] - r[f"mouth_{o}"] >= MOUTH_MIN_PULL_IOD, "mouth pull")
    elif event.kind == "blink":
        need(min(r["closure_left"], r["closure_right"]) >= BLINK_MIN_CLOSURE, "blink closure")
    elif event.kind == "brow_raise":
        need(min(r["brow_left"], r["brow_right"]) >= BROW_MIN_RISE_IOD, "brow rise")
    elif event.kind == "smile":
        need(min(r["mouth_left"], r["mouth_right"]) >= SMILE_MIN_PULL_IOD, "smile pull")
    elif event.kind == "talk":
        need(r["mouth_open"] >= TALK_MIN_OPENING_IOD, "mouth opening")
    return problems


def _check_clip(truth, series) -> tuple[list[str], set]:
    events = list(truth.events)
    responses = simulate.event_responses(simulate.landmark_measures(series.mesh()), series.times_s, events)
    problems, checked = [], set()
    for k, (event, response) in enumerate(zip(events, responses)):
        if _isolated(k, events):
            checked.add((event.kind, event.region, event.coupled_to >= 0))
            problems += _check_event(event, response, events)
    return problems, checked


@pytest.mark.parametrize("renderer", simulate.RENDERERS)
@pytest.mark.parametrize("name", ["hfs", "synkinesis", "negative"])
def test_every_simulated_event_is_seen_by_the_tracker(request, renderer, name):
    clips = request.getfixturevalue({"mesh": "tracked_clips", "field": "tracked_field_clips"}[renderer])
    path, truth, series = clips[name]
    assert truth.renderer == renderer
    assert series.face_fraction == 1.0
    problems, checked = _check_clip(truth, series)
    assert checked, "no isolated event to check"
    assert not problems, "\n".join(problems)


def test_the_clips_cover_every_event_kind(tracked_clips):
    kinds = {e.kind for _, truth, _ in tracked_clips.values() for e in truth.events}
    assert {"blink", "brow_raise", "smile", "twitch"} <= kinds
    assert any(e.coupled_to >= 0 for e in tracked_clips["synkinesis"][1].events)
    assert any(e.region == "eye+mouth" for e in tracked_clips["hfs"][1].events)


def test_quiet_side_stays_quiet_in_a_primary_hfs_clip(tracked_clips):
    """Away from bilateral movements the unaffected eye's tracked aperture stays within noise."""
    _, truth, series = tracked_clips["hfs"]
    measures = simulate.landmark_measures(series.mesh())
    times = series.times_s
    bilateral = np.zeros(times.shape, bool)
    for e in truth.events:
        if e.side == "both":
            bilateral |= (times >= e.start_s - 0.2) & (times <= e.end_s + 0.2)
    other = measures["eye_aperture_right"][~bilateral]
    affected = measures["eye_aperture_left"][~bilateral]
    assert np.std(other) / np.median(other) < 0.05
    assert np.min(affected) / np.median(affected) < 0.85


@pytest.mark.skipif(not (REAL_FACES / "single_face.mp4").exists(), reason="real face clips not present")
def test_events_rendered_on_a_real_face_video_are_seen(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real-base")
    _, truth, series = _render_and_track(folder, "real", label="primary_hfs", side="right", seed=31,
                                         duration_s=6.0, fps=30.0, base=REAL_FACES / "single_face.mp4",
                                         options=ScheduleOptions(twitch_rate_per_min=25, spread_to_mouth=False,
                                                                 voluntary_movements=False))
    assert truth.base_events_known is False and truth.width == 640 and truth.height == 360
    twitches = [e for e in truth.events if e.kind in ONE_SIDED]
    assert twitches
    # The face's own blinks and smile are not in the truth: compare with the same clip without events.
    _, _, control = _render_and_track(folder, "control", label="primary_hfs", side="right", seed=31, duration_s=6.0,
                                      fps=30.0, base=REAL_FACES / "single_face.mp4", events=[])
    events = list(truth.events)
    responses = simulate.event_responses(simulate.landmark_measures(series.mesh()), series.times_s, events,
                                         reference=simulate.landmark_measures(control.mesh()))
    seen = [r["closure_right"] - r["closure_left"] for e, r in zip(events, responses) if e.kind in ONE_SIDED]
    assert np.median(seen) >= TWITCH_MIN_EXCESS


def test_simulate_command_writes_video_and_truth(tmp_path):
    out = tmp_path / "clip.mp4"
    runner = CliRunner()
    args = ["simulate", str(out), "--label", "primary_hfs", "--side", "right", "--duration", "3", "--fps", "25",
            "--seed", "7", "--size", "320x240"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    truth = simulate.read_truth(tmp_path / "clip.json")
    assert (truth.label, truth.side, truth.fps, truth.width, truth.height) == ("primary_hfs", "right", 25.0, 320, 240)
    import cv2
    capture = cv2.VideoCapture(str(out))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    assert frames == 75
    again = runner.invoke(cli, args)
    assert again.exit_code == 7 and "--force" in again.output
    bad = runner.invoke(cli, ["simulate", str(tmp_path / "x.mp4"), "--size", "big"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1


def test_simulate_command_takes_the_bilateral_labels_with_side_both(tmp_path):
    runner = CliRunner()
    option = next(p for p in cli.commands["simulate"].params if p.name == "label")
    assert tuple(option.type.choices) == simulate.LABELS + simulate.PALSY_LABELS
    common = ["--duration", "3", "--fps", "10", "--size", "160x120", "--nuisance", "0"]
    result = runner.invoke(cli, ["simulate", str(tmp_path / "b.mp4"), "--label", "blepharospasm",
                                 "--severity", "0.2"] + common)
    assert result.exit_code == 0, result.output
    truth = simulate.read_truth(tmp_path / "b.json")
    assert (truth.label, truth.side, truth.parameters["severity"]) == ("blepharospasm", "both", 0.2)
    wrong = runner.invoke(cli, ["simulate", str(tmp_path / "c.mp4"), "--label", "bilateral_hfs", "--side", "left"]
                          + common)
    assert wrong.exit_code == 2 and "use side 'both'" in wrong.output
