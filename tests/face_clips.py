"""Face clips written with OpenCV from the public-domain astronaut portrait, for the batch tests
and the benchmarks (``benchmarks/run.py``, ``benchmarks/batch.py``)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

BACKGROUND = 90  # grey level around the face


def write_face_clip(path: Path, *, width: int, height: int, fps: float, seconds: float, seed: int,
                    face_fraction: float = 0.6, turns_per_s: float = 0.25, zoom: float = 0.0) -> Path:
    """Write ``seconds`` of the portrait turning its head slightly to ``path`` (mp4v), atomically.

    ``face_fraction``: face height over frame height. The head turns by up to 2 degrees,
    ``turns_per_s`` times a second, and its size swings by ``zoom`` (a share); ``seed`` varies
    the phase and the light.
    """
    import cv2
    from skimage import data

    rng = np.random.default_rng(seed)
    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[30:330, 120:360]
    scale = face_fraction * height / face.shape[0]
    face = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    y0, x0 = (height - face.shape[0]) // 2, (width - face.shape[1]) // 2
    canvas[y0:y0 + face.shape[0], x0:x0 + face.shape[1]] = face
    canvas = cv2.convertScaleAbs(canvas, alpha=rng.uniform(0.85, 1.1))
    phase = rng.uniform(0, 2 * np.pi)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.part.mp4")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for index in range(int(round(seconds * fps))):
        time_s = index / fps
        angle = 2.0 * np.sin(phase + 2 * np.pi * turns_per_s * time_s)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0 + zoom * np.cos(time_s))
        writer.write(cv2.warpAffine(canvas, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    os.replace(partial, path)
    return path
