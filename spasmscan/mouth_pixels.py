"""How the pixels at each mouth corner move from frame to frame (part of the landmarks stage).

Face Mesh fits one shape to the whole face, so a closing eye drags its tracked mouth corners along
a little (0.02-0.05 IOD on some faces), exactly when blink-locked synkinesis would pull them. The
skin at the corner does not move with a blink. :class:`CornerFlow` follows a small grid of pixels
around each tracked corner with pyramidal Lucas-Kanade optical flow (OpenCV) from each frame to the
next, less the same for the nose ridge (head translation), and gives each corner's step in pixels.
Summed over time the steps drift, so the signals stage takes only their fast part and the tracked
corners' slow part (:func:`spasmscan.signals.compute_signals`).
"""
from __future__ import annotations

import cv2
import numpy as np

from .eye_pixels import frame_luma, grey_box
from .regions import EYE_INNER_CORNER, EYE_OUTER_CORNER, MOUTH_CORNER, NOSE_RIDGE, SIDES
from .video import PlanarFrame

GRID_STEPS = np.arange(-2, 3)  # a 5 x 5 grid of points around each anchor ...
GRID_SPACING_IOD = 0.02  # ... this far apart: the lip corner and the skin just around it
WINDOW_IOD = 0.09  # Lucas-Kanade window, IOD: a corner's lip edge and a little skin (9 px at 100 px IOD)
MIN_WINDOW_PX = 7  # a smaller window holds too little texture to follow
PYRAMID_LEVELS = 2  # coarse levels reach steps of a few window widths: a fast pull between two frames
CROP_MARGIN_IOD = 0.3  # the frames are cropped to the anchors' box widened by this: the pyramid of a crop, not a frame
MIN_FOUND_SHARE = 0.5  # an anchor whose grid is followed in fewer of its points gives no step
ANCHORS = (MOUTH_CORNER["left"], MOUTH_CORNER["right"], NOSE_RIDGE[1])  # the patient's left, right corner; reference
_GRID = np.array([(dx, dy) for dy in GRID_STEPS for dx in GRID_STEPS], np.float32)  # (25, 2) in grid spacings


class CornerFlow:
    """Frame-to-frame steps of the patient's (left, right) mouth corners, fed one frame at a time.

    ``step(frame, face)`` takes each decoded frame (BGR, grey or planar) and its (478, 2) pixel
    landmarks (None: no face) and returns (2, 2) float32: the (dx, dy) image pixels each corner's
    pixels moved since the previous frame given, less the nose ridge's; NaN for the first frame, after
    a frame without the face, or where the grid was lost.
    """

    def __init__(self):
        self._previous: tuple | None = None  # (grey crop, its (x0, y0), the (3 * 25, 2) grid in it)

    def step(self, frame: np.ndarray | PlanarFrame, face: np.ndarray | None) -> np.ndarray:
        out = np.full((len(SIDES), 2), np.nan, np.float32)
        if face is None or not np.isfinite(face[list(ANCHORS)]).all():
            self._previous = None
            return out
        luma = frame_luma(frame)
        anchors = face[list(ANCHORS)].astype(np.float32)
        centres = [(face[EYE_OUTER_CORNER[s]] + face[EYE_INNER_CORNER[s]]) / 2.0 for s in SIDES]
        iod = float(np.linalg.norm(centres[0] - centres[1]))
        if self._previous is not None:
            crop, origin, points = self._previous
            current = _grey(luma, origin, crop.shape)
            if current is not None:
                window = max(MIN_WINDOW_PX, 2 * int(WINDOW_IOD * iod / 2) + 1)
                moved, found, _ = cv2.calcOpticalFlowPyrLK(crop, current, points.reshape(-1, 1, 2), None,
                                                            winSize=(window, window), maxLevel=PYRAMID_LEVELS)
                steps = (moved.reshape(-1, 2) - points).reshape(len(ANCHORS), -1, 2)
                found = found.reshape(len(ANCHORS), -1).astype(bool)
                medians = [np.median(s[f], axis=0) if f.mean() >= MIN_FOUND_SHARE else np.full(2, np.nan)
                           for s, f in zip(steps, found)]
                out[:] = np.array(medians[:len(SIDES)]) - medians[-1]
        self._previous = _crop_around(luma, anchors, iod)
        return out


def _crop_around(luma: np.ndarray, anchors: np.ndarray, iod: float) -> tuple | None:
    """(grey crop, (x0, y0), grid points in crop pixels) around ``anchors`` (a, 2), or None off the frame."""
    height, width = luma.shape[:2]
    margin = CROP_MARGIN_IOD * iod
    x0, y0 = (max(int(v), 0) for v in anchors.min(axis=0) - margin)
    x1, y1 = min(int(anchors[:, 0].max() + margin) + 1, width), min(int(anchors[:, 1].max() + margin) + 1, height)
    if x1 - x0 < MIN_WINDOW_PX or y1 - y0 < MIN_WINDOW_PX:
        return None
    grey = _grey(luma, (x0, y0), (y1 - y0, x1 - x0))
    grid = (anchors[:, None, :] + _GRID[None] * GRID_SPACING_IOD * iod).reshape(-1, 2)
    return grey, (x0, y0), (grid - np.array([x0, y0], np.float32)).astype(np.float32)


def _grey(luma: np.ndarray, origin: tuple, shape: tuple) -> np.ndarray | None:
    """A copy of the (h, w) uint8 grey box at ``origin`` of ``luma`` (Y plane, grey or BGR): the decoder
    may reuse the frame's memory; None when the frame cuts the box."""
    x0, y0 = origin
    box = grey_box(luma, x0, y0, x0 + shape[1], y0 + shape[0])
    return np.array(box) if box.shape[:2] == tuple(shape[:2]) else None
