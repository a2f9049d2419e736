"""The annotated video: the input re-read frame by frame with the landmarks used drawn on the
face, both sides' signals scrolling in a panel below it, and labels of the events under way.

The output has exactly the frames of the analysed part of the input, at the analysis' frame rate.
It is H.264 in MP4 (yuv420p, moov atom first), which web browsers, PowerPoint and phones play,
encoded by the libx264 that PyAV's wheel bundles; without it OpenCV's MPEG-4 part 2 (mp4v)
writer is the fallback, which most players but no web browser play.
"""
from __future__ import annotations

import functools
import logging
import os
from fractions import Fraction
from typing import Callable

import cv2
import numpy as np

from .errors import OutputError, ParameterError
from .kinds import INVOLUNTARY_KINDS, kind_label, verdict_text
from .regions import BROW_UPPER, CHEEK, EYE_INNER_CORNER, EYE_OUTER_CORNER, LOWER_LID, MOUTH_CORNER, SIDES, UPPER_LID
from .video import VideoSource, is_camera_or_stream

logger = logging.getLogger(__name__)

SIDE_BGR = {"right": (2, 95, 217), "left": (191, 95, 31)}  # patient's right orange, left blue (as in the plot)
VOLUNTARY_BGR = (74, 175, 77)  # green: the voluntary kinds (spasmscan.kinds)
INVOLUNTARY_BGR = (28, 26, 228)  # red: the involuntary kinds
LANES = (("eye_aperture", "eye aperture"), ("mouth_corner_lateral", "mouth corner lateral"),
         ("mouth_corner_vertical", "mouth corner vertical"))
WINDOW_PAST_S = 8.0  # signal shown left of the cursor: a few blinks and a whole twitch burst
WINDOW_FUTURE_S = 2.0  # signal shown right of the cursor: what is about to happen
EVENT_HOLD_S = 0.5  # an event's label stays this long after it ends, so a 50 ms twitch can be read
PANEL_FRACTION = 0.45  # panel height relative to the frame height
MIN_PANEL_PX = 150  # below this the three lanes and their labels do not fit
SCALE_PERCENTILES = (1.0, 99.0)  # lane scaling ignores the most extreme 1 % either way (tracking glitches)
H264_ENCODER = "libx264"  # bundled in PyAV's wheel; H.264 in MP4 is what every browser plays
H264_OPTIONS = {"crf": "20", "preset": "veryfast"}  # the labels stay sharp; veryfast keeps up on small machines
FALLBACK_FOURCC = "mp4v"  # OpenCV's own MPEG-4 part 2 writer: plays in desktop players, not in browsers
FRAME_RATE_DENOMINATOR = 1001000  # exact for 30000/1001-style NTSC rates and any rate given in 1/1000 fps


def require_video_file(video) -> None:
    """Raise ParameterError for a camera index or stream URL: the annotated video reads the
    source a second time, which only a file allows."""
    if is_camera_or_stream(video):
        raise ParameterError(f"{video}: an annotated video needs a video file; a camera or stream cannot be "
                             "read a second time (record it to a file first)")


@functools.cache
def h264_available() -> bool:
    """Whether PyAV can encode H.264 here (its wheel bundles libx264; a source build may lack it)."""
    try:
        import av

        av.codec.Codec(H264_ENCODER, "w")
    except Exception:  # no PyAV, or no such encoder in its FFmpeg: the fallback writer is used
        logger.warning("no H.264 encoder in PyAV; annotated videos are written as %s, which browsers do not play",
                       FALLBACK_FOURCC)
        return False
    return True


def annotated_codec() -> str:
    """The codec annotated videos are written in here: "h264", or "mp4v" (the fallback)."""
    return "h264" if h264_available() else FALLBACK_FOURCC


class _H264Writer:
    """BGR frames of one size into an H.264 MP4 (yuv420p, +faststart) through PyAV."""

    def __init__(self, path: str, fps: float, size: tuple[int, int]):
        import av

        self.width = size[0] + size[0] % 2  # yuv420p needs an even width: odd frames get one black column
        self.container = av.open(path, "w", format="mp4", options={"movflags": "+faststart"})
        self.stream = self.container.add_stream(
            H264_ENCODER, rate=Fraction(fps).limit_denominator(FRAME_RATE_DENOMINATOR), options=dict(H264_OPTIONS))
        self.stream.width, self.stream.height, self.stream.pix_fmt = self.width, size[1], "yuv420p"
        self.index = 0

    def write(self, bgr: np.ndarray) -> None:
        import av

        if bgr.shape[1] != self.width:
            bgr = np.pad(bgr, ((0, 0), (0, self.width - bgr.shape[1]), (0, 0)))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        frame.pts = self.index
        self.index += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def release(self) -> None:
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()


def _open_writer(path: str, fps: float, size: tuple[int, int]):
    """A writer of BGR frames of ``size`` (width, height): H.264 when available, else OpenCV's mp4v."""
    if h264_available():
        return _H264Writer(path, fps, size)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*FALLBACK_FOURCC), fps, size)
    if not writer.isOpened():
        raise OutputError(f"{path}: neither H.264 (PyAV) nor OpenCV's {FALLBACK_FOURCC} can encode a video here; "
                          "try again without --annotate")
    return writer


class _Painter:
    """Draws one analysis over frames of size (height, width)."""

    def __init__(self, analysis, width: int, height: int):
        self.analysis = analysis
        self.width = width
        self.height = height
        self.scale = max(height, 240) / 720.0  # text and line sizes follow the frame size
        self.thickness = max(1, round(2 * self.scale))
        panel = max(MIN_PANEL_PX, int(PANEL_FRACTION * height))
        self.panel_height = panel + (height + panel) % 2  # even output height, as encoders prefer
        self.strip_height = max(12, self.panel_height // 8)
        self.lane_height = (self.panel_height - self.strip_height) // len(LANES)
        self.times = np.asarray(analysis.signals.times_s, dtype=float)
        self.cursor_x = int(width * WINDOW_PAST_S / (WINDOW_PAST_S + WINDOW_FUTURE_S))
        self.lane_y = self._lane_pixels()
        self.background = self._background()

    # -- panel ------------------------------------------------------------------------------
    def _lane_pixels(self) -> dict:
        """name -> (n,) float y pixel in the panel (NaN where the signal is missing)."""
        values = self.analysis.signals.values
        pixels = {}
        for lane, (base, _) in enumerate(LANES):
            names = [f"{base}_{side}" for side in SIDES if f"{base}_{side}" in values]
            finite = np.concatenate([np.asarray(values[n], float) for n in names]) if names else np.array([])
            finite = finite[np.isfinite(finite)]
            if finite.size == 0:
                continue
            low, high = np.percentile(finite, SCALE_PERCENTILES)
            span = max(high - low, 1e-9)
            top = self.strip_height + lane * self.lane_height + 4
            usable = self.lane_height - 8
            for name in names:
                fraction = (np.asarray(values[name], float) - low) / span
                pixels[name] = top + (1.0 - np.clip(fraction, -0.05, 1.05)) * usable
        return pixels

    def _background(self) -> np.ndarray:
        panel = np.full((self.panel_height, self.width, 3), 24, np.uint8)
        font = 0.45 * max(self.scale, 0.7)
        for lane, (base, title) in enumerate(LANES):
            top = self.strip_height + lane * self.lane_height
            cv2.line(panel, (0, top), (self.width, top), (70, 70, 70), 1)
            missing = not any(f"{base}_{side}" in self.lane_y for side in SIDES)
            origin = (4, top + int(14 * max(self.scale, 0.7)))
            cv2.putText(panel, title + (" (not available)" if missing else ""), origin, cv2.FONT_HERSHEY_SIMPLEX,
                        font, (200, 200, 200), 1, cv2.LINE_AA)
        cv2.line(panel, (self.cursor_x, 0), (self.cursor_x, self.panel_height), (200, 200, 200), 1)
        return panel

    def _x(self, times: np.ndarray, now: float) -> np.ndarray:
        return self.cursor_x + (times - now) / (WINDOW_PAST_S + WINDOW_FUTURE_S) * self.width

    def panel(self, now: float) -> np.ndarray:
        panel = self.background.copy()
        first, last = np.searchsorted(self.times, [now - WINDOW_PAST_S, now + WINDOW_FUTURE_S])
        x = self._x(self.times[first:last], now)
        for name, y in self.lane_y.items():
            side = name.rsplit("_", 1)[1]
            points = np.stack([x, y[first:last]], axis=1)
            finite = np.isfinite(points[:, 1])
            runs = np.split(np.arange(len(points)), np.flatnonzero(np.diff(finite.astype(np.int8))) + 1)
            lines = [points[run].astype(np.int32) for run in runs if run.size > 1 and finite[run[0]]]
            cv2.polylines(panel, lines, False, SIDE_BGR[side], max(1, self.thickness - 1), cv2.LINE_AA)
        events = self.analysis.events
        half = self.strip_height // 2
        for i in range(len(events)):
            start, end = float(events.start_s[i]), float(events.end_s[i])
            if end < now - WINDOW_PAST_S or start > now + WINDOW_FUTURE_S:
                continue
            x0, x1 = self._x(np.array([start, end]), now).astype(int)
            side = str(events.side[i])
            rows = {"right": (0, half), "left": (half, self.strip_height)}.get(side, (0, self.strip_height))
            color = INVOLUNTARY_BGR if events.kind[i] in INVOLUNTARY_KINDS else VOLUNTARY_BGR
            cv2.rectangle(panel, (x0, rows[0]), (max(x1, x0 + 2), rows[1] - 1), color, -1)
        font = 0.45 * max(self.scale, 0.7)
        text = f"{now:.2f} s"
        text_width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, 1)[0][0]
        cv2.putText(panel, text, (min(self.cursor_x + 4, self.width - text_width - 2), self.panel_height - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, font, (230, 230, 230), 1, cv2.LINE_AA)
        return panel

    # -- face -------------------------------------------------------------------------------
    def face(self, frame: np.ndarray, landmarks: np.ndarray | None) -> None:
        """Draw the landmarks the analysis uses onto ``frame`` (in place)."""
        if landmarks is None or not np.isfinite(landmarks).any():
            return
        radius = max(1, self.thickness)
        for side in SIDES:
            color = SIDE_BGR[side]
            for chain in (UPPER_LID[side], LOWER_LID[side], BROW_UPPER[side]):
                points = landmarks[list(chain)]
                if np.isfinite(points).all():
                    cv2.polylines(frame, [np.round(points).astype(np.int32)], False, color, self.thickness,
                                  cv2.LINE_AA)
            for index in CHEEK[side] + (EYE_OUTER_CORNER[side], EYE_INNER_CORNER[side]):
                self._dot(frame, landmarks[index], radius, color)
            self._dot(frame, landmarks[MOUTH_CORNER[side]], 2 * radius + 1, color)
            outer = landmarks[BROW_UPPER[side][0]]
            if np.isfinite(outer).all():
                self._text(frame, side[0].upper(), (int(outer[0]), int(outer[1]) - 4 * radius), color, 0.9)

    @staticmethod
    def _dot(frame, point, radius, color) -> None:
        if np.isfinite(point).all():
            cv2.circle(frame, (int(round(point[0])), int(round(point[1]))), radius, color, -1, cv2.LINE_AA)

    def _text(self, frame, text: str, origin: tuple[int, int], color, size: float = 0.7) -> None:
        """Text with a dark outline, readable on any background."""
        font = size * max(self.scale, 0.5)
        cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), self.thickness + 2, cv2.LINE_AA)
        cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font, color, self.thickness, cv2.LINE_AA)

    def labels(self, frame: np.ndarray, now: float) -> None:
        """The verdict and the events under way (kind, side, region) at the frame's top left."""
        verdict = self.analysis.verdict
        line_px = int(30 * max(self.scale, 0.5))
        side = f", {verdict.side}" if verdict.side in SIDES else ""
        self._text(frame, f"verdict: {verdict_text(verdict.label)}{side} ({verdict.confidence:.2f})", (6, line_px),
                   (255, 255, 255), 0.6)
        events = self.analysis.events
        active = np.flatnonzero((events.start_s <= now) & (now <= events.end_s + EVENT_HOLD_S))
        for row, i in enumerate(active, start=2):
            color = INVOLUNTARY_BGR if events.kind[i] in INVOLUNTARY_KINDS else VOLUNTARY_BGR
            text = f"{kind_label(str(events.kind[i])).upper()} {events.side[i]} {events.region[i]}"
            self._text(frame, text, (6, row * line_px), color)


def write_annotated_video(analysis, video: str | os.PathLike, out_path: str | os.PathLike, *,
                          progress: Callable[[float, float], None] | None = None) -> int:
    """Draw ``analysis`` over the frames of ``video`` it was made from; write an MP4 to ``out_path``
    (H.264, or mp4v when :func:`annotated_codec` says so).

    Reads the analysed time range again with VideoSource; each frame shows the face landmarks
    used (patient's right orange, left blue), the events under way, and a panel below with both
    sides' signals over the last WINDOW_PAST_S seconds. Output size: the frame width by the frame
    height plus the panel. Returns the number of frames written (the number read).
    """
    require_video_file(video)
    series = analysis.series
    times = np.asarray(series.times_s, dtype=float)
    if times.size == 0:
        raise ParameterError("the analysis holds no frames; there is nothing to annotate")
    half_frame = 0.5 / series.fps
    start_s = float(times[0]) if times[0] > half_frame else None
    end_s = float(times[-1]) + half_frame
    writer = None
    painter = None
    written = 0
    try:
        with VideoSource(video, start_s=start_s, end_s=end_s) as source:
            for now, frame in source.frames():
                if painter is None:
                    painter = _Painter(analysis, frame.shape[1], frame.shape[0])
                    size = (painter.width, painter.height + painter.panel_height)
                    writer = _open_writer(os.fspath(out_path), series.fps, size)
                index = int(np.clip(np.searchsorted(times, now), 1, times.size - 1)) if times.size > 1 else 0
                if times.size > 1 and abs(times[index - 1] - now) < abs(times[index] - now):
                    index -= 1
                landmarks = series.mesh(index) if abs(times[index] - now) <= half_frame else None
                if frame.shape[:2] != (painter.height, painter.width):
                    frame = cv2.resize(frame, (painter.width, painter.height))
                painter.face(frame, landmarks)
                painter.labels(frame, now)
                writer.write(np.vstack([frame, painter.panel(now)]))
                written += 1
                if progress is not None:
                    progress(now - times[0], times[-1] - times[0])
    finally:
        if writer is not None:
            writer.release()
    logger.info("annotated %d frames into %s", written, out_path)
    if written != series.n_frames:
        logger.warning("%s: read %d frames for the annotated video but the analysis has %d", video, written,
                       series.n_frames)
    return written
