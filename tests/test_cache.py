"""Landmark cache: hits, misses, and damaged or foreign cache files (untrusted input)."""
from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from spasmscan import cache, pipeline
from spasmscan.cache import cache_key, default_cache_dir, file_digest, load_series, save_series
from spasmscan.landmarks import PIXEL_MEASURES, LandmarkSeries, TrackerSettings
from spasmscan.regions import MEASURED_LANDMARKS, N_LANDMARKS, SERIES_LANDMARKS
from spasmscan.selection import Selection

from test_signals import template_face

SHORT = Selection(end_s=0.5)  # 15 frames of the standard clip: quick to track
MIRRORED = TrackerSettings(mirrored=True)  # the settings small_series was tracked with
BINDING = cache.Binding(content_digest="a" * 64, width=160, height=120, fps=25.0, frame_count=6, file_bytes=5000,
                        settings=cache.settings_key(MIRRORED, Selection()), versions=cache.tracker_versions())


def small_series(n: int = 6) -> LandmarkSeries:
    """``n`` frames of a face (the signal tests' template, fitted into 160x120) seen in a mirror."""
    rng = np.random.default_rng(n)
    face = template_face()[list(SERIES_LANDMARKS)] * 0.4 - [48.0, 40.0]
    face[:, 0] = 160.0 - face[:, 0]  # mirrored: the patient's left on the image's left
    points = (face + rng.normal(0.0, 0.3, (n,) + face.shape)).astype(np.float32)
    points[2] = np.nan  # a frame without the face
    openness = rng.random((n, 2)).astype(np.float32)
    openness[2] = np.nan
    flow = rng.normal(0.0, 0.5, (n, 2, 2)).astype(np.float32)
    flow[2:4] = np.nan  # no face, and the frame after it
    return LandmarkSeries(times_s=np.arange(n) / 25.0, points=points, width=160, height=120, fps=25.0,
                          source="clip.mp4", mirrored=True, landmark_ids=SERIES_LANDMARKS, eye_openness=openness,
                          mouth_flow=flow, end_s=n / 25.0)


def load(path: Path, binding: cache.Binding = BINDING, settings: TrackerSettings = MIRRORED):
    return load_series(path, binding=binding, settings=settings)


def assert_same_series(a: LandmarkSeries, b: LandmarkSeries) -> None:
    np.testing.assert_array_equal(a.times_s, b.times_s)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.landmark_ids, b.landmark_ids)
    for name in PIXEL_MEASURES:
        np.testing.assert_array_equal(a.pixel_rows(name), b.pixel_rows(name))
    assert (a.width, a.height, a.fps, a.mirrored) == (b.width, b.height, b.fps, b.mirrored)
    assert a.end_s == b.end_s or (np.isnan(a.end_s) and np.isnan(b.end_s))


class TrackingCounter:
    """Wraps pipeline.track_frames to count how often tracking really runs."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = pipeline.track_frames

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(pipeline, "track_frames", counted)


@pytest.fixture
def tracking(monkeypatch) -> TrackingCounter:
    return TrackingCounter(monkeypatch)


@pytest.fixture
def short_clip(face_clip, tmp_path) -> Path:
    """A private copy of the standard clip (tests may change its content)."""
    return Path(shutil.copy(face_clip, tmp_path / "clip.mp4"))


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.npz"))


# -- keys and round trip -------------------------------------------------------------------------
def test_default_folder_follows_the_environment(private_cache_dir):
    assert default_cache_dir() == private_cache_dir


def test_file_digest_is_the_content_sha256(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc" * 1000)
    assert file_digest(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_key_depends_on_content_and_every_setting():
    base = cache_key("a" * 64, TrackerSettings())
    assert cache_key("a" * 64, TrackerSettings()) == base
    others = [cache_key("b" * 64, TrackerSettings()), cache_key("a" * 64, TrackerSettings(mirrored=True)),
              cache_key("a" * 64, TrackerSettings(), Selection(start_s=1.0)),
              cache_key("a" * 64, TrackerSettings(), Selection(end_s=1.0)),
              cache_key("a" * 64, TrackerSettings(), Selection(frame_step=2)),
              cache_key("a" * 64, TrackerSettings(max_faces=1)),
              cache_key("a" * 64, TrackerSettings(min_detection_confidence=0.6)),
              cache_key("a" * 64, TrackerSettings(min_tracking_confidence=0.6))]
    assert len({base, *others}) == 9


def test_save_and_load_round_trip(tmp_path):
    series = small_series()
    save_series(series, tmp_path / "sub" / "entry.npz", binding=BINDING)
    loaded = load_series(tmp_path / "sub" / "entry.npz", binding=BINDING, settings=MIRRORED, source="other.mp4")
    assert_same_series(series, loaded)
    assert loaded.source == "other.mp4"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["entry.npz"]  # no temporary file left


def test_missing_entry_is_a_miss(tmp_path):
    assert load(tmp_path / "none.npz") is None


# -- through the pipeline ------------------------------------------------------------------------
def test_miss_then_hit(short_clip, tmp_path, tracking):
    folder = tmp_path / "cache"
    first = pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    assert tracking.calls == 1
    assert [p.name for p in entries(folder)] == [cache_key(file_digest(short_clip), TrackerSettings(), SHORT) + ".npz"]
    again = pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    assert tracking.calls == 1
    assert_same_series(first, again)
    assert again.source == str(short_clip)


def test_the_environment_folder_is_used_by_default(short_clip, private_cache_dir, tracking):
    before = set(entries(private_cache_dir))
    pipeline.video_landmarks(short_clip, selection=SHORT)
    assert len(set(entries(private_cache_dir)) - before) == 1


def test_other_settings_miss(short_clip, tmp_path, tracking):
    folder = tmp_path / "cache"
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    other = pipeline.video_landmarks(short_clip, selection=Selection(end_s=0.3), cache_dir=folder)
    assert tracking.calls == 2 and len(entries(folder)) == 2
    assert other.n_frames == 9


def test_changed_content_misses(short_clip, tmp_path, tracking):
    folder = tmp_path / "cache"
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    with open(short_clip, "ab") as handle:  # same name, other bytes
        handle.write(b"\0")
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    assert tracking.calls == 2


def test_no_cache_neither_reads_nor_writes(short_clip, tmp_path, tracking):
    folder = tmp_path / "cache"
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder, use_cache=False)
    assert not folder.exists()
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder, use_cache=False)
    assert tracking.calls == 3


def test_an_unwritable_cache_folder_only_warns(short_clip, tmp_path, tracking, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="spasmscan.pipeline"):
        series = pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=blocker / "cache")
    assert series.n_frames == 15
    assert "could not write landmark cache" in caplog.text


# -- damaged and foreign entries -----------------------------------------------------------------
def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def good_arrays(**changes) -> dict:
    series = small_series()
    arrays = dict(format=np.int64(cache.CACHE_FORMAT), binding=np.array(BINDING.text()), times_s=series.times_s,
                  points=series.points, landmark_ids=np.asarray(SERIES_LANDMARKS), eye_openness=np.full((6, 2), 0.3, np.float32),
                  mouth_flow=np.zeros((6, 2, 2), np.float32), size=np.array([160, 120]), fps=np.float64(25.0), mirrored=np.bool_(True), end_s=np.float64(0.24))
    arrays.update(changes)
    return {k: v for k, v in arrays.items() if v is not None}


def with_points(change) -> np.ndarray:
    """small_series' points after ``change(points)`` (in place)."""
    points = small_series().points.copy()
    change(points)
    return points


BAD_ENTRIES = {
    "empty": b"",
    "text": b"not a cache file\n",
    "truncated": npz_bytes(**good_arrays())[:300],
    "pickled object array": npz_bytes(**good_arrays(points=np.array([{"x": 1}], dtype=object))),
    "other format": npz_bytes(**good_arrays(format=np.int64(99))),
    "missing points": npz_bytes(**good_arrays(points=None)),
    "468 points": npz_bytes(**good_arrays(points=np.zeros((6, 468, 2), np.float32))),
    "float64 points": npz_bytes(**good_arrays(points=np.zeros((6, len(SERIES_LANDMARKS), 2)))),
    "missing landmark ids": npz_bytes(**good_arrays(landmark_ids=None)),
    "landmark ids out of order": npz_bytes(**good_arrays(landmark_ids=np.asarray(SERIES_LANDMARKS)[::-1])),
    "landmark ids beyond the mesh": npz_bytes(**good_arrays(landmark_ids=np.asarray(SERIES_LANDMARKS) + 400)),
    "measured landmarks missing": npz_bytes(**good_arrays(
        points=np.zeros((6, N_LANDMARKS - len(MEASURED_LANDMARKS), 2), np.float32),
        landmark_ids=np.setdiff1d(np.arange(N_LANDMARKS), MEASURED_LANDMARKS))),
    "missing eye openness": npz_bytes(**good_arrays(eye_openness=None)),
    "eye openness of other frames": npz_bytes(**good_arrays(eye_openness=np.zeros((5, 2), np.float32))),
    "missing mouth flow": npz_bytes(**good_arrays(mouth_flow=None)),
    "mouth flow of one corner": npz_bytes(**good_arrays(mouth_flow=np.zeros((6, 1, 2), np.float32))),
    "times too short": npz_bytes(**good_arrays(times_s=np.arange(3.0))),
    "times not increasing": npz_bytes(**good_arrays(times_s=np.zeros(6))),
    "nan time": npz_bytes(**good_arrays(times_s=np.array([0, 1, np.nan, 3, 4, 5.0]))),
    "zero size": npz_bytes(**good_arrays(size=np.array([0, 120]))),
    "negative fps": npz_bytes(**good_arrays(fps=np.float64(-1))),
    "fps array": npz_bytes(**good_arrays(fps=np.ones(3))),
    "pickle": b"\x80\x04\x95" + os.urandom(40),
    "another video's entry": npz_bytes(**good_arrays(binding=np.array(
        replace(BINDING, content_digest="b" * 64).text()))),
    "an older spasmscan": npz_bytes(**good_arrays(binding=np.array(
        replace(BINDING, versions={**BINDING.versions, "spasmscan": "0.0.1"}).text()))),
    "an older MediaPipe": npz_bytes(**good_arrays(binding=np.array(
        replace(BINDING, versions={**BINDING.versions, "mediapipe": "0.10.14"}).text()))),
    "other tracker settings": npz_bytes(**good_arrays(binding=np.array(
        replace(BINDING, settings=TrackerSettings(mirrored=True, max_faces=1).key()).text()))),
    "no binding": npz_bytes(**good_arrays(binding=None)),
    "infinite point": npz_bytes(**good_arrays(points=with_points(lambda p: p.__setitem__((1, 5, 0), np.inf)))),
    "half a face": npz_bytes(**good_arrays(points=with_points(lambda p: p.__setitem__((1, slice(0, 9)), np.nan)))),
    "1e30 points": npz_bytes(**good_arrays(points=with_points(lambda p: p.__setitem__((3, 7, 1), 1e30)))),
    "points outside the frame": npz_bytes(**good_arrays(points=with_points(lambda p: p.__iadd__(500.0)))),
    "random points": npz_bytes(**good_arrays(points=(np.random.default_rng(1).random(
        (6, len(SERIES_LANDMARKS), 2)) * [160, 120]).astype(np.float32))),
    "unmirrored face": npz_bytes(**good_arrays(points=with_points(lambda p: p.__setitem__(
        (slice(None), slice(None), 0), 160.0 - p[..., 0])))),
    "another frame size": npz_bytes(**good_arrays(size=np.array([320, 240]))),
    "more frames than the video": npz_bytes(**good_arrays(times_s=np.arange(12) / 25.0, points=np.concatenate(
        [small_series().points] * 2))),
    "times past the video's end": npz_bytes(**good_arrays(times_s=np.arange(6) + 10.0)),
    "an extra array": npz_bytes(**good_arrays(extra=np.zeros(3))),
    "an end before the last frame": npz_bytes(**good_arrays(end_s=np.float64(0.1))),
    "an infinite end": npz_bytes(**good_arrays(end_s=np.float64(np.inf))),
    "compressed": (lambda buffer: (np.savez_compressed(buffer, **good_arrays()), buffer.getvalue())[1])(io.BytesIO()),
}


@pytest.mark.parametrize("name", sorted(BAD_ENTRIES))
def test_bad_entries_are_refused(tmp_path, caplog, name):
    path = tmp_path / "entry.npz"
    path.write_bytes(BAD_ENTRIES[name])
    with caplog.at_level(logging.WARNING, logger="spasmscan.cache"):
        assert load(path) is None
    assert "unusable" in caplog.text and str(path) in caplog.text
    assert len(caplog.records) == 1


def test_a_good_foreign_entry_is_accepted(tmp_path):
    path = tmp_path / "entry.npz"
    path.write_bytes(npz_bytes(**good_arrays()))
    assert load(path).n_frames == 6


def binding_of(clip: Path, selection: Selection = SHORT) -> cache.Binding:
    from spasmscan.video import VideoSource

    with VideoSource(clip) as video:
        return cache.Binding.of(video.info, content_digest=file_digest(clip), settings=TrackerSettings(),
                                selection=selection, file_bytes=clip.stat().st_size)


@pytest.mark.parametrize("name", ["truncated", "pickled object array", "468 points"])
def test_a_bad_entry_is_rebuilt(short_clip, tmp_path, tracking, name):
    folder = tmp_path / "cache"
    entry = folder / (cache_key(file_digest(short_clip), TrackerSettings(), SHORT) + ".npz")
    folder.mkdir()
    entry.write_bytes(BAD_ENTRIES[name])
    series = pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    assert tracking.calls == 1 and series.n_frames == 15
    assert_same_series(load_series(entry, binding=binding_of(short_clip), settings=TrackerSettings(), selection=SHORT), series)


def test_another_videos_entry_under_this_videos_key_is_rebuilt_with_one_warning(short_clip, two_faces_clip, tmp_path,
                                                                                 tracking, caplog):
    folder = tmp_path / "cache"
    other = pipeline.video_landmarks(two_faces_clip, selection=SHORT, cache_dir=folder)
    (other_entry,) = entries(folder)
    entry = folder / (cache_key(file_digest(short_clip), TrackerSettings(), SHORT) + ".npz")
    shutil.copy(other_entry, entry)
    with caplog.at_level(logging.WARNING, logger="spasmscan"):
        series = pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    assert tracking.calls == 2
    assert [r.getMessage() for r in caplog.records if "unusable" in r.getMessage()] == [
        f"landmark cache {entry} is unusable (made for another video); tracking again"]
    assert not np.array_equal(series.points, other.points, equal_nan=True)
    caplog.clear()
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)  # rebuilt: a hit now
    assert tracking.calls == 2 and not caplog.records


@pytest.mark.parametrize("change", [lambda p: p.__setitem__((4, 3, 0), np.inf),
                                    lambda p: p.__setitem__((4, 3, 0), 1e30),
                                    lambda p: p.__setitem__(slice(None), np.random.default_rng(2).random(p.shape) * 300)])
def test_an_entry_with_impossible_points_is_rebuilt(short_clip, tmp_path, tracking, change):
    folder = tmp_path / "cache"
    series = pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    (entry,) = entries(folder)
    points = series.points.copy()
    change(points)
    save_series(replace(series, points=points), entry, binding=binding_of(short_clip))
    again = pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    assert tracking.calls == 2
    assert_same_series(again, series)


def test_an_entry_written_by_another_mediapipe_is_rebuilt(short_clip, tmp_path, tracking, monkeypatch):
    folder = tmp_path / "cache"
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    real = cache.tracker_versions
    monkeypatch.setattr(cache, "tracker_versions", lambda: {**real(), "mediapipe": "0.10.99"})
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    pipeline.video_landmarks(short_clip, selection=SHORT, cache_dir=folder)
    assert tracking.calls == 2  # tracked again once, then the rebuilt entry serves


def test_an_entry_declaring_more_than_the_video_holds_is_refused_before_it_is_read(tmp_path, monkeypatch, caplog):
    """A small compressed file can inflate to gigabytes: its headers decide before anything is inflated."""
    frames = 20000  # the binding's video holds 6
    bomb = good_arrays(times_s=np.arange(frames) / 25.0,
                       points=np.zeros((frames, len(SERIES_LANDMARKS), 2), np.float32))
    for name, write in (("bomb.npz", np.savez_compressed), ("big.npz", np.savez)):
        write(tmp_path / name, **bomb)
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000
    loads = []
    monkeypatch.setattr(cache.np, "load", lambda *args, **kwargs: loads.append(args))
    with caplog.at_level(logging.WARNING, logger="spasmscan.cache"):
        assert load(tmp_path / "bomb.npz") is None and load(tmp_path / "big.npz") is None
    assert loads == []
    for record in caplog.records:
        assert "larger than the video can fill (at most 9 frames)" in record.getMessage()  # 6, and some slack


# -- fuzzing -------------------------------------------------------------------------------------
def check_loader(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "entry.npz"
        path.write_bytes(data)
        series = load(path)
    if series is not None:
        assert series.points.shape[1:] == (len(series.landmark_ids), 2) and series.points.dtype == np.float32
        assert set(MEASURED_LANDMARKS) <= set(series.landmark_ids.tolist())
        assert series.times_s.shape == (series.n_frames,) and np.all(np.diff(series.times_s) > 0)
        assert series.width > 0 and series.height > 0 and series.fps > 0


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=4096))
def test_fuzz_loader_random_bytes(data):
    check_loader(data)


VALID_ENTRY = npz_bytes(**good_arrays())
VALID_COMPRESSED = (lambda buffer: (np.savez_compressed(buffer, **good_arrays()), buffer.getvalue())[1])(io.BytesIO())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from([VALID_ENTRY, VALID_COMPRESSED]),
       edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), min_size=1, max_size=5),
       cut=st.floats(0.0, 1.0))
def test_fuzz_loader_mutated_entries(base, edits, cut):
    data = bytearray(base[:int(cut * len(base)) or len(base)])
    for where, patch in edits:
        at = int(where * (len(data) - 1))
        data[at:at + len(patch)] = patch
    check_loader(bytes(data))
