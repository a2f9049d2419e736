"""Video input on real files written during the session: timestamps, parts, rotation, odd and broken files."""
from __future__ import annotations

import logging
import math
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import CLIP_FPS, VFR_STEPS_MS, with_avi_rate
from spasmscan.errors import (InputNotFoundError, NoVideoStreamError, ParameterError, SpasmscanError,
                              VideoReadError)
from spasmscan.video import PlanarFrame, VideoSource, _read_ahead, is_video_path


def read_all(path, **options) -> tuple[np.ndarray, list]:
    with VideoSource(path, **options) as video:
        pairs = list(video.frames())
    return np.array([t for t, _ in pairs]), [frame for _, frame in pairs]


# -- timestamps ----------------------------------------------------------------------------------
def test_info_and_timestamps_of_a_written_clip(face_clip):
    with VideoSource(face_clip) as video:
        info = video.info
        times = np.array([t for t, frame in video.frames()])
    assert (info.width, info.height, info.fps, info.frame_count) == (640, 360, CLIP_FPS, 105)
    assert info.duration_s == pytest.approx(3.5)
    assert times.shape == (105,)
    assert times[0] == 0.0
    np.testing.assert_allclose(np.diff(times), 1 / CLIP_FPS, atol=1e-6)


def test_frames_are_bgr_uint8_of_the_announced_size(face_clip):
    with VideoSource(face_clip) as video:
        t, frame = next(iter(video.frames()))
    assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8


@pytest.mark.parametrize("start_s, end_s", [(1.0, 2.0), (0.5, None), (None, 1.0), (2.0, 100.0)])
def test_start_and_end_select_a_part_with_the_files_own_times(face_clip, start_s, end_s):
    times, _ = read_all(face_clip, start_s=start_s, end_s=end_s)
    first = start_s or 0.0
    last = min(end_s or math.inf, 3.5)
    assert times[0] == pytest.approx(first, abs=1e-6)
    assert times[-1] < last and times[-1] == pytest.approx(last - 1 / CLIP_FPS, abs=1e-6)
    np.testing.assert_allclose(np.diff(times), 1 / CLIP_FPS, atol=1e-6)


def test_a_part_starts_on_the_frame_its_time_names(face_clip):
    all_times, all_frames = read_all(face_clip)
    times, frames = read_all(face_clip, start_s=1.0, end_s=1.2)
    first = int(np.flatnonzero(np.isclose(all_times, 1.0))[0])
    assert first == 30
    for offset, frame in enumerate(frames):  # the seek lands on the frame itself, not a keyframe near it
        assert np.array_equal(frame, all_frames[first + offset])


def test_a_part_after_the_end_gives_no_frames(face_clip):
    times, _ = read_all(face_clip, start_s=10.0)
    assert times.size == 0


@pytest.mark.parametrize("start_s, end_s", [(-1.0, None), (float("nan"), None), (2.0, 1.0), (1.0, 1.0)])
def test_bad_parts_are_parameter_errors(face_clip, start_s, end_s):
    with pytest.raises(ParameterError):
        VideoSource(face_clip, start_s=start_s, end_s=end_s)


def test_threaded_and_direct_reading_agree(face_clip):
    threaded_times, threaded = read_all(face_clip, end_s=0.5)
    direct_times, direct = read_all(face_clip, end_s=0.5, threaded=False)
    np.testing.assert_array_equal(threaded_times, direct_times)
    assert all(np.array_equal(a, b) for a, b in zip(threaded, direct))


@pytest.mark.parametrize("planar", [False, True])
def test_variable_frame_rate_keeps_the_real_timestamps(vfr_clip, planar):
    times, frames = read_all(vfr_clip, planar=planar)
    expected = np.cumsum([0] + [VFR_STEPS_MS[i % 2] for i in range(len(times) - 1)]) / 1000.0
    assert len(times) == 40
    np.testing.assert_allclose(times, expected, atol=1e-3)
    assert frames[0].shape == (180, 320, 3)


def test_avi_timestamps(avi_clip):
    times, _ = read_all(avi_clip)
    assert len(times) == 60 and times[0] == 0.0
    np.testing.assert_allclose(np.diff(times), 1 / CLIP_FPS, atol=1e-6)


def test_a_container_claiming_1000_fps_gets_the_fallback_rate(avi_clip, tmp_path, caplog):
    path = tmp_path / "claims-1000.avi"
    path.write_bytes(with_avi_rate(avi_clip.read_bytes(), 1000))
    with caplog.at_level(logging.WARNING, logger="spasmscan.video"):
        times, _ = read_all(path)
    assert len(times) == 60 and times[0] == 0.0
    np.testing.assert_allclose(np.diff(times), 1 / 30.0, atol=1e-6)  # FALLBACK_FPS, not 1 ms steps
    assert "1e+03 fps" in caplog.text


def test_a_container_claiming_1000_fps_honours_start_and_end(avi_clip, tmp_path):
    path = tmp_path / "claims-1000.avi"
    path.write_bytes(with_avi_rate(avi_clip.read_bytes(), 1000))
    times, _ = read_all(path, start_s=0.5, end_s=1.0)
    assert times[0] == pytest.approx(0.5) and times[-1] < 1.0 and len(times) == 15


def test_a_container_claiming_0_fps_still_gives_increasing_times(avi_clip, tmp_path):
    path = tmp_path / "claims-0.avi"
    path.write_bytes(with_avi_rate(avi_clip.read_bytes(), 0))
    times, _ = read_all(path)
    assert len(times) == 60 and times[0] == 0.0
    steps = np.diff(times)
    assert np.all(steps > 0) and np.ptp(steps) < 1e-6
    assert 1 / 60 <= steps[0] <= 1 / 10  # a frame rate a camera could have had


# -- frame formats -------------------------------------------------------------------------------
def test_rotation_metadata_is_applied(rotated_clip, portrait_frames):
    with VideoSource(rotated_clip) as video:
        info = video.info
        frames = [frame for _, frame in video.frames()]
    assert (info.width, info.height) == (360, 640)
    assert len(frames) == len(portrait_frames)
    assert frames[0].shape == (640, 360, 3)
    upright = np.abs(frames[0].astype(float) - portrait_frames[0]).mean()
    upside_down = np.abs(frames[0].astype(float) - portrait_frames[0][::-1, ::-1]).mean()
    assert upright < 8 < upside_down


def test_grey_video_comes_out_as_three_channels(gray_clip):
    times, frames = read_all(gray_clip)
    assert len(frames) == 45 and frames[0].shape == (360, 640, 3)
    assert np.array_equal(frames[10][..., 0], frames[10][..., 2])


@pytest.mark.parametrize("clip, shape, count", [("tiny_clip", (64, 64, 3), 15),
                                                ("large_clip", (2160, 3840, 3), 4)])
def test_very_small_and_very_large_frames(request, clip, shape, count):
    times, frames = read_all(request.getfixturevalue(clip))
    assert len(frames) == count and frames[-1].shape == shape


def test_one_frame_video(one_frame_clip):
    times, frames = read_all(one_frame_clip)
    assert times.tolist() == [0.0] and len(frames) == 1


def test_a_truncated_avi_gives_the_frames_before_the_damage_with_a_warning(avi_clip, tmp_path, caplog):
    data = avi_clip.read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(data[:len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="spasmscan.video"):
        times, frames = read_all(path)
    assert 10 < len(frames) < 60
    assert np.all(np.diff(times) > 0)
    assert "truncated" in caplog.text and str(path) in caplog.text


# -- planar frames (what tracking reads) ---------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"start_s": 1.0, "end_s": 2.0}, {"start_s": 2.5}, {"frame_step": 3}])
def test_planar_frames_have_the_times_and_picture_of_opencvs_frames(face_clip, options):
    times, frames = read_all(face_clip, **options)
    planar_times, planar = read_all(face_clip, planar=True, **options)
    assert all(isinstance(frame, PlanarFrame) for frame in planar)
    np.testing.assert_array_equal(planar_times, times)
    for frame, bgr in zip(planar, frames):
        assert frame.shape == bgr.shape
        assert np.abs(frame.bgr().astype(int) - bgr).mean() < 3  # one picture; the two conversions round apart


def test_a_box_of_a_planar_frame_is_that_part_of_the_whole_frame(face_clip):
    _, frames = read_all(face_clip, planar=True, end_s=0.1)
    frame = frames[0]
    whole = frame.rgb(0, 0, 640, 360)
    np.testing.assert_array_equal(whole, frame.bgr()[..., ::-1])
    for x0, y0, x1, y1 in [(101, 33, 402, 290), (100, 32, 402, 290), (1, 1, 2, 2), (637, 357, 640, 360)]:
        part = frame.rgb(x0, y0, x1, y1)
        assert part.shape == (y1 - y0, x1 - x0, 3) and part.flags.c_contiguous
        np.testing.assert_array_equal(part, whole[y0:y1, x0:x1])


@pytest.mark.parametrize("clip", ["rotated_clip", "gray_clip", "avi_clip"])
def test_planar_reading_falls_back_to_opencv_where_it_must(request, clip):
    """Rotation metadata, another pixel format (MJPG is full-range), a container without frame times."""
    path = request.getfixturevalue(clip)
    times, frames = read_all(path)
    planar_times, planar = read_all(path, planar=True)
    np.testing.assert_array_equal(planar_times, times)
    assert all(isinstance(frame, np.ndarray) for frame in planar)
    np.testing.assert_array_equal(planar[-1], frames[-1])


def with_header_first(mp4: Path, out: Path) -> Path:
    """``mp4`` remuxed with its movie header at the front, as cameras write it: a cut copy still opens."""
    import av

    with av.open(str(mp4)) as source, av.open(str(out), "w", options={"movflags": "faststart"}) as target:
        stream = source.streams.video[0]
        copy = target.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.dts is not None:  # the closing empty packet
                packet.stream = copy
                target.mux(packet)
    return out


def test_an_mp4_cut_half_way_gives_the_same_frames_before_the_cut_either_way(face_clip, tmp_path, caplog):
    data = with_header_first(face_clip, tmp_path / "whole.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[:len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="spasmscan.video"):
        times, frames = read_all(path)
        planar_times, planar = read_all(path, planar=True)
    assert 10 < len(frames) < 100 and "truncated" in caplog.text
    np.testing.assert_array_equal(planar_times, times)
    assert isinstance(planar[0], PlanarFrame)


# -- files that are no video ---------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(InputNotFoundError, match="no such file"):
        VideoSource(tmp_path / "nothing.mp4")


def test_folder(tmp_path):
    with pytest.raises(VideoReadError, match="folder"):
        VideoSource(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(NoVideoStreamError, match="empty"):
        VideoSource(path)


def test_text_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(VideoReadError, match="notes.mp4"):
        VideoSource(path)


def test_mp4_cut_half_way(truncated_clip):
    with pytest.raises(VideoReadError, match="truncated"):
        VideoSource(truncated_clip)


@pytest.mark.parametrize("clip", ["zero_frame_clip", "audio_only_clip", "wav_file"])
def test_files_without_a_video_stream(request, clip):
    path = request.getfixturevalue(clip)
    with pytest.raises(NoVideoStreamError, match=path.name):
        VideoSource(path)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_still_image_is_refused(face_clip, tmp_path, suffix):
    import cv2

    with VideoSource(face_clip) as video:
        _, frame = next(iter(video.frames()))
    path = tmp_path / f"portrait{suffix}"
    cv2.imwrite(str(path), frame)
    with pytest.raises(VideoReadError, match="still image"):
        VideoSource(path)


def test_is_video_path():
    assert is_video_path("a/B.MOV") and is_video_path(Path("x.mkv"))
    assert not is_video_path("notes.txt")


# -- the reader thread ---------------------------------------------------------------------------
def decoder_threads() -> list:
    return [t for t in threading.enumerate() if t.name == "spasmscan-decoder"]


def test_stopping_early_ends_the_reader_thread(face_clip):
    with VideoSource(face_clip) as video:
        frames = video.frames()
        for index, _ in enumerate(frames):
            if index == 2:
                break
        frames.close()
        assert not decoder_threads()


def test_read_ahead_does_not_block_when_the_consumer_leaves_at_the_end():
    items = _read_ahead(iter(range(5)), 2)  # the producer finishes while the buffer is full
    assert next(items) == 0
    time.sleep(0.3)
    items.close()
    assert not decoder_threads()


def test_read_ahead_hands_errors_to_the_consumer():
    def failing():
        yield 1
        raise VideoReadError("broken")

    items = _read_ahead(failing(), 2)
    assert next(items) == 1
    with pytest.raises(VideoReadError, match="broken"):
        next(items)
    assert not decoder_threads()


def test_an_interruption_while_the_read_ahead_starts_leaves_its_source_untouched(monkeypatch):
    """Ctrl-C or SIGTERM can land while the decoder thread starts, before the consumer's clean-up is in
    place: the owner then releases the capture at once, so the thread must never read it."""
    import threading
    import types

    from spasmscan import video

    class InterruptedStart(threading.Thread):
        def start(self):
            super().start()
            raise KeyboardInterrupt

    monkeypatch.setattr(video, "threading", types.SimpleNamespace(Thread=InterruptedStart, Event=threading.Event))
    read = []

    def source():
        read.append(1)
        yield 1

    with pytest.raises(KeyboardInterrupt):
        next(_read_ahead(source(), 2))
    time.sleep(0.3)
    assert read == [] and not decoder_threads()


# -- fuzzing -------------------------------------------------------------------------------------
def check_reads_or_refuses(data: bytes, suffix: str, planar: bool = False) -> None:
    """Either a SpasmscanError, or frames with finite increasing times."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            with VideoSource(path, planar=planar) as video:
                times = [t for t, frame in video.frames() if len(frame.shape) == 3 and frame.shape[2] == 3]
        except SpasmscanError:
            return
    assert all(math.isfinite(t) and t >= 0 for t in times)
    assert all(b > a for a, b in zip(times, times[1:]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".mp4", ".avi", ".mkv", ".mov"]),
       planar=st.booleans())
def test_fuzz_random_bytes(data, suffix, planar):
    check_reads_or_refuses(data, suffix, planar)


@pytest.fixture(scope="module")
def seed_clips(tiny_clip, gray_clip) -> dict:
    return {".mp4": tiny_clip.read_bytes(), ".avi": gray_clip.read_bytes()[:60_000]}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from([".mp4", ".avi"]),
       edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), min_size=1, max_size=6),
       cut=st.floats(0.05, 1.0), planar=st.booleans())
def test_fuzz_mutated_clips(seed_clips, suffix, edits, cut, planar):
    data = bytearray(seed_clips[suffix][:max(16, int(cut * len(seed_clips[suffix])))])
    for where, patch in edits:
        at = int(where * (len(data) - 1))
        data[at:at + len(patch)] = patch
    check_reads_or_refuses(bytes(data), suffix, planar)


def test_a_decoder_exception_becomes_a_read_error():
    import cv2

    from spasmscan.video import _read_frames

    class BrokenCapture:
        def read(self):
            raise cv2.error("OpenCV(4) error: (-215:Assertion failed) bad frame")

    with pytest.raises(VideoReadError, match="x.mp4: decoding failed"):
        list(_read_frames(BrokenCapture(), "x.mp4"))


def test_closing_a_source_mid_read_stops_its_decoder_thread_first(face_clip):
    """An error or an interruption can leave frames() unfinished: close() (the with block's end) must stop
    the read-ahead thread before it releases the capture that thread decodes from."""
    with VideoSource(face_clip) as source:
        frames = source.frames()
        next(frames)
        assert any(t.name == "spasmscan-decoder" for t in threading.enumerate())
    assert not any(t.name == "spasmscan-decoder" and t.is_alive() for t in threading.enumerate())
