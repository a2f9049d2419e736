"""Tracking a file in parts at once (pipeline.video_landmarks with workers), frame steps, and the
fast landmark conversion."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from spasmscan import pipeline
from spasmscan.errors import ParameterError, VideoReadError
from spasmscan.landmarks import LandmarkSeries, TrackerSettings, landmark_array
from spasmscan.selection import Selection
from spasmscan.regions import N_LANDMARKS

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "hfs_left_eye.mp4"  # 15 s, 30 fps, a face throughout


@pytest.fixture(scope="module")
def one_pass():
    return pipeline.video_landmarks(SAMPLE, use_cache=False, workers=1)


@pytest.fixture
def short_parts(monkeypatch):
    """Let a 15 s clip be cut into parts of 4 s or more."""
    monkeypatch.setattr(pipeline, "MIN_PART_S", 4.0)


def test_parts_give_the_frames_and_landmarks_of_one_pass(one_pass, short_parts):
    progress = []
    parts = pipeline.video_landmarks(SAMPLE, use_cache=False, workers=3, progress=lambda d, t: progress.append((d, t)))
    np.testing.assert_array_equal(parts.times_s, one_pass.times_s)  # no frame lost or doubled at the cuts
    assert parts.face_found.all()
    # MediaPipe's tracking depends on the frames before; after a warmed-up start the paths agree closely
    differences = np.abs(parts.points - one_pass.points).max(axis=(1, 2))
    assert np.median(differences) < 0.5 and differences.max() < 6.0
    assert progress and progress[-1][0] == pytest.approx(progress[-1][1], abs=1.0)


def test_parts_find_the_same_events(one_pass, short_parts):
    from spasmscan.analysis import analyze_series

    parts = pipeline.video_landmarks(SAMPLE, use_cache=False, workers=3)
    kept, split = analyze_series(one_pass), analyze_series(parts)
    assert split.verdict.label == kept.verdict.label and split.verdict.side == kept.verdict.side
    assert list(split.events.kind) == list(kept.events.kind)
    np.testing.assert_allclose(split.events.start_s, kept.events.start_s, atol=0.07)


def test_a_failing_part_raises_its_error_and_stops_the_others(short_parts, monkeypatch):
    real = pipeline.track_frames

    def failing(frames, **kwargs):
        def counted():
            for index, item in enumerate(frames):
                if index == 5 and item[0] > 5.0:
                    raise VideoReadError("damaged in the middle")
                yield item
        return real(counted(), **kwargs)

    monkeypatch.setattr(pipeline, "track_frames", failing)
    with pytest.raises(VideoReadError, match="damaged in the middle"):
        pipeline.video_landmarks(SAMPLE, use_cache=False, workers=3)


def _series(times, centre_x: float = 100.0, fps: float = 30.0) -> LandmarkSeries:
    times = np.asarray(times, dtype=np.float64)
    points = np.zeros((len(times), N_LANDMARKS, 2), np.float32)
    points[:, :, 0] = centre_x + np.linspace(-20, 20, N_LANDMARKS)  # a face 40 px wide
    points[:, :, 1] = 100.0
    return LandmarkSeries(times_s=times, points=points, width=640, height=480, fps=fps, source="clip")


@pytest.fixture
def track_rest_calls(monkeypatch):
    calls = []

    def fake_track_rest(source, settings, selection, before, total_s, progress):
        calls.append(before)
        return _series(np.arange(0, 10) / 30.0 + (0 if before is None else before.times_s[-1] + 1 / 30))

    monkeypatch.setattr(pipeline, "_track_rest", fake_track_rest)
    return calls


def test_parts_that_meet_are_joined(track_rest_calls):
    parts = [_series(np.arange(0, 30) / 30), _series(np.arange(30, 60) / 30), _series([])]
    joined = pipeline._joined(parts, "clip", TrackerSettings(), Selection(), 2.0, None)
    np.testing.assert_allclose(joined.times_s, np.arange(60) / 30)
    assert not track_rest_calls  # an empty last part: the container announced the video too long


@pytest.mark.parametrize("second_part", [np.arange(40, 70) / 30, np.arange(29, 59) / 30, []],
                         ids=["frames missing", "frames doubled", "empty middle part"])
def test_parts_that_do_not_meet_are_tracked_again_in_one_pass(second_part, track_rest_calls, caplog):
    parts = [_series(np.arange(0, 30) / 30), _series(second_part), _series(np.arange(70, 100) / 30)]
    with caplog.at_level(logging.WARNING, logger="spasmscan"):
        pipeline._joined(parts, "clip", TrackerSettings(), Selection(), 3.3, None)
    assert track_rest_calls == [None]
    assert "one pass" in caplog.text


def test_another_face_after_a_cut_is_replaced_by_the_one_followed_before(track_rest_calls):
    before = _series(np.arange(0, 30) / 30, centre_x=100.0)
    other_person = _series(np.arange(30, 60) / 30, centre_x=400.0)
    joined = pipeline._joined([before, other_person], "clip", TrackerSettings(), Selection(), 2.0, None)
    assert len(track_rest_calls) == 1 and track_rest_calls[0] is before
    assert joined.n_frames == 40 and np.all(np.diff(joined.times_s) > 0)


def test_the_same_face_moving_a_little_across_a_cut_is_kept(track_rest_calls):
    parts = [_series(np.arange(0, 30) / 30, centre_x=100.0), _series(np.arange(30, 60) / 30, centre_x=110.0)]
    pipeline._joined(parts, "clip", TrackerSettings(), Selection(), 2.0, None)
    assert not track_rest_calls


def test_frame_step_tracks_every_nth_frame(one_pass):
    series = pipeline.video_landmarks(SAMPLE, selection=Selection(frame_step=3), use_cache=False, workers=1)
    np.testing.assert_array_equal(series.times_s, one_pass.times_s[::3])
    assert series.fps == pytest.approx(one_pass.fps / 3)
    assert Selection(frame_step=3).key() != Selection().key()


@pytest.mark.parametrize("step", [0, -1, 1.5])
def test_frame_step_must_be_a_whole_positive_number(step):
    with pytest.raises(ParameterError, match="frame_step"):
        Selection(frame_step=step)


def test_landmark_array_reads_the_serialised_message_like_the_fields():
    from mediapipe.framework.formats import landmark_pb2

    rng = np.random.default_rng(0)
    plain = landmark_pb2.NormalizedLandmarkList()
    with_visibility = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in rng.uniform(-0.2, 1.2, (N_LANDMARKS, 3)).astype(np.float32):
        plain.landmark.add(x=x, y=y, z=z)
        with_visibility.landmark.add(x=x, y=y, z=z, visibility=0.9)  # another layout: the field-by-field path
    expected = np.array([(p.x, p.y) for p in plain.landmark], dtype=np.float32)
    np.testing.assert_array_equal(landmark_array(plain), expected)
    np.testing.assert_array_equal(landmark_array(with_visibility), expected)
