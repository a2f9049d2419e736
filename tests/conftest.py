"""Session-wide test material: small real videos written once per test session, and a private cache.

Every clip is written by OpenCV from scikit-image's public-domain astronaut portrait (or from
nothing, for the faceless and damaged cases) under ``tmp_path_factory``, so tests run the real
decoder and the real tracker on real files. Clips are short and small to keep the suite fast.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"  # test material beside the clone, never in it
REAL_FACES = SHARED / "real-faces"  # videos of real people without spasm (their README says whose)


def pytest_sessionstart(session) -> None:
    """Under CI the shared videos must be there: the real-face tests would be skipped without them."""
    if os.environ.get("CI") == "true" and not REAL_FACES.is_dir():
        pytest.exit(f"CI=true but {REAL_FACES} is missing: the real-face tests cannot run; provide the "
                    "shared test videos beside the clone", returncode=pytest.ExitCode.TESTS_FAILED)


CLIP_FPS = 30.0
CLIP_SIZE = (640, 360)  # width, height
FACE_PIXELS = 240  # side of the square face crop in the standard clip: about 2/3 of the height
BACKGROUND = 90  # grey level around the face


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory) -> Iterator[Path]:
    """Point the landmark cache at a per-session folder so no test (or session fixture) touches ~/.cache."""
    folder = tmp_path_factory.mktemp("landmark-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPASMSCAN_CACHE_DIR", str(folder))
        yield folder


# -- drawing -------------------------------------------------------------------------------------
def face_image(side: int) -> np.ndarray:
    """The astronaut's face as a (side, side, 3) uint8 BGR square (forehead to chin)."""
    import cv2
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[10:250, 110:350]
    return cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)


def place(canvas: np.ndarray, face: np.ndarray, center_xy: tuple[float, float]) -> np.ndarray:
    """Paste ``face`` into ``canvas`` (in place) centred at ``center_xy`` pixels, clipped to the canvas."""
    height, width = canvas.shape[:2]
    side = face.shape[0]
    x0, y0 = int(round(center_xy[0] - side / 2)), int(round(center_xy[1] - side / 2))
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + side, width), min(y0 + side, height)
    if cx1 > cx0 and cy1 > cy0:
        canvas[cy0:cy1, cx0:cx1] = face[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    return canvas


def drifting_face_frames(n_frames: int, *, size: tuple[int, int] = CLIP_SIZE, fps: float = CLIP_FPS,
                         face_fraction: float = FACE_PIXELS / CLIP_SIZE[1],
                         blank: Callable[[int], bool] = lambda index: False) -> Iterable[np.ndarray]:
    """Frames of the face near the centre drifting a few pixels; frames where ``blank(i)`` hold no face."""
    width, height = size
    face = face_image(max(8, int(face_fraction * height)))
    for index in range(n_frames):
        canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
        if not blank(index):
            t = index / fps
            dx = 0.015 * width * math.sin(2 * math.pi * 0.5 * t)
            dy = 0.01 * height * math.sin(2 * math.pi * 0.3 * t)
            place(canvas, face, (width / 2 + dx, height / 2 + dy))
        yield canvas


def write_clip(path: Path, frames: Iterable[np.ndarray], *, fps: float = CLIP_FPS, fourcc: str = "mp4v",
               color: bool = True) -> Path:
    """Write ``frames`` (BGR, or 2-D grey when ``color`` is False) to ``path`` with OpenCV."""
    import cv2

    frames = iter(frames)
    first = next(frames, None)
    size = (CLIP_SIZE if first is None else (first.shape[1], first.shape[0]))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size, color)
    assert writer.isOpened(), f"OpenCV cannot write {path} with {fourcc}"
    if first is not None:
        writer.write(first)
        for frame in frames:
            writer.write(frame)
    writer.release()
    return path


# -- clips ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def face_clip(clips_dir) -> Path:
    """3.5 s, 640x360, 30 fps: one face near the centre, drifting slightly."""
    return write_clip(clips_dir / "face.mp4", drifting_face_frames(105))


@pytest.fixture(scope="session")
def gap_clip(clips_dir) -> Path:
    """3 s at 30 fps: the face for 1 s, an empty frame for 1 s (frames 30-59), the face again."""
    return write_clip(clips_dir / "gap.mp4", drifting_face_frames(90, blank=lambda i: 30 <= i < 60))


GAP_FRAMES = range(30, 60)  # the frames of gap_clip without a face


@pytest.fixture(scope="session")
def two_faces_clip(clips_dir) -> Path:
    """2 s: a big face near the centre and a small one in the upper right corner, both still."""
    width, height = CLIP_SIZE
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    place(canvas, face_image(190), (TWO_FACES_SMALL_X, 120))
    place(canvas, face_image(250), (TWO_FACES_BIG_X, height / 2))
    return write_clip(clips_dir / "two-faces.mp4", (canvas for _ in range(60)))


TWO_FACES_BIG_X = 240  # centre x of the big face in two_faces_clip, pixels
TWO_FACES_SMALL_X = 530  # centre x of the small face


@pytest.fixture(scope="session")
def faceless_clip(clips_dir) -> Path:
    """1 s of smooth moving grey patterns: a valid video without a face."""
    width, height = CLIP_SIZE
    x = np.linspace(0, 6 * math.pi, width)[None, :]
    y = np.linspace(0, 4 * math.pi, height)[:, None]

    def frames():
        for index in range(30):
            grey = (127 + 60 * np.sin(x + 0.2 * index) * np.cos(y)).astype(np.uint8)
            yield np.dstack([grey] * 3)

    return write_clip(clips_dir / "faceless.mp4", frames())


@pytest.fixture(scope="session")
def one_frame_clip(clips_dir) -> Path:
    return write_clip(clips_dir / "one-frame.mp4", drifting_face_frames(1))


@pytest.fixture(scope="session")
def zero_frame_clip(clips_dir) -> Path:
    """An mp4 whose writer was opened and closed without a frame."""
    return write_clip(clips_dir / "zero-frames.mp4", ())


@pytest.fixture(scope="session")
def truncated_clip(clips_dir, face_clip) -> Path:
    """The standard face clip cut off half-way through its bytes."""
    data = face_clip.read_bytes()
    path = clips_dir / "truncated.mp4"
    path.write_bytes(data[:len(data) // 2])
    return path


@pytest.fixture(scope="session")
def gray_clip(clips_dir) -> Path:
    """1.5 s of the face written as a single-channel (grey) video."""
    import cv2

    frames = (cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in drifting_face_frames(45))
    return write_clip(clips_dir / "gray.avi", frames, fourcc="MJPG", color=False)


@pytest.fixture(scope="session")
def tiny_clip(clips_dir) -> Path:
    """64x64 frames of the face: too small to track well, but must not fail."""
    return write_clip(clips_dir / "tiny.mp4", drifting_face_frames(15, size=(64, 64), face_fraction=0.9))


@pytest.fixture(scope="session")
def large_clip(clips_dir) -> Path:
    """4 frames at 3840x2160 (4K)."""
    return write_clip(clips_dir / "large.avi", drifting_face_frames(4, size=(3840, 2160)), fourcc="MJPG")


@pytest.fixture(scope="session")
def face_series(face_clip, tmp_path_factory):
    """The standard clip tracked once by the real tracker (cache in its own folder)."""
    from spasmscan.pipeline import video_landmarks

    return video_landmarks(face_clip, cache_dir=tmp_path_factory.mktemp("face-series-cache"))


# -- crafted containers --------------------------------------------------------------------------
def with_rotation_matrix(mp4: bytes) -> bytes:
    """``mp4`` (one video track) with its track header saying: display rotated 90 degrees clockwise.

    This is how phones store portrait video: landscape frames plus a display matrix.
    """
    import struct

    at = mp4.index(b"tkhd")
    version = mp4[at + 4]
    # After the type: version+flags 4, times/track id/reserved/duration 20 (v0) or 32 (v1), 16 more bytes.
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 16
    matrix = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    return mp4[:matrix_at] + matrix + mp4[matrix_at + 36:]


def with_avi_rate(avi: bytes, rate: int) -> bytes:
    """``avi`` with its headers claiming ``rate`` frames per second (0 allowed)."""
    import struct

    out = bytearray(avi)
    main = out.index(b"avih")
    struct.pack_into("<I", out, main + 8, 0 if rate == 0 else int(1e6 / rate))  # microseconds per frame
    stream = out.index(b"strh")
    struct.pack_into("<II", out, stream + 8 + 20, 1, rate)  # dwScale, dwRate
    return bytes(out)


@pytest.fixture(scope="session")
def portrait_frames() -> list:
    """15 upright portrait frames (360 wide, 640 high) of the face."""
    return list(drifting_face_frames(15, size=(360, 640), face_fraction=0.4))


@pytest.fixture(scope="session")
def rotated_clip(clips_dir, portrait_frames) -> Path:
    """A phone-style portrait clip: landscape frames stored turned, with a 90-degree display matrix."""
    import cv2

    stored = [cv2.rotate(f, cv2.ROTATE_90_COUNTERCLOCKWISE) for f in portrait_frames]
    plain = write_clip(clips_dir / "rotated-plain.mp4", stored)
    path = clips_dir / "rotated.mp4"
    path.write_bytes(with_rotation_matrix(plain.read_bytes()))
    return path


@pytest.fixture(scope="session")
def avi_clip(clips_dir) -> Path:
    """2 s at 30 fps, MJPG in AVI (a container without per-frame times)."""
    return write_clip(clips_dir / "face.avi", drifting_face_frames(60), fourcc="MJPG")


VFR_STEPS_MS = (20, 50)  # frame intervals of vfr_clip, alternating


@pytest.fixture(scope="session")
def vfr_clip(clips_dir) -> Path:
    """40 frames whose intervals alternate 20 and 50 ms (variable frame rate), written with PyAV."""
    from fractions import Fraction

    import av

    path = clips_dir / "vfr.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for index, frame in enumerate(drifting_face_frames(40, size=(320, 180))):
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:, :, ::-1]), format="rgb24")
            video_frame.pts, video_frame.time_base = pts, Fraction(1, 1000)
            out.mux(stream.encode(video_frame))
            pts += VFR_STEPS_MS[index % 2]
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="session")
def audio_only_clip(clips_dir) -> Path:
    """0.6 s of silence as AAC in an .mp4 container: no video track (written with PyAV)."""
    import av

    path = clips_dir / "audio-only.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        stream.layout = "mono"
        for index in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, index * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="session")
def wav_file(clips_dir) -> Path:
    """1 s of silence as a WAV file."""
    import wave

    path = clips_dir / "sound.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(16000))
    return path
