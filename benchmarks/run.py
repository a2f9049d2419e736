"""Speed and memory benchmark of spasmscan (docs/performance.md).

Run from the repository root (``make benchmark``)::

    .venv/bin/python benchmarks/run.py            # full run: 60 s 720p/1080p clips, 1/5/20 min growth
    .venv/bin/python benchmarks/run.py --quick    # 20 s clips, 0.5/1/2 min growth (a smoke run)

It writes generated face clips into ``--workdir`` (reused between runs), measures every figure
``--repeat`` times (default 3), each time in a fresh subprocess (so peak memory is that of one
measurement), prints the medians (and the range of the multiples of real time) and writes
``results.json``, with every single run, beside the clips.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch import write_face_clip  # benchmarks/batch.py: the same generated face clips

REPEATS = 3  # the host's speed changes by up to 3x within minutes: medians of interleaved runs steady it
MESH_ALONE_FRAMES = 240  # frames decoded into memory first, then tracked (bounded: 1080p frames are 6 MB)


# -- measurements, each run in its own process ---------------------------------------------------
def measure_decode(path: str) -> dict:
    from spasmscan.video import VideoSource

    start = time.perf_counter()
    with VideoSource(path, threaded=False, planar=True) as video:  # decoded as analyze decodes for tracking
        frames = sum(1 for _ in video.frames())
    return {"frames": frames, "seconds": time.perf_counter() - start}


def measure_mesh(path: str) -> dict:
    from spasmscan.landmarks import FaceTracker
    from spasmscan.video import VideoSource

    with VideoSource(path, threaded=False, planar=True) as video:
        frames = []
        for item in video.frames():
            frames.append(item)
            if len(frames) == MESH_ALONE_FRAMES:
                break
    with FaceTracker() as tracker:
        tracker.track(frames[0][1], frames[0][0])  # model start-up is not part of the rate
        start = time.perf_counter()
        for time_s, frame in frames[1:]:
            tracker.track(frame, time_s)
    return {"frames": len(frames) - 1, "seconds": time.perf_counter() - start}


def measure_sequential(path: str) -> dict:
    from spasmscan.landmarks import FaceTracker
    from spasmscan.video import VideoSource

    start = time.perf_counter()
    frames = 0
    with VideoSource(path, threaded=False, planar=True) as video, FaceTracker() as tracker:
        for time_s, frame in video.frames():
            tracker.track(frame, time_s)
            frames += 1
    return {"frames": frames, "seconds": time.perf_counter() - start}


def measure_analyze(path: str, cache_dir: str | None = None, workers: int | None = None,
                    frame_step: int = 1) -> dict:
    """The whole ``spasmscan analyze`` job in this process, as the CLI runs it."""
    from spasmscan.selection import Selection
    from spasmscan.pipeline import analyze_video

    start = time.perf_counter()
    analysis = analyze_video(path, selection=Selection(frame_step=frame_step), cache_dir=cache_dir,
                             use_cache=cache_dir is not None, workers=workers)
    # frames of the video, not frames tracked: a frame step is as fast as it makes the job
    return {"frames": analysis.frames * frame_step, "seconds": time.perf_counter() - start,
            "video_s": analysis.duration_s}


MEASUREMENTS = {"decode": measure_decode, "mesh": measure_mesh, "sequential": measure_sequential,
                "analyze": measure_analyze}


def run_measurement(kind: str, path: Path, **options) -> dict:
    """Run one measurement in a fresh interpreter; adds its peak resident memory in MB."""
    command = [sys.executable, __file__, "--measure", kind, str(path), "--options", json.dumps(options)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    result["fps"] = result["frames"] / result["seconds"]
    return result


# -- the report ----------------------------------------------------------------------------------
RESOLUTION_MEASUREMENTS = (  # (name, kind, options) measured for each clip in every round
    ("decode", "decode", {}), ("mesh", "mesh", {}), ("sequential", "sequential", {}),
    ("one_tracker", "analyze", {"workers": 1}), ("analyze", "analyze", {}), ("step2", "analyze", {"frame_step": 2}))


def bench_resolution(label: str, path: Path, repeat: int) -> dict:
    """One table row: the median of ``repeat`` interleaved rounds of every measurement of ``path``."""
    rounds = [{name: run_measurement(kind, path, **options) for name, kind, options in RESOLUTION_MEASUREMENTS}
              for _ in range(repeat)]
    row = {"clip": label, "rounds": rounds}
    for name, _, _ in RESOLUTION_MEASUREMENTS:
        row[f"{name}_fps"] = median(r[name]["fps"] for r in rounds)
    for name in ("one_tracker", "analyze"):  # each round's ratio: its bound was measured minutes, not hours, before
        row[f"{name}_ratio"] = median(r[name]["fps"] / r["sequential"]["fps"] for r in rounds)
    for name in ("analyze", "step2"):
        row[f"{name}_x_real_time"] = spread(r[name]["video_s"] / r[name]["seconds"] for r in rounds)
    row["peak_rss_mb"] = max(r["analyze"]["peak_rss_mb"] for r in rounds)
    return row


def bench_analyze(path: Path, repeat: int, **options) -> dict:
    """``repeat`` runs of ``analyze`` on ``path``: median seconds, x real time (median, min, max), peak RSS."""
    runs = [run_measurement("analyze", path, **options) for _ in range(repeat)]
    return {"seconds": median(r["seconds"] for r in runs), "runs_s": [r["seconds"] for r in runs],
            "x_real_time": spread(r["video_s"] / r["seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def median(values) -> float:
    return float(statistics.median(values))


def spread(values) -> dict:
    """The median, least and greatest of ``values``."""
    values = list(values)
    return {"median": median(values), "min": min(values), "max": max(values)}


def shown(figures: dict) -> str:
    """'6.5 (5.9-7.1)': a median and its range."""
    return f"{figures['median']:.1f} ({figures['min']:.1f}-{figures['max']:.1f})"


def verdicts(rows: list, growth: list, cached: dict) -> list[str]:
    """The speed and memory targets (docs/performance.md), each with the medians it is judged on and whether they meet it."""
    ratios = [row["analyze_ratio"] for row in rows]
    real_time = [row["analyze_x_real_time"]["median"] for row in rows if row["clip"].startswith("720p30")]
    real_time += [row["x_real_time"]["median"] for row in growth]
    memory = [row["peak_rss_mb"] for row in rows + growth]
    checks = [("end to end > 1.0x the decode+mesh bound", min(ratios) > 1.0, f"{min(ratios):.2f}x at least"),
              ("720p30 at least 6x real time", min(real_time) >= 6.0, f"{min(real_time):.1f}x at least"),
              ("peak memory under 1 GB", max(memory) < 1024, f"{max(memory):.0f} MB at most"),
              ("cached re-analysis of the longest clip under 3 s", cached["command_s"] < 3.0,
               f"{cached['command_s']:.2f} s, the whole command")]
    return [f"{'met' if met else 'NOT met'}: {target} ({figure})" for target, met, figure in checks]


def cli_seconds(*arguments: str) -> float:
    """Wall time of one ``spasmscan`` command, interpreter start-up included."""
    start = time.perf_counter()
    command = Path(sys.executable).with_name("spasmscan")  # the console script installed beside this Python
    subprocess.run([str(command), *arguments], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short clips: a smoke run, not the documented figures")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "spasmscan-bench")
    parser.add_argument("--repeat", type=int, default=REPEATS, help="runs of every measurement (median reported)")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "VIDEO"), help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")

    if args.measure:
        kind, path = args.measure
        result = MEASUREMENTS[kind](path, **json.loads(args.options))
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(json.dumps(result))
        return

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    base_s = 20.0 if args.quick else 60.0
    lengths_min = (0.5, 1.0, 2.0) if args.quick else (1.0, 5.0, 20.0)
    print(f"clips in {work}; {os.cpu_count()} cores; every figure the median of {args.repeat} runs",
          file=sys.stderr)

    rows: list = []
    for label, (width, height) in (("720p30", (1280, 720)), ("1080p30", (1920, 1080))):
        clip = write_face_clip(work / f"face_{label}_{base_s:g}s.mp4", width=width, height=height, fps=30,
                               seconds=base_s, seed=0)
        print(f"measuring {clip.name}", file=sys.stderr)
        rows.append(bench_resolution(f"{label} {base_s:g} s", clip, args.repeat))

    growth: list = []
    for minutes in lengths_min:
        clip = write_face_clip(work / f"face_720p30_{minutes:g}min.mp4", width=1280, height=720, fps=30,
                               seconds=60 * minutes, seed=0)
        print(f"measuring {clip.name}", file=sys.stderr)
        growth.append({"minutes": minutes, **bench_analyze(clip, args.repeat)})
    longest = work / f"face_720p30_{lengths_min[-1]:g}min.mp4"
    cache_dir = work / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    run_measurement("analyze", longest, cache_dir=str(cache_dir))  # fills the cache
    cached = bench_analyze(longest, args.repeat, cache_dir=str(cache_dir))
    cached["command_s"] = median(cli_seconds("analyze", str(longest), "--cache-dir", str(cache_dir))
                                 for _ in range(args.repeat))

    print(f"\nmedians of {args.repeat} runs; x real time: median (least-greatest)")
    print("\n| clip | decode fps | Face Mesh fps | decode+mesh fps (bound) | analyze, 1 tracker fps (ratio) "
          "| analyze fps (ratio) | x real time | peak RSS MB | --frame-step 2 fps / x real time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['clip']} | {row['decode_fps']:.0f} | {row['mesh_fps']:.0f} | {row['sequential_fps']:.0f} "
              f"| {row['one_tracker_fps']:.0f} ({row['one_tracker_ratio']:.2f}) "
              f"| {row['analyze_fps']:.0f} ({row['analyze_ratio']:.2f}) | {shown(row['analyze_x_real_time'])} "
              f"| {row['peak_rss_mb']:.0f} | {row['step2_fps']:.0f} / {shown(row['step2_x_real_time'])} |")
    print("\n| 720p30 length | analyze s | x real time | peak RSS MB |")
    print("|---|---|---|---|")
    for row in growth:
        print(f"| {row['minutes']:g} min | {row['seconds']:.1f} | {shown(row['x_real_time'])} "
              f"| {row['peak_rss_mb']:.0f} |")
    print(f"\nre-analysis of the cached {lengths_min[-1]:g}-min video: {cached['seconds']:.2f} s in-process "
          f"(peak RSS {cached['peak_rss_mb']:.0f} MB); the whole 'spasmscan analyze' command: "
          f"{cached['command_s']:.2f} s")
    print()
    for line in verdicts(rows, growth, cached):
        print(line)
    (work / "results.json").write_text(json.dumps({"repeat": args.repeat, "resolutions": rows, "growth": growth,
                                                   "cached": cached}, indent=2))


if __name__ == "__main__":
    main()
