"""Measure what the real tracker sees of each simulated event (the table in docs/simulator.md).

Renders clips of every label on the bundled portrait and, when present, on the real face videos
of ../shared/real-faces/, tracks them with MediaPipe, and prints per event category the tracked
change against the same clip rendered without events (same base frames, head motion, lighting
and noise), frame by frame: eye closure (1 - lid aperture / baseline) per side,
brow rise, mouth-corner pull and mouth opening in inter-ocular distances (IOD). Only events with
no other movement of a different kind within 0.3 s are counted.

Usage: python samples/measure_tracker_response.py [--quick]   (a few minutes on 2 cores)
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

from spasmscan import simulate
from spasmscan.pipeline import video_landmarks
from spasmscan.render import Nuisance, simulate_video

REAL_FACES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "real-faces")
SEEDS = (11, 12)  # development seeds (< 5000)
ISOLATION_S = 0.3


def category(event, events) -> str:
    if event.kind == "twitch" and event.coupled_to >= 0:
        parent = events[event.coupled_to].kind
        return f"synkinetic {event.region} (with {parent})"
    if event.kind in ("twitch", "tonic_spasm"):
        return f"{event.kind} {event.region} (primary HFS)"
    return event.kind


def isolated(index: int, events) -> bool:
    event = events[index]
    related = {index, event.coupled_to} | {k for k, e in enumerate(events) if e.coupled_to == index}
    for k, other in enumerate(events):
        if k in related or other.kind == event.kind:
            continue
        if other.start_s < event.end_s + ISOLATION_S and other.end_s > event.start_s - ISOLATION_S:
            return False
    return True


def columns_for(event) -> dict:
    """Which tracked changes describe this event: name -> (measure key)."""
    if event.side in ("left", "right"):
        a, o = event.side, "right" if event.side == "left" else "left"
        return {"closure affected": f"closure_{a}", "closure other": f"closure_{o}",
                "mouth affected": f"mouth_{a}", "mouth other": f"mouth_{o}", "brow affected": f"brow_{a}"}
    return {"closure left": "closure_left", "closure right": "closure_right", "brow left": "brow_left",
            "brow right": "brow_right", "mouth left": "mouth_left", "mouth right": "mouth_right",
            "mouth open": "mouth_open"}


def main(quick: bool) -> None:
    bases = [("portrait 640x480 30 fps", None, dict(fps=30.0)),
             ("portrait 480x360 25 fps", None, dict(fps=25.0, width=480, height=360))]
    for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4"):
        path = os.path.join(REAL_FACES, name)
        if os.path.exists(path):
            bases.append((f"real video {name}", path, dict(fps=30.0)))
    clips = [("primary_hfs", "left", simulate.ScheduleOptions(twitch_rate_per_min=20.0, spread_to_mouth=True)),
             ("primary_hfs", "right", simulate.ScheduleOptions(twitch_rate_per_min=20.0, spread_to_mouth=False)),
             ("synkinesis", "right", simulate.ScheduleOptions()),
             ("none", "none", simulate.ScheduleOptions(hard_negative=True))]
    seeds = SEEDS[:1] if quick else SEEDS
    table: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        for base_name, base, render_args in bases:
            for label, side, options in clips:
                for seed in seeds:
                    video = os.path.join(folder, "clip.mp4")
                    truth = simulate_video(video, label=label, side=side, duration_s=20.0, seed=seed, base=base,
                                           options=options, nuisance=Nuisance(), **render_args)
                    series = video_landmarks(video, use_cache=False)
                    simulate_video(video, label=label, side=side, duration_s=20.0, seed=seed, base=base,
                                   nuisance=Nuisance(), events=[], **render_args)
                    control = video_landmarks(video, use_cache=False)
                    events = list(truth.events)
                    responses = simulate.event_responses(simulate.landmark_measures(series.points),
                                                         series.times_s, events,
                                                         reference=simulate.landmark_measures(control.points))
                    for k, (event, response) in enumerate(zip(events, responses)):
                        if not isolated(k, events):
                            continue
                        key = (base_name, category(event, events))
                        cell = table.setdefault(key, {})
                        for column, measure in columns_for(event).items():
                            cell.setdefault(column, []).append(response.get(measure, np.nan))
                    print(f"{base_name}: {label}/{side} seed {seed}: {len(events)} events", file=sys.stderr)
    for (base_name, name), cell in sorted(table.items()):
        parts = []
        for column, values in cell.items():
            values = np.asarray(values, dtype=float)
            parts.append(f"{column} {np.nanmedian(values):+.3f} [{np.nanmin(values):+.3f}, {np.nanmax(values):+.3f}]")
        print(f"| {base_name} | {name} | {len(next(iter(cell.values())))} | " + "; ".join(parts) + " |")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
