"""The live window: the face with the landmarks in use, both sides' signals scrolling, events
as they are reported, the protocol prompt and the running verdict."""
from __future__ import annotations

import cv2
import numpy as np

from .annotate import INVOLUNTARY_BGR, SIDE_BGR, VOLUNTARY_BGR
from .kinds import INVOLUNTARY_KINDS
from .regions import EYE_CONTOUR, MOUTH_CORNER, SIDES

WINDOW_NAME = "spasmscan live (q or Esc to stop)"
SCROLL_S = 10.0  # seconds of signal shown in the scrolling panel
PANEL_PX = 180  # height of the signal panel under the picture
EVENT_SHOW_S = 3.0  # a reported event stays listed this long
LANES = (("eye_aperture", "eye"), ("mouth_corner_lateral", "mouth"))


def draw_live_frame(frame: np.ndarray, time_s: float, face: np.ndarray | None, session, segment,
                    verdict_text: str) -> np.ndarray:
    """The frame with the live overlay and the signal panel below it, (H + PANEL_PX, W, 3) uint8."""
    height, width = frame.shape[:2]
    canvas = np.zeros((height + PANEL_PX, width, 3), np.uint8)
    canvas[:height] = frame
    if face is not None:
        for side in SIDES:
            for index in EYE_CONTOUR[side] + (MOUTH_CORNER[side],):
                x, y = face[index]
                cv2.circle(canvas, (int(x), int(y)), 2, SIDE_BGR[side], -1, cv2.LINE_AA)
    else:
        _text(canvas, "no face", (10, height - 12), (0, 0, 255))
    if segment is not None:
        _text(canvas, f"{segment.name}: {segment.prompt}", (10, 24), (255, 255, 255))
    _text(canvas, verdict_text, (10, 48), (255, 255, 255))
    recent = [e for e in session.events if time_s - e["end_s"] <= EVENT_SHOW_S]
    for row, event in enumerate(recent[-4:]):
        colour = INVOLUNTARY_BGR if event["kind"] in INVOLUNTARY_KINDS else VOLUNTARY_BGR
        _text(canvas, f"{event['kind']} {event['side']} {event['region']} @ {event['start_s']:.1f} s",
              (10, 72 + 22 * row), colour)
    _draw_panel(canvas[height:], session.last_signals, time_s)
    return canvas


def _draw_panel(panel: np.ndarray, signals, now_s: float) -> None:
    if signals is None:
        return
    width = panel.shape[1]
    lane_px = PANEL_PX // len(LANES)
    times = signals.times_s
    shown = times >= now_s - SCROLL_S
    x = ((times[shown] - (now_s - SCROLL_S)) / SCROLL_S * (width - 1)).astype(np.int32)
    for lane, (base, label) in enumerate(LANES):
        top = lane * lane_px
        _text(panel, label, (4, top + 16), (200, 200, 200))
        for side in SIDES:
            values = np.asarray(signals.values.get(f"{base}_{side}", ()), float)
            if values.size != times.size:
                continue
            values = values[shown]
            finite = np.isfinite(values)
            if finite.sum() < 2:
                continue
            low, high = np.percentile(values[finite], (2, 98))
            span = max(high - low, 1e-6)
            y = top + 4 + (1 - (values - low) / span) * (lane_px - 8)
            points = np.stack([x[finite], y[finite].astype(np.int32)], axis=1)
            cv2.polylines(panel, [points], False, SIDE_BGR[side], 1, cv2.LINE_AA)
        _text(panel, "R", (width - 40, top + 16), SIDE_BGR["right"])
        _text(panel, "L", (width - 20, top + 16), SIDE_BGR["left"])


def _text(image: np.ndarray, text: str, origin: tuple[int, int], colour) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 1, cv2.LINE_AA)


class LiveWindow:
    """An OpenCV window; ``show`` returns False once the user pressed q or Esc."""

    def __init__(self):
        try:
            cv2.namedWindow(WINDOW_NAME, cv2.WINDOW_NORMAL)
        except cv2.error as error:
            from .errors import ParameterError
            raise ParameterError(f"cannot open a window here ({error.msg.strip() if hasattr(error, 'msg') else error});"
                                 " use --no-window") from None

    def show(self, image: np.ndarray) -> bool:
        cv2.imshow(WINDOW_NAME, image)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        cv2.destroyWindow(WINDOW_NAME)
