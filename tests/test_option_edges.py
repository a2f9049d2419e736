"""Options and inputs at their edges: each is one line naming the problem, with the documented exit
code, before any work is done (no frame is decoded for tracking, nothing is written)."""
from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner

from spasmscan import pipeline
from spasmscan.cli import cli

from test_cli_errors import assert_one_line_error


@pytest.fixture
def no_tracking(monkeypatch):
    """Fail the test if any tracking starts: the error must come before the work."""
    def refuse(*args, **kwargs):
        raise AssertionError("tracking started before the options were checked")

    monkeypatch.setattr(pipeline, "track_frames", refuse)


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


@pytest.mark.parametrize("options, fragment", [
    (["--end", "nan"], "--end"), (["--end", "inf"], "--end"), (["--start", "nan"], "--start"),
    (["--start", "1e300"], "--start"), (["--end", "-5"], "--end"), (["--end", "0"], "--end"),
    (["--start", "2", "--end", "2"], "--end"),
])
def test_times_that_select_no_part_are_bad_options(face_clip, no_tracking, options, fragment):
    assert_one_line_error(run("analyze", face_clip, "--no-cache", *options), 2, fragment)


def test_a_folder_as_protocol_is_a_bad_option(face_clip, tmp_path, no_tracking):
    assert_one_line_error(run("analyze", face_clip, "--protocol", tmp_path), 2, "--protocol", "folder")


def test_out_naming_a_file_is_one_line(face_clip, tmp_path, no_tracking):
    target = tmp_path / "a-file"
    target.write_text("mine")
    result = run("analyze", face_clip, "--out", target)
    assert_one_line_error(result, 2, "--out", str(target))
    assert "Usage:" not in result.stderr and target.read_text() == "mine"


def unwritable_folder(tmp_path):
    """A folder files cannot be made in: read-only for a user; for root (who may write anywhere) a
    folder under /sys, which refuses new files."""
    if os.geteuid() == 0:
        return "/sys/spasmscan-out"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def test_an_unwritable_out_folder_is_refused_before_the_analysis(face_clip, tmp_path, no_tracking):
    assert_one_line_error(run("analyze", face_clip, "--out", unwritable_folder(tmp_path)), 7, "cannot write")


def test_an_unwritable_batch_out_folder_is_refused(face_clip, tmp_path):
    assert_one_line_error(run("batch", face_clip, "--out", unwritable_folder(tmp_path)), 7, "cannot")


def test_a_video_named_dot_dot_mp4_gets_plain_report_names(face_clip, tmp_path):
    video = tmp_path / "..mp4"
    shutil.copy(face_clip, video)
    result = run("analyze", video, "--out", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "spasmscan.events.csv", "spasmscan.signals.csv", "spasmscan.summary.csv"]


def test_a_symbolic_link_loop_says_so(tmp_path, no_tracking):
    loop = tmp_path / "loop.mp4"
    os.symlink(loop, loop)
    assert_one_line_error(run("analyze", loop), 3, str(loop), "symbolic link that loops")


def test_a_broken_symbolic_link_names_its_target(tmp_path, no_tracking):
    link = tmp_path / "link.mp4"
    os.symlink(tmp_path / "gone.mp4", link)
    assert_one_line_error(run("analyze", link), 3, "symbolic link to", "gone.mp4", "does not exist")


def test_a_named_pipe_is_refused_without_waiting_on_it(tmp_path, no_tracking):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    assert_one_line_error(run("analyze", fifo), 4, str(fifo), "named pipe")


def test_a_device_is_refused_without_reading_it(no_tracking):
    assert_one_line_error(run("analyze", "/dev/zero"), 4, "/dev/zero", "character device")


def test_a_named_pipe_in_a_batch_is_a_failed_row_not_a_hang(face_clip, tmp_path):
    fifo = tmp_path / "in" / "pipe.mp4"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    result = run("batch", fifo, face_clip, "--out", tmp_path / "out", "--jobs", "1", "--cache-dir", tmp_path / "c")
    assert result.exit_code == 8, result.stderr
    summary = (tmp_path / "out" / "summary.csv").read_text()
    assert "named pipe" in summary


def test_a_one_frame_video_is_refused_before_tracking(one_frame_clip, no_tracking):
    assert_one_line_error(run("analyze", one_frame_clip, "--no-cache"), 5, str(one_frame_clip), "single frame")


def test_a_frame_step_that_leaves_one_frame_is_a_bad_option(face_clip, no_tracking):
    assert_one_line_error(run("analyze", face_clip, "--no-cache", "--frame-step", "1000000"), 2,
                          "--frame-step 1000000", "105 frames")


@pytest.mark.parametrize("step", [1, 2, 7, 60, 104])
def test_the_duration_is_the_videos_for_any_frame_step(face_clip, tmp_path, step):
    result = run("analyze", face_clip, "--frame-step", step, "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.stderr
    frames = len(range(0, 105, step))
    assert f"duration: 3.5 s, {frames} frames at {30.0 / step:.2f} fps" in result.stdout
