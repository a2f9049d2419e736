"""Signals from synthetic landmark series whose movements are known (no video)."""
from __future__ import annotations

import numpy as np
import pytest

from spasmscan import regions
from spasmscan.errors import ParameterError
from spasmscan.events import detect_events
from spasmscan.signals import (ALIGNMENT_POINTS, SIGNAL_BASES, Signals, bridgeable_gaps, compute_signals,
                               interpolate_gaps, robust_noise, running_percentile)

IOD_PX = 100.0  # inter-ocular distance of the synthetic face
EYE_HALF_HEIGHT_PX = 10.0
LID_PROFILE = np.array([0.3, 0.7, 0.95, 1.0, 0.95, 0.7, 0.3])  # outer -> inner share of the full lid gap


def template_face() -> np.ndarray:
    """(478, 2) pixels of a frontal, symmetric face: the points spasmscan reads are placed, the rest
    sit mid-face."""
    face = np.tile([320.0, 250.0], (regions.N_LANDMARKS, 1))
    for side, sign in (("right", -1.0), ("left", 1.0)):  # the patient's right is on the image's left
        centre_x = 320.0 + sign * IOD_PX / 2
        face[regions.EYE_OUTER_CORNER[side]] = (centre_x + sign * 30.0, 220.0)
        face[regions.EYE_INNER_CORNER[side]] = (centre_x - sign * 30.0, 220.0)
        lid_x = centre_x + sign * np.linspace(27.0, -27.0, 7)  # outer -> inner
        face[list(regions.UPPER_LID[side]), 0] = lid_x
        face[list(regions.LOWER_LID[side]), 0] = lid_x
        face[list(regions.UPPER_LID[side]), 1] = 220.0 - EYE_HALF_HEIGHT_PX * LID_PROFILE
        face[list(regions.LOWER_LID[side]), 1] = 220.0 + EYE_HALF_HEIGHT_PX * LID_PROFILE
        face[list(regions.IRIS[side])] = (centre_x, 220.0)
        face[list(regions.BROW[side])] = np.column_stack([centre_x + sign * np.linspace(35, -25, 10),
                                                          np.full(10, 195.0)])
        face[list(regions.BROW_UPPER[side])] = np.column_stack([centre_x + sign * np.linspace(35, -25, 5),
                                                                np.full(5, 190.0)])
        face[regions.MOUTH_CORNER[side]] = (320.0 + sign * 35.0, 320.0)
        face[regions.TEMPLE[side]] = (320.0 + sign * 95.0, 215.0)
        face[list(regions.CHEEK[side])] = np.column_stack([centre_x + sign * np.linspace(-10, 20, 5),
                                                           np.linspace(260, 275, 5)])
        face[list(regions.UPPER_LIP_SIDE[side])] = np.column_stack([320.0 + sign * np.array([22.0, 10.0]),
                                                                    np.array([312.0, 308.0])])
        face[list(regions.BUCCAL[side])] = np.column_stack([320.0 + sign * np.array([45.0, 60.0]),
                                                            np.array([290.0, 285.0])])
    for index, y in zip((10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1), (140, 160, 190, 200, 215, 225, 245, 255, 270,
                                                                     275, 280)):
        face[index] = (320.0, y)
    face[regions.UPPER_LIP_CENTER] = (320.0, 310.0)
    face[regions.INNER_UPPER_LIP] = (320.0, 318.0)
    face[regions.INNER_LOWER_LIP] = (320.0, 322.0)
    face[regions.LOWER_LIP_CENTER] = (320.0, 335.0)
    return face


def mirror_permutation() -> np.ndarray:
    """(478,) index map exchanging the left and right points that spasmscan reads."""
    permutation = np.arange(regions.N_LANDMARKS)
    pairs = [(regions.EYE_OUTER_CORNER["left"], regions.EYE_OUTER_CORNER["right"]),
             (regions.EYE_INNER_CORNER["left"], regions.EYE_INNER_CORNER["right"]),
             (regions.MOUTH_CORNER["left"], regions.MOUTH_CORNER["right"]),
             (regions.TEMPLE["left"], regions.TEMPLE["right"])]
    for table in (regions.UPPER_LID, regions.LOWER_LID, regions.IRIS, regions.BROW, regions.BROW_UPPER,
                  regions.CHEEK, regions.UPPER_LIP_SIDE, regions.BUCCAL):
        pairs += list(zip(table["left"], table["right"]))
    for a, b in pairs:
        permutation[a], permutation[b] = b, a
    return permutation


def mirror(points: np.ndarray, width: float = 640.0) -> np.ndarray:
    """The mirror image of a patient: x flipped and left/right landmarks exchanged."""
    out = points[:, mirror_permutation()].copy()
    out[..., 0] = width - out[..., 0]
    return out


def synthetic_series(duration_s: float = 20.0, fps: float = 30.0, *, closure=None, mouth=None, brow=None,
                     head_motion: bool = False, noise_px: float = 0.0, seed: int = 0):
    """(points (n, 478, 2), times (n,)) of the template face.

    closure, mouth, brow: side -> callable(times) giving the lid closure (0 open .. 1 shut), the
    mouth-corner pull up and out (IOD) and the brow rise (IOD). head_motion: a slow drift of
    roll (+-12 deg), scale (0.8-1.25) and position (+-60 px). noise_px: landmark jitter.
    """
    times = np.arange(int(round(duration_s * fps))) / fps
    n = times.size
    points = np.repeat(template_face()[None], n, axis=0)
    zero = (lambda t: np.zeros_like(t))
    for side, sign in (("right", -1.0), ("left", 1.0)):
        shut = (closure or {}).get(side, zero)(times)
        upper = list(regions.UPPER_LID[side])
        points[:, upper, 1] += 2.0 * EYE_HALF_HEIGHT_PX * LID_PROFILE[None, :] * shut[:, None]
        pull = (mouth or {}).get(side, zero)(times) * IOD_PX
        corner = regions.MOUTH_CORNER[side]
        points[:, corner, 0] += sign * pull / np.sqrt(2.0)
        points[:, corner, 1] -= pull / np.sqrt(2.0)
        rise = (brow or {}).get(side, zero)(times) * IOD_PX
        points[:, list(regions.BROW[side]), 1] -= rise[:, None]
    if head_motion:
        angle = np.radians(12.0) * np.sin(2 * np.pi * times / 7.0)
        scale = 1.0 + 0.22 * np.sin(2 * np.pi * times / 11.0)
        shift = 60.0 * np.column_stack([np.sin(2 * np.pi * times / 5.0), np.cos(2 * np.pi * times / 9.0)])
        centre = np.array([320.0, 250.0])
        rel = points - centre
        cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
        x = scale[:, None] * (cos * rel[..., 0] - sin * rel[..., 1])
        y = scale[:, None] * (sin * rel[..., 0] + cos * rel[..., 1])
        points = np.stack([x, y], axis=2) + centre + shift[:, None, :]
    if noise_px:
        points = points + np.random.default_rng(seed).normal(0.0, noise_px, points.shape)
    return points.astype(np.float32), times


def pulse(start_s: float, length_s: float, depth: float):
    """A callable(times) that is ``depth`` from start_s for length_s, else 0."""
    return lambda t: np.where((t >= start_s) & (t < start_s + length_s), depth, 0.0)


def test_every_agreed_signal_is_there_with_units():
    points, times = synthetic_series(5.0)
    signals = compute_signals(points, times)
    for base in SIGNAL_BASES:
        for side in regions.SIDES:
            name = f"{base}_{side}"
            assert signals[name].shape == times.shape
            assert signals.units[name]
            assert np.isfinite(signals.noise[name])
    assert signals.fps == pytest.approx(30.0)
    assert signals.face_present.all()


def test_still_face_reads_open_eyes_at_baseline():
    points, times = synthetic_series(10.0, noise_px=0.2)
    signals = compute_signals(points, times)
    for side in regions.SIDES:
        assert np.median(signals[f"eye_aperture_{side}"]) == pytest.approx(1.0, abs=0.02)
        for base in SIGNAL_BASES[1:]:
            assert np.nanmax(np.abs(signals[f"{base}_{side}"])) < 0.02


def test_one_sided_closure_shows_on_that_side_only():
    points, times = synthetic_series(10.0, closure={"left": pulse(4.0, 0.5, 0.5)})
    signals = compute_signals(points, times)
    during = (times >= 4.1) & (times < 4.4)
    assert signals["eye_aperture_left"][during] == pytest.approx(0.5, abs=0.03)
    assert signals["eye_aperture_right"][during] == pytest.approx(1.0, abs=0.01)
    assert signals["eye_asymmetry"][during].min() > 0.45  # positive: the left eye is more closed


def test_mouth_and_brow_movements_have_the_stated_signs_and_size():
    pull = 0.06
    points, times = synthetic_series(10.0, mouth={"right": pulse(3.0, 1.0, pull)},
                                     brow={"left": pulse(6.0, 1.0, 0.05), "right": pulse(6.0, 1.0, 0.05)})
    signals = compute_signals(points, times)
    during = (times >= 3.2) & (times < 3.8)
    component = pull / np.sqrt(2.0)
    assert signals["mouth_corner_lateral_right"][during] == pytest.approx(component, abs=0.006)
    assert signals["mouth_corner_vertical_right"][during] == pytest.approx(component, abs=0.006)
    assert np.abs(signals["mouth_corner_vertical_left"][during]).max() < 0.005
    raised = (times >= 6.2) & (times < 6.8)
    for side in regions.SIDES:
        assert signals[f"brow_height_{side}"][raised] == pytest.approx(0.05, abs=0.006)


def test_a_brow_raise_that_lifts_the_forehead_keeps_its_full_height():
    """The tracker lifts the forehead and glabella points by about half a brow raise: they are no
    reference for the head's position, or half of every raise disappears."""
    rise = 0.06
    points, times = synthetic_series(10.0, brow={"left": pulse(4.0, 1.0, rise), "right": pulse(4.0, 1.0, rise)})
    during = (times >= 4.2) & (times < 4.8)
    points[np.ix_(during, [10, 151, 9, 8], [1])] -= 0.5 * rise * IOD_PX
    signals = compute_signals(points, times)
    for side in regions.SIDES:
        assert signals[f"brow_height_{side}"][during] == pytest.approx(rise, abs=0.006)


def test_head_motion_is_not_read_as_movement():
    still, times = synthetic_series(20.0, noise_px=0.2, seed=1)
    moving, _ = synthetic_series(20.0, noise_px=0.2, seed=1, head_motion=True)
    a, b = compute_signals(still, times), compute_signals(moving, times)
    for base in SIGNAL_BASES:
        for side in regions.SIDES:
            name = f"{base}_{side}"
            assert np.nanmax(np.abs(a[name] - b[name])) < 0.03, name
    assert np.ptp(b["head_roll_deg"]) > 20.0  # the motion was there and was measured
    assert len(detect_events(b)) == 0


def test_eye_corners_tilted_in_a_blink_do_not_lift_one_mouth_corner():
    """The tracker tilts the eye corners a little with every blink; the face's roll is read with the
    temples' wider lever too, so the mouth corners still read level."""
    starts = [2.0, 5.0, 8.0]
    points, times = synthetic_series(10.0, closure={s: lambda t: sum(pulse(a, 0.2, 1.0)(t) for a in starts)
                                                    for s in regions.SIDES})
    blinking = np.zeros(times.size, dtype=bool)
    for start in starts:
        blinking |= (times >= start) & (times < start + 0.2)
    for side, shift_px in (("left", -2.0), ("right", 2.0)):  # left corners up, right corners down
        eye = [regions.EYE_INNER_CORNER[side], regions.EYE_OUTER_CORNER[side]]
        points[np.ix_(blinking, eye, [1])] += shift_px
    signals = compute_signals(points, times)
    tilt = signals["mouth_corner_vertical_left"] - signals["mouth_corner_vertical_right"]
    assert np.abs(tilt[blinking]).max() < 0.01  # aligned on the eye corners alone: 0.02 IOD


def test_head_motion_keeps_a_one_sided_closure():
    points, times = synthetic_series(20.0, closure={"right": pulse(8.0, 0.3, 0.4)}, head_motion=True)
    signals = compute_signals(points, times)
    during = (times >= 8.05) & (times < 8.25)
    assert signals["eye_aperture_right"][during] == pytest.approx(0.6, abs=0.03)
    assert signals["eye_aperture_left"][during] == pytest.approx(1.0, abs=0.02)


def test_mirrored_patient_swaps_the_sides():
    points, times = synthetic_series(10.0, closure={"left": pulse(4.0, 0.5, 0.5)},
                                     mouth={"left": pulse(6.0, 0.5, 0.05)}, noise_px=0.2)
    a, b = compute_signals(points, times), compute_signals(mirror(points), times)
    for base in SIGNAL_BASES:
        np.testing.assert_allclose(a[f"{base}_left"], b[f"{base}_right"], atol=1e-3)
        np.testing.assert_allclose(a[f"{base}_right"], b[f"{base}_left"], atol=1e-3)


def test_short_gaps_are_bridged_and_long_gaps_kept():
    points, times = synthetic_series(10.0)
    points[30:36] = np.nan  # 0.2 s
    points[150:210] = np.nan  # 2 s
    signals = compute_signals(points, times, max_gap_s=0.25)
    assert signals.face_present[30:36].all()
    assert np.isfinite(signals["eye_aperture_left"][30:36]).all()
    assert not signals.face_present[150:210].any()
    assert np.isnan(signals["eye_aperture_left"][150:210]).all()
    assert signals.tracked_s == pytest.approx(8.0, abs=0.05)


def test_no_face_at_all_gives_nan_signals():
    points, times = synthetic_series(3.0)
    points[:] = np.nan
    signals = compute_signals(points, times)
    assert not signals.face_present.any()
    assert np.isnan(signals["eye_aperture_left"]).all()


@pytest.mark.parametrize("bad", [
    dict(points=np.zeros((5, 10, 2)), times_s=np.arange(5.0)),
    dict(points=np.zeros((5, 478, 2)), times_s=np.arange(4.0)),
    dict(points=np.zeros((3, 478, 2)), times_s=np.array([0.0, 0.1, 0.1])),
])
def test_bad_input_is_refused(bad):
    with pytest.raises(ParameterError):
        compute_signals(bad["points"], bad["times_s"])


def test_signals_from_the_kept_landmarks_equal_those_from_all_478():
    points, times = synthetic_series(6.0, closure={"left": lambda t: (np.abs(t - 3.0) < 0.1).astype(float)},
                                     head_motion=True, noise_px=0.3)
    full = compute_signals(points, times)
    kept = compute_signals(points[:, regions.SERIES_LANDMARKS], times, landmark_ids=regions.SERIES_LANDMARKS)
    assert kept.names == full.names
    for name in full.names:
        np.testing.assert_array_equal(kept[name], full[name])


def test_signals_need_every_measured_landmark():
    points, times = synthetic_series(2.0)
    ids = [i for i in regions.SERIES_LANDMARKS if i != regions.MOUTH_CORNER["left"]]
    with pytest.raises(ParameterError, match=str(regions.MOUTH_CORNER["left"])):
        compute_signals(points[:, ids], times, landmark_ids=ids)
    with pytest.raises(ParameterError, match="one column per landmark"):
        compute_signals(points[:, ids], times, landmark_ids=regions.SERIES_LANDMARKS)


def test_the_aligned_points_are_measured_and_the_measured_are_kept():
    assert set(ALIGNMENT_POINTS) <= set(regions.MEASURED_LANDMARKS) <= set(regions.SERIES_LANDMARKS)


def test_running_percentile_follows_a_slow_drift_and_ignores_short_dips():
    times = np.arange(0, 60, 1 / 30)
    drift = 1.0 + 0.1 * times / 60
    series = drift.copy()
    series[(times % 4) < 0.2] -= 0.3  # blinks every 4 s
    base = running_percentile(series, times, window_s=10.0, percentile=75.0)
    assert np.max(np.abs(base - drift)[(times > 5) & (times < 55)]) < 0.01


def test_robust_noise_ignores_rare_large_deviations():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 0.01, 3000)
    values[::50] = 0.5
    assert robust_noise(values) == pytest.approx(0.01, rel=0.1)


def test_gap_helpers():
    tracked = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1], bool)
    times = np.arange(tracked.size) * 0.1
    bridged = bridgeable_gaps(tracked, times, max_gap_s=0.3)
    assert bridged.tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    series = np.where(tracked, np.arange(tracked.size, dtype=float), np.nan)
    filled = interpolate_gaps(series, times, bridged)
    assert filled[2:4].tolist() == pytest.approx([2.0, 3.0])
    assert np.isnan(filled[5:10]).all()


def test_signals_without_a_frame_rate_take_it_from_the_times():
    times = np.arange(50) / 25.0
    signals = Signals(times_s=times, face_present=np.ones(50, bool), values={}, units={})
    assert signals.fps == pytest.approx(25.0)
    assert signals.tracked_s == pytest.approx(2.0)


def test_a_mirrored_recording_gives_the_signals_of_the_original():
    """What ``--mirrored`` hands the signals: the same landmark names, x reflected in the frame
    (the patient's left eye on the image's left). A rotation cannot align a reflected face: the
    vertical signals would turn upside down and the roll read 180 degrees."""
    points, times = synthetic_series(10.0, closure={"left": pulse(4.0, 0.5, 0.5)},
                                     mouth={"right": pulse(6.0, 0.5, 0.06)},
                                     brow={"left": pulse(8.0, 0.5, 0.05)}, head_motion=True, noise_px=0.2)
    reflected = points.copy()
    reflected[..., 0] = 639.0 - reflected[..., 0]
    a, b = compute_signals(points, times), compute_signals(reflected, times)
    for name in a.names:
        np.testing.assert_allclose(b[name], a[name], atol=1e-3, err_msg=name)
    assert b["mouth_corner_vertical_right"].max() > 0.03 and b["brow_height_left"].max() > 0.03


def test_the_visible_iris_is_fused_with_the_lid_landmarks_by_their_steadiness():
    """Noisy lid landmarks that under-report a one-sided closure, a steadier image measure that sees
    it whole: the fused opening shows the closure further above its noise than the landmarks alone."""
    from spasmscan.signals import fused_opening

    rng = np.random.default_rng(2)
    n = 3000
    shut = np.zeros(n)
    for start in range(200, n, 300):
        shut[start:start + 6] = 0.6  # one-sided closures of the left eye, 0.2 s at 30 fps
    landmarks = {"left": 1.0 - 0.35 * shut + rng.normal(0, 0.06, n), "right": 1.0 + rng.normal(0, 0.06, n)}
    image = {"left": 1.0 - shut + rng.normal(0, 0.05, n), "right": 1.0 + rng.normal(0, 0.05, n)}
    fused = fused_opening(landmarks, image)

    def contrast(opening):
        difference = opening["right"] - opening["left"]
        return difference[shut > 0].mean() / robust_noise(difference[shut == 0])

    assert contrast(fused) > 2.0 * contrast(landmarks)
    assert contrast(fused) > 0.8 * contrast(image)  # near the better measure, without knowing which it is
    missing = {"left": np.full(n, np.nan), "right": np.full(n, np.nan)}
    assert fused_opening(landmarks, missing)["left"] is landmarks["left"]


def test_signals_without_the_image_measure_are_the_landmarks_alone():
    points, times = synthetic_series(20.0, closure={"left": pulse(5.0, 0.3, 0.5)}, noise_px=0.2)
    plain = compute_signals(points, times)
    unknown = compute_signals(points, times, eye_openness=np.full((times.size, 2), np.nan))
    np.testing.assert_allclose(plain["eye_aperture_left"], unknown["eye_aperture_left"])
    with pytest.raises(ParameterError, match="eye_openness"):
        compute_signals(points, times, eye_openness=np.zeros((3, 2)))


def test_fusing_the_iris_keeps_the_lid_aperture_alone_beside_the_fused_opening():
    points, times = synthetic_series(20.0, closure={"left": pulse(5.0, 0.3, 0.5)}, noise_px=0.2)
    openness = np.column_stack([1.0 - 0.8 * pulse(5.0, 0.3, 0.5)(times), np.ones(times.size)]) * 0.3
    openness += np.random.default_rng(1).normal(0, 0.01, openness.shape)
    plain = compute_signals(points, times, eye_openness=openness)
    fused = compute_signals(points, times, eye_openness=openness, fuse_eye_openness=True)
    assert "eye_lid_aperture_left" not in plain.values
    np.testing.assert_allclose(fused["eye_lid_aperture_left"], plain["eye_aperture_left"])
    assert not np.allclose(fused["eye_aperture_left"], plain["eye_aperture_left"])
    assert fused.units["eye_lid_aperture_left"].startswith("the lid landmarks' aperture alone")


def corner_steps(points: np.ndarray) -> np.ndarray:
    """(n, 2, 2) frame-to-frame pixel steps of the (left, right) mouth corners of ``points``, less the
    nose ridge's: what CornerFlow reads off pixels that move with the tracked corners."""
    corners = points[:, [regions.MOUTH_CORNER[s] for s in regions.SIDES]] - points[:, [regions.NOSE_RIDGE[1]]]
    steps = np.full(corners.shape, np.nan, np.float32)
    steps[1:] = np.diff(corners, axis=0)
    return steps


def test_mouth_flow_follows_the_pixels_where_the_tracker_drags_a_corner():
    """A tracked corner dragged along by a blink while its pixels stay still reads still with the
    flow, and a pull its pixels make reads its size; without the flow the dragged corner moves."""
    dragged = {"right": pulse(3.0, 0.3, 0.04)}
    points, times = synthetic_series(12.0, mouth=dragged, head_motion=True)
    clean, _ = synthetic_series(12.0, head_motion=True)
    landmarks_only = compute_signals(points, times)
    with_flow = compute_signals(points, times, mouth_flow=corner_steps(clean))
    during = (times >= 3.05) & (times < 3.25)
    assert landmarks_only["mouth_corner_vertical_right"][during].min() > 0.02
    assert np.abs(with_flow["mouth_corner_vertical_right"][during]).max() < 0.006
    pulled, _ = synthetic_series(12.0, mouth={"left": ramped(6.0, 0.6, 0.06)}, head_motion=True)
    seen = compute_signals(clean, times, mouth_flow=corner_steps(pulled))
    inside = (times >= 6.2) & (times < 6.5)
    assert seen["mouth_corner_vertical_left"][inside] == pytest.approx(0.06 / np.sqrt(2.0), abs=0.008)
    assert seen["mouth_corner_lateral_left"][inside] == pytest.approx(0.06 / np.sqrt(2.0), abs=0.008)


def ramped(start_s: float, length_s: float, depth: float, rise_s: float = 0.15):
    """A callable(times): a pull to ``depth`` rising and falling over ``rise_s``, as a muscle pulls."""
    return lambda t: depth * np.clip(np.minimum(t - start_s, start_s + length_s - t) / rise_s, 0.0, 1.0)


def test_a_talking_mouth_keeps_the_tracked_corners():
    """Pixels moving faster than a pull can (talking) through much of the recording are not trusted:
    the mouth signals are the landmarks' alone."""
    points, times = synthetic_series(12.0, mouth={"right": pulse(3.0, 0.3, 0.04)})
    talking = corner_steps(points)
    talking[1::4] += 8.0  # a jump of 8 px (0.08 IOD, 2.4 IOD/s) every fourth frame, back and forth
    talking[3::4] -= 8.0
    landmarks_only = compute_signals(points, times)
    with_flow = compute_signals(points, times, mouth_flow=talking)
    for name in ("mouth_corner_vertical_right", "mouth_corner_lateral_left"):
        np.testing.assert_allclose(with_flow[name], landmarks_only[name])


def test_mouth_flow_of_other_frames_is_refused():
    points, times = synthetic_series(5.0)
    with pytest.raises(ParameterError, match="mouth_flow"):
        compute_signals(points, times, mouth_flow=np.zeros((3, 2, 2)))


def test_alignment_shifted_by_a_blink_does_not_move_the_pixels_corners():
    """The tracked eye corners and temples the alignment rests on sag and draw together in a blink: the
    tracked mouth corners then move; the pixels, turned by the alignment steadied over a second, do not."""
    starts = [2.0, 5.0, 8.0]
    points, times = synthetic_series(10.0)
    blinking = np.zeros(times.size, dtype=bool)
    for start in starts:
        blinking |= (times >= start) & (times < start + 0.2)
    sagging = [corner[side] for side in regions.SIDES
               for corner in (regions.EYE_INNER_CORNER, regions.EYE_OUTER_CORNER, regions.TEMPLE)]
    points[np.ix_(blinking, sagging, [1])] += 4.0
    points[np.ix_(blinking, sagging, [0])] = 320.0 + 0.95 * (points[np.ix_(blinking, sagging, [0])] - 320.0)
    still = np.zeros((times.size, 2, 2), np.float32)
    landmarks_only = compute_signals(points, times)
    with_flow = compute_signals(points, times, mouth_flow=still)
    for side in regions.SIDES:
        assert np.abs(landmarks_only[f"mouth_corner_vertical_{side}"][blinking]).mean() > 0.015
        for base in ("mouth_corner_vertical", "mouth_corner_lateral"):
            assert np.abs(with_flow[f"{base}_{side}"][blinking]).max() < 0.005
