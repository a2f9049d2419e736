"""The command line's contract: --version, --help, and one clear line plus a documented exit code per error."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from spasmscan import __version__
from spasmscan.cli import EPILOG, cli
from spasmscan.errors import (InputNotFoundError, NoFaceError, NoVideoStreamError, ParameterError,
                              VideoReadError)


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("spasmscan: ")]


def assert_one_line_error(result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("spasmscan: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- version and help ----------------------------------------------------------------------------
def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"spasmscan, version {__version__}"


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["analyze", "--help"]])
def test_help_has_examples_and_exit_codes(args):
    result = run(*args)
    assert result.exit_code == 0
    assert "Examples:" in result.stdout and "spasmscan analyze" in result.stdout
    assert "Exit codes" in result.stdout


def test_documented_exit_codes_match_the_error_kinds():
    documented = {int(code): text for code, text in re.findall(r"(\d+) ([a-z][a-z ]+)", EPILOG)}
    for kind, words in [(ParameterError, "bad option"), (InputNotFoundError, "file not found"),
                        (VideoReadError, "unreadable video"), (NoVideoStreamError, "no video stream"),
                        (NoFaceError, "no face found")]:
        assert documented[kind.exit_code].startswith(words)


# -- each error kind -----------------------------------------------------------------------------
def test_missing_file(tmp_path):
    path = tmp_path / "absent.mp4"
    assert_one_line_error(run("analyze", path), 3, str(path), "no such file")


def test_a_folder(tmp_path):
    assert_one_line_error(run("analyze", tmp_path), 4, str(tmp_path), "folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert_one_line_error(run("analyze", path), 5, str(path), "empty")


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("meeting notes, not a video\n" * 30)
    assert_one_line_error(run("analyze", path), 4, str(path), "cannot be decoded")


def test_truncated_mp4(truncated_clip):
    assert_one_line_error(run("analyze", truncated_clip), 4, str(truncated_clip))


@pytest.mark.parametrize("clip", ["zero_frame_clip", "audio_only_clip", "wav_file"])
def test_no_video_stream(request, clip):
    path = request.getfixturevalue(clip)
    assert_one_line_error(run("analyze", path), 5, str(path), "no video stream")


def test_still_image(tmp_path):
    import cv2
    import numpy as np

    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), np.full((64, 64, 3), 128, np.uint8))
    assert_one_line_error(run("analyze", path), 4, str(path), "still image")


def test_no_face(faceless_clip):
    assert_one_line_error(run("analyze", faceless_clip, "--no-cache"), 6, str(faceless_clip), "no face")


def test_a_selected_part_without_frames(face_clip):
    assert_one_line_error(run("analyze", face_clip, "--start", "60"), 5, str(face_clip), "selected part")


@pytest.mark.parametrize("options", [["--start", "-3"], ["--start", "2", "--end", "1"], ["--start", "abc"]])
def test_bad_options(face_clip, options):
    result = run("analyze", face_clip, *options)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "analyze", tmp_path / "absent.mp4")
    assert result.exit_code != 0
    assert isinstance(result.exception, InputNotFoundError)


# -- awkward paths -------------------------------------------------------------------------------
AWKWARD_NAMES = ["with spaces in it.mp4", "ünïcødé-顔.mp4", "-leading-dash.mp4"]


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_awkward_paths_reach_the_library(faceless_clip, tmp_path, name):
    path = tmp_path / name
    shutil.copy(faceless_clip, path)
    assert_one_line_error(run("analyze", "--no-cache", "--", path), 6, str(path))


def test_a_leading_dash_needs_the_double_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("analyze", "-leading-dash.mp4")
    assert result.exit_code == 2  # taken as an option: click's usage error, not a traceback
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["with spaces ünïcødé.mp4"])
def test_success_prints_tracking_quality(face_clip, tmp_path, name):
    path = tmp_path / name
    shutil.copy(face_clip, path)
    result = run("analyze", "--cache-dir", tmp_path / "cache", "--", path)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"file: {path}" in lines
    assert "duration: 3.5 s, 105 frames at 30.00 fps, 640x360" in lines
    assert "face tracked in 100.0% of frames" in lines


# -- native libraries' notices -------------------------------------------------------------------
def run_in_process(*args) -> subprocess.CompletedProcess:
    """spasmscan in a fresh interpreter, whose stderr is a real file descriptor (CliRunner's is not)."""
    command = [sys.executable, "-c", "from spasmscan.cli import main; main()", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_mediapipe_notices_stay_off_stderr_but_errors_and_logs_reach_it(face_clip):
    quiet = run_in_process("analyze", face_clip, "--no-cache")
    assert quiet.returncode == 0, quiet.stderr
    assert "XNNPACK" not in quiet.stderr and "W0000" not in quiet.stderr, quiet.stderr
    logged = run_in_process("-v", "analyze", face_clip, "--no-cache")
    assert "INFO spasmscan" in logged.stderr and "XNNPACK" not in logged.stderr
    missing = run_in_process("analyze", face_clip.with_name("missing.mp4"))
    assert missing.returncode == InputNotFoundError.exit_code
    assert missing.stderr.startswith("spasmscan: error: ")
    debug = run_in_process("-vv", "analyze", face_clip, "--no-cache")  # debugging shows the native notices
    assert "XNNPACK" in debug.stderr or "W0000" in debug.stderr, debug.stderr
