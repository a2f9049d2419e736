"""How well the image eye openness and the landmark aperture see one-sided eye closures.

Run from the repository root::

    .venv/bin/python benchmarks/eye_openness.py --clips CLIP.mp4 ... --real FACE.mp4 ...

``--clips``: simulated clips (``spasmscan simulate``), each with its truth ``.json`` beside it.
For every one-sided ``twitch`` or ``tonic_spasm`` in the truth, each measure's left-right
difference (the affected eye more closed = positive; each eye relative to its own open level,
the running 75th percentile over 20 s) is averaged over the middle half of the event, less its
median at rest, in units of its own robust SD at rest (frames 0.3 s or more away from any
one-sided event). ``fused`` is the sum of the two differences, each over its own noise, over
the noise of that sum. Tables per base face and per closure size (the truth amplitude).
``--real``: videos of faces without spasm: the robust SD of each measure's left-right difference.
Landmarks come from the landmark cache (``--cache-dir``), so a second run only reads.
"""
from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from spasmscan.pipeline import video_landmarks
from spasmscan.signals import compute_signals, robust_noise, running_percentile

REST_MARGIN_S = 0.3  # frames this close to a one-sided event are not rest
AMPLITUDE_BINS = (0.0, 0.45, 0.6, 1.01)  # closure sizes of the tables' columns


def relative_sides(series) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """measure -> ((n,) left, (n,) right), each eye over its own open level."""
    signals = compute_signals(series.points, series.times_s, landmark_ids=series.landmark_ids)
    out = {"aperture": (signals["eye_aperture_left"], signals["eye_aperture_right"])}
    columns = []
    for column in range(2):
        values = series.eye_openness[:, column].astype(np.float64)
        finite = np.isfinite(values)
        values = np.interp(series.times_s, series.times_s[finite], values[finite])
        columns.append(values / running_percentile(values, series.times_s, window_s=20.0, percentile=75.0))
    out["openness"] = tuple(columns)
    return out


def event_rows(clip: Path, cache_dir) -> list[dict]:
    truth = json.loads(clip.with_suffix(".json").read_text())
    series = video_landmarks(clip, cache_dir=cache_dir)
    times = series.times_s
    sides = relative_sides(series)
    one_sided = [e for e in truth["events"] if e["side"] in ("left", "right")]
    rest = np.ones(times.size, bool)
    for e in one_sided:
        rest &= ~((times >= e["start_s"] - REST_MARGIN_S) & (times <= e["end_s"] + REST_MARGIN_S))
    rows = []
    for e in (e for e in one_sided if e["kind"] in ("twitch", "tonic_spasm")):
        quarter = (e["end_s"] - e["start_s"]) / 4
        middle = (times >= e["start_s"] + quarter) & (times <= e["end_s"] - quarter)
        if not middle.any():
            middle = np.abs(times - (e["start_s"] + e["end_s"]) / 2) <= 0.5 / series.fps + 1e-9
        row = {"face": Path(truth.get("base") or "portrait").stem, "amplitude": e["amplitude"]}
        standardised = []
        for name, (left, right) in sides.items():
            difference = right - left if e["side"] == "left" else left - right
            difference = difference - np.nanmedian(difference[rest])
            noise = robust_noise(difference[rest])
            standardised.append(difference / noise)
            row[name] = float(np.nanmean(difference[middle]) / noise)
        fused = standardised[0] + standardised[1]
        row["fused"] = float(np.nanmean(fused[middle]) / robust_noise(fused[rest]))
        rows.append(row)
    return rows


def noise_row(video: Path, cache_dir) -> dict:
    series = video_landmarks(video, cache_dir=cache_dir)
    sides = relative_sides(series)
    differences = [sides[name][1] - sides[name][0] for name in ("aperture", "openness")]
    finite = np.isfinite(differences[0]) & np.isfinite(differences[1])
    row = {}
    for name, difference in zip(("aperture", "openness"), differences):
        row[name] = robust_noise(difference)
        deviation = np.abs(difference[finite] - np.median(difference[finite])) / row[name]
        row[name + "_tail"] = float(np.mean(deviation > 3.0))  # share of frames beyond 3 SD: false-alarm fuel
    row["correlation"] = float(np.corrcoef(differences[0][finite], differences[1][finite])[0, 1])
    return row


def print_closures(rows: list[dict]) -> None:
    """Median drop per base face, measure and closure size."""
    by_face = defaultdict(list)
    for row in rows:
        by_face[row["face"]].append(row)
    bins = list(zip(AMPLITUDE_BINS[:-1], AMPLITUDE_BINS[1:]))
    print("one-sided closures: median drop in rest-noise SDs (share of events above 3 SD)")
    print(f"{'face':30s} {'measure':9s} " + " ".join(f"{f'{lo:.2f}-{min(hi, 1):.2f}':>18s}" for lo, hi in bins)
          + f" {'all':>18s}")
    for face, face_rows in sorted(by_face.items()) + [("all faces", rows)]:
        for measure in ("aperture", "openness", "fused"):
            cells = []
            for lo, hi in bins + [(0.0, 2.0)]:
                z = np.array([r[measure] for r in face_rows if lo <= r["amplitude"] < hi])
                cells.append(f"n{z.size:3d} {np.median(z):5.2f} ({np.mean(z > 3):.2f})" if z.size else "-")
            print(f"{face:30s} {measure:9s} " + " ".join(f"{c:>18s}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", type=Path, default=[])
    parser.add_argument("--real", nargs="*", type=Path, default=[])
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = [row for clip in args.clips for row in event_rows(clip, args.cache_dir)]
    if rows:
        print_closures(rows)
    if args.real:
        print("\nfaces without spasm: robust SD of the left-right difference (relative to each eye's open level)")
        print("and the share of frames beyond 3 SD (>3SD), and the two differences' correlation")
        print(f"{'video':30s} {'aperture':>9s} {'>3SD':>6s} {'openness':>9s} {'>3SD':>6s} {'corr':>6s}")
        for video in args.real:
            row = noise_row(video, args.cache_dir)
            print(f"{video.stem:30s} {row['aperture']:9.4f} {row['aperture_tail']:6.3f} {row['openness']:9.4f} "
                  f"{row['openness_tail']:6.3f} {row['correlation']:6.2f}")


if __name__ == "__main__":
    main()
