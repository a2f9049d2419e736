"""Face tracking: MediaPipe Face Mesh (478 points with irises) over a video, one face throughout.

The result is a :class:`LandmarkSeries`: every decoded frame keeps its row, frames without
the face are NaN, so time stays aligned with the video. A series keeps only
``regions.SERIES_LANDMARKS`` (what the analysis reads, and the face's outline) unless asked for all.
"""
from __future__ import annotations

import importlib
import logging
import math
import sys
import threading
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from .errors import NoFaceError, ParameterError
from .regions import N_LANDMARKS, SERIES_LANDMARKS

if TYPE_CHECKING:  # the array stages import this module for LandmarkSeries: no cv2 at import time
    from .video import PlanarFrame

logger = logging.getLogger(__name__)

REACQUIRE_AFTER_S = 2.0  # a chosen face lost this long may be replaced by the only face in view
MATCH_RADIUS_FACE_WIDTHS = 0.6  # a face is "the same" when its centre moved less than this per frame
CROP_SIZE_FACES = 2.2  # the followed face's crop is this many face sizes wide: room to move between frames
ROWS_PER_BLOCK = 512  # landmarks are gathered in blocks of this many frames (2 MB): freed, they go back to the system
CROP_MARGIN = 0.15  # move the crop when the face comes this close to its edge (fraction of the crop)
# What the frames' pixels give beside the landmarks, per frame: series field -> the shape of one frame's row.
PIXEL_MEASURES = {
    "eye_openness": (2,),  # (left, right) eye: spasmscan.eye_pixels.eye_openness
    "mouth_flow": (2, 2),  # (left, right) mouth corner's (dx, dy) pixel step: spasmscan.mouth_pixels.CornerFlow
}
@dataclass(frozen=True)
class TrackerSettings:
    """Everything that changes what the tracker makes of the frames it is given (which frames:
    :class:`spasmscan.selection.Selection`); part of the landmark cache key. mirrored: the video
    is a selfie recording, so the image's left is the patient's left. mouth_flow: also follow the
    mouth corners' pixels (:class:`spasmscan.mouth_pixels.CornerFlow`, about 1.3 ms a frame), which
    ``AnalysisSettings(fuse_mouth_pixels=True)`` reads."""

    max_faces: int = 3
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    mirrored: bool = False
    mouth_flow: bool = False

    def key(self) -> str:
        """The tracker's part of the landmark cache key."""
        return (f"mf{self.max_faces}-dc{self.min_detection_confidence:g}-tc{self.min_tracking_confidence:g}"
                f"-m{int(self.mirrored)}" + ("-flow" if self.mouth_flow else ""))


@dataclass(frozen=True)
class LandmarkSeries:
    """Tracked landmarks of one face over a video.

    times_s: (n,) float64 frame times in seconds. points: (n, k, 2) float32 pixel x, y in the
    (rotated) frame, NaN where no face was found. landmark_ids: (k,) the Face Mesh landmark of
    each column (default: all 478 in order). eye_openness: (n, 2) float32 image openness of the
    patient's (left, right) eye (:func:`spasmscan.eye_pixels.eye_openness`), NaN where no face;
    mouth_flow: (n, 2, 2) float32 (dx, dy) pixel step of the (left, right) mouth corner's pixels since
    the frame before, less the nose ridge's (:class:`spasmscan.mouth_pixels.CornerFlow`), NaN where
    unknown; each None when the series was made without the frames' pixels (``PIXEL_MEASURES``).
    """

    times_s: np.ndarray
    points: np.ndarray
    width: int
    height: int
    fps: float  # nominal frame rate of the source
    source: str = ""
    mirrored: bool = False
    end_s: float = math.nan  # where the tracked part of the video ends, seconds (see duration_s)
    extra: dict = field(default_factory=dict, compare=False)
    landmark_ids: np.ndarray = field(default_factory=lambda: np.arange(N_LANDMARKS))
    eye_openness: np.ndarray | None = None
    mouth_flow: np.ndarray | None = None

    def __post_init__(self):
        ids = np.asarray(self.landmark_ids)
        object.__setattr__(self, "landmark_ids", ids)
        if self.points.ndim != 3 or self.points.shape[2] != 2 or ids.shape != (self.points.shape[1],):
            raise ParameterError(f"points must have shape (n, {ids.size}, 2), one column per landmark id, "
                                 f"got {self.points.shape}")
        if ids.size == 0 or ids.dtype.kind not in "iu" or np.any(np.diff(ids) <= 0) or ids[0] < 0 \
                or ids[-1] >= N_LANDMARKS:
            raise ParameterError(f"landmark_ids must be increasing Face Mesh indices in [0, {N_LANDMARKS})")
        if self.times_s.shape != (self.points.shape[0],):
            raise ParameterError("times_s must have one entry per frame of points")
        for name, row in PIXEL_MEASURES.items():
            values = getattr(self, name)
            if values is not None and np.shape(values) != (self.points.shape[0],) + row:
                raise ParameterError(f"{name} must have shape {(self.points.shape[0],) + row}, one row per frame, "
                                     f"got {np.shape(values)}")

    def mesh(self, rows=slice(None)) -> np.ndarray:
        """The landmarks of frames ``rows`` as (..., 478, 2), indexed by Face Mesh number, NaN for
        the landmarks this series does not keep (for drawing and checks; the full size costs memory)."""
        kept = self.points[rows]
        out = np.full(kept.shape[:-2] + (N_LANDMARKS, 2), np.nan, np.float32)
        out[..., self.landmark_ids, :] = kept
        return out

    def pixel_rows(self, name: str) -> np.ndarray:
        """float32 pixel measure ``name`` of ``PIXEL_MEASURES``, one row per frame, all NaN when the series has none."""
        values = getattr(self, name)
        if values is None:
            return np.full((self.n_frames,) + PIXEL_MEASURES[name], np.nan, np.float32)
        return np.asarray(values, dtype=np.float32)

    def openness_rows(self) -> np.ndarray:
        """(n, 2) float32 ``eye_openness``, all NaN when the series has none."""
        return self.pixel_rows("eye_openness")

    @property
    def n_frames(self) -> int:
        return int(self.times_s.shape[0])

    @property
    def face_found(self) -> np.ndarray:
        """(n,) bool: whether the face was tracked in each frame."""
        return np.isfinite(self.points[:, 0, 0])

    @property
    def duration_s(self) -> float:
        """Seconds of video the series covers: from its first frame to ``end_s`` (one frame after the
        last frame decoded, tracked or stepped over); without ``end_s``, to one tracked frame after
        its last, which overshoots by up to a frame step when frames were skipped."""
        if self.n_frames == 0:
            return 0.0
        end_s = self.end_s if math.isfinite(self.end_s) else float(self.times_s[-1]) + 1.0 / self.fps
        return end_s - float(self.times_s[0])

    @property
    def face_fraction(self) -> float:
        return float(self.face_found.mean()) if self.n_frames else 0.0


_IMPORT_LOCK = threading.Lock()  # the parts' trackers start at once; the stand-in must be set up once


class _PyplotOnDemand(types.ModuleType):
    """Stands in for ``matplotlib.pyplot`` while MediaPipe is imported, and imports the real one
    the first time something of it is used."""

    def __getattr__(self, name):
        return getattr(importlib.import_module("matplotlib.pyplot"), name)


def import_mediapipe() -> types.ModuleType:
    """The ``mediapipe`` package, imported without importing ``matplotlib.pyplot``.

    MediaPipe imports pyplot for a 3-D plotting helper spasmscan never calls; leaving it out takes
    about 0.5 s off every job's start-up (tracker start 1.1-1.2 s -> 0.6-0.7 s). Imported here:
    only tracking needs MediaPipe.
    """
    with _IMPORT_LOCK:
        stand_in = None
        if "mediapipe" not in sys.modules and "matplotlib.pyplot" not in sys.modules:
            stand_in = sys.modules["matplotlib.pyplot"] = _PyplotOnDemand("matplotlib.pyplot")
        try:
            import mediapipe  # its drawing helpers keep the stand-in
        finally:
            if stand_in is not None and sys.modules.get("matplotlib.pyplot") is stand_in:
                del sys.modules["matplotlib.pyplot"]  # a later ``import matplotlib.pyplot`` gets the real one
    return mediapipe


class FaceTracker:
    """MediaPipe Face Mesh in tracking mode, following one chosen face from frame to frame.

    A multi-face mesh looks at the whole frame only to choose the face (the largest near the
    centre at first, then the one nearest to where the followed face was); afterwards a
    single-face mesh follows it inside a crop around it, which is about twice as fast as
    looking for several faces in every frame, and keeps other people out of view.
    """

    def __init__(self, settings: TrackerSettings = TrackerSettings()):
        mp = import_mediapipe()
        self.settings = settings
        options = dict(static_image_mode=False, refine_landmarks=True,
                       min_detection_confidence=settings.min_detection_confidence,
                       min_tracking_confidence=settings.min_tracking_confidence)
        self._scene_mesh = mp.solutions.face_mesh.FaceMesh(max_num_faces=settings.max_faces, **options)
        self._face_mesh = mp.solutions.face_mesh.FaceMesh(max_num_faces=1, **options)
        self._crop: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 around the followed face
        self._last_center: np.ndarray | None = None
        self._last_width = 0.0
        self._last_seen_s = -math.inf

    def close(self) -> None:
        self._scene_mesh.close()
        self._face_mesh.close()

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def detect(self, frame: np.ndarray | PlanarFrame) -> list[np.ndarray]:
        """All faces in one frame (BGR (H, W, 3) uint8 or planar): a list of (478, 2) float32 pixel arrays."""
        height, width = frame.shape[:2]
        return [self._unmirror(face, width) for face in self._faces(self._scene_mesh, frame, (0, 0, width, height))]

    def track(self, frame: np.ndarray | PlanarFrame, time_s: float) -> np.ndarray | None:
        """The followed face in this frame (BGR (H, W, 3) uint8 or planar) as (478, 2) float32 pixels, or None."""
        height, width = frame.shape[:2]
        lost_for_s = time_s - self._last_seen_s
        face = None
        if self._crop is not None:
            found = self._faces(self._face_mesh, frame, self._crop)
            if found and choose_face(found, width, height, self._last_center, self._last_width,
                                     lost_for_s=lost_for_s) == 0:
                face = found[0]
        if face is None:
            faces = self._faces(self._scene_mesh, frame, (0, 0, width, height))
            index = choose_face(faces, width, height, self._last_center, self._last_width, lost_for_s=lost_for_s)
            if index is None:
                self._crop = None
                return None
            face = faces[index]
        self._follow(face, time_s, width, height)
        return self._unmirror(face, width)

    def resume(self, face: np.ndarray, time_s: float, width: int, height: int) -> None:
        """Go on following ``face`` ((478, 2) or a series' kept (k, 2) pixels of a frame as recorded,
        seen at ``time_s``), as if this tracker had tracked it: continues another tracker's work."""
        self._follow(self._unmirror(face, width), time_s, width, height)

    def _rgb(self, frame: np.ndarray | PlanarFrame, box: tuple[int, int, int, int]) -> np.ndarray:
        """(h, w, 3) uint8 RGB of ``box`` (x0, y0, x1, y1) of the frame as MediaPipe must see it: unmirrored."""
        from .video import rgb_box

        x0, y0, x1, y1 = box
        if self.settings.mirrored:
            width = frame.shape[1]
            x0, x1 = width - x1, width - x0
        rgb = rgb_box(frame, x0, y0, x1, y1)
        return np.ascontiguousarray(rgb[:, ::-1]) if self.settings.mirrored else rgb

    def _unmirror(self, face: np.ndarray, width: int) -> np.ndarray:
        """Landmarks named on the unmirrored image, placed back on the frame as recorded."""
        if self.settings.mirrored:
            face = face.copy()
            face[:, 0] = width - 1 - face[:, 0]
        return face

    def _faces(self, mesh, frame: np.ndarray | PlanarFrame, box: tuple[int, int, int, int]) -> list[np.ndarray]:
        """Faces ``mesh`` finds in ``box`` (x0, y0, x1, y1) of the unmirrored frame, as (478, 2)
        float32 pixels of the whole unmirrored frame."""
        rgb = self._rgb(frame, box)
        rgb.flags.writeable = False
        result = mesh.process(rgb)
        scale = np.array([box[2] - box[0], box[3] - box[1]], dtype=np.float32)
        shift = np.array(box[:2], dtype=np.float32)
        return [landmark_array(face) * scale + shift for face in result.multi_face_landmarks or ()]

    def _follow(self, face: np.ndarray, time_s: float, width: int, height: int) -> None:
        """Remember where the followed face is; move its crop when the face nears the crop's edge."""
        self._last_center = face_center(face)
        low, high = face.min(axis=0), face.max(axis=0)
        self._last_width = float(high[0] - low[0])
        self._last_seen_s = time_s
        if self._crop is not None:
            x0, y0, x1, y1 = self._crop
            margin = CROP_MARGIN * (x1 - x0)
            if low[0] >= x0 + margin and low[1] >= y0 + margin and high[0] <= x1 - margin and high[1] <= y1 - margin:
                return
        side = CROP_SIZE_FACES * float(max(high - low))
        self._crop = _crop_box(self._last_center, side, width, height)


# A NormalizedLandmark with only x, y, z set serialises to 17 bytes: field tag 0x0a and length 15,
# then tag 0x0d + float32 x, tag 0x15 + float32 y, tag 0x1d + float32 z (protobuf wire format).
_LANDMARK_RECORD = np.dtype([("tag", "u1"), ("length", "u1"), ("x_tag", "u1"), ("x", "<f4"),
                             ("y_tag", "u1"), ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")])
_LANDMARK_TAGS = {"tag": 0x0A, "length": 15, "x_tag": 0x0D, "y_tag": 0x15, "z_tag": 0x1D}


def landmark_array(landmark_list) -> np.ndarray:
    """(n, 2) float32 normalised x, y of a MediaPipe ``NormalizedLandmarkList``.

    Reads the serialised message in one numpy step (a Python loop over 478 points costs as much
    as a tenth of the mesh itself); falls back to the loop when the message has another layout.
    """
    data = landmark_list.SerializeToString()
    if len(data) % _LANDMARK_RECORD.itemsize == 0:
        records = np.frombuffer(data, dtype=_LANDMARK_RECORD)
        if all((records[name] == value).all() for name, value in _LANDMARK_TAGS.items()):
            return np.stack([records["x"], records["y"]], axis=1)
    return np.array([(p.x, p.y) for p in landmark_list.landmark], dtype=np.float32)


def _crop_box(center: np.ndarray, side: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A square of ``side`` pixels around ``center``, shifted (and if need be cut) to fit the frame."""
    half_w = min(side, width) / 2
    half_h = min(side, height) / 2
    cx = float(np.clip(center[0], half_w, width - half_w))
    cy = float(np.clip(center[1], half_h, height - half_h))
    return int(cx - half_w), int(cy - half_h), int(math.ceil(cx + half_w)), int(math.ceil(cy + half_h))


def face_center(face: np.ndarray) -> np.ndarray:
    """(2,) middle of a face's bounding box, from its 478 landmarks or a series' kept ones (which
    include the face's outline, so both give the same box)."""
    return (np.nanmin(face, axis=0) + np.nanmax(face, axis=0)) / 2


def choose_face(faces: list[np.ndarray], width: int, height: int, last_center: np.ndarray | None,
                last_width: float, *, lost_for_s: float = math.inf) -> int | None:
    """Index of the face to follow in ``faces`` (each (478, 2) pixels), or None.

    Without a previous face: the largest, discounted by its distance from the frame centre.
    With one: the nearest to it within ``MATCH_RADIUS_FACE_WIDTHS`` face widths; after
    ``REACQUIRE_AFTER_S`` without it, the only face in view is taken as the same person.
    """
    if not faces:
        return None
    centers = np.array([face_center(f) for f in faces])
    if last_center is not None:
        distances = np.linalg.norm(centers - last_center, axis=1)
        nearest = int(np.argmin(distances))
        if distances[nearest] <= MATCH_RADIUS_FACE_WIDTHS * max(last_width, 1.0):
            return nearest
        if lost_for_s >= REACQUIRE_AFTER_S and len(faces) == 1:
            return 0
        if lost_for_s < REACQUIRE_AFTER_S:
            return None
    diagonal = math.hypot(width, height)
    areas = np.array([np.ptp(f[:, 0]) * np.ptp(f[:, 1]) for f in faces])
    off_center = np.linalg.norm(centers - np.array([width / 2, height / 2]), axis=1) / diagonal
    return int(np.argmax(areas / (1.0 + 8.0 * off_center ** 2)))


def track_frames(frames: Iterable[tuple[float, np.ndarray]], *, settings: TrackerSettings = TrackerSettings(),
                 fps: float, source: str = "", on_frame: Callable[[float], None] | None = None,
                 resume_from: tuple[np.ndarray, float] | None = None,
                 keep: Sequence[int] | None = SERIES_LANDMARKS) -> LandmarkSeries:
    """Track one face through ``(time_s, frame_bgr)`` pairs; ``on_frame(time_s)`` reports progress.

    ``resume_from``: (face (k, 2) pixels of the ``keep`` landmarks, time_s) where an earlier part
    of the same video left the face, so the same person is followed on. ``keep``: the Face Mesh
    landmarks each frame keeps (None: all 478).
    """
    from .eye_pixels import eye_openness, frame_luma
    from .mouth_pixels import CornerFlow

    ids = np.arange(N_LANDMARKS) if keep is None else np.asarray(keep)
    times: list[float] = []
    blocks: list[np.ndarray] = []
    openness_blocks: list[np.ndarray] = []  # (ROWS_PER_BLOCK, 2) each, beside ``blocks``
    flow_blocks: list[np.ndarray] = []  # (ROWS_PER_BLOCK, 2, 2) each, beside ``blocks``
    corner_flow = CornerFlow() if settings.mouth_flow else None
    width = height = 0
    with FaceTracker(settings) as tracker:
        for time_s, frame in frames:
            height, width = frame.shape[:2]
            if resume_from is not None:
                tracker.resume(*resume_from, width, height)
                resume_from = None
            face = tracker.track(frame, time_s)
            row = len(times) % ROWS_PER_BLOCK
            if row == 0:
                blocks.append(np.full((ROWS_PER_BLOCK, ids.size, 2), np.nan, dtype=np.float32))
                openness_blocks.append(np.full((ROWS_PER_BLOCK, 2), np.nan, dtype=np.float32))
                if corner_flow is not None:
                    flow_blocks.append(np.full((ROWS_PER_BLOCK, 2, 2), np.nan, dtype=np.float32))
            if face is not None:
                blocks[-1][row] = face[ids]
                openness_blocks[-1][row] = eye_openness(frame_luma(frame), face)
            if corner_flow is not None:
                flow_blocks[-1][row] = corner_flow.step(frame, face)
            times.append(time_s)
            if on_frame is not None:
                on_frame(time_s)
    openness = np.concatenate(openness_blocks)[:len(times)] if openness_blocks else np.empty((0, 2), np.float32)
    flow = None
    if corner_flow is not None:
        flow = np.concatenate(flow_blocks)[:len(times)] if flow_blocks else np.empty((0, 2, 2), np.float32)
    return LandmarkSeries(times_s=np.asarray(times, dtype=np.float64),
                          points=_stacked(blocks, len(times), ids.size), width=width, height=height, fps=fps,
                          source=source, mirrored=settings.mirrored, landmark_ids=ids, eye_openness=openness,
                          mouth_flow=flow)


def _stacked(blocks: list[np.ndarray], rows: int, columns: int) -> np.ndarray:
    """The first ``rows`` rows of ``blocks`` (each (ROWS_PER_BLOCK, columns, 2)) as one array; each
    block is let go once copied, so a long recording's landmarks are not held twice (``blocks`` is
    emptied)."""
    out = np.empty((rows, columns, 2), dtype=np.float32)
    start = 0
    blocks.reverse()
    while blocks:
        block = blocks.pop()[:rows - start]
        out[start:start + len(block)] = block
        start += len(block)
    return out


def require_face(series: LandmarkSeries) -> LandmarkSeries:
    """Raise :class:`NoFaceError` when no frame of ``series`` has a face."""
    if series.n_frames == 0 or not series.face_found.any():
        raise NoFaceError(f"{series.source}: no face was found in any of its {series.n_frames} frames; "
                          "the face should be frontal, lit and fill about a third of the frame")
    return series
