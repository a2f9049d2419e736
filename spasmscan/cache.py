"""Landmark cache: tracking is the expensive step, so its result is kept on disk.

Entries are ``.npz`` files (uncompressed: landmark coordinates hardly compress, and reading
them back is then as fast as the disk) named by the video's content hash and the tracker
settings. Cache files are untrusted input: each entry is bound to its video (content digest,
frame size, frame rate, announced frame count) and to the programs and settings that tracked it,
its declared array sizes are checked against what the video can hold before anything is read,
it is loaded without pickle and its points are checked; anything off means: track again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import zipfile
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from . import __version__
from .files import atomic_path, synced
from .landmarks import PIXEL_MEASURES, LandmarkSeries, TrackerSettings
from .regions import EYE_INNER_CORNER, EYE_OUTER_CORNER, MEASURED_LANDMARKS, MOUTH_CORNER, N_LANDMARKS, SIDES
from .selection import WHOLE_VIDEO, Selection

logger = logging.getLogger(__name__)

CACHE_FORMAT = 7  # bump when the stored arrays change meaning (3: bound to the video and tracker; 4: eye openness; 5: end of the tracked part; 6: lip sides and buccal points; 7: mouth-corner flow)
HASH_CHUNK_BYTES = 1 << 20
FRAME_COUNT_SLACK = 0.02  # containers' frame counts can be a little short: allow 2% (and 2 frames) more
TIME_SLACK_S = 1.0  # frame times may run this far past the container's announced length
FRAME_MARGIN = 0.5  # landmarks may lie outside the frame by this share of its size (a face at the edge)
MIN_UPRIGHT_SHARE = 0.98  # tracked frames whose mesh has the face's own handedness; random points have half
SMALL_ARRAY_BYTES = 4096  # every array besides points and times is a few numbers
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
ARRAYS = ("format", "binding", "times_s", "points", "landmark_ids", *PIXEL_MEASURES, "size", "fps", "mirrored",
          "end_s")


def default_cache_dir() -> Path:
    """``$SPASMSCAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/spasmscan``, else ``~/.cache/spasmscan``."""
    if os.environ.get("SPASMSCAN_CACHE_DIR"):
        return Path(os.environ["SPASMSCAN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spasmscan"


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def settings_key(settings: TrackerSettings, selection: Selection) -> str:
    """The tracker settings and input selection a series was made with, as one text."""
    return settings.key() + selection.key()


def cache_key(content_digest: str, settings: TrackerSettings, selection: Selection = WHOLE_VIDEO) -> str:
    """File name stem of a cache entry: content, tracker settings, input selection and cache format."""
    settings_digest = hashlib.sha256(f"{CACHE_FORMAT}|{settings_key(settings, selection)}".encode()).hexdigest()[:16]
    return f"{content_digest[:32]}-{settings_digest}"


def tracker_versions() -> dict:
    """The versions of what turns a video into landmarks: spasmscan, MediaPipe and the decoders."""
    versions = {"spasmscan": __version__}
    for package in ("mediapipe", "av", "opencv-python-headless", "opencv-python", "opencv-contrib-python"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True)
class Binding:
    """What a cache entry belongs to: one video as its container describes it, and the tracker.

    content_digest: SHA-256 hex of the file. width, height: frame size in pixels (as rotated).
    fps: the container's frame rate. frame_count: frames the container announces (0: unknown).
    file_bytes: the file's size. settings: :func:`settings_key`. versions: :func:`tracker_versions`.
    """

    content_digest: str
    width: int
    height: int
    fps: float
    frame_count: int
    file_bytes: int
    settings: str
    versions: dict

    @classmethod
    def of(cls, info, *, content_digest: str, settings: TrackerSettings, selection: Selection = WHOLE_VIDEO,
           file_bytes: int) -> "Binding":
        """The binding of a video whose :class:`spasmscan.video.VideoInfo` is ``info``."""
        return cls(content_digest=content_digest, width=int(info.width), height=int(info.height),
                   fps=float(info.fps), frame_count=int(info.frame_count), file_bytes=int(file_bytes),
                   settings=settings_key(settings, selection), versions=tracker_versions())

    def text(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def max_frames(self, selection: Selection) -> int:
        """The most frames a series of this video can hold: from the announced count, else one per byte."""
        if self.frame_count <= 0:
            return max(self.file_bytes, 0)
        frames = self.frame_count * (1.0 + FRAME_COUNT_SLACK) + 2
        return int(math.ceil(frames / selection.frame_step))

    def last_time_s(self, selection: Selection) -> float:
        """The latest frame time this video can have (infinite when its length is unknown)."""
        if self.frame_count <= 0:
            return math.inf
        end = self.frame_count / self.fps * (1.0 + FRAME_COUNT_SLACK) + TIME_SLACK_S
        return end if selection.end_s is None else min(end, selection.end_s)


def save_series(series: LandmarkSeries, path: str | os.PathLike, *, binding: Binding) -> None:
    """Write ``series`` to ``path`` (.npz) atomically, bound to its video by ``binding``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, force=True) as temporary, synced(temporary, "wb") as out:
        np.savez(
            out, format=np.int64(CACHE_FORMAT), binding=np.array(binding.text()),
            times_s=np.asarray(series.times_s, dtype=np.float64),
            points=np.asarray(series.points, dtype=np.float32),  # no copy: a long recording's points are large
            landmark_ids=np.asarray(series.landmark_ids, dtype=np.int64),
            **{name: series.pixel_rows(name) for name in PIXEL_MEASURES},
            size=np.array([series.width, series.height], np.int64),
            fps=np.float64(series.fps), mirrored=np.bool_(series.mirrored), end_s=np.float64(series.end_s))


def load_series(path: str | os.PathLike, *, binding: Binding, settings: TrackerSettings,
                selection: Selection = WHOLE_VIDEO, source: str = "") -> LandmarkSeries | None:
    """Read a cache entry made for the video, tracker settings and ``selection`` of ``binding``; None
    (with one warning) when it is missing, damaged, foreign or implausible."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        _check_declared_sizes(path, binding, selection)
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != CACHE_FORMAT:
                raise ValueError("other cache format")
            if str(data["binding"]) != binding.text():
                raise ValueError(f"made for {_difference(str(data['binding']), binding)}")
            times_s = np.asarray(data["times_s"], dtype=np.float64)
            points = np.asarray(data["points"])
            landmark_ids = np.asarray(data["landmark_ids"])
            size = np.asarray(data["size"])
            fps = float(data["fps"])
            mirrored = bool(data["mirrored"])
            pixels = {name: np.asarray(data[name]) for name in PIXEL_MEASURES}
            end_s = float(data["end_s"])
        if points.dtype != np.float32:
            raise ValueError(f"points of type {points.dtype}")
        if not set(MEASURED_LANDMARKS) <= set(landmark_ids.ravel().tolist()):
            raise ValueError("it lacks landmarks the analysis reads")
        if times_s.shape != (points.shape[0],) or not np.all(np.isfinite(times_s)):
            raise ValueError("times do not match the points")
        if np.any(np.diff(times_s) <= 0):
            raise ValueError("times are not increasing")
        if size.shape != (2,) or (int(size[0]), int(size[1])) != (binding.width, binding.height):
            raise ValueError("another frame size than the video's")
        if not math.isclose(fps, binding.fps / selection.frame_step) or mirrored != settings.mirrored:
            raise ValueError("another frame rate or mirroring than asked for")
        for name, row in PIXEL_MEASURES.items():
            if pixels[name].dtype != np.float32 or pixels[name].shape != (points.shape[0],) + row:
                raise ValueError(f"{name.replace('_', ' ')} does not match the points")
        series = LandmarkSeries(times_s=times_s, points=points, width=int(size[0]), height=int(size[1]),
                                fps=fps, source=source, mirrored=mirrored, landmark_ids=landmark_ids,
                                end_s=end_s, **pixels)
        _check_plausible(series, binding, selection)
        return series
    except Exception as error:  # any damage means: track again
        logger.warning("landmark cache %s is unusable (%s); tracking again", path, error)
        return None


def _difference(stored: str, binding: Binding) -> str:
    """What differs between a stored binding and the expected one, for the warning."""
    try:
        theirs = json.loads(stored)
    except ValueError:
        theirs = {}
    ours = asdict(binding)
    if not isinstance(theirs, dict) or theirs.get("content_digest") != ours["content_digest"]:
        return "another video"
    changed = [key.replace("_", " ") for key in ours if theirs.get(key) != ours[key]]
    return "other " + ", ".join(changed)


def _check_declared_sizes(path: Path, binding: Binding, selection: Selection) -> None:
    """Refuse, from the archive's headers alone, an entry that is compressed, holds other arrays
    than ours, or declares arrays larger than the video can fill."""
    max_frames = binding.max_frames(selection)
    limits = {"points": (max_frames * N_LANDMARKS * 2, np.float32), "times_s": (max_frames, np.float64),
              **{name: (max_frames * math.prod(row), np.float32) for name, row in PIXEL_MEASURES.items()}}
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if sorted(member.filename for member in members) != sorted(f"{name}.npy" for name in ARRAYS):
            raise ValueError("it holds other arrays than a landmark series")
        for member in members:
            name = member.filename[:-4]
            most, dtype = limits.get(name, (None, None))
            with archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                if version not in HEADER_READERS:
                    raise ValueError(f"its {name} array has an unknown layout")
                shape, _, declared = HEADER_READERS[version](stream)
            count = math.prod(shape)
            if most is None:
                if count * declared.itemsize > SMALL_ARRAY_BYTES:
                    raise ValueError(f"its {name} array is larger than a few numbers")
            elif count > most or declared != dtype:
                raise ValueError(f"its {name} array ({shape}, {declared}) is larger than the video can fill "
                                 f"(at most {max_frames} frames)")
            if member.file_size > count * declared.itemsize + SMALL_ARRAY_BYTES:
                raise ValueError(f"its {name} array is larger than declared")
        if any(member.compress_type != zipfile.ZIP_STORED for member in members):
            raise ValueError("it is compressed; spasmscan writes entries uncompressed")


def _check_plausible(series: LandmarkSeries, binding: Binding, selection: Selection) -> None:
    """Refuse a series the video cannot have given: too many frames, times outside the video or
    the selected part, points not finite or far outside the frame, meshes that are no face."""
    if series.n_frames > binding.max_frames(selection):
        raise ValueError(f"{series.n_frames} frames, more than the video holds")
    if series.n_frames:
        first_s = (selection.start_s or 0.0) - 1.0 / binding.fps
        last_s, end_s = binding.last_time_s(selection), series.end_s
        if series.times_s[0] < first_s or series.times_s[-1] > last_s:
            raise ValueError("frame times outside the video or the selected part")
        if not (math.isnan(end_s) or math.isfinite(end_s) and series.times_s[-1] < end_s <= last_s + 1 / binding.fps):
            raise ValueError("an end outside the video")
    whole = np.isfinite(series.points).all(axis=(1, 2))
    if not np.all(whole | np.isnan(series.points).all(axis=(1, 2))):
        raise ValueError("points that are neither a whole face nor none")
    points = series.points[whole]
    low = -FRAME_MARGIN * np.array([binding.width, binding.height])
    high = (1.0 + FRAME_MARGIN) * np.array([binding.width, binding.height])
    if points.size and (np.any(points < low) or np.any(points > high)):
        raise ValueError("points outside the frame")
    if points.shape[0]:
        column = {int(landmark): i for i, landmark in enumerate(series.landmark_ids)}
        eyes = {s: points[:, [column[EYE_OUTER_CORNER[s]], column[EYE_INNER_CORNER[s]]]].mean(axis=1) for s in SIDES}
        mouth = points[:, [column[MOUTH_CORNER[s]] for s in SIDES]].mean(axis=1)
        line, down = eyes["left"] - eyes["right"], mouth - (eyes["left"] + eyes["right"]) / 2
        handed = line[:, 0] * down[:, 1] - line[:, 1] * down[:, 0]
        upright = np.mean(handed < 0) if series.mirrored else np.mean(handed > 0)
        if upright < MIN_UPRIGHT_SHARE:
            raise ValueError("meshes that are not faces")
