"""Landmark cache: tracking is the expensive step, so its result is kept on disk.

Entries are ``.npz`` files (uncompressed: landmark coordinates hardly compress, and reading
them back is then as fast as the disk) named by the video's content hash and the tracker
settings. Cache files are untrusted input: they are loaded without pickle, validated, and
rebuilt when anything is off.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from . import __version__
from .landmarks import LandmarkSeries, TrackerSettings
from .regions import MEASURED_LANDMARKS

logger = logging.getLogger(__name__)

CACHE_FORMAT = 3  # bump when the stored arrays change meaning (2: only the series' kept landmarks; 3: eye openness)
HASH_CHUNK_BYTES = 1 << 20


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


def cache_key(content_digest: str, settings: TrackerSettings) -> str:
    """File name stem of a cache entry: content, tracker settings and cache format."""
    settings_digest = hashlib.sha256(f"{CACHE_FORMAT}|{settings.key()}".encode()).hexdigest()[:16]
    return f"{content_digest[:32]}-{settings_digest}"


def save_series(series: LandmarkSeries, path: str | os.PathLike) -> None:
    """Write ``series`` to ``path`` (.npz) atomically: a temporary file, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(
                out, format=np.int64(CACHE_FORMAT), times_s=np.asarray(series.times_s, dtype=np.float64),
                points=np.asarray(series.points, dtype=np.float32),  # no copy: a long recording's points are large
                landmark_ids=np.asarray(series.landmark_ids, dtype=np.int64),
                eye_openness=series.openness_rows(),
                size=np.array([series.width, series.height], np.int64),
                fps=np.float64(series.fps), mirrored=np.bool_(series.mirrored),
                version=np.array(__version__))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_series(path: str | os.PathLike, *, source: str = "") -> LandmarkSeries | None:
    """Read a cache entry; None (with a warning) when it is missing, damaged or foreign."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != CACHE_FORMAT:
                raise ValueError("other cache format")
            times_s = np.asarray(data["times_s"], dtype=np.float64)
            points = np.asarray(data["points"])
            landmark_ids = np.asarray(data["landmark_ids"])
            size = np.asarray(data["size"])
            fps = float(data["fps"])
            mirrored = bool(data["mirrored"])
            eye_openness = np.asarray(data["eye_openness"])
        if points.dtype != np.float32:
            raise ValueError(f"points of type {points.dtype}")
        if not set(MEASURED_LANDMARKS) <= set(landmark_ids.ravel().tolist()):
            raise ValueError("it lacks landmarks the analysis reads")
        if times_s.shape != (points.shape[0],) or not np.all(np.isfinite(times_s)):
            raise ValueError("times do not match the points")
        if np.any(np.diff(times_s) <= 0):
            raise ValueError("times are not increasing")
        if size.shape != (2,) or np.any(size <= 0) or not (0 < fps < 1e4):
            raise ValueError("bad frame size or rate")
        if eye_openness.dtype != np.float32 or eye_openness.shape != (points.shape[0], 2):
            raise ValueError("eye openness does not match the points")
        return LandmarkSeries(times_s=times_s, points=points, width=int(size[0]), height=int(size[1]),
                              fps=fps, source=source, mirrored=mirrored, landmark_ids=landmark_ids,
                              eye_openness=eye_openness)
    except Exception as error:  # any damage means: track again
        logger.warning("landmark cache %s is unusable (%s); tracking again", path, error)
        return None
