"""Per-frame, per-side face signals from a landmark series, in a head-normalised frame.

Every frame is aligned to the face's own reference shape on rigid landmarks (a similarity:
shift, roll and scale), so nodding, turning or leaning towards the camera is not read as
movement. Lengths are then in inter-ocular distances (IOD: between the two eye centres of the
reference shape). Each signal is expressed against the patient's own running baseline, and its
robust noise level is kept beside it.

Pure arrays: no OpenCV, no MediaPipe.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import regions
from .errors import ParameterError

logger = logging.getLogger(__name__)

# Signal names, each with a "_left" and "_right" column (the patient's sides).
SIGNAL_BASES = ("eye_aperture", "brow_height", "mouth_corner_lateral", "mouth_corner_vertical", "cheek_height",
                "upper_lip_height", "cheek_lateral")
# ... of which these came later: their columns follow every other signal's (the earlier columns keep their places)
LATER_BASES = ("upper_lip_height", "cheek_lateral")
# Positions kept only as levels (Signals.levels), for comparing the sides and a movement with rest (the
# examination, spasmscan.exam): the lid gap straight across the eye line (the lid pairs' distance also holds
# their offset along the eye, which closing does not shrink), and the mouth corner's distance from the face's
# midline (the lip centre follows the healthy side's pull, which would read as movement of the other corner).
LEVEL_BASES = ("lid_gap", "mouth_corner_midline")

# Lid pairs used for the aperture: the five central pairs; the pairs next to the corners
# barely move when the lid closes and would only dilute the signal.
APERTURE_PAIRS = slice(1, 6)
# Alignment points: the nose bridge and upper ridge, the four eye corners and the temples. Left out: the
# nose tip and lower ridge, which stand out of the face plane and swing sideways when the head turns (read
# as a roll otherwise), and the forehead and glabella (8, 9, 151, 10), which the tracker lifts by half a
# brow raise (aligning on them hid half of every raise). The outer eye corners give the roll an eye-to-eye
# lever, but the tracker tilts the eye corners with every blink (a 0.4 degree roll on the development
# portrait: one mouth corner read 0.01 IOD higher than the other in each blink); the temples, beside the
# eyes and out of the lids' reach, give a wider lever that a blink does not tilt.
ALIGNMENT_POINTS = regions.NOSE_RIDGE + tuple(
    corner[side] for side in regions.SIDES
    for corner in (regions.EYE_INNER_CORNER, regions.EYE_OUTER_CORNER, regions.TEMPLE))
ALIGN_CHUNK_FRAMES = 4096  # frames aligned at once: bounds the temporary arrays of long recordings
MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation for Gaussian noise
MOVEMENT_PERCENTILE = 35.0  # baseline of brows, mouth corners, cheeks: their movements push one way (up, out)
NOISE_CLIP = 3.0  # noise is re-estimated without values beyond this many SDs: Gaussian noise rarely goes there
NOISE_CLIP_ROUNDS = 10  # sigma clipping settles within a few rounds
MIN_PRESENT_FRACTION = 0.2  # a baseline window needs this share of tracked frames to be trusted
# Turning or nodding the head foreshortens the two eyes (and the two halves of the mouth) differently, and
# people talking turn and nod all the time: the signals of both sides are freed of the part the head's
# pose explains (a robust linear fit on the nose ridge's offset from the eyes), fitted at rest.
POSE_CORRECTED = ("eye_aperture", "mouth_corner_lateral")
# ... but only when the head does turn or nod: the whole mesh deforms a little when one eye closes (the
# pose proxies move by about 0.004 IOD in a one-sided spasm of the development portrait), and a fit on
# pose that varies no more than that would take the spasm itself for pose.
POSE_MIN_SD = 0.02
POSE_LANDMARK = 197  # the upper nose ridge: in the face's mid-plane, clear of every expression
MIN_POSE_FIT_FRAMES = 50  # fewer frames (2 s at 25 fps) do not tell pose from movement
POSE_FIT_CLIP = 3.0  # frames further than this many robust SDs from the fit are movements, not pose
# The mouth corners' pixels (mouth_flow) give the corners' movements faster than this: the tracker
# drags its corners along with a blink or a held eye closure, the skin does not; the summed pixel steps drift
# over longer spans, the tracked corners do not. A running median of this length splits the two: movements of
# up to about half of it (blinks, co-contractions, twitches) come from the pixels.
MOUTH_FLOW_CROSSOVER_S = 4.0
# The pixel steps are turned into the face frame by the alignment steadied over this long (a running median):
# the tracked eye corners and temples it rests on shift in every blink, a head turns and nods more slowly.
ALIGNMENT_STEADY_S = 1.0
# A co-contraction or twitch pulls a corner by up to about 0.1 IOD within 0.1 s or more: pixels moving faster
# than this are a talking or laughing mouth, whose lip corner the flow loses (the tracker does not) ...
MOUTH_FLOW_MAX_SPEED = 1.5  # IOD/s
MOUTH_FLOW_MARGIN_S = 0.25  # ... and this long around such frames the tracked corner's own steps count instead;
# a recording with more of its frames so marked is of a talking face, whose corners are left to the tracker
MOUTH_FLOW_MAX_MOVING_SHARE = 0.15
# Measures the pixels' steps feed -> the part of the step (against the nose ridge, on the face's midline) they take
MOUTH_FLOW_BASES = {"mouth_corner_lateral": "lateral", "mouth_corner_vertical": "vertical",
                    "mouth_corner_midline": "lateral"}
MIN_OPENING_NOISE = 1e-4  # an eye-opening measure steadier than this is constant (a still image or none): no weight

# Only regions.MEASURED_LANDMARKS are aligned: the other landmarks are never used.
_COLUMN_OF = {landmark: column for column, landmark in enumerate(regions.MEASURED_LANDMARKS)}


def _columns(landmarks) -> list[int]:
    """Columns of MEASURED_LANDMARKS-arrays that hold these landmark indices."""
    return [_COLUMN_OF[i] for i in landmarks]


UNITS = {
    "eye_aperture": ("eye opening, fraction of the side's own open eye (1 = usual open eye, lower = closing): the lid "
                     "landmarks' aperture (fused with the visible iris when the settings ask for it)"),
    "eye_openness": "visible iris against the skin below the eye, fraction of the side's own open eye",
    "eye_lid_aperture": ("the lid landmarks' aperture alone, fraction of the side's own open eye (present when the "
                         "visible iris is fused into eye_aperture)"),
    "brow_height": "brow rise above its own baseline, inter-ocular distances (positive = up)",
    "mouth_corner_lateral": ("mouth-corner shift from its own baseline, against the lip centre, inter-ocular "
                             "distances (positive = outward)"),
    "mouth_corner_vertical": "mouth-corner rise above its own baseline, inter-ocular distances (positive = up)",
    "cheek_height": "cheek rise above its own baseline, inter-ocular distances (positive = up)",
    "upper_lip_height": ("upper lip's side (between centre and corner) rise above its own baseline, inter-ocular "
                         "distances (positive = up, as in a snarl)"),
    "cheek_lateral": ("cheek beside the nose and mouth, shift from its own baseline away from the face's midline, "
                      "inter-ocular distances (positive = outward, as in a cheek puff)"),
    "eye_aperture_raw": "lid distance over eye width (five central lid pairs), before baselining",
    "head_roll_deg": "head roll in the image, degrees",
    "head_scale": "inter-ocular distance in pixels",
    "head_shift": "head displacement from its median position, inter-ocular distances",
    "head_yaw": "nose-ridge offset towards the patient's left from between the inner eye corners, IOD (head turn)",
    "head_pitch": "nose-ridge offset below the inner eye corners' midpoint, IOD (head nod)",
}


@dataclass(frozen=True)
class Signals:
    """Aligned per-frame signals.

    times_s: (n,) float64 seconds. face_present: (n,) bool, the face was tracked (short gaps
    bridged). values: name -> (n,) float64, NaN in long tracking gaps. Names are
    ``f"{base}_{side}"`` for base in SIGNAL_BASES and side in ("left", "right"); units are
    stated in ``units`` (name -> text). noise: name -> robust standard deviation of the signal
    around its baseline (same units; for eye_aperture and the baselined signals). fps: frames
    per second (default: from the median time step). levels: name -> (n,) each baselined per-side
    signal before its baseline is taken away, its position in the head-normalised frame (IOD, origin
    between the eyes; positive up or outward), and the LEVEL_BASES kept only here (``lid_gap_SIDE``:
    the lid gap across the eye line over the eye width; ``mouth_corner_midline_SIDE``: the corner's
    distance from the face's midline, IOD; ``eye_openness_SIDE``: the image openness before its
    baseline, when measured): what comparing the sides, or a movement with rest, reads.
    """

    times_s: np.ndarray
    face_present: np.ndarray
    values: dict
    units: dict
    noise: dict = field(default_factory=dict)
    fps: float = float("nan")
    levels: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.fps > 0 and self.times_s.size > 1:  # not given: from the time steps
            object.__setattr__(self, "fps", 1.0 / float(np.median(np.diff(self.times_s))))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    @property
    def names(self) -> list[str]:
        return list(self.values)

    @property
    def tracked_s(self) -> float:
        """Seconds of video with a tracked face (short gaps bridged)."""
        return float(np.count_nonzero(self.face_present)) / self.fps if self.fps > 0 else 0.0

    def swapped_sides(self) -> "Signals":
        """The same signals with left and right exchanged (a mirror image of the patient)."""
        def other(name: str) -> str:
            for side in regions.SIDES:
                if name.endswith("_" + side):
                    return name[: -len(side)] + regions.mirror_side(side)
            return name
        values = {other(k): v for k, v in self.values.items()}
        if "eye_asymmetry" in values:
            values["eye_asymmetry"] = -values["eye_asymmetry"]
        return Signals(times_s=self.times_s, face_present=self.face_present, values=values,
                       units={other(k): v for k, v in self.units.items()},
                       noise={other(k): v for k, v in self.noise.items()}, fps=self.fps,
                       levels={other(k): v for k, v in self.levels.items()})


def compute_signals(points: np.ndarray, times_s: np.ndarray, *, landmark_ids=None, eye_openness=None,
                    fuse_eye_openness: bool = False, mouth_flow=None, max_gap_s: float = 0.25,
                    baseline_window_s: float = 20.0, open_eye_percentile: float = 75.0) -> Signals:
    """Signals from (n, k, 2) pixel landmarks (NaN where no face) and (n,) times in seconds.

    eye_openness: (n, 2) image openness of the patient's (left, right) eye
    (:func:`spasmscan.eye_pixels.eye_openness`), or None; given, it becomes the eye_openness_*
    signals, and with ``fuse_eye_openness`` each eye's opening fuses it with the lid landmarks'
    aperture (:func:`fused_opening`).
    mouth_flow: (n, 2, 2) pixel steps of the (left, right) mouth corners
    (:class:`spasmscan.mouth_pixels.CornerFlow`), or None; given, the mouth-corner signals take their
    movements faster than MOUTH_FLOW_CROSSOVER_S from it (:func:`with_corner_flow`).
    landmark_ids: the Face Mesh landmark in each of the k columns (default: all 478 in order); they
    must include regions.MEASURED_LANDMARKS. max_gap_s: tracking gaps up to this long are bridged
    by linear interpolation, longer ones stay NaN. baseline_window_s: length of the running window
    for the patient's own baseline. open_eye_percentile: the open-eye baseline is this running
    percentile of the lid aperture (eyes are open most of the time; blinks and spasms are the low tail).
    """
    points = np.asarray(points)
    times_s = np.asarray(times_s, dtype=np.float64)
    ids = np.arange(regions.N_LANDMARKS) if landmark_ids is None else np.asarray(landmark_ids)
    if points.ndim != 3 or points.shape[2] != 2 or ids.shape != (points.shape[1],):
        raise ParameterError(f"points must have shape (n, {ids.size}, 2), one column per landmark id, "
                             f"got {points.shape}")
    column_of = {int(landmark): column for column, landmark in enumerate(ids)}
    missing = [i for i in regions.MEASURED_LANDMARKS if i not in column_of]
    if missing:
        raise ParameterError(f"points lack Face Mesh landmarks the signals read: {missing[:8]}")
    points = points[:, [column_of[i] for i in regions.MEASURED_LANDMARKS]]  # (n, m, 2): only those measured
    if times_s.shape != (points.shape[0],):
        raise ParameterError(f"times_s must have shape ({points.shape[0]},), got {times_s.shape}")
    if times_s.size > 1 and np.any(np.diff(times_s) <= 0):
        raise ParameterError("times_s must be strictly increasing")
    if max_gap_s < 0 or baseline_window_s <= 0 or not 0 < open_eye_percentile < 100:
        raise ParameterError("max_gap_s must be >= 0, baseline_window_s > 0 and open_eye_percentile in (0, 100)")
    n = times_s.size
    fps = 1.0 / float(np.median(np.diff(times_s))) if n > 1 else float("nan")
    tracked = np.all(np.isfinite(points[:, _columns(ALIGNMENT_POINTS), :]), axis=(1, 2))

    if mouth_flow is not None and np.shape(mouth_flow) != (n, 2, 2):
        raise ParameterError(f"mouth_flow must have shape ({n}, 2, 2), got {np.shape(mouth_flow)}")
    raw, roll_deg, scale_px, shift = aligned_measures(points, tracked, corner_steps=mouth_flow, times_s=times_s)
    if mouth_flow is not None:
        raw = with_corner_flow(raw, times_s, tracked)
    raw.update({"head_roll_deg": roll_deg, "head_scale": scale_px, "head_shift": shift})

    bridged = bridgeable_gaps(tracked, times_s, max_gap_s=max_gap_s)
    present = tracked | bridged
    values: dict[str, np.ndarray] = {}
    noise: dict[str, float] = {}
    levels: dict[str, np.ndarray] = {}
    for name, series in raw.items():
        filled = interpolate_gaps(series, times_s, bridged)
        if name.startswith("eye_aperture_raw"):
            base = running_percentile(filled, times_s, window_s=baseline_window_s, percentile=open_eye_percentile)
            side = name.rsplit("_", 1)[1]
            relative = filled / base
            values[f"eye_aperture_{side}"] = relative
            noise[f"eye_aperture_{side}"] = robust_noise(relative - 1.0)
            values[name] = filled
        elif name.startswith("head_"):
            values[name] = filled
        elif name.rsplit("_", 1)[0] in LEVEL_BASES:
            levels[name] = filled
        else:
            base = running_percentile(filled, times_s, window_s=baseline_window_s, percentile=MOVEMENT_PERCENTILE)
            values[name] = filled - base
            noise[name] = robust_noise(filled - base)
            levels[name] = filled
    pose = np.column_stack([values["head_yaw"], values["head_pitch"]])
    turning = max(robust_noise(pose[:, 0]), robust_noise(pose[:, 1])) > POSE_MIN_SD
    for base in POSE_CORRECTED if turning else ():
        centre = 1.0 if base == "eye_aperture" else 0.0
        for side in regions.SIDES:
            name = f"{base}_{side}"
            values[name] = centre + without_pose(values[name] - centre, pose)
            noise[name] = robust_noise(values[name] - centre)
    if eye_openness is not None:
        openness = np.asarray(eye_openness, dtype=np.float64)
        if openness.shape != (n, 2):
            raise ParameterError(f"eye_openness must have shape ({n}, 2), got {openness.shape}")
        for column, side in enumerate(regions.SIDES):  # regions.SIDES is ("left", "right"), the columns' order
            filled = interpolate_gaps(np.where(tracked, openness[:, column], np.nan), times_s, bridged)
            base = running_percentile(filled, times_s, window_s=baseline_window_s, percentile=open_eye_percentile)
            values[f"eye_openness_{side}"] = filled / np.where(base > 0, base, np.nan)
            levels[f"eye_openness_{side}"] = filled
    if eye_openness is not None and fuse_eye_openness:
        fused = fused_opening({s: values[f"eye_aperture_{s}"] for s in regions.SIDES},
                              {s: values[f"eye_openness_{s}"] for s in regions.SIDES})
        for side in regions.SIDES:
            values[f"eye_lid_aperture_{side}"] = values[f"eye_aperture_{side}"]
            values[f"eye_aperture_{side}"] = fused[side]
            noise[f"eye_aperture_{side}"] = robust_noise(fused[side] - 1.0)
    values["eye_asymmetry"] = values["eye_aperture_right"] - values["eye_aperture_left"]
    noise["eye_asymmetry"] = robust_noise(values["eye_asymmetry"])
    for name in [f"{base}_{side}" for base in LATER_BASES for side in regions.SIDES]:
        values[name] = values.pop(name)
    units = {name: _unit_of(name) for name in values}
    units["eye_asymmetry"] = "right minus left eye_aperture (positive = left eye more closed)"
    logger.debug("signals: %d frames at %.3g fps, %.1f%% tracked, noise %s", n, fps,
                 100.0 * present.mean() if n else 0.0, {k: round(v, 4) for k, v in noise.items()})
    return Signals(times_s=times_s, face_present=present, values=values, units=units, noise=noise, fps=fps,
                   levels=levels)


def _unit_of(name: str) -> str:
    for key in sorted(UNITS, key=len, reverse=True):  # the longest matching prefix: eye_aperture_raw first
        if name == key or name.startswith(key + "_"):
            return UNITS[key]
    return ""


def with_corner_flow(raw: dict, times_s: np.ndarray, tracked: np.ndarray) -> dict:
    """``raw`` with each mouth-corner measure's fast part (faster than MOUTH_FLOW_CROSSOVER_S) taken from
    the summed pixel steps (``mouth_step_*``, IOD, dropped from the result) and its slow part from the
    tracked corner. Around frames where either corner's pixels move faster than MOUTH_FLOW_MAX_SPEED
    (talking, laughing: the pixels lose the lip corner there), the tracked corner's own steps are summed;
    with more than MOUTH_FLOW_MAX_MOVING_SHARE of the frames so marked, the tracked corners stay as they are."""
    out = {name: values for name, values in raw.items() if not name.startswith("mouth_step_")}
    steps = {name: values for name, values in raw.items() if name.startswith("mouth_step_")}
    if not tracked.any() or not any(np.isfinite(values).any() for values in steps.values()):
        return out  # no pixels (all NaN: tracked without the flow)
    frame_s = np.diff(times_s, prepend=np.nan)
    speed = np.nanmax(np.stack([np.hypot(steps[f"mouth_step_lateral_{side}"], steps[f"mouth_step_vertical_{side}"])
                                for side in regions.SIDES]), axis=0, initial=0.0) / frame_s
    fast_frames = np.flatnonzero(speed > MOUTH_FLOW_MAX_SPEED)
    unreliable = np.zeros(times_s.size, bool)
    for first, last in zip(np.searchsorted(times_s, times_s[fast_frames] - MOUTH_FLOW_MARGIN_S),
                           np.searchsorted(times_s, times_s[fast_frames] + MOUTH_FLOW_MARGIN_S, side="right")):
        unreliable[first:last] = True
    if unreliable[tracked].mean() > MOUTH_FLOW_MAX_MOVING_SHARE:
        return out  # a talking face: the tracked corners as they are
    for base in MOUTH_FLOW_BASES:
        for side in regions.SIDES:
            corner = raw[f"{base}_{side}"]
            pixel_steps = steps[f"mouth_step_{MOUTH_FLOW_BASES[base]}_{side}"]
            own = np.where(unreliable, np.diff(corner, prepend=np.nan), pixel_steps)
            path = np.where(tracked, np.cumsum(np.nan_to_num(own)), np.nan)
            fast = path - running_percentile(path, times_s, window_s=MOUTH_FLOW_CROSSOVER_S, percentile=50.0)
            slow = running_percentile(corner, times_s, window_s=MOUTH_FLOW_CROSSOVER_S, percentile=50.0)
            out[f"{base}_{side}"] = slow + fast
    return out


def aligned_measures(points: np.ndarray, tracked: np.ndarray, *, corner_steps=None, times_s=None):
    """Raw measures of every tracked frame aligned to the face's own reference shape on
    ``ALIGNMENT_POINTS``, in IOD units with the origin between the eyes, x towards the patient's
    left, y down (a reflected face, as a mirrored recording shows it, is reflected back first).

    points: (n, m, 2) pixels of regions.MEASURED_LANDMARKS; tracked: (n,) bool. Returns the raw
    measures (name -> (n,), see :func:`_raw_measures`, NaN where untracked); head roll (n,) degrees (of the
    patient's head, the same for a recording and its mirror image),
    scale (n,) pixels per IOD and shift (n,) IOD from the median head position. The reference is
    the median aligned rigid shape (two rounds of generalised Procrustes). Frames are aligned in
    chunks, and only their measures are kept: long recordings stay light. corner_steps: (n, 2, 2)
    pixel steps of the (left, right) mouth corners, or None; given (with the frames' ``times_s``), the
    raw measures also hold them in the face frame (``mouth_step_lateral_SIDE`` outward,
    ``mouth_step_vertical_SIDE`` up; IOD), turned by the alignment steadied over ALIGNMENT_STEADY_S.
    """
    n = points.shape[0]
    names = _raw_measures(np.empty((0,) + points.shape[1:]))  # the measures of no frames: their names
    if corner_steps is not None:
        names = {**names, **{f"mouth_step_{part}_{side}": None for part in ("lateral", "vertical")
                             for side in regions.SIDES}}
    raw = {name: np.full(n, np.nan) for name in names}
    roll = np.full(n, np.nan)
    scale = np.full(n, np.nan)
    shift = np.full(n, np.nan)
    if not tracked.any():
        return raw, roll, scale, shift
    frames = np.flatnonzero(tracked)
    # A mirrored recording shows the face reflected (the patient's left eye on the image's left, the mouth
    # still below): no rotation turns its eye line onto +x with the mouth at +y, so x is reflected first.
    # The sign of (eye line x eyes-to-mouth) tells a reflected face from a turned one.
    eyes = {s: points[np.ix_(frames, _columns((regions.EYE_OUTER_CORNER[s], regions.EYE_INNER_CORNER[s])))]
            .mean(axis=1) for s in regions.SIDES}
    mouth = points[np.ix_(frames, _columns(tuple(regions.MOUTH_CORNER.values())))].mean(axis=1)
    eye_line, down = eyes["left"] - eyes["right"], mouth - (eyes["left"] + eyes["right"]) / 2
    reflect = -1.0 if np.median(eye_line[:, 0] * down[:, 1] - eye_line[:, 1] * down[:, 0]) < 0 else 1.0

    def complex_points(rows: np.ndarray, columns=None) -> np.ndarray:  # (rows, c) complex128 pixels
        some = points[rows] if columns is None else points[np.ix_(rows, columns)]
        return reflect * some[..., 0].astype(np.float64) + 1j * some[..., 1].astype(np.float64)

    rigid = complex_points(frames, _columns(ALIGNMENT_POINTS))
    reference = rigid[0] - rigid[0].mean()
    for _ in range(2):
        gain, offset = _similarity(rigid, reference)
        fitted = gain[:, None] * (rigid - offset[:, None])
        reference = np.median(fitted.real, axis=0) + 1j * np.median(fitted.imag, axis=0)
    gain, offset = _similarity(rigid, reference)
    # Face frame: eye centres (of the median fitted corners) on the x axis, 1 IOD apart, origin between them.
    centre = {}
    for s in regions.SIDES:
        fitted = gain[:, None] * (complex_points(frames, _columns((regions.EYE_OUTER_CORNER[s],
                                                                  regions.EYE_INNER_CORNER[s]))) - offset[:, None])
        centre[s] = (np.median(fitted.real, axis=0) + 1j * np.median(fitted.imag, axis=0)).mean()
    axis = centre["left"] - centre["right"]  # right eye -> left eye
    origin = (centre["left"] + centre["right"]) / 2
    to_face = np.conj(axis) / abs(axis) ** 2  # rotates the eye line onto +x and scales it to 1
    for first in range(0, frames.size, ALIGN_CHUNK_FRAMES):
        chunk = slice(first, first + ALIGN_CHUNK_FRAMES)
        face = to_face * (gain[chunk, None] * (complex_points(frames[chunk]) - offset[chunk, None]) - origin)
        for name, values in _raw_measures(np.stack([face.real, face.imag], axis=-1)).items():
            raw[name][frames[chunk]] = values
    pixel_per_face = 1.0 / (gain * to_face)  # face units -> pixels, complex (rotation and scale)
    roll[tracked] = np.degrees(np.angle(pixel_per_face))
    scale[tracked] = np.abs(pixel_per_face)
    head_origin = offset + origin / gain  # the face origin's position in pixels
    median_origin = np.median(head_origin.real) + 1j * np.median(head_origin.imag)
    shift[tracked] = np.abs(head_origin - median_origin) / scale[tracked]
    if corner_steps is not None:
        # A step moves the corner from its tracked place in the frame before (against the nose), and that
        # frame's and this frame's steadied alignment turn each place into the face frame: the head's turning
        # and scaling between the frames cancels, the corner's own movement is the pixels'.
        face_per_pixel = np.full(n, np.nan, np.complex128)
        face_per_pixel[frames] = 1.0 / pixel_per_face
        steady = [running_percentile(part, times_s, window_s=ALIGNMENT_STEADY_S, percentile=50.0, bin_s=0.1)
                  for part in (face_per_pixel.real, face_per_pixel.imag)]
        to_face_of = steady[0] + 1j * steady[1]
        later = frames[1:][np.diff(frames) == 1]
        steps = np.asarray(corner_steps, dtype=np.float64)[later]
        nose = complex_points(later - 1, [_COLUMN_OF[regions.NOSE_RIDGE[1]]])[:, 0]  # the flow's reference point
        for column, side in enumerate(regions.SIDES):
            outward = 1.0 if side == "left" else -1.0
            before = complex_points(later - 1, [_COLUMN_OF[regions.MOUTH_CORNER[side]]])[:, 0] - nose
            moved = before + reflect * steps[:, column, 0] + 1j * steps[:, column, 1]
            face_step = moved * to_face_of[later] - before * to_face_of[later - 1]
            raw[f"mouth_step_lateral_{side}"][later] = outward * face_step.real
            raw[f"mouth_step_vertical_{side}"][later] = -face_step.imag
    return raw, roll, scale, shift


def _similarity(shapes: np.ndarray, reference: np.ndarray):
    """Least-squares similarity from each of (m, k) complex ``shapes`` onto a centred (k,) reference.

    Returns gain (m,) complex (rotation and scale) and offset (m,) complex (the shapes' centroids):
    ``gain * (shape - offset)`` is the fitted shape.
    """
    offset = shapes.mean(axis=1)
    centred = shapes - offset[:, None]
    reference = reference - reference.mean()
    gain = (np.conj(centred) * reference).sum(axis=1) / (np.abs(centred) ** 2).sum(axis=1)
    return gain, offset


def _raw_measures(aligned: np.ndarray) -> dict:
    """Raw per-side measures from (n, m, 2) aligned regions.MEASURED_LANDMARKS (IOD units, y down)."""
    x, y = aligned[..., 0], aligned[..., 1]
    lip_centre_x = x[:, _columns((regions.UPPER_LIP_CENTER, regions.LOWER_LIP_CENTER,
                                  regions.INNER_UPPER_LIP, regions.INNER_LOWER_LIP))].mean(axis=1)
    out = {}
    for side in regions.SIDES:
        outward = 1.0 if side == "left" else -1.0  # the patient's left is +x in the face frame
        upper = aligned[:, _columns(regions.UPPER_LID[side][APERTURE_PAIRS])]
        lower = aligned[:, _columns(regions.LOWER_LID[side][APERTURE_PAIRS])]
        lid_gap = np.linalg.norm(upper - lower, axis=2).sum(axis=1)
        outer, inner = _columns((regions.EYE_OUTER_CORNER[side], regions.EYE_INNER_CORNER[side]))
        width = np.linalg.norm(aligned[:, outer] - aligned[:, inner], axis=1)
        out[f"eye_aperture_raw_{side}"] = lid_gap / width
        out[f"lid_gap_{side}"] = (lower[..., 1] - upper[..., 1]).mean(axis=1) / width
        out[f"mouth_corner_midline_{side}"] = outward * x[:, _COLUMN_OF[regions.MOUTH_CORNER[side]]]
        out[f"brow_height_{side}"] = -y[:, _columns(regions.BROW_UPPER[side])].mean(axis=1)
        corner = _COLUMN_OF[regions.MOUTH_CORNER[side]]
        # Lateral against the lip centre, which follows a head turn but not a one-sided pull.
        out[f"mouth_corner_lateral_{side}"] = outward * (x[:, corner] - lip_centre_x)
        out[f"mouth_corner_vertical_{side}"] = -y[:, corner]
        out[f"cheek_height_{side}"] = -y[:, _columns(regions.CHEEK[side])].mean(axis=1)
        out[f"upper_lip_height_{side}"] = -y[:, _columns(regions.UPPER_LIP_SIDE[side])].mean(axis=1)
        out[f"cheek_lateral_{side}"] = outward * x[:, _columns(regions.BUCCAL[side])].mean(axis=1)
    inner = aligned[:, _columns((regions.EYE_INNER_CORNER["left"], regions.EYE_INNER_CORNER["right"]))].mean(axis=1)
    nose = aligned[:, _COLUMN_OF[POSE_LANDMARK]]
    out["head_yaw"] = nose[:, 0] - inner[:, 0]
    out["head_pitch"] = nose[:, 1] - inner[:, 1]
    return out


def fused_opening(landmarks: dict, image: dict) -> dict:
    """Side -> (n,) eye opening from the lid landmarks' relative aperture and the image's relative
    openness (side -> (n,) each, 1 = the side's usual open eye): their closures averaged with weights
    inversely proportional to each measure's left-right difference noise, which is the sum of the two
    closures in units of their own noise (what a one-sided closure must stand out of), rescaled to the
    closure's units. The landmarks under-report a closure (a shut eye moves them about a third of the
    way), the visible iris does not but fails on eyes the lids half hide: each recording weighs them by
    how steady they are on it. Where the image measure is missing, the landmarks alone."""
    weight = {}
    for name, measure in (("landmarks", landmarks), ("image", image)):
        level = robust_noise(measure["right"] - measure["left"])
        weight[name] = 1.0 / level if np.isfinite(level) and level > MIN_OPENING_NOISE else 0.0
    if weight["image"] == 0.0 or weight["landmarks"] == 0.0:
        return dict(landmarks)
    out = {}
    for side in regions.SIDES:
        both = np.isfinite(image[side])
        mixed = (weight["landmarks"] * landmarks[side] + weight["image"] * image[side]) / sum(weight.values())
        out[side] = np.where(both, mixed, landmarks[side])
    return out


def without_pose(values: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """``values`` (n,) minus its robust linear fit on the centred ``pose`` features (n, p): the part
    of a signal that head turns and nods explain, fitted on the frames within POSE_FIT_CLIP robust
    SDs of the fit (movements are left out). Unchanged when fewer than MIN_POSE_FIT_FRAMES frames
    have every value."""
    finite = np.isfinite(values) & np.all(np.isfinite(pose), axis=1)
    if np.count_nonzero(finite) < MIN_POSE_FIT_FRAMES:
        return values
    features = pose[finite] - np.median(pose[finite], axis=0)
    target = values[finite]
    keep = np.ones(target.shape, dtype=bool)
    coefficients = np.zeros(features.shape[1])
    for _ in range(3):
        design = np.column_stack([np.ones(np.count_nonzero(keep)), features[keep]])
        solution, *_ = np.linalg.lstsq(design, target[keep], rcond=None)
        coefficients = solution[1:]
        residual = target - solution[0] - features @ coefficients
        sigma = robust_noise(residual)
        if not sigma > 0:
            break
        keep = np.abs(residual - np.median(residual)) <= POSE_FIT_CLIP * sigma
        if np.count_nonzero(keep) < MIN_POSE_FIT_FRAMES:
            break
    out = values.copy()
    out[finite] = target - features @ coefficients
    return out


def bridgeable_gaps(tracked: np.ndarray, times_s: np.ndarray, *, max_gap_s: float) -> np.ndarray:
    """(n,) bool: untracked frames inside gaps short enough to bridge (tracked frames on both sides)."""
    bridged = np.zeros(tracked.shape, dtype=bool)
    if not tracked.any():
        return bridged
    index = np.flatnonzero(tracked)
    for before, after in zip(index[:-1], index[1:]):
        if after - before > 1 and times_s[after] - times_s[before] <= max_gap_s + 1e-9:
            bridged[before + 1:after] = True
    return bridged


def interpolate_gaps(series: np.ndarray, times_s: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """``series`` (n,) with the frames marked in ``fill`` linearly interpolated from finite neighbours."""
    out = series.copy()
    known = np.isfinite(series)
    if fill.any() and known.sum() >= 2:
        out[fill] = np.interp(times_s[fill], times_s[known], series[known])
    return out


def running_percentile(series: np.ndarray, times_s: np.ndarray, *, window_s: float, percentile: float,
                       bin_s: float = 0.5) -> np.ndarray:
    """Running ``percentile`` of ``series`` (n,) over a centred window of ``window_s`` seconds, NaN-aware.

    Frames are pooled in bins of ``bin_s`` seconds (the percentile of a window is taken over the
    frames of its bins), then the result is interpolated back to every frame. Where a window
    holds too few tracked frames, the nearest trusted value is used.
    """
    out = np.full(series.shape, np.nan)
    finite = np.isfinite(series)
    if not finite.any():
        return out
    start = times_s[0]
    bins = np.floor((times_s - start) / bin_s).astype(int)  # non-decreasing: times increase
    n_bins = bins[-1] + 1
    half = max(1, int(round(window_s / bin_s / 2)))
    per_bin_total = np.bincount(bins, minlength=n_bins)
    # One row per bin (NaN-padded, with half a window of empty bins at both ends), so every
    # window is a fixed-size block of rows and all windows are handled in one vectorised step.
    slot = np.arange(bins.size) - np.searchsorted(bins, bins)  # each frame's place inside its bin
    table = np.full((n_bins + 2 * half, per_bin_total.max()), np.nan)
    table[bins + half, slot] = series
    windows = sliding_window_view(table, 2 * half + 1, axis=0).reshape(n_bins, -1)
    counts = np.isfinite(windows).sum(axis=1)
    totals = np.convolve(np.pad(per_bin_total, half), np.ones(2 * half + 1, dtype=int), mode="valid")
    trusted = counts >= np.maximum(3, MIN_PRESENT_FRACTION * totals)
    centres = np.full(n_bins, np.nan)
    # numpy's default (linear) percentile of each trusted window, by partial sorts of the windows
    # that hold the same number of values (NaN sorts last: a window's values come first)
    for count in np.unique(counts[trusted]):
        rows = np.flatnonzero(trusted & (counts == count))
        position = (count - 1) * (percentile / 100.0)
        low = int(np.floor(position))
        high = min(low + 1, count - 1)
        ranked = np.partition(windows[rows], sorted({low, high}), axis=1)
        fraction = position - low
        centres[rows] = ranked[:, low] * (1.0 - fraction) + ranked[:, high] * fraction
    good = np.isfinite(centres)
    if not good.any():
        return np.full(series.shape, np.percentile(series[finite], percentile))
    bin_times = start + (np.arange(n_bins) + 0.5) * bin_s
    out[:] = np.interp(times_s, bin_times[good], centres[good])
    return out


def robust_noise(deviation: np.ndarray) -> float:
    """Robust standard deviation of the finite entries of ``deviation``; NaN when none.

    The scaled MAD, recomputed on the values within NOISE_CLIP of the median until it settles
    (sigma clipping): events that fill much of a recording (long smiles, frequent spasms)
    would otherwise pass for noise.
    """
    values = deviation[np.isfinite(deviation)]
    if values.size == 0:
        return float("nan")
    sigma = float("inf")
    for _ in range(NOISE_CLIP_ROUNDS):
        centre = np.median(values)
        new_sigma = float(MAD_TO_SIGMA * np.median(np.abs(values - centre)))
        if new_sigma >= sigma or new_sigma == 0.0:
            return min(new_sigma, sigma)
        sigma = new_sigma
        values = values[np.abs(values - centre) <= NOISE_CLIP * sigma]
    return sigma
