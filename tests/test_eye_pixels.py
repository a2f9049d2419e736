"""Image openness of the eyes (spasmscan.eye_pixels) and its place in tracked series."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from spasmscan import pipeline, regions
from spasmscan.errors import ParameterError
from spasmscan.eye_pixels import eye_openness, frame_luma
from spasmscan.landmarks import TrackerSettings, track_frames
from spasmscan.selection import Selection
from spasmscan.video import VideoSource

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "hfs_left_eye.mp4"  # left tonic spasm 7.74-10.11 s
SKIN_BGR = (150, 170, 205)
EYE_WIDTH = 60.0
IRIS_RADIUS = 11.0
EYE_CENTRES = {"left": (230.0, 120.0), "right": (110.0, 120.0)}  # patient's left eye on the image's right


# -- the pure function on drawn eyes ------------------------------------------------------------
def drawn_face(*, cover: dict[str, float] | None = None, gain: float = 1.0, seed: int = 0):
    """A (240, 340, 3) BGR skin image with two drawn eyes and the (478, 2) landmarks that go with them.

    cover: side -> share of the eye opening the upper lid covers (0 open, 1 shut: skin to the lower lid).
    """
    cover = cover or {}
    rng = np.random.default_rng(seed)
    image = np.empty((240, 340, 3), np.float32)
    image[:] = SKIN_BGR
    image += rng.normal(0, 4, image.shape[:2])[..., None]  # skin texture
    face = np.zeros((regions.N_LANDMARKS, 2), np.float32)
    for side, (cx, cy) in EYE_CENTRES.items():
        outward = 1.0 if side == "left" else -1.0
        xs = cx + outward * EYE_WIDTH / 2 * np.linspace(1, -1, len(regions.UPPER_LID[side]) + 2)[1:-1]
        bulge = 0.35 * EYE_WIDTH * np.sqrt(np.clip(1 - ((xs - cx) / (EYE_WIDTH / 2)) ** 2, 0, 1))
        upper, lower = np.stack([xs, cy - bulge], 1), np.stack([xs, cy + bulge], 1)
        outer, inner = (cx + outward * EYE_WIDTH / 2, cy), (cx - outward * EYE_WIDTH / 2, cy)
        face[list(regions.UPPER_LID[side])] = upper
        face[list(regions.LOWER_LID[side])] = lower
        face[regions.EYE_OUTER_CORNER[side]], face[regions.EYE_INNER_CORNER[side]] = outer, inner
        iris = regions.IRIS[side]
        face[iris[0]] = (cx, cy)
        face[list(iris[1:])] = [(cx + IRIS_RADIUS, cy), (cx, cy - IRIS_RADIUS), (cx - IRIS_RADIUS, cy),
                                (cx, cy + IRIS_RADIUS)]
        opening = np.concatenate([[outer], upper, [inner], lower[::-1]])
        cv2.fillPoly(image, [np.round(opening).astype(np.int32)], (235, 235, 240))  # sclera
        cv2.circle(image, (int(cx), int(cy)), int(IRIS_RADIUS), (60, 80, 95), -1)  # iris
        cv2.circle(image, (int(cx), int(cy)), int(IRIS_RADIUS / 2.5), (20, 20, 20), -1)  # pupil
        lid_edge = upper + cover.get(side, 0.0) * (lower - upper)
        lid = np.concatenate([[outer], upper, [inner], lid_edge[::-1]])
        cv2.fillPoly(image, [np.round(lid).astype(np.int32)], SKIN_BGR)  # the upper lid drawn down
    image = np.clip(image * gain, 0, 255).astype(np.uint8)
    return image, face


def test_a_shut_eye_loses_most_of_its_openness_and_only_that_eye():
    image, face = drawn_face()
    shut_image, shut_face = drawn_face(cover={"left": 1.0})
    left_open, right_open = eye_openness(image, face)
    left_shut, right_shut = eye_openness(shut_image, shut_face)
    assert left_open > 0.2 and right_open > 0.2
    assert left_shut < 0.15 * left_open  # the strip now holds skin
    assert right_shut == pytest.approx(right_open, rel=0.05)


def test_openness_falls_step_by_step_as_the_lid_comes_down():
    values = [eye_openness(*drawn_face(cover={"right": c}))[1] for c in (0.0, 0.35, 0.55, 0.75)]
    assert np.all(np.diff(values) < -0.03), values


@pytest.mark.parametrize("gain", [0.6, 1.4])
def test_lighting_gain_changes_openness_little(gain):
    image, face = drawn_face()
    lit, _ = drawn_face(gain=gain)
    np.testing.assert_allclose(eye_openness(lit, face), eye_openness(image, face), rtol=0.08)
    half_shut = drawn_face(cover={"left": 0.5})[0]
    half_lit = drawn_face(cover={"left": 0.5}, gain=gain)[0]
    np.testing.assert_allclose(eye_openness(half_lit, face)[0], eye_openness(half_shut, face)[0], rtol=0.1)


def test_grey_and_colour_frames_give_the_same_openness():
    image, face = drawn_face(cover={"left": 0.4})
    np.testing.assert_allclose(eye_openness(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), face),
                               eye_openness(image, face), atol=1e-6)


def test_eyes_outside_the_frame_or_without_an_iris_read_nan():
    image, face = drawn_face()
    outside = face + np.float32(1000.0)
    assert np.isnan(eye_openness(image, outside)).all()
    no_iris = face.copy()
    no_iris[list(regions.IRIS["left"])] = no_iris[regions.IRIS_CENTER["left"]]  # radius 0
    left, right = eye_openness(image, no_iris)
    assert np.isnan(left) and np.isfinite(right)


# -- in tracked series ----------------------------------------------------------------------------
def spasm_window(series, start_s: float = 8.0, end_s: float = 9.8) -> np.ndarray:
    return (series.times_s >= start_s) & (series.times_s <= end_s)


@pytest.fixture(scope="module")
def sample_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("eye-pixels-cache")


@pytest.fixture(scope="module")
def sample_series(sample_cache):
    return pipeline.video_landmarks(SAMPLE, cache_dir=sample_cache, workers=1)


def test_tracked_series_carry_the_left_spasm_in_the_left_column(sample_series):
    truth = json.loads(SAMPLE.with_suffix(".json").read_text())
    assert any(e["kind"] == "tonic_spasm" and e["side"] == "left" and e["start_s"] < 8.0 and e["end_s"] > 9.8
               for e in truth["events"])
    openness = sample_series.eye_openness
    assert openness.shape == (sample_series.n_frames, 2) and openness.dtype == np.float32
    assert np.isfinite(openness[sample_series.face_found]).all()
    at_rest = (sample_series.times_s > 0.5) & (sample_series.times_s < 1.9)  # before the first blink
    left_rest, right_rest = np.median(openness[at_rest], axis=0)
    left_spasm, right_spasm = np.median(openness[spasm_window(sample_series)], axis=0)
    assert left_spasm < 0.6 * left_rest  # the spasm closes the left eye by 0.87
    assert right_spasm > 0.85 * right_rest


def test_eye_openness_comes_back_from_the_cache(sample_series, sample_cache, monkeypatch):
    def no_tracking(*args, **kwargs):
        raise AssertionError("tracked again instead of reading the cache")

    monkeypatch.setattr(pipeline, "track_frames", no_tracking)
    again = pipeline.video_landmarks(SAMPLE, cache_dir=sample_cache)
    np.testing.assert_array_equal(again.eye_openness, sample_series.eye_openness)


def test_parts_and_frame_steps_keep_eye_openness(sample_series, monkeypatch):
    monkeypatch.setattr(pipeline, "MIN_PART_S", 4.0)
    parts = pipeline.video_landmarks(SAMPLE, use_cache=False, workers=3)
    np.testing.assert_array_equal(parts.times_s, sample_series.times_s)
    assert np.median(np.abs(parts.eye_openness - sample_series.eye_openness)) < 0.01
    stepped = pipeline.video_landmarks(SAMPLE, selection=Selection(frame_step=3), use_cache=False, workers=1)
    assert stepped.eye_openness.shape == (stepped.n_frames, 2)
    assert np.median(np.abs(stepped.eye_openness - sample_series.eye_openness[::3])) < 0.02


def test_frames_without_a_face_read_nan(gap_clip):
    with VideoSource(gap_clip, planar=True) as video:
        series = track_frames(video.frames(), fps=30.0)
    assert not series.face_found.all() and series.face_found.any()
    assert np.isnan(series.eye_openness[~series.face_found]).all()
    assert np.isfinite(series.eye_openness[series.face_found]).all()


def test_a_mirrored_reading_swaps_the_columns():
    with VideoSource(SAMPLE, start_s=7.9, end_s=9.8) as video:
        flipped = [(t, np.ascontiguousarray(frame[:, ::-1])) for t, frame in video.frames()]
    as_selfie = track_frames(flipped, settings=TrackerSettings(mirrored=True), fps=30.0)
    as_recorded = track_frames(flipped, fps=30.0)
    selfie_left, selfie_right = np.median(as_selfie.eye_openness, axis=0)
    naive_left, naive_right = np.median(as_recorded.eye_openness, axis=0)
    assert selfie_left < 0.7 * selfie_right  # the patient's left eye is in spasm, read as the left
    assert naive_right < 0.7 * naive_left  # without the flag it is taken for the right eye
    np.testing.assert_allclose([selfie_left, selfie_right], [naive_right, naive_left], rtol=0.1)


def test_frame_luma_is_the_y_plane_of_a_planar_frame():
    with VideoSource(SAMPLE, end_s=0.1, planar=True) as planar, VideoSource(SAMPLE, end_s=0.1) as bgr:
        (_, frame), (_, colour) = next(iter(planar.frames())), next(iter(bgr.frames()))
    luma = frame_luma(frame)
    assert luma.shape == colour.shape[:2] and np.shares_memory(luma, frame.planes)
    grey = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY).astype(int)
    assert np.median(np.abs(luma.astype(int) - grey)) < 20  # video luma is limited range (16-235)
    assert frame_luma(colour) is colour


def test_joining_parts_keeps_each_frames_openness_and_fills_a_part_without_it():
    from spasmscan.landmarks import LandmarkSeries

    def part(times, openness):
        points = np.zeros((len(times), regions.N_LANDMARKS, 2), np.float32)
        return LandmarkSeries(times_s=np.asarray(times, float), points=points, width=64, height=64, fps=10.0,
                              eye_openness=openness)

    first = part(np.arange(5) / 10, np.arange(10, dtype=np.float32).reshape(5, 2))
    second = part(np.arange(5, 8) / 10, None)
    joined = pipeline._concatenate([pipeline._from(first, 0.2), second])
    np.testing.assert_array_equal(joined.eye_openness[:3], first.eye_openness[2:])
    assert joined.eye_openness.shape == (6, 2) and np.isnan(joined.eye_openness[3:]).all()
    assert pipeline._concatenate([second, second]).eye_openness is None
    with pytest.raises(ParameterError, match="eye_openness"):
        part(np.arange(3) / 10, np.zeros((2, 2), np.float32))
