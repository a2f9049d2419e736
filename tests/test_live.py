"""Live mode: frame hand-over, dropped-frame accounting, protocol segments, headless CLI runs."""
from __future__ import annotations

import json
import threading
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from spasmscan import live
from spasmscan.cli import cli
from spasmscan.errors import ParameterError


@pytest.fixture(scope="module")
def plain_clip(tmp_path_factory):
    """3 s of a grey 160x120 picture at 30 fps: enough to exercise reading and pacing."""
    path = tmp_path_factory.mktemp("live") / "plain.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    for index in range(90):
        writer.write(np.full((120, 160, 3), 60 + index % 50, np.uint8))
    writer.release()
    return path


def test_mailbox_keeps_newest_and_counts_drops():
    box = live.FrameMailbox()
    for item in range(5):
        box.put(item)
    assert box.get() == 4
    assert box.dropped == 4
    box.close()
    assert box.get() is None


def test_lossless_mailbox_makes_the_reader_wait():
    box = live.FrameMailbox(lossless=True)
    received = []

    def consume():
        while (item := box.get()) is not None:
            received.append(item)
            time.sleep(0.002)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for item in range(50):
        box.put(item)
    box.close()
    consumer.join(timeout=5)
    assert received == list(range(50))
    assert box.dropped == 0


def test_slow_processing_drops_and_counts_frames(plain_clip):
    """At real pace, a processor slower than the frame rate drops frames; none is lost uncounted."""
    def slow(frame, time_s):
        time.sleep(0.1)  # 10 fps against a 30 fps source
        return None

    session, stats, _ = live.run_live(str(plain_clip), paced=True, processor=slow)
    assert stats.frames_read == 90
    assert stats.frames_processed + stats.frames_dropped == 90
    assert 15 <= stats.frames_processed <= 45  # about 3 s at 10 fps, with start-up slack
    assert stats.frames_dropped >= 40
    assert session.series().n_frames == stats.frames_processed
    assert stats.as_dict()["frames_dropped"] == stats.frames_dropped


def test_fast_replay_drops_nothing(plain_clip):
    session, stats, _ = live.run_live(str(plain_clip), paced=False, processor=lambda frame, t: None)
    assert stats.frames_dropped == 0
    assert stats.frames_processed == 90
    assert np.all(np.diff(session.series().times_s) > 0)


def test_paced_replay_takes_real_time(plain_clip):
    began = time.monotonic()
    live.run_live(str(plain_clip), paced=True, processor=lambda frame, t: None)
    assert time.monotonic() - began >= 2.5  # 90 frames at 30 fps: about 3 s


def test_standard_protocol_and_custom_file(tmp_path):
    segments = live.load_protocol("standard")
    assert segments[0].name == "rest" and segments[0].start_s == 0
    assert all(a.end_s == b.start_s for a, b in zip(segments, segments[1:]))
    assert {s.name for s in segments} >= {"rest", "blinks", "brow_raises", "smiles"}
    custom = tmp_path / "short.json"
    custom.write_text(json.dumps({"steps": [{"segment": "rest", "duration_s": 2},
                                            {"segment": "blinks", "duration_s": 1.5, "prompt": "blink"}]}))
    assert [(s.name, s.start_s, s.end_s) for s in live.load_protocol(str(custom))] == [
        ("rest", 0.0, 2.0), ("blinks", 2.0, 3.5)]
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(live.segments_document(live.load_protocol(str(custom)))))
    assert live.load_protocol(str(saved)) == live.load_protocol(str(custom))


@pytest.mark.parametrize("text", ["not json", json.dumps({"steps": [{"segment": "rest", "duration_s": -1}]}),
                                  json.dumps({"other": 1})])
def test_bad_protocol_is_a_parameter_error(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ParameterError):
        live.load_protocol(str(path))


def test_protocol_ends_the_session(plain_clip, tmp_path):
    protocol = tmp_path / "one_second.json"
    protocol.write_text(json.dumps({"steps": [{"segment": "rest", "duration_s": 1.0}]}))
    session, stats, segments = live.run_live(str(plain_clip), paced=False, processor=lambda f, t: None,
                                             protocol=live.load_protocol(str(protocol)))
    assert segments and segments[-1].end_s <= 1.05
    assert 28 <= stats.frames_processed <= 32


def test_session_keeps_every_frame_in_time_order():
    session = live.LiveSession(width=640, height=480, fps=30.0, source="test")
    for index in range(30):
        session.add(index / 30.0, None)
    series = session.series()
    assert series.n_frames == 30 and not series.face_found.any()
    assert np.allclose(np.diff(series.times_s), 1 / 30)


def test_live_cli_needs_one_source():
    result = CliRunner().invoke(cli, ["live", "--camera", "0", "--source", "x.mp4", "--no-window"])
    assert result.exit_code == 2
    assert "either --camera or --source" in result.output


def test_live_cli_missing_file_is_one_line():
    result = CliRunner().invoke(cli, ["live", "--source", "no/such/video.mp4", "--no-window"])
    assert result.exit_code == 3
    assert "Traceback" not in result.output


def test_live_cli_missing_camera_is_a_clear_error():
    result = CliRunner().invoke(cli, ["live", "--camera", "97", "--no-window"])
    assert result.exit_code == 9
    assert "camera 97" in result.output


def test_record_refuses_to_overwrite(tmp_path):
    target = tmp_path / "visit.mp4"
    target.write_bytes(b"old")
    result = CliRunner().invoke(cli, ["live", "--source", "x.mp4", "--no-window", "--record", str(target)])
    assert result.exit_code == 7
    assert target.read_bytes() == b"old"
