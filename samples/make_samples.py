"""Regenerate the committed sample clips and their ground-truth files (``make samples``).

Every clip is rendered by ``spasmscan.render.simulate_video`` on the bundled public-domain
astronaut portrait, so the samples may be redistributed. Seeds are fixed (and below 5000, the
range kept for development), so running this again gives the same schedules; the pixels may
differ slightly between OpenCV versions.

Usage: python samples/make_samples.py [OUT_DIR]   (default: the folder of this script)
"""
from __future__ import annotations

import os
import sys

from spasmscan.render import Nuisance, simulate_video
from spasmscan.simulate import ScheduleOptions

SIZE = (480, 360)  # small enough for five clips under 10 MB (MPEG-4 part 2 at about 0.1 MB/s)

# name: (label, side, seconds, fps, seed, schedule options)
SAMPLES = {
    "normal": ("none", "none", 15.0, 30.0, 101, ScheduleOptions(blink_rate_per_min=18.0)),
    "hfs_left_eye": ("primary_hfs", "left", 15.0, 30.0, 202,
                     ScheduleOptions(twitch_rate_per_min=20.0, spread_to_mouth=False, blink_rate_per_min=15.0)),
    "hfs_right_eye_mouth": ("primary_hfs", "right", 15.0, 25.0, 303,
                            ScheduleOptions(twitch_rate_per_min=20.0, spread_to_mouth=True, blink_rate_per_min=15.0)),
    "synkinesis_right": ("synkinesis", "right", 15.0, 30.0, 404, ScheduleOptions(blink_rate_per_min=18.0)),
    "hard_negative": ("none", "none", 15.0, 30.0, 505, ScheduleOptions(hard_negative=True, blink_rate_per_min=18.0)),
}


def main(out_dir: str) -> None:
    total = 0
    for name, (label, side, seconds, fps, seed, options) in SAMPLES.items():
        path = os.path.join(out_dir, f"{name}.mp4")
        truth = simulate_video(path, label=label, side=side, duration_s=seconds, fps=fps, seed=seed,
                               width=SIZE[0], height=SIZE[1], options=options, nuisance=Nuisance())
        size = os.path.getsize(path)
        total += size
        kinds: dict[str, int] = {}
        for event in truth.events:
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
        print(f"{path}: {label}/{side}, {seconds:g} s at {fps:g} fps, {size / 1e6:.2f} MB, "
              + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    print(f"total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
