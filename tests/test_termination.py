"""Nothing half-written however a run ends: SIGTERM and SIGHUP end it as Ctrl-C does, and
temporary files a killed run left behind are removed by the next run into that folder."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spasmscan import files
from spasmscan.errors import OutputError
from spasmscan.files import check_overwrite, temporary_name

from conftest import drifting_face_frames, write_clip

TEMPORARY_MARK = ".tmp"  # every temporary file of spasmscan's naming holds it


def default_termination_signals() -> None:
    """In the child: SIGTERM and SIGHUP as a shell started without nohup leaves them (spasmscan keeps a
    signal its parent chose to ignore, as nohup asks; the runner of these tests may be such a parent)."""
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


def spasmscan(*args, **options) -> subprocess.Popen:
    command = [sys.executable, "-c", "from spasmscan.cli import main; main()", *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_termination_signals, **options)


def temporaries(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if TEMPORARY_MARK in path.name]


def wait_for(condition, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """30 s of the drifting face: its annotated video takes seconds to write, even on an idle machine."""
    return write_clip(tmp_path_factory.mktemp("long") / "long.mp4", drifting_face_frames(900))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_writing_leaves_no_file_behind(long_clip, tmp_path, signum):
    out = tmp_path / "out"
    run = spasmscan("analyze", long_clip, "--out", out, "--annotate", "--json", "--cache-dir", tmp_path / "cache")
    # the annotated video, written last and the longest, is being encoded
    wait_for(lambda: out.is_dir() and any("annotated" in path.name for path in temporaries(out)))
    run.send_signal(signum)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert list(out.iterdir()) == []  # neither temporary files nor a part of the set of reports


def test_sigterm_stops_a_batch_with_its_workers_and_keeps_what_was_finished(face_clip, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(6):
        shutil.copy(face_clip, inputs / f"patient{index}.mp4")
    out = tmp_path / "out"
    run = spasmscan("batch", inputs, "--out", out, "--jobs", "1", "--cache-dir", tmp_path / "cache",
                    start_new_session=True)  # as a scheduler runs it: no terminal's Ctrl-C reaches the workers
    records = out / ".spasmscan-batch"
    wait_for(lambda: records.is_dir() and any(records.glob("[!.]*.json")))  # a video is done
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert temporaries(out) == []
    finished = (out / "summary.csv").read_text().count("\n") - 1
    assert 1 <= finished < 6
    wait_for(lambda: not group_alive(run.pid), timeout_s=10.0)  # the workers are gone with it


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    print(subprocess.run(["ps", "-o", "pid,pgid,args", "-g", str(group)], capture_output=True, text=True).stdout)
    return True


def dead_process_id() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def test_left_over_temporary_files_are_removed_by_the_next_run(face_clip, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(os, "getpid", dead_process_id)  # named as by a run that was killed outright
    left_over = [temporary_name(out / name) for name in ("face.summary.csv", "other.json", "x.annotated.mp4")]
    monkeypatch.undo()
    for path in left_over:
        path.write_bytes(b"half")
    stranger = out / ".notes.tmp"  # not of spasmscan's naming: kept
    stranger.write_text("mine")
    run = spasmscan("analyze", face_clip, "--out", out, "--cache-dir", tmp_path / "cache")
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".notes.tmp", "face.events.csv", "face.signals.csv", "face.summary.csv"]


def test_a_report_another_run_is_writing_now_counts_as_taken(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path = tmp_path / "face.summary.csv"
        name = temporary_name(path).name.replace(f".{os.getpid()}-", f".{sleeper.pid}-")
        (tmp_path / name).write_bytes(b"being written")
        with pytest.raises(OutputError, match=f"another spasmscan run \\(process {sleeper.pid}\\)"):
            check_overwrite([path], force=True)
        assert (tmp_path / name).exists()  # its writer is alive: left alone
    finally:
        sleeper.kill()
        sleeper.wait()
    check_overwrite([path], force=True)  # the writer is gone: the file was left over
    assert not (tmp_path / name).exists()


def test_an_old_temporary_file_is_left_over_whoever_wrote_it(tmp_path):
    path = temporary_name(tmp_path / "x.csv")
    path.write_bytes(b"old")
    old = time.time() - files.STALE_AFTER_S - 60
    os.utime(path, (old, old))
    check_overwrite([tmp_path / "y.csv"], force=False)
    assert not path.exists()
