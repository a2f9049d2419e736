"""How far simulated one-sided mouth pulls stand out: in the tracked landmarks and in the pixels.

    python benchmarks/mouth_flow.py CLIP.mp4 [CLIP.mp4 ...] [--cache-dir DIR]

For every simulated clip (truth file beside it) and every one-sided event that moves the mouth, the
peak of the left-minus-right rise of the mouth corners during the event, in robust SDs of that
difference away from every simulated event (0.5 s margins), read two ways:

- landmarks: the signals' ``mouth_corner_vertical`` of each side (head-normalised, IOD);
- flow: a 5 x 5 grid of points around each tracked corner followed by pyramidal Lucas-Kanade optical
  flow (OpenCV) from each frame to the next, less the nose bridge's flow, summed over time, in IOD.

Both differences are freed of their slow part (a 2 s running median) before the peaks are read. The
flow sees the pixels move, not Face Mesh's shape, so it shows whether the tracker or the face itself
(a talking mouth) limits what the analysis can find.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import median_filter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spasmscan.analysis import series_events  # noqa: E402
from spasmscan.events import robust_sd  # noqa: E402
from spasmscan.landmarks import TrackerSettings  # noqa: E402
from spasmscan.pipeline import video_landmarks  # noqa: E402
from spasmscan.regions import EYE_OUTER_CORNER, MOUTH_CORNER, NOSE_RIDGE  # noqa: E402
from spasmscan.simulate import read_truth, truth_path  # noqa: E402

GRID_PX = np.array([(dx, dy) for dx in (-4, -2, 0, 2, 4) for dy in (-4, -2, 0, 2, 4)], np.float32)
FLOW_WINDOW_PX = (9, 9)  # Lucas-Kanade window: a corner's lip edge and a little skin
SLOW_S = 2.0  # running-median window taken off both differences: drift, gaze and posture
MARGIN_S = 0.5  # the noise is read this far from every simulated event
MIN_NOISE_IOD = 1e-3  # a steadier difference (a still base's pixels) is counted at this noise: 0.1 px at 100 px IOD


def corner_flow(video: str, points: np.ndarray, column: dict) -> dict:
    """Side -> (n,) upward shift of that mouth corner (pixels) against the nose bridge, summed flow."""
    anchors = {"left": MOUTH_CORNER["left"], "right": MOUTH_CORNER["right"], "nose": NOSE_RIDGE[1]}
    steps = {name: np.zeros((points.shape[0], 2)) for name in anchors}
    capture = cv2.VideoCapture(video)
    previous = None
    for k in range(points.shape[0]):
        ok, frame = capture.read()
        if not ok:
            break
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if previous is not None and np.isfinite(points[k - 1]).all():
            for name, landmark in anchors.items():
                start = (points[k - 1, column[landmark]] + GRID_PX).reshape(-1, 1, 2)
                end, found, _ = cv2.calcOpticalFlowPyrLK(previous, grey, start, None, winSize=FLOW_WINDOW_PX,
                                                         maxLevel=2)
                moved = (end - start).reshape(-1, 2)[found.ravel() == 1]
                steps[name][k] = np.median(moved, axis=0) if len(moved) else 0.0
        previous = grey
    capture.release()
    return {side: -np.cumsum(steps[side] - steps["nose"], axis=0)[:, 1] for side in ("left", "right")}


def pull_peaks(video: str, cache_dir: str | None) -> np.ndarray:
    """(k, 2) peak of the affected side's lead in robust SDs, (flow, landmarks), per mouth event."""
    truth = read_truth(truth_path(video))
    series = video_landmarks(video, settings=TrackerSettings(), cache_dir=cache_dir)
    column = {int(landmark): k for k, landmark in enumerate(series.landmark_ids)}
    points = series.points.astype(np.float32)
    iod = np.nanmedian(np.linalg.norm(points[:, column[EYE_OUTER_CORNER["left"]]]
                                      - points[:, column[EYE_OUTER_CORNER["right"]]], axis=1))
    flow = corner_flow(video, points, column)
    signals, _ = series_events(series)
    width = int(SLOW_S * series.fps) | 1
    leads = {"flow": (flow["left"] - flow["right"]) / iod,
             "landmarks": np.nan_to_num(signals["mouth_corner_vertical_left"] - signals["mouth_corner_vertical_right"])}
    leads = {name: lead - median_filter(lead, size=width, mode="nearest") for name, lead in leads.items()}
    times = series.times_s
    near = np.zeros(times.size, bool)
    for event in truth.events:
        if event.kind != "talk":
            near |= (times >= event.start_s - MARGIN_S) & (times <= event.end_s + MARGIN_S)
    noise = {name: max(robust_sd(lead[~near]), MIN_NOISE_IOD) for name, lead in leads.items()}
    sign = 1.0 if truth.side == "left" else -1.0
    rows = []
    for event in truth.events:
        if event.kind in ("twitch", "tonic_spasm") and "mouth" in event.region:
            first, last = np.searchsorted(times, [event.start_s, event.end_s])
            rows.append([(sign * leads[name][first:last + 1]).max() / noise[name] for name in ("flow", "landmarks")])
    return np.array(rows).reshape(-1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--cache-dir", default=None, help="landmark cache (default: spasmscan's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"{'clip':60s} {'pulls':>5s} {'flow SD':>8s} {'>=4':>5s} {'landmarks SD':>12s} {'>=4':>5s}")
    for clip in args.clips:
        peaks = pull_peaks(clip, args.cache_dir)
        if not len(peaks):
            continue
        median = np.median(peaks, axis=0)
        share = np.mean(peaks >= 4.0, axis=0)
        print(f"{clip[-60:]:60s} {len(peaks):5d} {median[0]:8.1f} {share[0]:5.0%} {median[1]:12.1f} {share[1]:5.0%}")


if __name__ == "__main__":
    main()
