"""Image openness of each eye: how much dark iris and pupil the lids leave visible (part of the landmarks stage).

Face Mesh's lid landmarks under-report closure (a full closure moves them only about a third of
the way), but the pixels do not: a shut lid puts skin where the iris was. For each eye this
measures the mean darkness, relative to the patient's own skin just below that eye, of a narrow
vertical strip through the tracked iris centre. The strip is placed and sized by the iris
landmarks only (their radius, which a closing lid does not shrink), so the measure does not
inherit the lid landmarks' shortfall. Darkness is a ratio to the skin's level, so a change of
light gain cancels.

Why a fixed strip and not the share of eye-like pixels inside the lid contour: when the lids
close, the tracked contour narrows onto the lash line, which is as dark as an iris, so the share
inside it rose instead of falling on rendered closures; the strip loses its iris to lid skin.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .regions import EYE_INNER_CORNER, EYE_OUTER_CORNER, IRIS, IRIS_CENTER, LOWER_LID, SIDES
from .video import PlanarFrame

STRIP_HALF_WIDTH_IRIS_RADII = 0.6  # the strip is narrower than the iris: gaze shifts keep it on the iris
STRIP_HALF_HEIGHT_IRIS_RADII = 1.2  # taller than the iris: an open eye's whole iris fits, a shut lid fills it
SKIN_BAND_EYE_WIDTHS = (0.25, 0.5)  # skin reference below the lowest lower-lid point: past lashes and lid margin
SKIN_BOX_INSET = 0.1  # the skin box leaves this share of the eye's width out at each corner (nose side shadow)
MIN_IRIS_RADIUS_PX = 1.0  # a smaller tracked iris holds no pixels to judge
MIN_SKIN_PIXELS = 8  # fewer reference pixels (a face at the frame's edge) give no openness


def frame_luma(frame: np.ndarray | PlanarFrame) -> np.ndarray:
    """The image :func:`eye_openness` reads: a planar frame's (H, W) Y plane (a view, no
    conversion), else the (H, W, 3) BGR or (H, W) grey frame itself."""
    if isinstance(frame, PlanarFrame):
        return frame.planes[:frame.shape[0]]
    return frame


def eye_openness(image: np.ndarray, face: np.ndarray) -> np.ndarray:
    """(2,) float32 image openness of the patient's (left, right) eye; NaN where it cannot be read.

    image: (H, W) uint8 luminance or (H, W, 3) uint8 BGR, the frame the landmarks are placed on.
    face: (478, 2) pixel x, y of one face, Face Mesh numbering (sides named anatomically, as the
    tracker returns them). Openness: mean over the iris strip of max(0, 1 - luma / skin luma),
    skin luma being the median of a box below that eye; 0 = the strip is as light as skin (lid
    shut), an open eye reads about 0.2-0.5 depending on iris colour. Compare it with the same
    eye's own open level, not across people.
    """
    points = face[_POINTS].tolist()  # one gather, then plain floats: numpy per point costs more than the pixels
    return np.array([_one_eye(image, points[k * _PER_EYE:(k + 1) * _PER_EYE]) for k in range(len(SIDES))],
                    dtype=np.float32)


# Per eye, in this order: iris centre, 4 iris edge points, outer and inner corner, lower lid.
_PER_EYE = 7 + len(LOWER_LID["left"])
_POINTS = [i for side in SIDES for i in (IRIS_CENTER[side], *IRIS[side][1:], EYE_OUTER_CORNER[side],
                                         EYE_INNER_CORNER[side], *LOWER_LID[side])]


def _one_eye(image: np.ndarray, points: list) -> float:
    (cx, cy), edges, (ox, oy), (ix, iy), lid = points[0], points[1:5], points[5], points[6], points[7:]
    radius = sum(math.hypot(x - cx, y - cy) for x, y in edges) / len(edges)
    eye_width = math.hypot(ox - ix, oy - iy)
    if not (radius >= MIN_IRIS_RADIUS_PX):  # also false for NaN
        return float("nan")
    left, right = min(ox, ix), max(ox, ix)
    inset = SKIN_BOX_INSET * (right - left)
    below = max(y for _, y in lid)
    skin = grey_box(image, left + inset, below + SKIN_BAND_EYE_WIDTHS[0] * eye_width,
                right - inset, below + SKIN_BAND_EYE_WIDTHS[1] * eye_width)
    if skin.size < MIN_SKIN_PIXELS:
        return float("nan")
    flat = skin.reshape(-1)
    middle = flat.size // 2
    level = float(np.partition(flat, middle)[middle])  # the median (the upper one of an even count)
    half_w, half_h = STRIP_HALF_WIDTH_IRIS_RADII * radius, STRIP_HALF_HEIGHT_IRIS_RADII * radius
    strip = grey_box(image, cx - half_w, cy - half_h, cx + half_w + 1, cy + half_h + 1)
    if strip.size == 0 or level <= 0:
        return float("nan")
    # mean of max(0, level - luma) = level - mean(min(luma, level)), in two C calls
    return 1.0 - cv2.mean(cv2.min(strip, level))[0] / level


def grey_box(image: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """(h, w) luminance of columns x0:x1, rows y0:y1 (rounded, cut to the image) of a (H, W) luminance or
    (H, W, 3) BGR image; empty when outside. A grey image gives a view of itself."""
    height, width = image.shape[:2]
    c0, r0 = max(int(x0 + 0.5), 0), max(int(y0 + 0.5), 0)  # rounded; negative edges are cut to 0 anyway
    c1, r1 = min(int(x1 + 0.5), width), min(int(y1 + 0.5), height)
    if c1 <= c0 or r1 <= r0:
        return np.empty((0, 0), np.uint8)
    box = image[r0:r1, c0:c1]
    return cv2.cvtColor(np.ascontiguousarray(box), cv2.COLOR_BGR2GRAY) if box.ndim == 3 else box
