"""Video input: files, cameras and stream URLs as a stream of (timestamp, frame) pairs.

Frames are decoded one at a time (never the whole video in memory), carry the container's
own timestamps (phone videos have variable frame rates), and are rotated as the file's
rotation metadata says. OpenCV opens and checks every source; for tracking, a plain 4:2:0 file
can instead be decoded by PyAV into :class:`PlanarFrame` objects that are converted to colour only
where the tracker looks (converting whole frames was a third of the cost of decoding them).
"""
from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import math
import os
import queue
import stat
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from .errors import CameraError, InputNotFoundError, NoVideoStreamError, ParameterError, VideoReadError
from .selection import check_frame_step, check_part

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
PLAUSIBLE_FPS = (1.0, 480.0)  # outside this the container's claim is ignored and timestamps decide
FALLBACK_FPS = 30.0  # assumed when neither the container nor the timestamps give a rate
READ_AHEAD_FRAMES = 8  # decoded frames buffered by the reader thread: bounded memory
TIMESTAMP_PROBE_FRAMES = 10  # frames whose timestamps decide whether an implausible fps claim is echoed in them
TRUNCATED_FRACTION = 0.9  # fewer decoded frames than this part of the announced count: warn of damage
ISO_MOOV_MAX_BYTES = 64 << 20  # a larger movie header is not plausible; do not read it into memory
STILL_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
                          b"MM\x00*")  # PNG, JPEG, GIF, BMP, TIFF: FFmpeg would read them as one-frame videos
AUDIO_SIGNATURES = (b"ID3", b"fLaC")  # MP3 with tags, FLAC
FILE_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
              (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))  # files no decoder should open
PLANAR_PIXEL_FORMAT = "yuv420p"  # limited-range 4:2:0, as cameras write it and OpenCV's I420 conversion assumes


@dataclass(frozen=True, eq=False)
class PlanarFrame:
    """A decoded 4:2:0 frame kept as its planes; converted to colour only where it is looked at.

    planes: (H * 3 / 2, W) uint8, the Y plane then the U and V planes (I420), H and W even.
    """

    planes: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, 3): the shape of the BGR frame this stands for."""
        return self.planes.shape[0] * 2 // 3, self.planes.shape[1], 3

    def rgb(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """(y1 - y0, x1 - x0, 3) uint8 RGB of the pixels in columns x0:x1, rows y0:y1."""
        height, width, _ = self.shape
        # chroma covers 2x2 pixels: convert the box widened to even edges, then cut it to size
        ex0, ey0 = x0 - x0 % 2, y0 - y0 % 2
        ex1, ey1 = min(width, x1 + x1 % 2), min(height, y1 + y1 % 2)
        box_h, box_w = ey1 - ey0, ex1 - ex0
        chroma = self.planes[height:].reshape(2, height // 2, width // 2)[:, ey0 // 2:ey1 // 2, ex0 // 2:ex1 // 2]
        i420 = np.empty((box_h * 3 // 2, box_w), np.uint8)
        i420[:box_h] = self.planes[ey0:ey1, ex0:ex1]
        i420[box_h:].reshape(2, box_h // 2, box_w // 2)[:] = chroma
        rgb = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
        return np.ascontiguousarray(rgb[y0 - ey0:y1 - ey0, x0 - ex0:x1 - ex0])

    def bgr(self) -> np.ndarray:
        """(H, W, 3) uint8 BGR of the whole frame."""
        return cv2.cvtColor(self.planes, cv2.COLOR_YUV2BGR_I420)


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video before decoding it."""

    name: str
    width: int
    height: int
    fps: float  # nominal frames per second (FALLBACK_FPS when the container gives none)
    frame_count: int  # estimate from the container, 0 when unknown (cameras, streams)

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.frame_count > 0 else float("nan")


def opened_source(source: str | int | os.PathLike) -> str | int:
    """``source`` as :class:`VideoSource` opens it: a camera index as an int (digits that name no
    file count as one), anything else as a path or URL string."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str) and source.isdigit() and not os.path.exists(source):
        return int(source)
    return source


def is_camera_or_stream(source: str | int | os.PathLike) -> bool:
    """Whether ``source`` is a camera index or a stream URL (``scheme://...``) rather than a file:
    a source that cannot be read a second time, seeked or cached."""
    source = opened_source(source)
    return isinstance(source, int) or "://" in source


class VideoSource:
    """A video file, camera index or stream URL, read as ``(time_s, frame_bgr)`` pairs.

    Use as a context manager. ``start_s``/``end_s`` select a part of a file, in seconds.
    ``frame_step`` > 1 yields only every so many frames of that part (the first always).
    ``threaded=True`` decodes in a background thread so decoding overlaps the caller's work.
    ``planar=True`` yields :class:`PlanarFrame` objects instead of BGR arrays where the file allows
    (an unrotated 4:2:0 file of even size with a trusted frame rate), decoded by PyAV with
    ``decoder_threads`` threads (None: FFmpeg's choice; 1 when every core tracks a part already).
    """

    def __init__(self, source: str | int | os.PathLike, *, start_s: float | None = None,
                 end_s: float | None = None, frame_step: int = 1, threaded: bool = True,
                 planar: bool = False, decoder_threads: int | None = None):
        source = opened_source(source)
        check_part(start_s, end_s)
        check_frame_step(frame_step)
        self.source = source
        self.frame_step = frame_step
        self.live = is_camera_or_stream(source)
        self.start_s = start_s
        self.end_s = end_s
        self.threaded = threaded
        self._reader = None  # the read-ahead of frames() in progress, whose decoder thread uses the capture
        self.planar = planar
        self.decoder_threads = decoder_threads
        self._cap = None
        self._rotation = 0
        self.last_frame_s = math.nan  # time of the last frame of the part decoded so far, stepped over or not
        self.info = self._open()

    # -- opening -----------------------------------------------------------------------------
    def _open(self) -> VideoInfo:
        source = self.source
        if not self.live:
            check_video_file(source)
        if isinstance(source, int):
            cap = cv2.VideoCapture(source)
            if not cap.isOpened():
                raise CameraError(f"camera {source}: not found or busy; check that it is connected "
                                  "and that no other program uses it")
        else:
            cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
            if not cap.isOpened():
                if not self.live and _iso_media_without_video(source):
                    raise NoVideoStreamError(f"{source}: holds no video stream (audio only, or no frames at all); "
                                             "record the face on video")
                raise VideoReadError(f"{source}: cannot be decoded as a video (corrupt, truncated or not a "
                                     "video file); check that it plays in a video player")
        # With automatic orientation OpenCV rotates the frames and reports the rotated size.
        self._rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
        if not cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1) and self._rotation:
            logger.warning("%s: this OpenCV cannot apply the video's rotation metadata; frames stay as stored",
                           source)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            cap.release()
            raise NoVideoStreamError(f"{source}: holds no video stream (audio only or empty)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps_claim_plausible = _plausible_fps(fps)
        if not self._fps_claim_plausible:
            logger.warning("%s: container claims %.3g fps; checking the frame timestamps instead", source, fps)
            fps = 0.0
        frame_count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0) if not self.live else 0
        self._cap = cap
        name = f"camera {source}" if isinstance(source, int) else str(source)
        return VideoInfo(name=name, width=width, height=height, fps=fps or FALLBACK_FPS,
                         frame_count=frame_count)

    @property
    def seekable(self) -> bool:
        """Whether parts of this video can be read on their own: a file with a trusted frame rate and length."""
        return not self.live and self._fps_claim_plausible and self.info.frame_count > 0

    def close(self) -> None:
        if self._reader is not None:  # its decoder thread must be idle before the capture is released,
            self._reader.close()      # also when an error or an interruption leaves frames() unfinished
            self._reader = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------
    def _decode(self) -> Iterator[tuple[float, np.ndarray]]:
        """Frames with timestamps in seconds, from the decoder, in this thread."""
        cap = self._cap
        if cap is None:
            raise VideoReadError(f"{self.info.name}: the video was already closed")
        if self.live:
            wall_start = time.monotonic()
            for frame in _read_frames(cap, self.info.name):
                yield time.monotonic() - wall_start, _bgr(frame)
            return
        nominal_dt = 1.0 / self.info.fps
        planar = self._open_planar() if self.planar else None
        if planar is not None:
            frames = _repaired_times(_planar_frames(*planar, self.start_s, self.info.name), nominal_dt)
        else:
            if self.start_s and self._fps_claim_plausible:  # else the container's time scale is not to be trusted
                cap.set(cv2.CAP_PROP_POS_MSEC, self.start_s * 1000.0)
            frames = _repaired_times(((cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, _bgr(frame))
                                      for frame in _read_frames(cap, self.info.name)), nominal_dt)
            if not self._fps_claim_plausible:
                frames = self._checked_times(frames, nominal_dt)
        in_part = 0
        for t, frame in frames:
            if self.start_s is not None and t < self.start_s - 0.5 * nominal_dt:
                continue
            if self.end_s is not None and t >= self.end_s:
                break
            in_part += 1
            self.last_frame_s = t
            if (in_part - 1) % self.frame_step == 0:
                yield t, frame
        expected = self.expected_frames
        if expected > 1 and in_part < TRUNCATED_FRACTION * expected:
            logger.warning("%s: decoding stopped after %d of the %d frames the container announces%s; the file "
                           "may be truncated or damaged, only the frames read are used", self.info.name, in_part,
                           expected, " in the selected part" if self.start_s or self.end_s is not None else "")

    @property
    def expected_frames(self) -> int:
        """Frames the container announces between start_s and end_s (0 or less: it announces none there)."""
        if self.info.frame_count <= 0:
            return 0
        end_s = self.info.duration_s if self.end_s is None else min(self.end_s, self.info.duration_s)
        return int((end_s - (self.start_s or 0.0)) * self.info.fps)

    def _open_planar(self):
        """(PyAV container, its video stream) for planar decoding, or None when OpenCV must decode:
        a camera or stream, an untrusted frame rate, rotation metadata, another pixel format or an odd size."""
        if not self.seekable or self._rotation or self.info.width % 2 or self.info.height % 2:
            return None
        import av

        try:
            container = av.open(self.source)
        except (av.error.FFmpegError, OSError, UnicodeDecodeError):
            return None
        stream = container.streams.best("video")
        context = None if stream is None else stream.codec_context
        if context is None or context.pix_fmt != PLANAR_PIXEL_FORMAT or (
                context.width, context.height) != (self.info.width, self.info.height):
            container.close()
            return None
        if self.decoder_threads is not None:
            context.thread_count = self.decoder_threads
        else:
            context.thread_type = "AUTO"  # frame and slice threads, as OpenCV decodes
        return container, stream

    def _checked_times(self, frames: Iterator[tuple[float, np.ndarray]],
                       nominal_dt: float) -> Iterator[tuple[float, np.ndarray]]:
        """Keep the timestamps when their own rate is plausible, else number frames at ``nominal_dt``.

        Used when the container's frame rate claim is implausible: in containers without
        per-frame times (AVI) the timestamps only repeat that claim.
        """
        head = list(itertools.islice(frames, TIMESTAMP_PROBE_FRAMES))
        if len(head) > 1:
            step = float(np.median(np.diff([t for t, _ in head])))
            if step > 0 and _plausible_fps(1.0 / step):
                yield from head
                yield from frames
                return
            logger.warning("%s: frame timestamps give %.3g fps; assuming %.3g fps", self.info.name,
                           1.0 / step if step > 0 else 0.0, 1.0 / nominal_dt)
        for index, (_, frame) in enumerate(itertools.chain(head, frames)):
            yield index * nominal_dt, frame

    def frames(self) -> Iterator[tuple[float, np.ndarray | PlanarFrame]]:
        """Yield ``(time_s, frame)``: time in seconds from the file's start; frame (H, W, 3) uint8 BGR,
        or with ``planar=True`` a :class:`PlanarFrame` where the file allows."""
        if not self.threaded:
            yield from self._decode()
            return
        self._reader = _read_ahead(self._decode(), READ_AHEAD_FRAMES)
        yield from self._reader


_END = object()


def _read_ahead(items: Iterator, depth: int) -> Iterator:
    """Run ``items`` in a background thread, ``depth`` items ahead of the consumer.

    The thread ends as soon as the consumer stops (a ``break``, an error, closing the
    generator): every hand-over gives up when the consumer is gone, so nothing blocks.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    # The thread touches ``items`` only once it has started and the consumer is past the start: an
    # interruption (Ctrl-C, SIGTERM) while it starts must not leave it reading a capture its owner releases.
    go = threading.Event()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        go.wait()
        try:
            if stop.is_set():
                return
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as error:  # handed to the consumer, raised there
            hand_over(error)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="spasmscan-decoder", daemon=True)
    try:
        worker.start()
        go.set()
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        go.set()  # a thread still waiting for it sees ``stop`` and ends without reading
        with contextlib.suppress(RuntimeError):  # a start interrupted before the thread was running
            worker.join()  # the decoder must be idle before the caller may release the capture


def rgb_box(frame: np.ndarray | PlanarFrame, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """(y1 - y0, x1 - x0, 3) uint8 RGB, C-contiguous, of columns x0:x1, rows y0:y1 of a BGR
    (H, W, 3) frame or a :class:`PlanarFrame`."""
    if isinstance(frame, PlanarFrame):
        return frame.rgb(x0, y0, x1, y1)
    return cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_BGR2RGB)


@contextlib.contextmanager
def opencv_threads(count: int) -> Iterator[None]:
    """Limit OpenCV's own worker threads to ``count`` for the duration: when every core runs a
    tracker already, waking (and spinning) them costs more than it gains."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def is_video_path(path: str | os.PathLike) -> bool:
    """True when the file name ends in a known video extension."""
    return os.fspath(path).lower().endswith(VIDEO_EXTENSIONS)


def _plausible_fps(fps: float) -> bool:
    return math.isfinite(fps) and PLAUSIBLE_FPS[0] <= fps <= PLAUSIBLE_FPS[1]


def _repaired_times(frames: Iterable[tuple[float, object]], nominal_dt: float) -> Iterator[tuple[float, object]]:
    """``(time_s, frame)`` pairs with the container's times repaired to be non-negative and increasing."""
    last_t = -math.inf
    for index, (t, frame) in enumerate(frames):
        # Some containers report 0, negative, garbage or repeated times for early frames.
        if not math.isfinite(t) or t < 0 or t <= last_t:
            t = last_t + nominal_dt if math.isfinite(last_t) else index * nominal_dt
        last_t = t
        yield t, frame


def _planar_frames(container, stream, start_s: float | None, name: str) -> Iterator[tuple[float, PlanarFrame]]:
    """``(time_s, frame)`` from PyAV, times from the stream's start as OpenCV counts them (NaN when
    unknown); from the key frame before ``start_s`` on. Damaged packets are skipped, as OpenCV does."""
    import av

    time_base = float(stream.time_base)
    first_pts = stream.start_time or 0
    try:
        if start_s:
            container.seek(first_pts + int(start_s / time_base), stream=stream)
        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:  # a damaged packet
                continue
            for frame in decoded:
                t = math.nan if frame.pts is None else (frame.pts - first_pts) * time_base
                if frame.format.name == PLANAR_PIXEL_FORMAT and frame.width % 2 == 0 and frame.height % 2 == 0:
                    yield t, PlanarFrame(frame.to_ndarray())
                else:  # the stream changed format on the way
                    yield t, frame.to_ndarray(format="bgr24")
    except av.error.FFmpegError as error:  # the container itself broke off
        logger.warning("%s: reading stopped (%s)", name, error)
    finally:
        container.close()


def _read_frames(cap, name: str) -> Iterator[np.ndarray]:
    """Decoded frames until the decoder stops (end of file, or damage it cannot pass)."""
    while True:
        try:
            ok, frame = cap.read()
        except cv2.error as error:
            raise VideoReadError(f"{name}: decoding failed ({str(error).strip().splitlines()[-1]}); "
                                 "the file may be damaged") from error
        if not ok or frame is None:
            return
        yield frame


def _bgr(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 BGR from a decoded frame that may be grey."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def check_video_file(path: str) -> None:
    """Raise the fitting error unless ``path`` is a regular, non-empty file whose first bytes are
    not a still image or a sound: a missing file or a broken or looping link, a folder, a pipe or a
    device (which a decoder would wait on, or read forever)."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputNotFoundError(f"{path}: is a symbolic link to {os.readlink(path)}, which does not exist; "
                                     "check the link") from None
        raise InputNotFoundError(f"{path}: no such file; check the path") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise InputNotFoundError(f"{path}: is a symbolic link that loops (it leads back to itself); "
                                     "point it at the video file") from None
        raise VideoReadError(f"{path}: cannot be read ({error.strerror or error}); check its permissions") from None
    kind = next((name for test, name in FILE_KINDS if test(status.st_mode)), None)
    if stat.S_ISDIR(status.st_mode):
        raise VideoReadError(f"{path}: is a folder, not a video file (use 'spasmscan batch' for folders)")
    if kind is not None:
        raise VideoReadError(f"{path}: is {kind}, not a video file; save the video to a file and name that")
    if status.st_size == 0:
        raise NoVideoStreamError(f"{path}: the file is empty; it holds no video")
    _refuse_non_video(path)


def _refuse_non_video(path: str) -> None:
    """Raise for files whose first bytes say still image or audio: FFmpeg would open some of them."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise VideoReadError(f"{path}: cannot be read ({error.strerror or error}); check its permissions") from error
    if head.startswith(STILL_IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        raise VideoReadError(f"{path}: is a still image, not a video; spasmscan needs a video of the face "
                             "(about a minute at rest)")
    if head.startswith(AUDIO_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WAVE"):
        raise NoVideoStreamError(f"{path}: is an audio file; it holds no video stream")


def _iso_media_without_video(path: str) -> bool:
    """True when ``path`` is an MP4/MOV/M4A file whose movie header lists no video track."""
    try:
        with open(path, "rb") as handle:
            moov = None
            for kind, size in _boxes_in_file(handle):
                if kind == b"moov":
                    if size > ISO_MOOV_MAX_BYTES:
                        return False
                    moov = handle.read(size)
                    break
                handle.seek(size, os.SEEK_CUR)
    except (OSError, ValueError):
        return False
    if moov is None or len(moov) < 8:
        return False
    handlers = [mdia_box[8:12] for trak in _children(moov, b"trak") for mdia in _children(trak, b"mdia")
                for mdia_box in _children(mdia, b"hdlr")]
    return b"vide" not in handlers


def _boxes_in_file(handle) -> Iterator[tuple[bytes, int]]:
    """Top-level ISO media boxes as (type, payload size); the file is left at the payload."""
    end = os.fstat(handle.fileno()).st_size
    while handle.tell() + 8 <= end:
        header = handle.read(8)
        size, kind = int.from_bytes(header[:4], "big"), header[4:]
        header_size = 8
        if size == 1:
            size, header_size = int.from_bytes(handle.read(8), "big"), 16
        elif size == 0:
            size = end - handle.tell() + 8
        if size < header_size or handle.tell() - header_size + size > end:
            raise ValueError("box runs past the end of the file")
        yield kind, size - header_size


def _children(payload: bytes, kind: bytes) -> Iterator[bytes]:
    """Payloads of the boxes of type ``kind`` directly inside ``payload``."""
    at = 0
    while at + 8 <= len(payload):
        size = int.from_bytes(payload[at:at + 4], "big")
        if size < 8 or at + size > len(payload):
            return
        if payload[at + 4:at + 8] == kind:
            yield payload[at + 8:at + size]
        at += size
