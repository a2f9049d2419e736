"""Batch benchmark: wall time of ``spasmscan batch`` over the same clips with 1 and 2 jobs.

Run from the repository root::

    .venv/bin/python benchmarks/batch.py                      # 8 clips of 20 s at 1280x720, 30 fps
    .venv/bin/python benchmarks/batch.py --clips 4 --seconds 5 --width 640 --height 360   # a smoke run

Clips are generated once into ``--workdir`` and reused. Every run goes through the command line
(process start, spawned workers and all) with ``--no-cache``, so each one tracks every frame.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the clip writer the batch tests use
import face_clips  # noqa: E402


def write_face_clip(path: Path, *, width: int, height: int, fps: float, seconds: float, seed: int) -> Path:
    """A portrait clip turning its head slightly, written once and reused; ``seed`` varies drift and light."""
    if path.exists():
        return path
    return face_clips.write_face_clip(path, width=width, height=height, fps=fps, seconds=seconds, seed=seed,
                                      face_fraction=0.6, turns_per_s=0.25, zoom=0.02)


def run_batch(clips_dir: Path, out_dir: Path, jobs: int) -> float:
    """Wall time in seconds of one ``spasmscan batch`` run over ``clips_dir``."""
    command = [sys.executable, "-c", "from spasmscan.cli import main; main()", "batch", str(clips_dir),
               "--out", str(out_dir), "--jobs", str(jobs), "--no-cache"]
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"batch with --jobs {jobs} failed ({finished.returncode}):\n{finished.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8, help="number of clips (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each clip in seconds (default 20)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="job counts to time (default 1 2)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "spasmscan-batch-benchmark")
    args = parser.parse_args()

    clips_dir = args.workdir / f"clips-{args.clips}x{args.seconds:g}s-{args.width}x{args.height}-{args.fps:g}fps"
    for index in range(args.clips):
        write_face_clip(clips_dir / f"clip{index:02d}.mp4", width=args.width, height=args.height, fps=args.fps,
                        seconds=args.seconds, seed=index)
    video_s = args.clips * args.seconds
    print(f"{args.clips} clips of {args.seconds:g} s, {args.width}x{args.height} at {args.fps:g} fps "
          f"({video_s:g} s of video); {os.cpu_count()} cores")
    print(f"{'jobs':>4} {'wall s':>8} {'videos/min':>11} {'video s per s':>14} {'speed-up':>9}")
    results = []
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory(dir=args.workdir) as out_dir:
            seconds = run_batch(clips_dir, Path(out_dir), jobs)
        speedup = results[0]["wall_s"] / seconds if results else 1.0
        results.append({"jobs": jobs, "wall_s": round(seconds, 2), "videos_per_min": round(60 * args.clips / seconds, 2),
                        "video_s_per_s": round(video_s / seconds, 2), "speedup": round(speedup, 2)})
        print(f"{jobs:>4} {seconds:>8.1f} {60 * args.clips / seconds:>11.1f} {video_s / seconds:>14.2f} {speedup:>9.2f}")
    (args.workdir / "batch-results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
