"""How well the facial palsy examination reads simulated exams with known per-step shares.

Run from the repository root::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/exam.py --out /tmp/exam-bench --jobs 1

Renders the held-out exams of CLIPS (seeds 41000 on: never used while the exam was built) with
``spasmscan.render.simulate_exam_video`` following a short examination (SHORT_PROTOCOL: 5 s of
rest, then each step for 4.5 s, three repetitions), tracks each with the real tracker (the landmark
cache under OUT/cache makes a second run only read) and compares ``analysis.exam`` with the truth:

- ratio: share of steps whose excursion_ratio is within RATIO_TOLERANCE of the true share (a step
  with no ratio counts as a miss);
- side: share of steps with a true share below ASYMMETRIC_SHARE whose weaker side is the true one;
- closure: eye-closure steps whose incomplete-closure flag is right (flagged on the weak side when
  the weak eye keeps at least exam.INCOMPLETE_CLOSURE_SHARE of its opening, not flagged otherwise);
- composite: the composite estimate of the symmetric exams (share 1.0), each to reach NORMAL_COMPOSITE.

Clips already rendered in OUT are reused. ``--mouth-pixels`` reads the mouth corners' movements from their
pixels too (``AnalysisSettings(fuse_mouth_pixels=True)``).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REAL_FACES = Path(__file__).resolve().parents[2] / "shared" / "real-faces"  # ../shared beside the checkout
SHORT_PROTOCOL = {"steps": [{"segment": "rest", "duration_s": 5.0}] + [
    {"segment": name, "duration_s": 4.5} for name in ("eye_closure", "brow_raises", "smiles", "snarl", "pucker",
                                                       "cheek_puff")]}
# (name, renderer, base (None: the portrait; "still_" + a real face video: its neutral frame as a still portrait,
# spasmscan.render.neutral_still), label, weak side, share, seed)
CLIPS = (
    ("portrait_mesh_sym", "mesh", None, "palsy", "left", 1.0, 41000),
    ("portrait_field_30", "field", None, "palsy", "left", 0.3, 41001),
    ("portrait_mesh_60_syn", "mesh", None, "palsy_synkinesis", "right", 0.6, 41002),
    ("radio34_field_sym", "field", "talking_RD_Radio34_000.mp4", "palsy", "right", 1.0, 41003),
    ("edmarkey_mesh_20", "mesh", "talking_WDA_EdMarkey0_000.mp4", "palsy", "right", 0.2, 41004),
    ("radio2_field_80_syn", "field", "talking_RD_Radio2_000.mp4", "palsy_synkinesis", "left", 0.8, 41005),
    # real faces held still, as an examined patient sits (their own talking hides the movements)
    ("still_radio34_mesh_sym", "mesh", "still_talking_RD_Radio34_000.mp4", "palsy", "left", 1.0, 41006),
    ("still_edmarkey_field_40", "field", "still_talking_WDA_EdMarkey0_000.mp4", "palsy", "right", 0.4, 41007),
    ("still_lowb_mesh_60_syn", "mesh", "still_talking_low_res_b.mp4", "palsy_synkinesis", "left", 0.6, 41008),
    ("still_edmarkey_mesh_sym", "mesh", "still_talking_WDA_EdMarkey0_000.mp4", "palsy", "right", 1.0, 41009),
    ("still_radio34_field_20", "field", "still_talking_RD_Radio34_000.mp4", "palsy", "right", 0.2, 41010),
    ("still_lowb_field_sym", "field", "still_talking_low_res_b.mp4", "palsy", "left", 1.0, 41011),
)
RATIO_TOLERANCE = 0.1  # a step's ratio counts as right within this of the true share
ASYMMETRIC_SHARE = 0.7  # below this true share the weaker side must be found
NORMAL_COMPOSITE = 90.0  # a symmetric exam's composite estimate should reach this


def run_clip(clip: tuple, out: str, mouth_pixels: bool = False) -> dict:
    """Render (unless present), track and examine one clip; its steps' measured and true values
    (``mouth_pixels``: with ``AnalysisSettings(fuse_mouth_pixels=True)``)."""
    from spasmscan.analysis import analyze_series
    from spasmscan.landmarks import TrackerSettings
    from spasmscan.pipeline import video_landmarks
    from spasmscan.protocol import load_protocol
    from spasmscan.render import neutral_still, simulate_exam_video
    from spasmscan.settings import AnalysisSettings
    from spasmscan.simulate import STILL_PREFIX

    name, renderer, base, label, side, share, seed = clip
    folder = Path(out)
    protocol = folder / "short_protocol.json"
    video = folder / f"{name}.mp4"
    if base is not None and base.startswith(STILL_PREFIX):
        base = neutral_still(REAL_FACES / base.removeprefix(STILL_PREFIX), folder / ".stills")
    elif base is not None:
        base = REAL_FACES / base
    if not video.exists():
        simulate_exam_video(video, label=label, side=side, share=share, protocol=str(protocol), seed=seed,
                            renderer=renderer, base=base, fps=25.0)
    truth = json.loads(video.with_suffix(".json").read_text())
    series = video_landmarks(video, settings=TrackerSettings(mouth_flow=mouth_pixels), cache_dir=folder / "cache",
                             workers=1)
    analysis = analyze_series(series, settings=AnalysisSettings(fuse_mouth_pixels=mouth_pixels),
                              segments=load_protocol(str(protocol)))
    exam = analysis.exam
    truth_steps = {step["segment"]: step for step in truth["parameters"]["steps"]}
    steps = []
    for step in exam.steps:
        true = truth_steps[step.segment]
        steps.append({"segment": step.segment, "ratio": step.excursion_ratio, "true_share": true["true_share"],
                      "weaker_side": step.weaker_side, "incomplete_closure": step.incomplete_closure,
                      "remaining": step.remaining_opening_share, "true_remaining": true.get("remaining_opening"),
                      "synkinesis_side": step.synkinesis_side, "synkinesis_grade": step.synkinesis_grade})
    return {"name": name, "side": side, "share": share, "label": label, "face_pct": analysis.face_frames_pct,
            "weaker_side": exam.weaker_side, "composite": exam.composite_estimate, "steps": steps}


def score(results: list[dict]) -> dict:
    """The four figures over every clip (see the module docstring)."""
    from spasmscan.exam import INCOMPLETE_CLOSURE_SHARE

    steps = [(r, s) for r in results for s in r["steps"]]
    within = [math.isfinite(s["ratio"]) and abs(s["ratio"] - s["true_share"]) <= RATIO_TOLERANCE for _, s in steps]
    sided = [s["weaker_side"] == r["side"] for r, s in steps if s["true_share"] < ASYMMETRIC_SHARE]
    closures = []
    for r, s in steps:
        if s["segment"] == "eye_closure":
            expected = r["side"] if s["true_remaining"] >= INCOMPLETE_CLOSURE_SHARE else "none"
            closures.append(s["incomplete_closure"] == expected)
    normal = [r["composite"] for r in results if r["share"] == 1.0]
    return {"ratio_within": (sum(within), len(within)), "side_right": (sum(sided), len(sided)),
            "closure_right": (sum(closures), len(closures)),
            "normal_composites": normal, "normal_reaching": sum(c >= NORMAL_COMPOSITE for c in normal)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="/tmp/spasmscan-exam-benchmark", help="Folder for the clips and cache.")
    parser.add_argument("--jobs", type=int, default=1, help="Clips rendered and tracked at once.")
    parser.add_argument("--only", nargs="*", default=None, help="Names of CLIPS to run (default: all).")
    parser.add_argument("--mouth-pixels", action="store_true",
                        help="Read the mouth corners' movements from their pixels too (fuse_mouth_pixels).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "short_protocol.json").write_text(json.dumps(SHORT_PROTOCOL))
    clips = [c for c in CLIPS if args.only is None or c[0] in args.only]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run_clip, clips, [str(out)] * len(clips), [args.mouth_pixels] * len(clips)))
    for r in results:
        print(f"{r['name']}: {r['label']} {r['side']} share {r['share']:.1f}; face {r['face_pct']:.0f}%; "
              f"weaker side {r['weaker_side']}; composite {r['composite']:.0f}")
        for s in r["steps"]:
            remaining = f" remaining {s['remaining']:.2f} (true {s['true_remaining']:.2f}) flag {s['incomplete_closure']}" \
                if s["segment"] == "eye_closure" else ""
            print(f"  {s['segment']:12s} ratio {s['ratio']:.2f} (true {s['true_share']:.2f}) weaker {s['weaker_side']:5s}"
                  f" synkinesis {s['synkinesis_side']} {s['synkinesis_grade']}{remaining}")
    figures = score(results)
    (out / "results.json").write_text(json.dumps({"clips": results, "score": figures}, indent=1))

    def share(pair):
        return f"{pair[0]}/{pair[1]}" + (f" ({100 * pair[0] / pair[1]:.0f}%)" if pair[1] else "")

    print(f"steps with ratio within +-{RATIO_TOLERANCE}: {share(figures['ratio_within'])}")
    print(f"weaker side right for true shares < {ASYMMETRIC_SHARE}: {share(figures['side_right'])}")
    print(f"incomplete-closure flag right: {share(figures['closure_right'])}")
    print(f"symmetric exams' composite estimates: {', '.join(f'{c:.0f}' for c in figures['normal_composites'])} "
          f"({figures['normal_reaching']} reach {NORMAL_COMPOSITE:.0f})")


if __name__ == "__main__":
    main()
