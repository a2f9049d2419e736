"""Batch processing: input expansion, unique names, failure rows, resume, interruption, Dask."""
from __future__ import annotations

import csv
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import face_clips
import numpy as np
import pytest
from click.testing import CliRunner

from spasmscan import batch
from spasmscan.batch import (STATE_DIR, VideoTask, WorkerCrashed, expand_inputs, process_video, run_batch, run_pool,
                             unique_stems)
from spasmscan.cli import EXIT_BATCH_FAILED, EXIT_INTERRUPTED, cli
from spasmscan.errors import InputNotFoundError, ParameterError

CLIP_SIZE = (320, 240)  # small, yet the face is large enough for Face Mesh
CLIP_FPS = 15.0
CLIP_SECONDS = 2.0


# -- clips -----------------------------------------------------------------------------------------
def write_face_clip(path: Path, *, seed: int, seconds: float = CLIP_SECONDS) -> Path:
    """A small portrait clip drifting slightly; ``seed`` changes the drift and light."""
    width, height = CLIP_SIZE
    return face_clips.write_face_clip(path, width=width, height=height, fps=CLIP_FPS, seconds=seconds, seed=seed,
                                      face_fraction=0.8, turns_per_s=0.5)


def write_faceless_clip(path: Path) -> Path:
    """A clip of moving grey noise: decodable, but no face."""
    import cv2

    rng = np.random.default_rng(7)
    width, height = CLIP_SIZE
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS, (width, height))
    for _ in range(int(CLIP_SECONDS * CLIP_FPS)):
        noise = cv2.GaussianBlur(rng.integers(0, 255, (height, width), dtype=np.uint8), (9, 9), 0)
        writer.write(cv2.cvtColor(noise, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


@pytest.fixture(scope="session")
def clip_set(tmp_path_factory) -> dict:
    """Clinic-like folders: two face clips both named face.mp4, a faceless clip, a corrupt file, a text file."""
    root = tmp_path_factory.mktemp("batch-inputs")
    clips = {
        "face_a": write_face_clip(root / "clinicA" / "face.mp4", seed=1),
        "face_b": write_face_clip(root / "clinicB" / "face.mp4", seed=2),
        "faceless": write_faceless_clip(root / "clinicB" / "empty_room.mp4"),
    }
    corrupt = root / "clinicB" / "broken.mp4"
    corrupt.write_bytes(clips["face_a"].read_bytes()[:3000])  # a truncated copy
    clips["corrupt"] = corrupt
    notes = root / "notes.txt"
    notes.write_text("not a video\n")
    clips["notes"] = notes
    clips["root"] = root
    return clips


@pytest.fixture(scope="session")
def landmark_cache(tmp_path_factory) -> Path:
    """One landmark cache for the session: each clip is tracked once."""
    return tmp_path_factory.mktemp("batch-cache")


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def leftover_temporaries(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if ".tmp" in path.name]


# -- inputs and names ------------------------------------------------------------------------------
def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_expand_inputs_files_folders_globs_and_lists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    touch(tmp_path / "clinic" / "2024" / "b.MP4")
    touch(tmp_path / "clinic" / "a.mov")
    touch(tmp_path / "clinic" / "readme.txt")
    touch(tmp_path / "clinic" / ".hidden.mp4")
    touch(tmp_path / "clinic" / ".trash" / "old.mp4")
    touch(tmp_path / "other" / "c.avi")
    touch(tmp_path / "other" / "d.mkv")
    touch(tmp_path / "lists" / "e.webm")
    (tmp_path / "lists" / "todo.txt").write_text("# clips to do\n\ne.webm\n../other/d.mkv\n  ../clinic/a.mov  \n")
    found = expand_inputs(["clinic", "other/*.avi", "@lists/todo.txt", "clinic/readme.txt", "missing.mp4"])
    assert found == [os.path.join("clinic", "a.mov"), os.path.join("clinic", "2024", "b.MP4"),
                     os.path.join("other", "c.avi"), os.path.join("lists", "e.webm"),
                     os.path.join("other", "d.mkv"), os.path.join("clinic", "readme.txt"), "missing.mp4"]
    assert expand_inputs(["clinic/**/*.MP4"]) == [os.path.join("clinic", "2024", "b.MP4")]
    assert expand_inputs(["clinic/a.mov", os.path.abspath("clinic/a.mov")]) == [os.path.join("clinic", "a.mov")]


def test_expand_inputs_refuses_when_nothing_is_found(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputNotFoundError, match="no video files found"):
        expand_inputs([str(tmp_path / "empty"), str(tmp_path / "nothing*.mp4"), str(tmp_path / "gone.mp4")])
    with pytest.raises(InputNotFoundError, match="no such list file"):
        expand_inputs([f"@{tmp_path / 'absent.txt'}"])


def test_unique_stems_tell_same_named_files_apart():
    assert unique_stems(["p1.mp4", "p2.mp4"]) == ["p1", "p2"]
    assert unique_stems(["clinicA/p01.mp4", "clinicB/p01.mp4", "p02.mp4"]) == \
        ["clinicA__p01", "clinicB__p01", "p02"]
    assert unique_stems(["a/x/p.mp4", "b/x/P.mp4", "c/y/p.mp4"]) == ["a__x__p", "b__x__P", "y__p"]
    assert unique_stems(["d/p.mp4", "d/p.mov"]) == ["p_mp4", "p_mov"]
    stems = unique_stems(["q/p.mp4", "q/P.mp4", "r/p.mp4"])
    assert len({stem.lower() for stem in stems}) == 3


# -- a whole batch ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def first_run(clip_set, landmark_cache, tmp_path_factory):
    """The CLI over every kind of input: a folder, a glob, an @list and a missing file."""
    root = clip_set["root"]
    out = tmp_path_factory.mktemp("batch-out")
    listing = root / "extra.txt"
    listing.write_text("notes.txt\nnot_there.mp4\n")
    args = ["batch", str(root / "clinicA"), str(root / "clinicB" / "*.mp4"), f"@{listing}",
            "--out", str(out), "--jobs", "2", "--cache-dir", str(landmark_cache)]
    result = CliRunner().invoke(cli, args)
    return {"result": result, "out": out, "args": args}


def test_batch_rows_statuses_and_exit_code(first_run, clip_set):
    result, out = first_run["result"], first_run["out"]
    assert result.exit_code == EXIT_BATCH_FAILED, result.output
    rows = read_csv(out / "summary.csv")
    root = clip_set["root"]
    assert [row["file"] for row in rows] == [
        str(root / "clinicA" / "face.mp4"), str(root / "clinicB" / "broken.mp4"),
        str(root / "clinicB" / "empty_room.mp4"), str(root / "clinicB" / "face.mp4"),
        str(root / "notes.txt"), str(root / "not_there.mp4")]
    by_name = {Path(row["file"]).relative_to(root).as_posix(): row for row in rows}
    assert by_name["clinicA/face.mp4"]["status"] == "ok"
    assert by_name["clinicB/face.mp4"]["status"] == "ok"
    assert by_name["clinicA/face.mp4"]["classification"] != ""
    assert by_name["clinicA/face.mp4"]["error"] == ""
    assert by_name["clinicB/broken.mp4"]["status"] == "error"
    assert "decoded" in by_name["clinicB/broken.mp4"]["error"] or "no video" in by_name["clinicB/broken.mp4"]["error"]
    assert by_name["clinicB/empty_room.mp4"]["status"] == "error"
    assert "no face" in by_name["clinicB/empty_room.mp4"]["error"]
    assert "decoded" in by_name["notes.txt"]["error"]
    assert "no such file" in by_name["not_there.mp4"]["error"]
    assert all(row["classification"] == "" for row in rows if row["status"] == "error")
    assert "4 of 6 videos failed" in result.stderr
    header = next(csv.reader(open(out / "summary.csv", encoding="utf-8")))
    assert header[:3] == ["file", "status", "error"]


def test_batch_reports_of_same_named_files_stay_apart(first_run, clip_set):
    out = first_run["out"]
    for stem in ("clinicA__face", "clinicB__face"):
        for suffix in (".summary.csv", ".events.csv", ".signals.csv"):
            assert (out / f"{stem}{suffix}").is_file()
    assert read_csv(out / "clinicA__face.summary.csv")[0]["file"] == str(clip_set["face_a"])
    assert read_csv(out / "clinicB__face.summary.csv")[0]["file"] == str(clip_set["face_b"])
    events = read_csv(out / "events.csv")
    assert set(row["file"] for row in events) <= {str(clip_set["face_a"]), str(clip_set["face_b"])}
    assert next(csv.reader(open(out / "events.csv", encoding="utf-8")))[0] == "file"
    assert not leftover_temporaries(out)


def test_resume_skips_done_videos_and_force_redoes_them(first_run, clip_set, landmark_cache):
    out, args = first_run["out"], first_run["args"]
    report = out / "clinicA__face.summary.csv"
    written_ns = report.stat().st_mtime_ns
    before = read_csv(out / "summary.csv")
    inputs = args[1:4]
    again = run_batch(inputs, out, jobs=2, cache_dir=landmark_cache)
    reused = {Path(r.file).name: r.reused for r in again.results}
    # Done videos and content failures are kept; a missing file is looked for again.
    assert reused == {"face.mp4": True, "broken.mp4": True, "empty_room.mp4": True, "notes.txt": True,
                      "not_there.mp4": False}
    assert report.stat().st_mtime_ns == written_ns
    assert read_csv(out / "summary.csv") == before

    (out / "clinicB__face.events.csv").unlink()  # a lost report: that video is redone
    partial = run_batch(inputs, out, jobs=2, cache_dir=landmark_cache)
    redone = [r.file for r in partial.results if not r.reused and r.ok]
    assert redone == [str(clip_set["face_b"])]
    assert (out / "clinicB__face.events.csv").is_file()

    forced = run_batch(inputs, out, jobs=2, cache_dir=landmark_cache, force=True)
    assert forced.reused == 0
    assert report.stat().st_mtime_ns != written_ns
    assert read_csv(out / "summary.csv") == before


def test_other_settings_are_not_reused(clip_set, landmark_cache, tmp_path):
    from spasmscan.selection import Selection

    inputs = [str(clip_set["face_a"])]
    assert run_batch(inputs, tmp_path, jobs=1, cache_dir=landmark_cache).results[0].ok
    other = run_batch(inputs, tmp_path, jobs=1, cache_dir=landmark_cache, selection=Selection(end_s=1.0))
    assert other.reused == 0 and other.results[0].ok
    assert float(read_csv(tmp_path / "summary.csv")[0]["duration_s"]) <= 1.0 + 1e-6


def test_all_good_videos_exit_zero(clip_set, landmark_cache, tmp_path):
    result = CliRunner().invoke(cli, ["batch", str(clip_set["face_a"]), str(clip_set["face_b"]), "--out",
                                      str(tmp_path), "--jobs", "1", "--cache-dir", str(landmark_cache)])
    assert result.exit_code == 0, result.output
    assert "2 videos: 2 ok, 0 failed" in result.output
    assert [row["status"] for row in read_csv(tmp_path / "summary.csv")] == ["ok", "ok"]


def test_cli_usage_errors_keep_their_codes(tmp_path):
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])
    assert result.exit_code == InputNotFoundError.exit_code
    assert "no video files found" in result.stderr
    result = CliRunner().invoke(cli, ["batch", str(tmp_path), "--out", str(tmp_path / "o"), "--jobs", "0"])
    assert result.exit_code == 2


# -- interruption and crashes ----------------------------------------------------------------------
def test_interrupt_keeps_finished_results(clip_set, landmark_cache, tmp_path):
    inputs = [str(clip_set["face_a"]), str(clip_set["corrupt"]), str(clip_set["face_b"]), str(clip_set["notes"])]

    def stop_after_first(finished, failed, total):
        if finished == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(inputs, tmp_path, jobs=1, cache_dir=landmark_cache, progress=stop_after_first)
    rows = read_csv(tmp_path / "summary.csv")
    assert 1 <= len(rows) < len(inputs)
    assert not leftover_temporaries(tmp_path)
    finished = run_batch(inputs, tmp_path, jobs=1, cache_dir=landmark_cache)
    assert finished.reused >= 1 and len(read_csv(tmp_path / "summary.csv")) == len(inputs)


def test_ctrl_c_in_a_terminal_stops_cleanly(tmp_path):
    """SIGINT to the whole process group, as Ctrl-C sends it, while one worker is busy and one idle:
    exit 130, one line and no traceback, the finished video kept, nothing half-written."""
    folder = tmp_path / "in"
    write_face_clip(folder / "a_short.mp4", seed=10, seconds=1.0)
    write_face_clip(folder / "b_long.mp4", seed=11, seconds=120.0)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", "from spasmscan.cli import main; main()", "batch",
                                str(folder), "--out", str(out), "--jobs", "2", "--no-cache"],
                               start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / STATE_DIR / "a_short.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the short clip's worker is now idle, the other still tracks the long clip
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == EXIT_INTERRUPTED, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "interrupted" in stderr
    assert not leftover_temporaries(out)
    assert [(Path(row["file"]).name, row["status"]) for row in read_csv(out / "summary.csv")] == \
        [("a_short.mp4", "ok")]
    assert not (out / STATE_DIR / "b_long.json").exists()


def crash_on_three(item: int) -> int:
    """A task that kills its worker process on item 3, as a crash in native code would."""
    if item == 3:
        os._exit(70)
    return item * 10


def test_a_crashing_video_fails_alone(tmp_path):
    outcomes = {}
    run_pool(crash_on_three, list(range(6)), jobs=2,
             on_done=lambda index, result, error: outcomes.update({index: (result, error)}))
    assert sorted(outcomes) == list(range(6))
    assert isinstance(outcomes[3][1], WorkerCrashed)
    assert {index: result for index, (result, error) in outcomes.items() if index != 3} == \
        {0: 0, 1: 10, 2: 20, 4: 40, 5: 50}


def test_process_video_never_raises_for_a_bad_video(clip_set, tmp_path):
    task = VideoTask(path=str(clip_set["notes"]), file="notes.txt", stem="notes", out_dir=str(tmp_path))
    result = process_video(task)
    assert result.status == "error" and result.error_kind == "VideoReadError"
    assert result.row["file"] == "notes.txt" and result.row["status"] == "error"


# -- Dask ------------------------------------------------------------------------------------------
def test_a_video_is_read_for_its_hash_once(clip_set, landmark_cache, tmp_path, monkeypatch):
    from spasmscan import batch, cache

    hashed = []
    real_digest = cache.file_digest

    def counting_digest(path):
        hashed.append(path)
        return real_digest(path)

    monkeypatch.setattr(batch, "file_digest", counting_digest)
    monkeypatch.setattr(cache, "file_digest", counting_digest)
    task = VideoTask(path=str(clip_set["face_a"]), file="face.mp4", stem="face", out_dir=str(tmp_path),
                     cache_dir=str(landmark_cache))
    assert process_video(task).ok
    assert len(hashed) == 1  # the result key and the landmark cache key share it


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ParameterError, match=r"pip install 'spasmscan\[distributed\]'"):
        batch.run_dask(str, [1], scheduler="tcp://127.0.0.1:1", on_done=lambda *a: None)


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(batch, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(ParameterError, match="cannot reach the Dask scheduler"):
        batch.run_dask(str, [1], scheduler="tcp://127.0.0.1:9", on_done=lambda *a: None)


def test_dask_cluster_gives_the_same_summary_as_local_jobs(clip_set, landmark_cache, tmp_path):
    distributed = pytest.importorskip("distributed")
    inputs = [str(clip_set["root"])]  # the folder: face clips, the faceless and the corrupt one
    local = run_batch(inputs, tmp_path / "local", jobs=2, cache_dir=landmark_cache)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        remote = run_batch(inputs, tmp_path / "dask", scheduler=cluster.scheduler_address,
                           cache_dir=tmp_path / "dask-cache")  # its own: the cluster's workers track every video
    assert [r.status for r in local.results] == ["ok", "error", "error", "ok"]
    assert not any(r.reused for r in remote.results)
    assert len(list((tmp_path / "dask-cache").glob("*.npz"))) == 3  # tracked there: two faces, one faceless clip
    assert read_csv(remote.summary_path) == read_csv(local.summary_path)
    assert read_csv(remote.events_path) == read_csv(local.events_path)
    assert sorted(p.name for p in (tmp_path / "dask").glob("*.csv")) == \
        sorted(p.name for p in (tmp_path / "local").glob("*.csv"))
