"""The annotated MP4: as many frames as the input, panel below the picture, NaN landmarks handled."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from spasmscan.annotate import write_annotated_video
from spasmscan.errors import ParameterError
from spasmscan.report import write_reports

from fake_analysis import make_analysis

FPS, WIDTH, HEIGHT, FRAMES = 30.0, 160, 120, 45


def count_frames(path: Path) -> tuple[int, tuple[int, int, int] | None]:
    """Frames decoded from ``path`` and the shape of the first."""
    capture = cv2.VideoCapture(str(path))
    count, shape = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        shape = shape or frame.shape
        count += 1
    capture.release()
    return count, shape


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory) -> Path:
    """A 1.5 s, 160x120 clip of moving grey bars (no face: the drawing must not need one)."""
    path = tmp_path_factory.mktemp("annotate") / "tiny.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for i in range(FRAMES):
        frame = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
        frame[:, (3 * i) % WIDTH:(3 * i) % WIDTH + 10] = 200
        writer.write(frame)
    writer.release()
    assert count_frames(path)[0] == FRAMES
    return path


def analysis_for(video: Path, **kwargs):
    return make_analysis(seconds=FRAMES / FPS, fps=FPS, width=WIDTH, height=HEIGHT, source=str(video), **kwargs)


def test_annotated_video_has_the_inputs_frames(tiny_video, tmp_path):
    out = tmp_path / "out.mp4"
    written = write_annotated_video(analysis_for(tiny_video), tiny_video, out)
    frames, shape = count_frames(out)
    assert written == frames == FRAMES
    assert shape[1] == WIDTH and shape[0] > HEIGHT  # the signal panel sits below the picture
    assert shape[0] % 2 == 0


def test_write_reports_annotates_atomically(tiny_video, tmp_path):
    progress = []
    paths = write_reports(analysis_for(tiny_video), tmp_path, annotate_video=tiny_video,
                          progress=lambda done, total: progress.append((done, total)))
    out = tmp_path / "tiny.annotated.mp4"
    assert out in paths and count_frames(out)[0] == FRAMES
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert progress[-1][0] == pytest.approx(progress[-1][1])


def test_faceless_analysis_and_no_events_draw(tiny_video, tmp_path):
    analysis = analysis_for(tiny_video, events=(), no_face=(0.0, 10.0))  # no face in any frame
    out = tmp_path / "out.mp4"
    assert write_annotated_video(analysis, tiny_video, out) == FRAMES


def test_landmarks_are_drawn_on_the_face(tiny_video, tmp_path):
    """Frames with landmarks get side-coloured ink that frames without them lack."""
    out = tmp_path / "out.mp4"
    write_annotated_video(analysis_for(tiny_video, events=()), tiny_video, out)
    capture = cv2.VideoCapture(str(out))
    colored = []
    for _ in range(FRAMES):
        ok, frame = capture.read()
        picture = frame[int(0.15 * HEIGHT):HEIGHT].astype(int)  # below the verdict text
        spread = picture.max(axis=2) - picture.min(axis=2)  # the input is grey: colour means drawing
        colored.append(int((spread > 60).sum()))
    capture.release()
    times = np.arange(FRAMES) / FPS
    no_face = (times >= 0.4) & (times < 0.6)  # make_analysis' default gap
    assert min(np.array(colored)[~no_face]) > 50
    assert max(np.array(colored)[no_face]) < 10


def test_a_camera_cannot_be_annotated(tiny_video, tmp_path):
    with pytest.raises(ParameterError, match="camera"):
        write_annotated_video(analysis_for(tiny_video), 0, tmp_path / "out.mp4")
    with pytest.raises(ParameterError):
        write_annotated_video(analysis_for(tiny_video), "rtsp://host/stream", tmp_path / "out.mp4")


def test_cli_annotate_writes_a_video_with_the_inputs_frames(tiny_video, tmp_path, monkeypatch):
    import spasmscan.summary
    import spasmscan.pipeline
    from click.testing import CliRunner

    from spasmscan.cli import cli

    monkeypatch.setattr(spasmscan.pipeline, "analyze_video", lambda source, **options: analysis_for(tiny_video))
    monkeypatch.setattr(spasmscan.summary, "summary_text", lambda analysis: "verdict: (fake)")
    result = CliRunner().invoke(cli, ["analyze", str(tiny_video), "--out", str(tmp_path), "--annotate"])
    assert result.exit_code == 0, result.output
    assert count_frames(tmp_path / "tiny.annotated.mp4")[0] == FRAMES
