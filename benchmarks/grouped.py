"""Grouped held-out evaluation: the analysis and the simple baseline, per face, renderer and clip length.

    python benchmarks/grouped.py CORPUS --tuned-faces portrait,talking_RD_Radio2_000 --tuned-renderers mesh

CORPUS holds simulated clips with truth files (``benchmarks/corpus.py`` renders one from seeds). Each
clip is tracked once; its landmarks are cached (``--cache-dir``), so a change to the analysis re-scores
a corpus in seconds. Clips whose face AND renderer were both used while tuning are reported apart and
left out of the held-out totals. The real videos of people without spasm (``--real-faces``, default
../shared/real-faces beside the checkout) are analysed as they are: no spasm verdict is right there,
and every one-sided event is a false one.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from spasmscan.analysis import analyze_series  # noqa: E402
from spasmscan.baseline import baseline_analysis  # noqa: E402
from spasmscan.errors import SpasmscanError  # noqa: E402
from spasmscan.evaluate import (SUMMARY_FIGURES, ClipScore, Evaluation, calibration, clip_group,  # noqa: E402
                                comparison_table, find_clips, score_clip, summary_row)
from spasmscan.landmarks import TrackerSettings  # noqa: E402
from spasmscan.pipeline import video_landmarks  # noqa: E402
from spasmscan.selection import WHOLE_VIDEO, Selection  # noqa: E402
from spasmscan.settings import AnalysisSettings  # noqa: E402
from spasmscan.video import is_video_path  # noqa: E402

LIDS_ONLY = AnalysisSettings(fuse_eye_pixels=False)
# The analysis, the simple baseline it must beat, and the analysis reading the eyes by their lid landmarks alone.
METHODS = {"analysis": analyze_series, "baseline": baseline_analysis,
           "lids": lambda series: analyze_series(series, settings=LIDS_ONLY)}
logger = logging.getLogger("grouped")


def score_corpus(corpus: str, cache_dir: str | None, selection: Selection = WHOLE_VIDEO) -> dict:
    """Method -> Evaluation of every clip under ``corpus`` (tracked once for every method, ``selection``
    choosing the frames tracked)."""
    scores = {m: [] for m in METHODS}
    clips = find_clips(corpus)
    for k, (video, truth) in enumerate(clips, 1):
        try:
            series = video_landmarks(video, settings=TrackerSettings(), selection=selection, cache_dir=cache_dir)
        except SpasmscanError as error:
            for m in METHODS:
                scores[m].append(ClipScore(video=video, truth=truth, status=f"error: {error}"))
            continue
        for m, method in METHODS.items():
            scores[m].append(score_clip(video, truth, method(series)))
        logger.info("%d/%d %s", k, len(clips), os.path.relpath(video, corpus))
    return {m: Evaluation(clips=s) for m, s in scores.items()}


def real_face_rows(folder: str, cache_dir: str | None) -> list[dict]:
    """One row per real video: each method's verdict and one-sided events per minute."""
    rows = []
    for path in sorted(Path(folder).iterdir()):
        if not is_video_path(path):
            continue
        row = {"video": path.name}
        try:
            series = video_landmarks(str(path), settings=TrackerSettings(), cache_dir=cache_dir)
        except SpasmscanError as error:
            rows.append(dict(row, error=str(error)))
            continue
        row["duration_s"] = series.duration_s
        for m, method in METHODS.items():
            result = method(series)
            row[m] = f"{result.verdict.label}/{result.verdict.side}"
            row[f"{m}_per_min"] = int(np.count_nonzero(result.events.one_sided)) / (series.duration_s / 60.0)
        rows.append(row)
    return rows


def subset(evaluations: dict, keep) -> dict:
    return {m: Evaluation(clips=[c for c in e.clips if keep(c)]) for m, e in evaluations.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--cache-dir", default=None, help="landmark cache (default: spasmscan's)")
    parser.add_argument("--tuned-faces", default="", help="comma-separated faces used while tuning")
    parser.add_argument("--tuned-renderers", default="mesh", help="comma-separated renderers used while tuning")
    parser.add_argument("--real-faces", default=str(HERE.parent.parent / "shared" / "real-faces"))
    parser.add_argument("--out", default=None, help="also write every figure to this JSON file")
    parser.add_argument("--frame-step", type=int, default=1, help="track every this many frames of the clips")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for name in ("spasmscan",):
        logging.getLogger(name).setLevel(logging.WARNING)
    faces = {f for f in args.tuned_faces.split(",") if f}
    renderers = {r for r in args.tuned_renderers.split(",") if r}

    def tuned(clip) -> bool:
        return clip_group(clip, "face") in faces and clip_group(clip, "renderer") in renderers

    evaluations = score_corpus(args.corpus, args.cache_dir, Selection(frame_step=args.frame_step))
    held = subset(evaluations, lambda c: not tuned(c))
    result = {"tuned_faces": sorted(faces), "tuned_renderers": sorted(renderers)}
    print(f"tuned on faces {sorted(faces) or '-'} with renderers {sorted(renderers) or '-'}; "
          f"held out: {len(held['analysis'].clips)} of {len(evaluations['analysis'].clips)} clips\n")
    for by in ("face", "renderer", "length", "label"):
        print(comparison_table(held, by))
        print()
    totals = {
        "held out, all": held,
        "unseen face, unseen renderer": subset(evaluations, lambda c: clip_group(c, "face") not in faces
                                               and clip_group(c, "renderer") not in renderers),
        "unseen face, tuned renderer": subset(evaluations, lambda c: clip_group(c, "face") not in faces
                                              and clip_group(c, "renderer") in renderers),
        "tuned face, unseen renderer": subset(evaluations, lambda c: clip_group(c, "face") in faces
                                              and clip_group(c, "renderer") not in renderers),
        "tuned face and renderer (not held out)": subset(evaluations, tuned),
    }
    print(f"{'totals (' + ' / '.join(METHODS) + ')':40s} {'clips':>5s} " + " ".join(f"{c:>16s}" for c in SUMMARY_FIGURES))
    result["totals"] = {}
    for name, evals in totals.items():
        rows = {m: summary_row(e) for m, e in evals.items()}
        result["totals"][name] = rows
        cells = ["/".join("n/a" if not np.isfinite(rows[m][c]) else f"{rows[m][c]:.2f}" for m in METHODS)
                 for c in SUMMARY_FIGURES]
        print(f"{name:40s} {rows['analysis']['clips']:5d} " + " ".join(f"{c:>16s}" for c in cells))
    print("\ncalibration of the analysis on the held-out clips (confidence band: verdicts, share with label and side right)")
    result["calibration"] = calibration(held["analysis"])
    for low, high, n, share in result["calibration"]:
        print(f"  {low:.1f}-{high:.1f}: {n:3d} verdicts, {'n/a' if not n else f'{share:.0%}'} right")
    print("\nmisses of the analysis on the held-out clips:")
    for clip in held["analysis"].judged:
        if not clip.verdict_correct:
            print(f"  {os.path.relpath(clip.video, args.corpus)}: {clip.truth.label}/{clip.truth.side} -> "
                  f"{clip.predicted}/{clip.predicted_side} ({clip.confidence:.2f})")
    if os.path.isdir(args.real_faces):
        print("\nreal videos without spasm (each method: verdict, one-sided events per minute)")
        result["real_faces"] = real_face_rows(args.real_faces, args.cache_dir)
        for row in result["real_faces"]:
            if "error" in row:
                print(f"  {row['video']:34s} {row['error']}")
            else:
                print(f"  {row['video']:34s} {row['duration_s']:5.1f} s" + "".join(
                    f"  {row[m]:22s} {row[m + '_per_min']:5.2f}/min" for m in METHODS))
        judged = [row for row in result["real_faces"] if "error" not in row]
        minutes = sum(row["duration_s"] for row in judged) / 60.0
        if minutes:
            line = f"  {f'all ({len(judged)} videos, {minutes:.1f} min)':42s}"
            for m in METHODS:
                spasms = sum(row[m].split("/")[0] in ("primary_hfs", "synkinesis") for row in judged)
                events = sum(row[m + "_per_min"] * row["duration_s"] / 60.0 for row in judged)
                line += f"  {f'{spasms} spasm verdicts':22s} {events / minutes:5.2f}/min"
            print(line)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1, default=float)


if __name__ == "__main__":
    main()
