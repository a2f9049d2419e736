"""Live mode: frame hand-over, dropped-frame accounting, protocol segments, headless CLI runs."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from spasmscan import live, protocol
from spasmscan.cli import cli
from spasmscan.errors import ParameterError
from spasmscan.pipeline import analyze_video


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
    segments = protocol.load_protocol("standard")
    assert segments[0].name == "rest" and segments[0].start_s == 0
    assert all(a.end_s == b.start_s for a, b in zip(segments, segments[1:]))
    assert {s.name for s in segments} >= {"rest", "blinks", "brow_raises", "smiles"}
    custom = tmp_path / "short.json"
    custom.write_text(json.dumps({"steps": [{"segment": "rest", "duration_s": 2},
                                            {"segment": "blinks", "duration_s": 1.5, "prompt": "blink"}]}))
    assert [(s.name, s.start_s, s.end_s) for s in protocol.load_protocol(str(custom))] == [
        ("rest", 0.0, 2.0), ("blinks", 2.0, 3.5)]
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(protocol.segments_document(protocol.load_protocol(str(custom)))))
    assert protocol.load_protocol(str(saved)) == protocol.load_protocol(str(custom))


@pytest.mark.parametrize("text", ["not json", json.dumps({"steps": [{"segment": "rest", "duration_s": -1}]}),
                                  json.dumps({"other": 1})])
def test_bad_protocol_is_a_parameter_error(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ParameterError):
        protocol.load_protocol(str(path))


def test_protocol_ends_the_session(plain_clip, tmp_path):
    steps = tmp_path / "one_second.json"
    steps.write_text(json.dumps({"steps": [{"segment": "rest", "duration_s": 1.0}]}))
    session, stats, segments = live.run_live(str(plain_clip), paced=False, processor=lambda f, t: None,
                                             protocol=protocol.load_protocol(str(steps)))
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


SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "hfs_left_eye.mp4"


@pytest.fixture(scope="module")
def live_and_analyze(tmp_path_factory):
    """The committed HFS sample replayed through live mode (nothing dropped) and through analyze."""
    if not SAMPLE.exists():
        pytest.skip("samples/hfs_left_eye.mp4 is missing")
    out = tmp_path_factory.mktemp("live_out")
    protocol = out / "protocol.json"
    protocol.write_text(json.dumps({"steps": [{"segment": "rest", "duration_s": 8},
                                              {"segment": "blinks", "duration_s": 8, "prompt": "blink"}]}))
    result = CliRunner().invoke(cli, ["live", "--source", str(SAMPLE), "--no-window", "--fast", "--out", str(out),
                                      "--json", "--protocol", str(protocol)])
    assert result.exit_code == 0, result.output
    analysis = analyze_video(SAMPLE, use_cache=False)
    return result.output, json.loads((out / "hfs_left_eye.json").read_text()), analysis


def test_live_verdict_agrees_with_analyze(live_and_analyze):
    output, document, analysis = live_and_analyze
    assert document["verdict"]["label"] == analysis.verdict.label
    assert document["verdict"]["side"] == analysis.verdict.side
    assert len(document["events"]) == len(analysis.events)


def test_live_reports_the_one_sided_events_analyze_finds(live_and_analyze):
    output, document, analysis = live_and_analyze
    reported = [line.split() for line in output.splitlines() if " s  " in line and "amplitude" in line]
    reported_onsets = np.array([float(fields[0]) for fields in reported if fields[2] in ("twitch", "tonic_spasm")])
    final = analysis.events.start_s[analysis.events.one_sided]
    assert final.size >= 3
    found = [np.any(np.abs(reported_onsets - onset) <= 0.3) for onset in final]
    assert np.mean(found) >= 0.7, (final, reported_onsets)


def test_live_report_holds_protocol_and_live_figures(live_and_analyze):
    output, document, analysis = live_and_analyze
    assert [step["name"] for step in document["protocol"]] == ["rest", "blinks"]
    assert document["live"]["frames_dropped"] == 0
    assert document["live"]["frames_processed"] == analysis.frames
    assert document["summary"]["live_frames_dropped"] == 0
    rest = document["summary"]["protocol_rest_twitches"]
    action = document["summary"]["protocol_action_twitches"]
    assert rest + action == int(np.sum(analysis.events.one_sided))
    assert "dropped" in output and "latency" in output


def test_live_window_picture_has_the_overlay_and_panel():
    from spasmscan.live_view import PANEL_PX, draw_live_frame
    from spasmscan.signals import compute_signals

    session = live.LiveSession(width=320, height=240, fps=30.0, source="test")
    rng = np.random.default_rng(3)
    base = rng.uniform(100, 200, size=(478, 2)).astype(np.float32)
    times = np.arange(60) / 30.0
    points = base + rng.normal(0, 0.3, size=(60, 478, 2)).astype(np.float32)
    session.last_signals = compute_signals(points, times)
    session.events.append({"kind": "twitch", "side": "left", "region": "eye", "start_s": 1.5, "end_s": 1.6,
                           "amplitude": 0.2, "reported_s": 1.9})
    frame = np.zeros((240, 320, 3), np.uint8)
    segment = protocol.Segment("rest", 0.0, 30.0, "Sit still")
    picture = draw_live_frame(frame, 1.95, points[-1], session, segment, "collecting...")
    assert picture.shape == (240 + PANEL_PX, 320, 3)
    assert picture[:240].any()  # landmarks, prompt and event text drawn over the frame
    assert picture[240:].any()  # scrolling signals in the panel


def test_live_events_come_within_the_stated_delay(live_and_analyze):
    output, document, analysis = live_and_analyze
    live_figures = document["live"]
    assert live_figures["events_reported"] > 0
    assert live_figures["max_event_delay_s"] == live.MAX_DELAY_S
    assert "found later" in output


def test_session_delay_bound_holds_on_a_sample():
    if not SAMPLE.exists():
        pytest.skip("samples/hfs_left_eye.mp4 is missing")
    session, stats, _ = live.run_live(str(SAMPLE), paced=False)
    delays = np.array([event["reported_s"] - event["end_s"] for event in session.events])
    assert delays.size and np.all(delays <= live.MAX_DELAY_S + 1.0 / session.fps + 1e-9)
    assert stats.events_reported == delays.size


def test_ctrl_c_ends_the_session_and_keeps_what_was_tracked(plain_clip):
    calls = {"n": 0}

    def interrupted_after_ten(frame, time_s):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return None

    session, stats, _ = live.run_live(str(plain_clip), paced=False, processor=interrupted_after_ten)
    assert stats.frames_processed == 9
    assert session.series().n_frames == 9


def test_analyze_accepts_the_protocol_timings(tmp_path):
    if not SAMPLE.exists():
        pytest.skip("samples/hfs_left_eye.mp4 is missing")
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLE), "--protocol", "standard", "--out", str(tmp_path),
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert "Protocol:" in result.output
    document = json.loads((tmp_path / "hfs_left_eye.json").read_text())
    assert [step["name"] for step in document["protocol"]][:2] == ["rest", "blinks"]
    assert document["summary"]["protocol_rest_twitches"] >= 1  # the sample's twitches all fall in the first 30 s
    assert document["summary"]["protocol_action_twitches"] == 0
    assert document["live"] == {}


def test_analyze_rejects_a_bad_protocol(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLE), "--protocol", str(bad)])
    assert result.exit_code == 2
    assert "protocol" in result.output


def tracked_session(n_frames: int = 90) -> live.LiveSession:
    """A session that saw a still (random) face for ``n_frames`` frames."""
    session = live.LiveSession(width=320, height=240, fps=30.0, source="test")
    rng = np.random.default_rng(5)
    base = rng.uniform(100, 200, size=(478, 2)).astype(np.float32)
    for index in range(n_frames):
        session.add(index / 30.0, base + rng.normal(0, 0.3, size=base.shape).astype(np.float32))
    return session


def test_the_recordings_protocol_file_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    segments = (protocol.Segment("rest", 0.0, 2.0, "Sit still"), protocol.Segment("blinks", 2.0, 3.0, "Blink"))
    stats = live.LiveStats()
    record = tmp_path / "visit.mp4"
    live.finish(tracked_session(), stats, segments, record=record)
    written = json.loads(live.protocol_path(record).read_text())
    assert [s["name"] for s in written["segments"]] == ["rest", "blinks"]
    assert [p.name for p in tmp_path.iterdir()] == ["visit.protocol.json"]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        live.finish(tracked_session(), stats, segments[:1], record=record)
    assert [p.name for p in tmp_path.iterdir()] == ["visit.protocol.json"]  # no temporary file left
    assert [s["name"] for s in json.loads(live.protocol_path(record).read_text())["segments"]] == ["rest", "blinks"]
