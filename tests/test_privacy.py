"""Privacy: analysis runs without a network, writes nothing but its landmark cache, logs no image data."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from spasmscan.selection import Selection
from spasmscan.pipeline import video_landmarks

REFUSE_NETWORK = """
import socket, sys

def refuse(*args, **kwargs):
    sys.stderr.write("NETWORK ATTEMPT\\n")
    raise OSError("networking is blocked in this test")

socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
from spasmscan.cli import main
sys.argv[0] = "spasmscan"
main()
"""


def network_namespace_prefix() -> list[str]:
    """``unshare -rn`` (a private network namespace without any interface up) when it works here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    try:
        ok = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [unshare, "-rn"] if ok else []


def all_files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def offline_run(face_clip, tmp_path_factory) -> dict:
    """``spasmscan -vv analyze`` in a fresh process without network, in a sandbox of empty folders."""
    sandbox = tmp_path_factory.mktemp("sandbox")
    video_folder = sandbox / "videos"
    video_folder.mkdir()
    video = Path(shutil.copy(face_clip, video_folder / "patient 01.mp4"))
    for name in ("home", "work", "tmp", "cache"):
        (sandbox / name).mkdir()
    before = all_files(sandbox)
    env = {**os.environ, "HOME": str(sandbox / "home"), "TMPDIR": str(sandbox / "tmp"),
           "SPASMSCAN_CACHE_DIR": str(sandbox / "cache"), "XDG_CACHE_HOME": str(sandbox / "home" / ".cache"),
           "MPLCONFIGDIR": str(sandbox / "home" / ".mpl")}
    prefix = network_namespace_prefix()
    completed = subprocess.run(prefix + [sys.executable, "-c", REFUSE_NETWORK, "-vv", "analyze", str(video)],
                               cwd=sandbox / "work", env=env, capture_output=True, text=True, timeout=300)
    return dict(completed=completed, video=video, sandbox=sandbox, new_files=all_files(sandbox) - before,
                isolated=bool(prefix))


def test_the_offline_run_had_no_network_at_all(offline_run):
    """The socket stubs guard Python's own calls; a network namespace without interfaces also
    guards native code (MediaPipe, FFmpeg). Where the system allows no namespace, CI must fail."""
    if not offline_run["isolated"] and os.environ.get("CI") != "true":
        pytest.skip("this system allows no private network namespace (unshare -rn)")
    assert offline_run["isolated"], "unshare -rn did not work: the run was not cut off from the network"


def test_analysis_works_without_network(offline_run):
    completed = offline_run["completed"]
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "face tracked in 100.0% of frames" in completed.stdout
    assert "NETWORK ATTEMPT" not in completed.stderr


def test_nothing_but_the_landmark_cache_is_written(offline_run):
    sandbox = offline_run["sandbox"]
    new = {path.relative_to(sandbox) for path in offline_run["new_files"]}
    # mediapipe imports matplotlib, which keeps a list of the system's fonts in its config folder.
    new -= {path for path in new if path.parts[:2] == ("home", ".mpl") and path.name.startswith("fontlist")}
    (entry,) = new
    assert entry.parts[0] == "cache" and entry.suffix == ".npz"


def test_logs_name_the_file_and_hold_no_image_data(offline_run):
    log = offline_run["completed"].stderr
    assert str(offline_run["video"]) in log  # -vv: the library says what it reads
    spasmscan_lines = [line for line in log.splitlines() if " spasmscan." in line]
    assert spasmscan_lines
    for line in spasmscan_lines:
        assert len(line) < 2000
        assert not re.search(r"[A-Za-z0-9+/=]{120,}", line)  # no encoded image
        assert not re.search(r"(\d+\s*,?\s*){60,}", line)  # no pixel or landmark arrays


def test_in_process_tracking_with_sockets_refused(face_clip, monkeypatch, tmp_path):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("networking is blocked in this test")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    series = video_landmarks(face_clip, selection=Selection(end_s=0.5), cache_dir=tmp_path / "cache")
    assert series.face_found.all() and not attempts
    assert [p.suffix for p in all_files(tmp_path)] == [".npz"]
