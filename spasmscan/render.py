"""The pixel side of the simulator: warp a face along its mesh, add nuisance, write the video.

A base (a still portrait or a face video) is tracked once; each output frame moves the
landmarks as the schedule of :mod:`spasmscan.simulate` says and warps the image with one of two
independent rendering models (WARPERS): "mesh", piecewise affinely along a triangulation of the
mesh (only triangles with a moved corner are touched), or "field", by a smooth thin-plate-spline
displacement field; each has its own motion profile (``simulate.MOTION_PROFILES``).
Head motion (one similarity warp of the whole frame), lighting drift, sensor noise and JPEG
compression follow, and the frames go to an MPEG-4 file with the ground truth beside it.
"""
from __future__ import annotations

import functools
import logging
import math
import os
from dataclasses import dataclass, replace
from importlib import resources
from typing import Callable

import cv2
import numpy as np
from scipy.spatial import Delaunay

from . import regions, simulate
from .errors import InputNotFoundError, NoFaceError, OutputError, ParameterError
from .landmarks import FaceTracker, TrackerSettings, track_frames
from .video import VideoSource, is_video_path

logger = logging.getLogger(__name__)

DEFAULT_PORTRAIT = "astronaut_portrait.png"  # crop of skimage.data.astronaut(): public domain (NASA)
DEFAULT_SIZE = (640, 480)  # width, height of clips rendered from a still portrait
MOVED_PX = 0.05  # a landmark moved less than this (pixels) counts as still: its triangles are copied
MAX_GAP_S = 0.3  # gaps in a base video's tracking up to this long are bridged by interpolation
BLOCK_MARGIN_S = 0.5  # no event this close to a stretch where a base video's face is lost
FOURCC = "mp4v"  # MPEG-4 part 2: every OpenCV build can write it
FIELD_MARGIN_IOD = 0.35  # the field's box reaches this far beyond the moved landmarks (it fades over the outer half)
FIELD_STEP_IOD = 1 / 16  # grid spacing of the field before upsampling: about half a lid gap (the field is smooth)
FIELD_MIN_STEP_PX = 2  # ... but no finer than this
FIELD_BORDER_POINTS = 6  # zero-displacement points on each side of the field's box
FIELD_REGULARISATION = 1e-6  # thin-plate smoothing on unit-scaled coordinates: near-exact at the landmarks
OPEN_EYE_PERCENTILE = 60.0  # a neutral still: both eyes at least at this percentile of their own opening in the video
TRACKED_BASES_KEPT = 16  # tracked base videos kept per process (landmarks only, ~4 MB each): each is tracked once
MAX_HELD_BASE_BYTES = 2 << 30  # a base video played backward is held in memory up to this (22 s 576x768: 0.7 GB)


@dataclass(frozen=True)
class Nuisance:
    """Disturbances added to every frame; ``scale`` multiplies them all (0 = a clean clip).

    head_roll_deg, head_scale, head_shift_iod: peak slow head motion (degrees, share of size,
    inter-ocular distances). lighting_gain: peak relative brightness drift. noise_sd: sensor noise,
    grey levels. jpeg_quality: each frame is JPEG-compressed at this quality first (None: off).
    """

    scale: float = 1.0
    head_roll_deg: float = 2.5
    head_scale: float = 0.03
    head_shift_iod: float = 0.12
    lighting_gain: float = 0.08
    noise_sd: float = 2.0
    jpeg_quality: int | None = 80

    def __post_init__(self):
        if not (math.isfinite(self.scale) and self.scale >= 0):
            raise ParameterError(f"nuisance scale must be >= 0, got {self.scale}")


@dataclass
class _Base:
    """A base to render on: frames (one for a still) and their (478, 2) landmarks, fitted to size."""

    name: str
    fps: float  # 0 for a still
    frames: Callable[[], object]  # () -> iterator of fitted frames in order (a still yields one)
    points: np.ndarray  # (m, 478, 2) float64, NaN where the face is lost
    is_video: bool


def default_portrait_path() -> str:
    """Path of the committed public-domain portrait."""
    return str(resources.files("spasmscan").joinpath("data", DEFAULT_PORTRAIT))


def fit_frame(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to cover ``width`` x ``height`` and centre-cropped to it."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    x0, y0 = (size[0] - width) // 2, (size[1] - height) // 2
    return np.ascontiguousarray(resized[y0:y0 + height, x0:x0 + width])


def _still_base(path: str, width: int | None, height: int | None) -> _Base:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ParameterError(f"{path}: cannot be read as an image or video; give a PNG/JPEG portrait or a video")
    width, height = (width or DEFAULT_SIZE[0]), (height or DEFAULT_SIZE[1])
    image = fit_frame(image, width, height)
    with FaceTracker(TrackerSettings(max_faces=3)) as tracker:
        faces = tracker.detect(image)
    if not faces:
        raise NoFaceError(f"{path}: no face found in the portrait; use a frontal, well-lit face "
                          "filling about a third of the picture")
    face = max(faces, key=lambda f: float(np.ptp(f[:, 0]) * np.ptp(f[:, 1])))
    return _Base(name=path, fps=0.0, frames=lambda: iter([image]), points=face[None].astype(np.float64),
                 is_video=False)


@functools.lru_cache(maxsize=TRACKED_BASES_KEPT)
def _video_base(path: str, width: int | None, height: int | None, modified_ns: int) -> _Base:
    """A face video tracked once per process for each size and file version (``modified_ns``)."""
    with VideoSource(path) as video:
        info = video.info
    width, height = (width or info.width), (height or info.height)

    def fitted_frames():
        with VideoSource(path) as video:
            for _, frame in video.frames():
                yield fit_frame(frame, width, height)

    logger.info("%s: tracking the base video", path)
    series = track_frames(((i / info.fps, f) for i, f in enumerate(fitted_frames())), fps=info.fps, source=path,
                          keep=None)  # warping moves every landmark
    if not series.face_found.any():
        raise NoFaceError(f"{path}: no face found in the base video")
    points = _bridge_gaps(series.points.astype(np.float64), int(MAX_GAP_S * info.fps))
    points.setflags(write=False)  # shared by every clip rendered on this base in the process
    return _Base(name=path, fps=info.fps, frames=fitted_frames, points=points, is_video=True)


def neutral_frame(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 BGR: the frame of the face video ``path`` that shows its face most at rest, to
    render on as a still portrait (a patient sitting for an examination holds still; a talking video's
    own movements would hide the simulated ones): both eyes at least OPEN_EYE_PERCENTILE open, and of
    those frames the one with the lips closest together."""
    loaded = load_base(path)
    if not loaded.is_video:
        raise ParameterError(f"{path}: a neutral frame is taken from a face video, not a still image")
    points = loaded.points
    iod = np.linalg.norm(points[:, regions.EYE_OUTER_CORNER["left"]] - points[:, regions.EYE_OUTER_CORNER["right"]],
                         axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        eyes = np.stack([np.linalg.norm(points[:, regions.UPPER_LID[s][3]] - points[:, regions.LOWER_LID[s][3]],
                                        axis=1) / iod for s in regions.SIDES])
        lips = np.linalg.norm(points[:, regions.INNER_UPPER_LIP] - points[:, regions.INNER_LOWER_LIP], axis=1) / iod
    found = np.isfinite(eyes).all(axis=0) & np.isfinite(lips)
    if not found.any():
        raise NoFaceError(f"{path}: no face found in the base video")
    open_enough = found & np.all(eyes >= np.nanpercentile(eyes[:, found], OPEN_EYE_PERCENTILE, axis=1)[:, None], axis=0)
    index = int(np.argmin(np.where(open_enough if open_enough.any() else found, lips, np.inf)))
    return next(_frames_at(loaded, np.array([index])))


def neutral_still(video: str | os.PathLike, folder: str | os.PathLike) -> str:
    """``folder``/still_<video stem>.png: :func:`neutral_frame` of ``video`` as a still portrait to render
    on (the truth files then name the base still_<video stem>), written once (atomically, so parallel
    renderers can share it); its path."""
    stem = os.path.splitext(os.path.basename(os.fspath(video)))[0]
    path = os.path.join(os.fspath(folder), f"{simulate.STILL_PREFIX}{stem}.png")
    if not os.path.exists(path):
        os.makedirs(os.fspath(folder), exist_ok=True)
        partial = f"{os.path.splitext(path)[0]}.{os.getpid()}.partial.png"
        if not cv2.imwrite(partial, neutral_frame(video)):
            raise OutputError(f"{partial}: cannot write the still frame here")
        os.replace(partial, path)
    return path


def _bridge_gaps(points: np.ndarray, max_frames: int) -> np.ndarray:
    """(m, 478, 2) landmarks with short NaN runs filled by linear interpolation."""
    found = np.isfinite(points[:, 0, 0])
    index = np.flatnonzero(found)
    out = points.copy()
    for a, b in zip(index[:-1], index[1:]):
        if 1 < b - a <= max_frames + 1:
            share = (np.arange(a + 1, b) - a) / (b - a)
            out[a + 1:b] = points[a] + share[:, None, None] * (points[b] - points[a])
    return out


def load_base(base: str | os.PathLike | None, *, width: int | None = None, height: int | None = None) -> _Base:
    """The still portrait or face video to render on (default: the committed portrait), tracked."""
    path = default_portrait_path() if base is None else os.fspath(base)
    if not os.path.exists(path):
        raise InputNotFoundError(f"{path}: no such base file; give a portrait image or a face video")
    if is_video_path(path):
        return _video_base(path, width, height, os.stat(path).st_mtime_ns)
    return _still_base(path, width, height)


class MeshWarper:
    """Piecewise-affine warping along a Delaunay triangulation of the mesh plus the frame's border."""

    def __init__(self, points: np.ndarray, width: int, height: int):
        w, h = width - 1, height - 1
        self.anchors = np.array([[0, 0], [w / 2, 0], [w, 0], [w, h / 2], [w, h], [w / 2, h], [0, h], [0, h / 2]],
                                dtype=np.float64)
        self.triangles = Delaunay(np.vstack([points, self.anchors])).simplices
        self.size = (width, height)

    def warp(self, image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``image`` with its landmarks moved from ``source`` to ``target`` ((478, 2) pixels each).

        Every output pixel inside a moved triangle is fetched from the same barycentric place in
        the triangle's source position (one remap over the moved area); all else is copied.
        """
        src = np.vstack([source, self.anchors])
        dst = np.vstack([target, self.anchors])
        moved = np.linalg.norm(dst - src, axis=1) > MOVED_PX
        triangles = self.triangles[moved[self.triangles].any(axis=1)]
        if triangles.size == 0:
            return image
        width, height = self.size
        d, s = dst[triangles], src[triangles]  # (k, 3, 2)
        x0, y0 = np.maximum(np.floor(d.reshape(-1, 2).min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(d.reshape(-1, 2).max(axis=0)).astype(int) + 2, (width, height))
        # Affine map of each triangle from output to source pixels: [x y 1] @ (3, 2).
        homogeneous = np.concatenate([d, np.ones(d.shape[:2] + (1,))], axis=2)
        valid = np.abs(np.linalg.det(homogeneous)) > 1e-6  # degenerate (collapsed) triangles are left out
        maps = np.zeros((len(triangles), 3, 2))
        maps[valid] = np.linalg.solve(homogeneous[valid], s[valid])
        owner = np.full((y1 - y0, x1 - x0), -1, np.int32)
        corners = np.round((d - (x0, y0)) * 16).astype(np.int32)
        for index in np.flatnonzero(valid):
            cv2.fillConvexPoly(owner, corners[index], int(index), cv2.LINE_8, 4)
            cv2.polylines(owner, [corners[index]], True, int(index), 1, cv2.LINE_8, 4)  # no seams
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        inside = owner >= 0
        chosen = maps[owner[inside]]  # (p, 3, 2)
        map_x, map_y = xs.copy(), ys.copy()
        map_x[inside] = xs[inside] * chosen[:, 0, 0] + ys[inside] * chosen[:, 1, 0] + chosen[:, 2, 0]
        map_y[inside] = xs[inside] * chosen[:, 0, 1] + ys[inside] * chosen[:, 1, 1] + chosen[:, 2, 1]
        out = image.copy()
        out[y0:y1, x0:x1] = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        return out


class FieldWarper:
    """A smooth dense displacement field: a thin-plate spline through the landmark displacements over
    the moved area, evaluated on a coarse grid, upsampled bilinearly and applied with one remap.

    Independent of :class:`MeshWarper`: no triangles, no piecewise-constant Jacobians; pixels between
    landmarks move by the spline (the smoothest interpolant), not by their triangle's affine map.
    """

    def __init__(self, points: np.ndarray, width: int, height: int):
        _, _, iod = simulate.face_frame(points)
        self.margin_px = FIELD_MARGIN_IOD * iod
        self.step = int(max(FIELD_MIN_STEP_PX, round(FIELD_STEP_IOD * iod)))
        self.size = (width, height)
        self.knots = _spread_subset(points, self.step)

    def warp(self, image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``image`` with its landmarks moved from ``source`` to ``target`` ((478, 2) pixels each).

        Each output pixel x is fetched from x - D(x), where D is the spline with D(target_i) =
        target_i - source_i at every landmark in the moved area and D = 0 at landmarks that stay and
        on the area's border; outside the area the frame is copied.
        """
        shift = target - source
        moved = np.linalg.norm(shift, axis=1) > MOVED_PX
        if not moved.any():
            return image
        source, target, shift, moved = source[self.knots], target[self.knots], shift[self.knots], moved[self.knots]
        if not moved.any():  # only landmarks between the knots moved, by next to nothing
            return image
        width, height = self.size
        ends = np.vstack([source[moved], target[moved]])
        inner0, inner1 = ends.min(axis=0), ends.max(axis=0)
        x0, y0 = np.maximum(np.floor(inner0 - self.margin_px).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(inner1 + self.margin_px).astype(int) + 1, (width, height))
        if x1 <= x0 or y1 <= y0:
            return image
        inside = np.all((target >= (x0, y0)) & (target <= (x1 - 1, y1 - 1)), axis=1)
        border = _box_border(x0, y0, x1 - 1, y1 - 1, FIELD_BORDER_POINTS)
        centres = np.vstack([target[inside], border])
        values = np.vstack([np.where(moved[inside, None], shift[inside], 0.0), np.zeros_like(border)])
        scale = float(max(x1 - x0, y1 - y0))
        origin = np.array([x0, y0], dtype=np.float64)
        weights = _fit_thin_plate((centres - origin) / scale, values)
        step = self.step
        cols, rows = -(-(x1 - x0) // step), -(-(y1 - y0) // step)
        gx = (np.arange(cols) + 0.5) * step - 0.5  # cell centres: cv2.resize's pixel-centre convention
        gy = (np.arange(rows) + 0.5) * step - 0.5
        grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
        field = _eval_thin_plate(grid / scale, (centres - origin) / scale, weights).reshape(rows, cols, 2)
        # the field fades to nothing across the outer half of the margin: the copied frame joins smoothly
        taper = np.minimum(_edge_ramp(gx, inner0[0] - x0, inner1[0] - x0, self.margin_px)[None, :],
                           _edge_ramp(gy, inner0[1] - y0, inner1[1] - y0, self.margin_px)[:, None])
        field *= taper[..., None]
        dense = cv2.resize(field.astype(np.float32), (cols * step, rows * step), interpolation=cv2.INTER_LINEAR)
        dense = dense[:y1 - y0, :x1 - x0]
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        out = image.copy()
        out[y0:y1, x0:x1] = cv2.remap(image, xs - dense[..., 0], ys - dense[..., 1], cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT101)
        return out


def _spread_subset(points: np.ndarray, min_distance_px: float) -> np.ndarray:
    """Indices of (478, 2) landmarks no two closer than ``min_distance_px``, lid and mouth-corner
    landmarks chosen first: the spline's knots (closer ones add cost, not shape, at the grid's step)."""
    first = [i for side in regions.SIDES for group in (regions.UPPER_LID, regions.LOWER_LID) for i in group[side]]
    first += list(regions.MOUTH_CORNER.values())
    order = list(dict.fromkeys(first + list(range(len(points)))))
    chosen: list[int] = []
    for index in order:
        if not chosen or np.min(np.linalg.norm(points[chosen] - points[index], axis=1)) >= min_distance_px:
            chosen.append(index)
    return np.array(sorted(chosen))


def _box_border(x0: float, y0: float, x1: float, y1: float, per_side: int) -> np.ndarray:
    """(4 * per_side, 2) points spaced evenly around the box's edge."""
    t = np.arange(per_side) / per_side
    return np.vstack([np.stack([x0 + t * (x1 - x0), np.full(per_side, y0)], axis=1),
                      np.stack([np.full(per_side, x1), y0 + t * (y1 - y0)], axis=1),
                      np.stack([x1 - t * (x1 - x0), np.full(per_side, y1)], axis=1),
                      np.stack([np.full(per_side, x0), y1 - t * (y1 - y0)], axis=1)])


def _thin_plate_kernel(r2: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r of squared distances (0 at r = 0), in the dtype of ``r2``."""
    return 0.5 * r2 * np.log(np.maximum(r2, np.asarray(1e-12, r2.dtype)))


def _fit_thin_plate(centres: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(n + 3, 2) thin-plate spline weights (kernel, then affine) through ``values`` ((n, 2)) at
    ``centres`` ((n, 2), unit-scaled); a light regularisation keeps near-coincident centres stable."""
    n = len(centres)
    squares = (centres ** 2).sum(axis=1)
    r2 = np.maximum(squares[:, None] + squares[None, :] - 2.0 * centres @ centres.T, 0.0)
    system = np.zeros((n + 3, n + 3))
    system[:n, :n] = _thin_plate_kernel(r2) + FIELD_REGULARISATION * np.eye(n)
    affine = np.hstack([np.ones((n, 1)), centres])
    system[:n, n:] = affine
    system[n:, :n] = affine.T
    right = np.vstack([values, np.zeros((3, 2))])
    try:
        return np.linalg.solve(system, right)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(system, right, rcond=None)[0]


def _eval_thin_plate(query: np.ndarray, centres: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(q, 2) spline values at ``query`` ((q, 2), unit-scaled like the centres)."""
    query32, centres32 = query.astype(np.float32), centres.astype(np.float32)  # float32: twice as fast, ample
    r2 = (query32 ** 2).sum(axis=1)[:, None] + (centres32 ** 2).sum(axis=1)[None, :] - 2.0 * query32 @ centres32.T
    n = len(centres)
    kernel = _thin_plate_kernel(np.maximum(r2, np.float32(0.0)))
    return kernel @ weights[:n].astype(np.float32) + weights[n] + query @ weights[n + 1:]


def _edge_ramp(positions: np.ndarray, first: float, last: float, margin: float) -> np.ndarray:
    """(n,) 1 within half a ``margin`` of the moved span [first, last], fading smoothly to 0 a whole
    margin away (all in box pixels)."""
    half = margin / 2
    return np.minimum(simulate.smooth_ramp((positions - (first - margin)) / half),
                      simulate.smooth_ramp(((last + margin) - positions) / half))


WARPERS = {"mesh": MeshWarper, "field": FieldWarper}  # renderer name -> warper; the keys of MOTION_PROFILES


def _smooth_wander(rng, times_s: np.ndarray, *, slowest_hz: float = 0.03, fastest_hz: float = 0.3) -> np.ndarray:
    """(n,) slow random wandering in [-1, 1]: three sinusoids with random rates and phases."""
    rates = np.exp(rng.uniform(np.log(slowest_hz), np.log(fastest_hz), 3))
    phases = rng.uniform(0, 2 * np.pi, 3)
    weights = rng.uniform(0.5, 1.0, 3)
    value = sum(w * np.sin(2 * np.pi * f * times_s + p) for w, f, p in zip(weights, rates, phases))
    return value / weights.sum()


class _NuisanceMaker:
    """Per-frame head motion, lighting, noise and compression, reproducible from a seed."""

    def __init__(self, nuisance: Nuisance, times_s: np.ndarray, *, center: np.ndarray, iod: float, seed: int,
                 head_motion: bool):
        rng = np.random.default_rng([seed, 1])
        k = nuisance.scale
        motion = k if head_motion else 0.0
        self.roll = motion * nuisance.head_roll_deg * _smooth_wander(rng, times_s)
        self.zoom = 1.0 + motion * nuisance.head_scale * _smooth_wander(rng, times_s)
        self.shift = motion * nuisance.head_shift_iod * iod * np.stack(
            [_smooth_wander(rng, times_s), _smooth_wander(rng, times_s)], axis=1)
        self.gain = 1.0 + k * nuisance.lighting_gain * _smooth_wander(rng, times_s)
        self.noise_sd = k * nuisance.noise_sd
        self.jpeg = nuisance.jpeg_quality if k > 0 else None
        self.center = (float(center[0]), float(center[1]))
        cv2.setRNGSeed(int(seed) % (2 ** 31))

    def apply(self, frame: np.ndarray, index: int) -> np.ndarray:
        if self.roll[index] != 0 or self.zoom[index] != 1 or self.shift[index].any():
            matrix = cv2.getRotationMatrix2D(self.center, float(self.roll[index]), float(self.zoom[index]))
            matrix[:, 2] += self.shift[index]
            frame = cv2.warpAffine(frame, matrix, (frame.shape[1], frame.shape[0]), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT101)
        if self.gain[index] != 1:
            frame = cv2.convertScaleAbs(frame, alpha=float(self.gain[index]))
        if self.noise_sd > 0:
            noise = np.empty(frame.shape, np.int16)
            cv2.randn(noise, 0, self.noise_sd)
            frame = cv2.add(frame, noise, dtype=cv2.CV_8U)
        if self.jpeg:
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(self.jpeg)])
            if ok:
                frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
        return frame


def _base_indices(base: _Base, times_s: np.ndarray) -> np.ndarray:
    """(n,) index of the base frame shown at each output time: a video base shorter than the clip
    plays forward, then backward, then forward again (ping-pong: no jump at the loop point)."""
    if not base.is_video:
        return np.zeros(times_s.shape, dtype=int)
    m = base.points.shape[0]
    step = np.floor(times_s * base.fps + 1e-6).astype(int)
    if m < 2:
        return np.zeros(times_s.shape, dtype=int)
    phase = step % (2 * (m - 1))
    return np.where(phase < m, phase, 2 * (m - 1) - phase)


def _blocked_spans(face_lost: np.ndarray, times_s: np.ndarray, frame_s: float) -> tuple:
    """(start, end) seconds around runs of output frames whose base face is lost."""
    spans = []
    edges = np.diff(np.concatenate(([0], face_lost.astype(np.int8), [0])))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        spans.append((times_s[a] - BLOCK_MARGIN_S, times_s[b - 1] + frame_s + BLOCK_MARGIN_S))
    return tuple(spans)


def simulate_video(out_path: str | os.PathLike, *, label: str, side: str, duration_s: float, fps: float = 30.0,
                   seed: int = 0, base: str | os.PathLike | None = None, width: int | None = None,
                   height: int | None = None, options: simulate.ScheduleOptions = simulate.ScheduleOptions(),
                   nuisance: Nuisance = Nuisance(), events: list | None = None,
                   renderer: str = simulate.DEFAULT_RENDERER, parameters: dict | None = None,
                   progress: Callable[[float, float], None] | None = None) -> simulate.Truth:
    """Render a clip with a known schedule of events to ``out_path`` (.mp4) and its truth beside it
    (same name, .json). Returns the truth. fps: output frame rate; width/height: output size
    (default 640x480 for a portrait, the video's own size for a video base). ``events``: render
    this list of :class:`spasmscan.simulate.SimEvent` instead of a random schedule (an empty
    list gives the same clip without any simulated event, e.g. as a reference), with ``parameters``
    for its truth file. renderer: a key of WARPERS, the rendering model and its motion profile."""
    if not (math.isfinite(fps) and 1 <= fps <= 240):
        raise ParameterError(f"fps must be between 1 and 240, got {fps}")
    if not (math.isfinite(duration_s) and 0 < duration_s <= 3600):
        raise ParameterError(f"duration must be between 0 and 3600 seconds, got {duration_s}")
    if (width is not None and width < 64) or (height is not None and height < 64):
        raise ParameterError("width and height must be at least 64 pixels")
    simulate.check_label_side(label, side)
    simulate.motion_profile(renderer)  # an unknown renderer fails before any work
    out_path = os.fspath(out_path)
    folder = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(folder):
        raise OutputError(f"{folder}: no such folder for the simulated video; create it first")
    loaded = load_base(base, width=width, height=height)
    frame_count = max(int(round(duration_s * fps)), 1)
    times = np.arange(frame_count) / fps
    base_index = _base_indices(loaded, times)
    face_lost = ~np.isfinite(loaded.points[base_index, 0, 0])
    schedule_options = options
    if face_lost.any():
        schedule_options = replace(options, blocked_s=options.blocked_s + _blocked_spans(face_lost, times, 1.0 / fps))
    parameters = dict(parameters or {})  # a given list of events has only the parameters given with it
    if events is None:
        parameters = simulate.clip_parameters(label, seed=seed, options=options)
        events = simulate.make_schedule(label, side, duration_s, seed=seed, options=schedule_options,
                                        renderer=renderer)
    channels = simulate.channel_values(events, times)
    reference = loaded.points[np.flatnonzero(np.isfinite(loaded.points[:, 0, 0]))[0]]
    first = next(iter(loaded.frames()))
    out_h, out_w = first.shape[:2]
    warper = WARPERS[renderer](reference, out_w, out_h)
    _, _, iod = simulate.face_frame(reference)
    shaker = _NuisanceMaker(nuisance, times, center=np.nanmedian(reference, axis=0), iod=iod, seed=seed,
                            head_motion=not loaded.is_video)
    partial = os.path.splitext(out_path)[0] + ".partial.mp4"
    writer = cv2.VideoWriter(partial, cv2.VideoWriter_fourcc(*FOURCC), float(fps), (out_w, out_h))
    if not writer.isOpened():
        raise OutputError(f"{out_path}: cannot write the video here (folder not writable or codec missing)")
    try:
        frames = _frames_at(loaded, base_index)
        for k in range(frame_count):
            frame = next(frames)
            points = loaded.points[base_index[k]]
            values = {name: float(channel[k]) for name, channel in channels.items()}
            if np.isfinite(points[0, 0]) and any(values.values()):
                frame = warper.warp(frame, points, simulate.move_landmarks(points, values, renderer=renderer))
            writer.write(shaker.apply(frame, k))
            if progress is not None:
                progress(times[k], duration_s)
    except BaseException:
        writer.release()
        _remove(partial)
        raise
    writer.release()
    os.replace(partial, out_path)
    truth = simulate.Truth(label=label, side=side, fps=float(fps), duration_s=frame_count / fps, width=out_w,
                           height=out_h, seed=int(seed), base=_base_name(base),
                           base_events_known=not loaded.is_video, events=tuple(events),
                           parameters=parameters, renderer=renderer)
    simulate.write_truth(truth, simulate.truth_path(out_path))
    logger.info("%s: %d frames, %d events", out_path, frame_count, len(events))
    return truth


def simulate_exam_video(out_path: str | os.PathLike, *, label: str, side: str, share: float,
                        protocol: str = "palsy", seed: int = 0, **options) -> simulate.Truth:
    """Render a facial palsy examination (``label`` one of simulate.PALSY_LABELS, ``side`` the weak
    side, ``share`` its voluntary movement, 0-1) following ``protocol`` (a packaged name or file,
    :func:`spasmscan.protocol.load_protocol`) from the clip's start; the truth's parameters hold each
    step's true share (:func:`spasmscan.simulate.exam_schedule`). ``options``: those of
    :func:`simulate_video` (fps, base, size, nuisance, renderer, progress)."""
    from .protocol import load_protocol

    segments = load_protocol(protocol)
    events, parameters = simulate.exam_schedule(label, side, segments, share=share, seed=seed)
    return simulate_video(out_path, label=label, side=side, duration_s=max(s.end_s for s in segments), seed=seed,
                          events=events, parameters=parameters, **options)


def _frames_at(base: _Base, indices: np.ndarray):
    """Fitted base frames at the given indices. A base played backward (ping-pong) is held in
    memory when it fits MAX_HELD_BASE_BYTES; else a lower index restarts the video."""
    backward = bool(np.any(np.diff(indices) < 0))
    first = next(iter(base.frames()))
    if backward and first.nbytes * (int(indices.max()) + 1) <= MAX_HELD_BASE_BYTES:
        held = []
        for frame in base.frames():
            if len(held) > indices.max():
                break
            held.append(frame)
        for index in indices:
            yield held[min(int(index), len(held) - 1)]  # fewer decoded frames than tracked: the last one
        return
    frames = base.frames()
    current, position = None, -1
    for index in indices:
        if index < position:
            frames, current, position = base.frames(), None, -1
        while position < index:
            try:
                current = next(frames)
            except StopIteration:  # the container held fewer frames than tracked: keep the last one
                break
            position += 1
        yield current


def _base_name(base) -> str:
    return DEFAULT_PORTRAIT if base is None else os.path.basename(os.fspath(base))


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
