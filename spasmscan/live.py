"""Live mode: a camera, stream or file played at its real pace, analysed while it runs.

One thread reads frames (paced to their timestamps for files) into a one-frame mailbox;
the processing loop always takes the newest frame, so frames that cannot be processed in
time are dropped and counted, never queued without bound. Events are found causally with the
same code as ``analyze`` (signals -> events on the recent past), reported once they have
ended and settled, and the final result is :func:`spasmscan.analysis.analyze_series` on
everything tracked.
"""
from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .analysis import analyze_series, series_events
from .errors import ParameterError, SpasmscanError
from .events import Events
from .eye_pixels import eye_openness, frame_luma
from .files import check_overwrite, write_text
from .kinds import verdict_text
from .landmarks import FaceTracker, LandmarkSeries, TrackerSettings
from .mouth_pixels import CornerFlow
from .protocol import Segment, segment_at, segments_document
from .regions import SERIES_LANDMARKS
from .video import VideoSource

logger = logging.getLogger(__name__)

DETECTION_PAST_S = 30.0  # signals and events are recomputed over this much recent past: baselines need ~10 s
DETECT_EVERY_S = 0.25  # how often the recent past is re-examined: bounds the reporting delay
SETTLE_S = 0.2  # an event is reported once it ended this long ago, so its end no longer moves
VERDICT_EVERY_S = 2.0  # the running verdict is refreshed this often (it runs over the whole session)
REPORTED_MATCH_S = 0.15  # an event found again within this onset distance is the one already reported
MAX_DELAY_S = DETECT_EVERY_S + SETTLE_S  # bound from an event's end to its report (+1 frame), besides processing


# -- frame hand-over -----------------------------------------------------------------------------
class FrameMailbox:
    """A one-frame slot between reader and processor.

    A new frame replaces an unread one (counted in ``dropped``); with ``lossless=True`` the
    reader waits instead (replaying a file as fast as it can be processed, nothing dropped).
    """

    def __init__(self, *, lossless: bool = False):
        self._condition = threading.Condition()
        self._item = None
        self._closed = False
        self._lossless = lossless
        self.dropped = 0

    def put(self, item) -> None:
        with self._condition:
            while self._lossless and self._item is not None and not self._closed:
                self._condition.wait()
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def get(self):
        """The newest frame, waiting for one; None once closed and empty."""
        with self._condition:
            while self._item is None and not self._closed:
                self._condition.wait()
            item, self._item = self._item, None
            self._condition.notify_all()
            return item


def read_frames(video: VideoSource, mailbox: FrameMailbox, stop: threading.Event, *, paced: bool,
                recorder=None, errors: list | None = None) -> None:
    """Reader thread: frames into ``mailbox`` as ``(time_s, frame, arrived_monotonic)``.

    ``paced``: a file is played at its real pace (frame at time t is handed over t seconds after
    the start); cameras and streams come at their own pace anyway. ``recorder``
    (cv2.VideoWriter) keeps every frame read.
    """
    start = time.monotonic()
    first_s = None
    try:
        for time_s, frame in video.frames():
            if stop.is_set():
                break
            if first_s is None:
                first_s = time_s
            if paced and not video.live:
                wait = (time_s - first_s) - (time.monotonic() - start)
                if wait > 0:
                    time.sleep(wait)
            if recorder is not None:
                recorder.write(frame)
            mailbox.put((time_s, frame, time.monotonic()))
    except SpasmscanError as error:
        if errors is not None:
            errors.append(error)
    finally:
        mailbox.close()


# -- the session ---------------------------------------------------------------------------------
@dataclass
class LiveStats:
    """How the session kept up: frames read, processed and dropped, rate and latency."""

    frames_processed: int = 0
    frames_dropped: int = 0
    processing_s: float = 0.0  # wall seconds spent processing
    latency_s: list = field(default_factory=list)  # per processed frame: arrival to result, seconds
    events_reported: int = 0  # events shown live, each within MAX_DELAY_S of its end
    events_late: int = 0  # events found only later than that: not shown live, kept for the final analysis

    @property
    def frames_read(self) -> int:
        return self.frames_processed + self.frames_dropped

    @property
    def processing_fps(self) -> float:
        return self.frames_processed / self.processing_s if self.processing_s > 0 else float("nan")

    def latency(self, percentile: float) -> float:
        return float(np.percentile(self.latency_s, percentile)) if self.latency_s else float("nan")

    def as_dict(self) -> dict:
        return {"frames_read": self.frames_read, "frames_processed": self.frames_processed,
                "frames_dropped": self.frames_dropped, "processing_fps": round(self.processing_fps, 2),
                "latency_median_s": round(self.latency(50), 4), "latency_p95_s": round(self.latency(95), 4),
                "events_reported": self.events_reported, "events_late": self.events_late,
                "max_event_delay_s": MAX_DELAY_S}


class LiveSession:
    """Accumulates tracked frames and finds events causally, with the analysis code of ``analyze``."""

    def __init__(self, *, width: int, height: int, fps: float, source: str, mirrored: bool = False):
        self.width, self.height, self.fps, self.source, self.mirrored = width, height, fps, source, mirrored
        self._times: list[float] = []
        self._points: list[np.ndarray] = []
        self._openness: list[np.ndarray] = []  # (2,) image openness of the (left, right) eye per frame
        self._flow: list[np.ndarray] = []  # (2, 2) pixel step of the (left, right) mouth corner per frame
        self._reported: list[tuple[str, str, float]] = []  # kind, side, start_s of reported events
        self._next_detection_s = -math.inf
        self.last_signals = None  # signals of the recent past, from the latest detection
        self.late_events = 0  # events found later than MAX_DELAY_S after their end: left to the final analysis
        self.events: list[dict] = []  # reported events, in order: kind, side, region, start_s, end_s, amplitude

    def add(self, time_s: float, face: np.ndarray | None, openness: np.ndarray | None = None,
            mouth_flow: np.ndarray | None = None) -> list[dict]:
        """Add one frame's (478, 2) landmarks (None: no face), (2,) eye openness and (2, 2) mouth-corner
        flow (:class:`spasmscan.mouth_pixels.CornerFlow`; each None: unknown); returns the events newly
        reported at it."""
        self._times.append(time_s)
        self._openness.append(np.full(2, np.nan, np.float32) if openness is None or face is None
                              else np.asarray(openness, np.float32))
        self._flow.append(np.full((2, 2), np.nan, np.float32) if mouth_flow is None or face is None
                          else np.asarray(mouth_flow, np.float32))
        self._points.append(face[list(SERIES_LANDMARKS)] if face is not None
                            else np.full((len(SERIES_LANDMARKS), 2), np.nan, np.float32))
        if time_s < self._next_detection_s:
            return []
        self._next_detection_s = time_s + DETECT_EVERY_S
        return self._detect(time_s)

    def _detect(self, now_s: float) -> list[dict]:
        first = int(np.searchsorted(np.asarray(self._times), now_s - DETECTION_PAST_S))
        if len(self._times) - first < 3:
            return []
        self.last_signals, events = series_events(self.series(first=first))
        fresh = []
        for i in range(len(events)):
            if events.end_s[i] > now_s - SETTLE_S or self._was_reported(events, i):
                continue
            self._reported.append((str(events.kind[i]), str(events.side[i]), float(events.start_s[i])))
            if now_s - events.end_s[i] > MAX_DELAY_S + 1.0 / self.fps:
                # Found only once later frames settled its baseline: too late for the stated bound.
                # It is not shown live; the final analysis, over the whole session, has it.
                self.late_events += 1
                continue
            row = {"kind": str(events.kind[i]), "side": str(events.side[i]), "region": str(events.region[i]),
                   "start_s": float(events.start_s[i]), "end_s": float(events.end_s[i]),
                   "amplitude": float(events.amplitude[i]), "reported_s": now_s}
            self.events.append(row)
            fresh.append(row)
        return fresh

    def _was_reported(self, events: Events, i: int) -> bool:
        return any(kind == events.kind[i] and side == events.side[i]
                   and abs(start - events.start_s[i]) <= REPORTED_MATCH_S for kind, side, start in self._reported)

    def series(self, *, first: int = 0) -> LandmarkSeries:
        """Everything tracked so far, from frame ``first`` on."""
        points = (np.stack(self._points[first:]) if len(self._points) > first
                  else np.empty((0, len(SERIES_LANDMARKS), 2), np.float32))
        openness = np.stack(self._openness[first:]) if len(self._openness) > first else np.empty((0, 2), np.float32)
        flow = np.stack(self._flow[first:]) if len(self._flow) > first else np.empty((0, 2, 2), np.float32)
        return LandmarkSeries(times_s=np.asarray(self._times[first:], dtype=np.float64), points=points, width=self.width,
                              height=self.height, fps=self.fps, source=self.source, mirrored=self.mirrored,
                              landmark_ids=SERIES_LANDMARKS, eye_openness=openness, mouth_flow=flow)


class RunningVerdict:
    """The verdict over the whole session so far, refreshed in a background thread every
    VERDICT_EVERY_S seconds of video so the frame loop never waits for it."""

    def __init__(self, segments: tuple[Segment, ...] = ()):
        self.segments = segments
        self.text = "collecting..."
        self.label = None
        self._busy = threading.Lock()
        self._next_s = -math.inf

    def update(self, session: LiveSession, time_s: float) -> None:
        if time_s < self._next_s or not self._busy.acquire(blocking=False):
            return
        self._next_s = time_s + VERDICT_EVERY_S
        series = session.series()
        threading.Thread(target=self._compute, args=(series,), name="spasmscan-live-verdict", daemon=True).start()

    def _compute(self, series: LandmarkSeries) -> None:
        try:
            if series.face_found.any():
                verdict = analyze_series(series, segments=self.segments).verdict
                side = f" {verdict.side}" if verdict.side in ("left", "right") else ""
                self.label = verdict.label
                self.text = f"{verdict_text(verdict.label)}{side} ({verdict.confidence:.2f}): {verdict.reason}"
        except SpasmscanError as error:  # too little data yet, for instance
            self.text = str(error)
        finally:
            self._busy.release()


Processor = Callable[[np.ndarray, float], "np.ndarray | None"]  # frame, time -> landmarks


def run_live(source, *, settings: TrackerSettings = TrackerSettings(), paced: bool = True,
             protocol: tuple[Segment, ...] = (), record: str | os.PathLike | None = None,
             on_frame: Callable | None = None, on_events: Callable[[list], None] | None = None,
             processor: Processor | None = None, stop: threading.Event | None = None):
    """Run a live session until the source ends, ``stop`` is set or Ctrl-C; returns (session, stats, segments).

    ``paced=False`` replays a file as fast as it can be processed, dropping nothing.
    ``protocol`` segments are placed from the first frame's time on. ``on_frame(frame, time_s,
    face, session, segment)`` may draw a window; ``on_events(rows)`` hears each newly reported
    event. ``processor`` replaces the face tracker (tests use a slow one).
    """
    stop = stop or threading.Event()
    stats = LiveStats()
    with VideoSource(source, threaded=False) as video:
        info = video.info
        recorder = _open_recorder(record, info) if record else None
        session = LiveSession(width=info.width, height=info.height, fps=info.fps, source=info.name,
                              mirrored=settings.mirrored)
        mailbox = FrameMailbox(lossless=not paced and not video.live)
        errors: list = []
        reader = threading.Thread(target=read_frames, args=(video, mailbox, stop),
                                  kwargs={"paced": paced, "recorder": recorder, "errors": errors},
                                  name="spasmscan-live-reader", daemon=True)
        tracker = None if processor is not None else FaceTracker(settings)
        track = processor or tracker.track
        corner_flow = CornerFlow() if settings.mouth_flow else None
        segments: tuple[Segment, ...] = ()
        reader.start()
        try:
            while True:
                item = mailbox.get()
                if item is None:
                    break
                time_s, frame, arrived = item
                if not segments and protocol:
                    offset = time_s - protocol[0].start_s
                    segments = tuple(Segment(s.name, s.start_s + offset, s.end_s + offset, s.prompt) for s in protocol)
                began = time.monotonic()
                face = track(frame, time_s)
                fresh = session.add(time_s, face, None if face is None else eye_openness(frame_luma(frame), face),
                                    None if corner_flow is None else corner_flow.step(frame, face))
                done = time.monotonic()
                stats.frames_processed += 1
                stats.processing_s += done - began
                stats.latency_s.append(done - arrived)
                if fresh and on_events is not None:
                    on_events(fresh)
                if on_frame is not None:
                    on_frame(frame, time_s, face, session, segment_at(segments, time_s))
                if segments and time_s >= segments[-1].end_s:
                    break  # the examination is over
        except KeyboardInterrupt:  # Ctrl-C ends the session; what was tracked so far is kept and analysed
            logger.info("live session interrupted after %d frames", stats.frames_processed)
        finally:
            stop.set()
            mailbox.close()
            reader.join(timeout=5.0)
            stats.frames_dropped = mailbox.dropped
            stats.events_reported, stats.events_late = len(session.events), session.late_events
            if tracker is not None:
                tracker.close()
            if recorder is not None:
                recorder.release()
        if errors:
            raise errors[0]
    logger.info("live %s: %s", info.name, stats.as_dict())
    return session, stats, segments


def _open_recorder(path, info):
    import cv2

    writer = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, (info.width, info.height))
    if not writer.isOpened():
        from .errors import OutputError
        raise OutputError(f"{path}: cannot record the video there; check the folder and use a .mp4 name")
    return writer


def check_record_path(path: str | os.PathLike, *, force: bool) -> None:
    """Refuse to overwrite a recording (or its protocol file) without ``force``, before the session starts."""
    check_overwrite([path, protocol_path(path)], force=force, elsewhere="choose another name for the recording")
    if not Path(path).suffix.lower() == ".mp4":
        raise ParameterError(f"{path}: the recording is written as MP4; give it a .mp4 name")


def protocol_path(record: str | os.PathLike) -> Path:
    """Where the protocol timings of a recording are kept: beside it, ``NAME.protocol.json``."""
    return Path(record).with_suffix(".protocol.json")


def finish(session: LiveSession, stats: LiveStats, segments: tuple[Segment, ...], *, record=None):
    """The final analysis of a session (the code ``analyze`` runs), with its protocol and live figures."""
    from .errors import NoFaceError

    series = session.series()
    if series.n_frames == 0 or not series.face_found.any():
        raise NoFaceError(f"{session.source}: no face was seen during the session; sit facing the camera, "
                          "in even light, filling about a third of the picture")
    if record is not None and segments:
        first = float(series.times_s[0])  # the recording's own clock starts at its first frame
        shifted = tuple(Segment(s.name, s.start_s - first, s.end_s - first, s.prompt) for s in segments)
        write_text(protocol_path(record), json.dumps(segments_document(shifted), indent=1), force=True)
    return analyze_series(series, segments=segments, session=stats.as_dict())


def stats_text(stats: LiveStats) -> str:
    """One line on how the session kept up."""
    return (f"live: {stats.frames_processed} frames processed at {stats.processing_fps:.0f} fps, "
            f"{stats.frames_dropped} dropped of {stats.frames_read}; latency median "
            f"{1000 * stats.latency(50):.0f} ms, 95th percentile {1000 * stats.latency(95):.0f} ms; "
            f"{stats.events_reported} events reported at most {MAX_DELAY_S:.2f} s after they ended (plus processing), "
            f"{stats.events_late} found later and left to the final analysis")


def open_window():
    """The live window (imports the drawing code only when a window is wanted)."""
    from .live_view import LiveWindow

    return LiveWindow()


def draw(frame, time_s, face, session, segment, verdict_text):
    from .live_view import draw_live_frame

    return draw_live_frame(frame, time_s, face, session, segment, verdict_text)
