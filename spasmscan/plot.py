"""The timeline a clinician looks at first: per side, eye aperture and mouth corner over time,
events shaded and labelled, the verdict in the title. Drawn with matplotlib's Agg canvas (no
window, no pyplot state); matplotlib is imported only here.
"""
from __future__ import annotations

import os
import textwrap

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .kinds import INVOLUNTARY_KINDS, KIND, KINDS, kind_label, verdict_text

WIDTH_PX, HEIGHT_PX, DPI = 1600, 900, 100  # fixed PNG size: fills a laptop screen, prints on A4 landscape
SIDE_COLORS = {"right": "#d95f02", "left": "#1f5fbf"}  # patient's right orange, left blue (also in annotate)
OTHER_KIND_COLOR = "#999999"
NO_FACE_COLOR = "#bbbbbb"
MAX_LABELLED_EVENTS = 40  # beyond this, text labels overlap; colours and the legend still tell kinds apart
# Which plot rows show an event of each region (there is no brow row: brow movement shows at the eye).
REGION_ROWS = {"eye": ("eye",), "brow": ("eye",), "mouth": ("mouth",), "eye+mouth": ("eye", "mouth")}


def verdict_title(analysis, file: str) -> str:
    """Title text: the file, the verdict, side and confidence, then the reason on the next lines."""
    verdict = analysis.verdict
    head = f"{file}: {verdict_text(verdict.label)}"
    if verdict.side in ("left", "right"):
        head += f", patient's {verdict.side.upper()} side"
    if np.isfinite(verdict.confidence):
        head += f" (confidence {verdict.confidence:.2f})"
    reason = textwrap.shorten(verdict.reason, 220, placeholder=" ...") if verdict.reason else ""
    return head + ("\n" + "\n".join(textwrap.wrap(reason, 150)) if reason else "")


def _spans(mask: np.ndarray, times_s: np.ndarray, frame_s: float) -> list[tuple[float, float]]:
    """(start_s, end_s) of each run of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(times_s[a], times_s[b - 1] + frame_s) for a, b in zip(edges[::2], edges[1::2])]


def plot_timeline(analysis, path: str | os.PathLike, *, title_file: str | None = None) -> None:
    """Write the timeline of ``analysis`` as a WIDTH_PX x HEIGHT_PX PNG to ``path``.

    Rows, top to bottom: eye aperture of the patient's right and left eye, then mouth corner
    (lateral solid, vertical dashed) of the right and left side. Events are shaded on the rows of
    their side (both sides for bilateral ones) and region; one-sided events time-locked to a
    voluntary movement are hatched; frames without a face are grey.
    """
    signals = analysis.signals
    events = analysis.events
    times = np.asarray(signals.times_s, dtype=float)
    frame_s = 1.0 / analysis.fps if analysis.fps > 0 else 0.0
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    rows = [(side, region) for region in ("eye", "mouth") for side in ("right", "left")]
    axes = figure.subplots(len(rows), 1, sharex=True)
    no_face = _spans(~np.asarray(signals.face_present, dtype=bool), times, frame_s)
    label_events = len(events) <= MAX_LABELLED_EVENTS
    for axis, (side, region) in zip(axes, rows):
        _draw_signals(axis, signals, side, region)
        for start, end in no_face:
            axis.axvspan(start, end, color=NO_FACE_COLOR, alpha=0.5, lw=0)
        for i in range(len(events)):
            rows_of_event = REGION_ROWS.get(str(events.region[i]), ("eye", "mouth"))
            if events.side[i] not in (side, "both") or region not in rows_of_event:
                continue
            _draw_event(axis, events, i, frame_s, label=label_events)
        axis.grid(True, axis="x", alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    if times.size:
        axes[-1].set_xlim(times[0], times[-1] + frame_s)
    figure.suptitle(verdict_title(analysis, analysis.source if title_file is None else title_file),
                    fontsize=13, ha="left", x=0.01)
    figure.legend(handles=_legend_handles(events, bool(no_face)), loc="outside lower center",
                  ncols=9, fontsize=9, frameon=False)
    figure.savefig(path, format="png", dpi=DPI)


def _draw_signals(axis, signals, side: str, region: str) -> None:
    """One row: the side's eye aperture, or its mouth corner (lateral solid, vertical dashed)."""
    color = SIDE_COLORS[side]
    where = f"patient's {side.upper()}"
    if region == "eye":
        lines = [(f"eye_aperture_{side}", "-", "")]
        title = f"{where} eye: aperture"
    else:
        lines = [(f"mouth_corner_lateral_{side}", "-", "lateral"), (f"mouth_corner_vertical_{side}", "--", "vertical")]
        title = f"{where} mouth corner: lateral (solid), vertical (dashed)"
    units = []
    for name, style, short in lines:
        if name in signals.values:
            axis.plot(signals.times_s, signals.values[name], style, color=color, lw=1.0)
            unit = signals.units.get(name, "")
            units.append(f"{short}: {unit}" if short and unit else unit)
    if not units:
        axis.text(0.5, 0.5, "signal not available", transform=axis.transAxes, ha="center", va="center",
                  color="#666666")
    axis.set_title(title, loc="left", fontsize=10, color=color, fontweight="bold")
    axis.set_title("; ".join(u for u in units if u), loc="right", fontsize=8, color="#555555")


def _draw_event(axis, events, i: int, frame_s: float, *, label: bool) -> None:
    kind = str(events.kind[i])
    color = KIND[kind].color if kind in KIND else OTHER_KIND_COLOR
    start = float(events.start_s[i])
    end = max(float(events.end_s[i]), start + frame_s)  # a one-frame event stays visible
    coupled = int(events.coupled_to[i]) >= 0
    axis.axvspan(start, end, facecolor=color, alpha=0.35, lw=0, hatch="///" if coupled else None,
                 edgecolor="#333333" if coupled else None)
    if label:
        axis.text(start, 0.98, kind_label(kind), transform=axis.get_xaxis_transform(), ha="left",
                  va="top", fontsize=7, color=[0.55 * c for c in to_rgb(color)],  # darker: readable on the shade
                  fontweight="bold" if kind in INVOLUNTARY_KINDS else "normal", clip_on=True)


def _legend_handles(events, any_no_face: bool) -> list:
    handles = [Patch(facecolor=kind.color, alpha=0.5,
                     label=("" if kind.voluntary else "involuntary: ")
                           + f"{kind.label} ({int(np.sum(events.kind == kind.name))})")
               for kind in KINDS]
    handles.append(Patch(facecolor="white", edgecolor="#333333", hatch="///",
                         label="locked to a voluntary movement"))
    if any_no_face:
        handles.append(Patch(facecolor=NO_FACE_COLOR, alpha=0.5, label="no face tracked"))
    handles += [Patch(facecolor=SIDE_COLORS["right"], label="patient's right"),
                Patch(facecolor=SIDE_COLORS["left"], label="patient's left")]
    return handles


EXAM_HEIGHT_PX = 500  # the exam figure: one row of panels, as wide as the timeline


def plot_exam(analysis, path: str | os.PathLike, *, title_file: str | None = None) -> None:
    """Write the examination of ``analysis`` (``analysis.exam``) as a WIDTH_PX x EXAM_HEIGHT_PX PNG:
    one panel per step, each side's excursion (patient's right orange, left blue) in the step's
    unit, the excursion ratio and the weaker side below; the title gives the weaker side over the
    exam and the Sunnybrook-style composite ESTIMATE."""
    exam = analysis.exam
    figure = Figure(figsize=(WIDTH_PX / DPI, EXAM_HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(1, max(len(exam.steps), 1), squeeze=False)[0])
    for axis, step in zip(axes, exam.steps):
        heights = [step.excursion_right, step.excursion_left]
        axis.bar([0, 1], np.nan_to_num(heights), color=[SIDE_COLORS["right"], SIDE_COLORS["left"]], width=0.6)
        axis.set_xticks([0, 1], ["right", "left"])
        axis.set_title(step.segment.replace("_", " "), fontsize=11, fontweight="bold")
        axis.set_ylabel(step.unit, fontsize=8)
        ratio = f"ratio {step.excursion_ratio:.2f}" if np.isfinite(step.excursion_ratio) else "no movement"
        spread = f" (spread {step.ratio_spread:.2f})" if np.isfinite(step.ratio_spread) else ""
        weaker = f"\nweaker: {step.weaker_side}" if step.weaker_side != "none" else ""
        closure = f"\nincomplete closure: {step.incomplete_closure}" if step.incomplete_closure not in ("", "none") \
            else ""
        axis.set_xlabel(ratio + spread + weaker + closure, fontsize=9)
        axis.grid(True, axis="y", alpha=0.3)
    composite = exam.composite_estimate
    score = (f"Sunnybrook-style composite ESTIMATE {composite:.0f}/100 (from video, not a clinical grading)"
             if np.isfinite(composite) else "no composite estimate (the five graded expressions and rest are needed)")
    figure.suptitle(f"{analysis.source if title_file is None else title_file}: weaker side {exam.weaker_side}; "
                    f"{score}", fontsize=12, ha="left", x=0.01)
    figure.savefig(path, format="png", dpi=DPI)
