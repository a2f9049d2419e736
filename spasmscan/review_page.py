"""The review page: one self-contained HTML file per recording (STEM.html) and a batch index
(index.html), and the scoring of the reviews clinicians save from the pages.

A page holds everything inline (CSS, JavaScript, an SVG timeline); it fetches nothing and opens
from any folder or USB stick next to its video. Everything that comes from a file name or from
the analysis is escaped; the page names the video by its own file name only, never by a folder
of the machine it was made on. Review marks are saved by the browser itself (a Blob download)
as STEM.review.csv; :func:`score_reviews` reads such files back.
"""
from __future__ import annotations

import csv
import html
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote

import numpy as np

from . import __version__
from .annotate import EVENT_HOLD_S, INVOLUNTARY_BGR, LANES, SCALE_PERCENTILES, SIDE_BGR, VOLUNTARY_BGR, annotated_codec
from .errors import InputNotFoundError, ParameterError
from .kinds import INVOLUNTARY_KINDS, KINDS, side_text, verdict_text
from .regions import SIDES
from .report import FORMULA_STARTS, TEXT_MARK, _write_text, atomic_path, report_path
from .summary import FLAG_TEXT

PRE_ROLL_S = 0.4  # a jump to an event starts this long before its onset: the face at rest, then the twitch
MAX_BUCKETS = 1500  # a signal of more than twice this many samples is drawn as these buckets' minimum and maximum
PLOT_WIDTH, LANE_HEIGHT, STRIP_HEIGHT, AXIS_HEIGHT = 900, 120, 26, 24  # timeline geometry, SVG units
LABEL_WIDTH = 8  # left margin of the timeline, SVG units
REVIEW_COLUMNS = ("file", "number", "event", "side", "region", "start_s", "end_s", "duration_s", "amplitude",
                  "mark", "reviewer", "marked_at")  # STEM.review.csv, written by the page's script
MARKS = ("confirmed", "rejected")
INDEX_NAME = "index.html"
FAILED = "failed"  # the verdict filter's value for videos that could not be analysed
TICK_STEPS_S = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800)  # time axis steps; the first giving <= 12 ticks
MAX_TICKS = 12


def _hex(bgr: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*reversed(bgr))


SIDE_COLOR = {side: _hex(SIDE_BGR[side]) for side in SIDES}  # the annotated video's colours
INVOLUNTARY_COLOR, VOLUNTARY_COLOR = _hex(INVOLUNTARY_BGR), _hex(VOLUNTARY_BGR)
LEGEND = {voluntary: ", ".join(kind.label for kind in KINDS if kind.voluntary == voluntary) for voluntary in (True, False)}


def _e(value) -> str:
    """``value`` as text escaped for HTML content and quoted attributes."""
    return html.escape(str(value), quote=True)


def _json_script(data) -> str:
    """JSON safe inside <script type="application/json">: no character can close the element."""
    text = json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _number(value, fmt: str = ".2f", missing: str = "n/a") -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return missing
    return format(value, fmt) if math.isfinite(value) else missing


def display_name(file: str) -> str:
    """What a page calls a video: its own file name, without any folder."""
    return os.path.basename(str(file).replace("\\", "/").rstrip("/")) or str(file)


# -- one recording --------------------------------------------------------------------------------
def measure_rows(analysis) -> list[tuple[str, str]]:
    """(label, value) rows of the clinical measures: the terminal summary's content as a table."""
    m = analysis.measures
    jrs = _number(m.get("jrs_frequency_estimate"), ".0f", "")
    rows = [
        ("duration", f"{analysis.duration_s:.1f} s, {analysis.frames} frames at {analysis.fps:.2f} fps"),
        ("face tracked", f"{analysis.face_frames_pct:.1f}% of frames"),
        ("twitches per minute (more active side)", _number(m.get("twitches_per_min"), ".1f")),
        ("twitches left / right", f"{m.get('twitches_left', 'n/a')} / {m.get('twitches_right', 'n/a')}"),
        ("at rest / with voluntary movements", f"{m.get('rest_twitches', 'n/a')} / {m.get('coupled_twitches', 'n/a')}"),
        ("spasm, share of the time", _number(m.get("spasm_time_pct"), ".1f") + " %"),
        ("longest spasm", _number(m.get("longest_spasm_s")) + " s"),
        ("spreads to the mouth", "yes" if m.get("spread_to_mouth") else "no"),
        ("blinks", f"{m.get('blinks', 'n/a')} ({_number(m.get('blinks_per_min'), '.1f')}/min)"),
        ("brow raises", str(m.get("brow_raises", "n/a"))),
        ("Jankovic frequency ESTIMATE (not a clinical rating)", f"{jrs}/4" if jrs else "n/a"),
    ]
    if math.isfinite(analysis.verdict.coupling_p_value):
        rows.append(("time-locking to voluntary movements", f"circular-shift p = {analysis.verdict.coupling_p_value:.3g}"))
    if "protocol_rest_twitches" in m:
        rows.append(("protocol: one-sided events in rest / prompted steps",
                     f"{m['protocol_rest_twitches']} / {m['protocol_action_twitches']}"))
    return rows


def _scale(values: dict, base: str) -> tuple[float, float] | None:
    names = [f"{base}_{side}" for side in SIDES if f"{base}_{side}" in values]
    finite = np.concatenate([np.asarray(values[n], float) for n in names]) if names else np.array([])
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, SCALE_PERCENTILES)
    return float(low), float(max(high - low, 1e-9))


def _envelope(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most 2 * MAX_BUCKETS points of a (n,) signal: each bucket's minimum then maximum (NaN gaps kept)."""
    if times.size <= 2 * MAX_BUCKETS:
        return times, values
    edges = np.linspace(0, times.size, MAX_BUCKETS + 1).astype(int)
    out_t, out_v = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        chunk = values[a:b]
        middle = float(times[(a + b - 1) // 2])
        if not np.isfinite(chunk).any():
            out_t.append(middle)
            out_v.append(np.nan)
            continue
        out_t += [middle, middle]
        out_v += [float(np.nanmin(chunk)), float(np.nanmax(chunk))]
    return np.asarray(out_t), np.asarray(out_v)


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """SVG path data through the finite points, a new subpath after every gap."""
    parts, pen_down = [], False
    for x, y in zip(xs, ys):
        if not math.isfinite(y):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        pen_down = True
    return "".join(parts)


def _ticks(t0: float, t1: float) -> np.ndarray:
    span = max(t1 - t0, 1e-9)
    step = next((s for s in TICK_STEPS_S if span / s <= MAX_TICKS), TICK_STEPS_S[-1])
    return np.arange(math.ceil(t0 / step) * step, t1 + 1e-9, step)


def timeline_svg(analysis) -> tuple[str, dict]:
    """The inline SVG timeline (lanes of both sides' signals, events as spans) and its geometry for the script."""
    signals, events = analysis.signals, analysis.events
    times = np.asarray(signals.times_s, float)
    t0, t1 = (float(times[0]), float(times[-1])) if times.size else (0.0, 1.0)
    t1 = max(t1, t0 + 1e-3)
    x_of = (lambda t: LABEL_WIDTH + (np.asarray(t, float) - t0) / (t1 - t0) * (PLOT_WIDTH - LABEL_WIDTH))
    top = STRIP_HEIGHT
    height = top + LANE_HEIGHT * len(LANES) + AXIS_HEIGHT
    parts = [f'<svg id="timeline" viewBox="0 0 {PLOT_WIDTH} {height}" role="img" '
             f'aria-label="signals of both sides over time, events as coloured spans">',
             f'<rect class="bg" x="0" y="0" width="{PLOT_WIDTH}" height="{height}"/>']
    for i in range(len(events)):
        x_start = float(x_of(events.start_s[i]))
        width = max(float(x_of(events.end_s[i])) - x_start, 2.0)
        involuntary = str(events.kind[i]) in INVOLUNTARY_KINDS
        color = INVOLUNTARY_COLOR if involuntary else VOLUNTARY_COLOR
        title = f"{events.kind[i]} {events.side[i]} {events.region[i]} at {events.start_s[i]:.2f} s"
        parts.append(f'<g class="span" data-event="{i}"><title>{_e(title)}</title>'
                     f'<rect x="{x_start:.1f}" y="{top}" width="{width:.1f}" height="{LANE_HEIGHT * len(LANES)}" '
                     f'fill="{color}" fill-opacity="0.16"/>'
                     f'<rect x="{x_start:.1f}" y="3" width="{width:.1f}" height="{STRIP_HEIGHT - 6}" fill="{color}"/></g>')
    for lane, (base, title) in enumerate(LANES):
        y0 = top + lane * LANE_HEIGHT
        parts.append(f'<line class="grid" x1="0" x2="{PLOT_WIDTH}" y1="{y0}" y2="{y0}"/>')
        scale = _scale(signals.values, base)
        parts.append(f'<text class="lane" x="{LABEL_WIDTH + 4}" y="{y0 + 15}">'
                     f'{_e(title)}{"" if scale else " (not available)"}</text>')
        if scale is None:
            continue
        low, span = scale
        for side in SIDES:
            name = f"{base}_{side}"
            if name not in signals.values:
                continue
            t, v = _envelope(times, np.asarray(signals.values[name], float))
            fraction = np.clip((v - low) / span, -0.05, 1.05)
            y = y0 + 20 + (1.0 - fraction) * (LANE_HEIGHT - 28)
            parts.append(f'<path class="signal" stroke="{SIDE_COLOR[side]}" d="{_path(x_of(t), y)}"/>')
    axis_y = top + LANE_HEIGHT * len(LANES)
    parts.append(f'<line class="grid" x1="0" x2="{PLOT_WIDTH}" y1="{axis_y}" y2="{axis_y}"/>')
    for tick in _ticks(t0, t1):
        x = float(x_of(tick))
        parts.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y}" y2="{axis_y + 5}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{axis_y + 18}">{tick:g} s</text>')
    parts.append(f'<line id="playhead" x1="{LABEL_WIDTH}" x2="{LABEL_WIDTH}" y1="0" y2="{axis_y}"/></svg>')
    geometry = {"t0": t0, "t1": t1, "x0": LABEL_WIDTH, "x1": PLOT_WIDTH}
    return "".join(parts), geometry


def _event_table(analysis) -> tuple[str, list[dict]]:
    events = analysis.events
    rows, data = [], []
    for i in range(len(events)):
        kind = str(events.kind[i])
        involuntary = kind in INVOLUNTARY_KINDS
        coupled = int(events.coupled_to[i])
        item = {"number": i + 1, "event": kind, "side": str(events.side[i]), "region": str(events.region[i]),
                "start_s": round(float(events.start_s[i]), 4), "end_s": round(float(events.end_s[i]), 4),
                "duration_s": round(float(events.end_s[i] - events.start_s[i]), 4),
                "amplitude": round(float(events.amplitude[i]), 4) if math.isfinite(events.amplitude[i]) else None,
                "involuntary": involuntary}
        data.append(item)
        review = ('<button type="button" class="mark" data-mark="confirmed">confirmed</button>'
                  '<button type="button" class="mark" data-mark="rejected">rejected</button>') if involuntary else ""
        rows.append(
            f'<tr class="event {"involuntary" if involuntary else "voluntary"}" data-event="{i}">'
            f'<td>{i + 1}</td><td><span class="dot"></span>{_e(kind.replace("_", " "))}</td>'
            f'<td>{_e(item["side"])}</td><td>{_e(item["region"])}</td>'
            f'<td class="num">{item["start_s"]:.2f}</td><td class="num">{item["end_s"]:.2f}</td>'
            f'<td class="num">{item["duration_s"]:.2f}</td><td class="num">{_number(item["amplitude"], ".3f")}</td>'
            f'<td>{_e(events.describe(coupled)) if coupled >= 0 else ""}</td><td class="review">{review}</td></tr>')
    return "".join(rows), data


def page_html(analysis, *, file: str, video_name: str | None = None, video_codec: str | None = None) -> str:
    """The review page of one analysis as HTML text.

    file: the video as named by the user (only its own name is shown). video_name: the annotated
    video beside the page, which starts at the analysed part's start (None: no video to play).
    video_codec: its codec (default: what :func:`annotated_codec` writes here); anything but
    "h264" gets a note that browsers cannot play it.
    """
    name = display_name(file)
    stem = Path(name).stem or "spasmscan"
    verdict = analysis.verdict
    label = verdict_text(verdict.label)
    side = side_text(verdict.side)
    svg, geometry = timeline_svg(analysis)
    event_rows, events = _event_table(analysis)
    video_codec = video_codec or annotated_codec()
    times = analysis.series.times_s
    video_offset_s = float(times[0]) if video_name is not None and len(times) else 0.0
    if video_name is None:
        video = '<p class="note">No video: the recording was not a file, so there is nothing to play.</p>'
    else:
        video = (f'<video id="video" controls preload="auto" src="{_e(quote(video_name))}"></video>'
                 f'<p class="note">Playing <span class="filename">{_e(video_name)}</span>.</p>')
        if video_codec != "h264":
            video += (f'<p class="warning">This video is {_e(video_codec)}: no H.264 encoder was '
                      'available when it was written, and web browsers cannot play it. Open it in a desktop player '
                      '(such as VLC); the events and marks here still work.</p>')
    flags = "".join(f"<li>{_e(FLAG_TEXT.get(flag, flag))}</li>" for flag in analysis.quality_flags)
    evidence = "".join(f"<li>{_e(sentence)}</li>" for sentence in verdict.evidence)
    measures = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in measure_rows(analysis))
    n_involuntary = sum(item["involuntary"] for item in events)
    data = {"file": name, "stem": stem, "offset_s": video_offset_s, "pre_roll_s": PRE_ROLL_S, "hold_s": EVENT_HOLD_S,
            "events": events,
            "columns": list(REVIEW_COLUMNS), "formula_starts": list(FORMULA_STARTS), "text_mark": TEXT_MARK,
            **geometry}
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; media-src 'self' file: blob:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(name)}: spasmscan review</title>
<style>{PAGE_CSS}</style></head>
<body>
<header><h1><span class="filename">{_e(name)}</span></h1>
<p class="verdict {_e(verdict.label)}"><strong>{_e(label)}{_e(side)}</strong> (confidence {verdict.confidence:.2f})</p>
<p class="reason">{_e(verdict.reason)}</p>
{f'<ul class="evidence">{evidence}</ul>' if evidence else ''}
{f'<div class="flags"><strong>Quality notes</strong><ul>{flags}</ul></div>' if flags else ''}
</header>
<main>
<section class="player">
<div class="video">{video}
<p class="keys">Keys: <kbd>n</kbd> next / <kbd>p</kbd> previous involuntary event, <kbd>space</kbd> play or pause.
Click an event (table or timeline) to watch it.</p></div>
<div class="timeline">{svg}
<p class="legend"><span style="color:{SIDE_COLOR['right']}">&#9632; patient's right</span>
<span style="color:{SIDE_COLOR['left']}">&#9632; patient's left</span>
<span style="color:{INVOLUNTARY_COLOR}">&#9632; involuntary ({_e(LEGEND[False])})</span>
<span style="color:{VOLUNTARY_COLOR}">&#9632; voluntary ({_e(LEGEND[True])})</span></p></div>
</section>
<div class="details">
<section class="measures"><h2>Measures</h2><table>{measures}</table></section>
<section class="events"><h2>Events ({len(events)}, of which {n_involuntary} involuntary)</h2>
<div class="review-bar"><label>Reviewer's initials <input id="reviewer" maxlength="12" size="6" autocomplete="off"></label>
<button type="button" id="download">Download review</button> <span id="review-count"></span></div>
<table id="events"><thead><tr><th>#</th><th>event</th><th>side</th><th>region</th><th>onset s</th><th>end s</th>
<th>duration s</th><th>amplitude</th><th>with</th><th>review</th></tr></thead>
<tbody>{event_rows}</tbody></table></section>
</div>
</main>
<footer>spasmscan {_e(__version__)}: a measurement aid, not a diagnosis. Review marks are saved only by
"Download review" ({_e(stem)}.review.csv); the page sends nothing anywhere.</footer>
<script type="application/json" id="data">{_json_script(data)}</script>
<script>{PAGE_JS}</script>
</body></html>
"""


def write_page(path: str | os.PathLike, analysis, **kwargs) -> Path:
    """Write :func:`page_html` (same keyword arguments) to ``path`` as UTF-8 (not atomically: callers do that)."""
    _write_text(Path(path), page_html(analysis, **kwargs))
    return Path(path)


# -- the batch index ------------------------------------------------------------------------------
INDEX_COLUMNS = (("file", "video"), ("classification", "verdict"), ("affected_side", "side"),
                 ("confidence", "confidence"), ("twitches_per_min", "twitches/min"),
                 ("jrs_frequency_estimate", "JRS estimate"), ("quality_flags", "quality flags"),
                 ("status", "status"))  # summary column, header


def _scrub(text: str, paths: Iterable[str]) -> str:
    """``text`` with every given absolute path shown by its own name only, and with the path's
    folder taken off whatever else it names (error messages can name either)."""
    paths = [p.rstrip("/\\") for p in paths if p]
    for folder in sorted({os.path.dirname(p) for p in paths} | set(paths), key=len, reverse=True):
        if len(folder) > 1:
            text = text.replace(folder + "/", "").replace(folder + "\\", "")
    for path in sorted(set(paths), key=len, reverse=True):
        text = text.replace(path, display_name(path))
    return text


def index_html(results: Sequence, *, pages: dict[str, str], hidden_paths: Iterable[str] = ()) -> str:
    """The batch index as HTML text: one row per result (a batch VideoResult: file, stem, status,
    error, row), linking to ``pages[stem]`` (a file name beside the index) where it exists.

    hidden_paths: absolute paths (inputs, output folder) that messages must not show.
    """
    hidden = list(hidden_paths)
    names = [display_name(result.file) for result in results]
    clashing = {name for name in names if names.count(name) > 1}
    verdicts: dict[str, int] = {}
    body = []
    for result, name in zip(results, names):
        row = result.row
        verdict = str(row.get("classification") or "") if result.ok else FAILED
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        cells = []
        for column, _ in INDEX_COLUMNS:
            value = row.get(column, "")
            if column == "file":
                shown = _e(name) + (f' <small>({_e(result.stem)})</small>' if name in clashing else "")
                page = pages.get(result.stem)
                text = f'<a href="{_e(quote(page))}">{shown}</a>' if page else shown
                cells.append(f'<td data-sort="{_e(name.lower())}">{text}</td>')
            elif column == "quality_flags":
                flags = value if isinstance(value, (list, tuple)) else [f for f in str(value or "").split(";") if f]
                cells.append(f'<td data-sort="{len(flags)}">{_e(", ".join(flags))}</td>')
            elif column == "status":
                error = _scrub(str(result.error or ""), hidden)
                text = _e(result.status) + (f': <span class="error">{_e(error)}</span>' if error else "")
                cells.append(f'<td data-sort="{_e(result.status)}">{text}</td>')
            elif column in ("confidence", "twitches_per_min", "jrs_frequency_estimate"):
                number = _number(value, {"confidence": ".2f", "twitches_per_min": ".1f"}.get(column, ".0f"), "")
                cells.append(f'<td class="num" data-sort="{_e(number)}">{_e(number)}</td>')
            else:
                text = verdict_text(value or "") if column == "classification" else str(value or "")
                cells.append(f'<td data-sort="{_e(text.lower())}">{_e(text)}</td>')
        body.append(f'<tr data-verdict="{_e(verdict)}">{"".join(cells)}</tr>')
    failed = sum(not result.ok for result in results)
    counts = ", ".join(f"{n} {_e(verdict_text(v))}" for v, n in sorted(verdicts.items()) if v != FAILED)
    options = "".join(f'<option value="{_e(v)}">{_e(verdict_text(v))} ({n})</option>'
                      for v, n in sorted(verdicts.items()))
    headers = "".join(f'<th data-column="{i}" title="sort">{_e(title)}</th>' for i, (_, title) in enumerate(INDEX_COLUMNS))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spasmscan batch: {len(results)} videos</title>
<style>{PAGE_CSS}</style></head>
<body><header><h1>spasmscan batch: {len(results)} videos</h1>
<p class="counts">{len(results) - failed} analysed, {failed} failed. Verdicts: {counts or "none"}.</p>
<p><label>Show <select id="filter"><option value="">all verdicts</option>{options}</select></label>
Click a column's header to sort by it.</p></header>
<main><table id="index"><thead><tr>{headers}</tr></thead><tbody>{"".join(body)}</tbody></table></main>
<footer>spasmscan {_e(__version__)}: a measurement aid, not a diagnosis.</footer>
<script>{INDEX_JS}</script></body></html>
"""


def write_index(out_dir: str | os.PathLike, results: Sequence, *, hidden_paths: Iterable[str] = ()) -> Path:
    """Write ``out_dir/index.html`` (atomically) for batch results; rows link to the STEM.html pages present."""
    out = Path(out_dir)
    pages = {result.stem: report_path(out, result.stem, "html") for result in results}
    pages = {stem: page.name for stem, page in pages.items() if page.is_file()}
    path = out / INDEX_NAME
    with atomic_path(path, force=True) as temporary:
        _write_text(temporary, index_html(results, pages=pages, hidden_paths=[*hidden_paths, str(out.absolute())]))
    return path


# -- reading reviews back -------------------------------------------------------------------------
@dataclass
class ReviewScore:
    """Reviewers' marks of the involuntary events of some recordings: counts per file and in all."""

    per_file: dict = field(default_factory=dict)  # file -> {"confirmed": n, "rejected": n, "unmarked": n}
    reviewers: set = field(default_factory=set)

    def total(self) -> dict:
        counts = dict.fromkeys((*MARKS, "unmarked"), 0)
        for file_counts in self.per_file.values():
            for key in counts:
                counts[key] += file_counts[key]
        return counts

    @staticmethod
    def precision(counts: dict) -> float:
        """Confirmed share of the marked involuntary events (NaN when none was marked)."""
        marked = counts["confirmed"] + counts["rejected"]
        return counts["confirmed"] / marked if marked else math.nan

    def text(self) -> str:
        lines = []
        for file, counts in self.per_file.items():
            lines.append(f"{file}: {_count_text(counts)}")
        total = self.total()
        reviewers = ", ".join(sorted(self.reviewers)) or "not given"
        plural = "" if len(self.per_file) == 1 else "s"
        lines.append(f"in all ({len(self.per_file)} recording{plural}): {_count_text(total)}; reviewers: {reviewers}")
        return "\n".join(lines)


def _count_text(counts: dict) -> str:
    precision = ReviewScore.precision(counts)
    shown = f"{precision:.3f}" if math.isfinite(precision) else "n/a (nothing marked)"
    return (f"precision {shown} ({counts['confirmed']} confirmed, {counts['rejected']} rejected, "
            f"{counts['unmarked']} unmarked involuntary events)")


def _plain_text(cell: str) -> str:
    """A cell as written, without the apostrophe that kept a spreadsheet from running it as a formula."""
    return cell[1:] if cell.startswith(TEXT_MARK) and cell[1:].lstrip(" \u00a0").startswith(FORMULA_STARTS) else cell


def score_reviews(paths: Sequence[str | os.PathLike]) -> ReviewScore:
    """Read STEM.review.csv files saved from review pages; count the marks of involuntary events.

    Raises InputNotFoundError for a missing file and ParameterError for a file that is not a review.
    """
    score = ReviewScore()
    for path in paths:
        try:
            with open(path, encoding="utf-8-sig", newline="") as stream:
                rows = list(csv.DictReader(stream))
                header = rows[0].keys() if rows else set()
        except FileNotFoundError:
            raise InputNotFoundError(f"{path}: no such review file; check the path") from None
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise ParameterError(f"{path}: cannot be read as a review CSV ({error})") from None
        missing = [column for column in ("file", "event", "mark") if rows and column not in header]
        if missing:
            raise ParameterError(f"{path}: not a review file saved from a spasmscan page (no {', '.join(missing)} "
                                 "column)")
        for row in rows:
            if _plain_text(row["event"]) not in INVOLUNTARY_KINDS:
                continue
            file = _plain_text(row["file"]) or Path(path).name
            counts = score.per_file.setdefault(file, dict.fromkeys((*MARKS, "unmarked"), 0))
            mark = row["mark"].strip()
            if mark and mark not in MARKS:
                raise ParameterError(f"{path}: unknown mark {mark!r}; expected {' or '.join(MARKS)} or nothing")
            counts[mark or "unmarked"] += 1
            if row.get("reviewer", "").strip():
                score.reviewers.add(_plain_text(row["reviewer"].strip()))
    return score


# -- inline style and scripts ---------------------------------------------------------------------
PAGE_CSS = """
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:12px 20px;color:#1b1b1b;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:18px 0 6px}
.filename{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.verdict{font-size:18px;margin:2px 0}.verdict.primary_hfs strong,.verdict.synkinesis strong{color:#b3261e}
.verdict.indeterminate strong{color:#8a5a00}.reason{margin:2px 0}.evidence{margin:4px 0}
.flags{background:#fff4d6;border:1px solid #e5c66b;padding:4px 10px;margin:6px 0;display:inline-block}
.flags ul{margin:2px 0}
.player{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.video{flex:0 1 480px;min-width:280px}.video video{width:100%;background:#000}
.timeline{flex:1 1 520px;min-width:320px}
#timeline{width:100%;height:auto;cursor:pointer;user-select:none}
#timeline .bg{fill:#fff;stroke:#ccc}#timeline .grid{stroke:#ddd}#timeline .tick{stroke:#888;fill:#444;font-size:11px;text-anchor:middle}
#timeline .lane{fill:#333;font-size:12px}#timeline .signal{fill:none;stroke-width:1.2}
#timeline .span.current rect{stroke:#000;stroke-width:1}
#playhead{stroke:#000;stroke-width:1.5}
.legend span{margin-right:12px;font-size:13px;white-space:nowrap}
.note,.keys{font-size:13px;color:#555;margin:4px 0}.warning{background:#fde7e7;border:1px solid #d88;padding:4px 8px}
kbd{border:1px solid #aaa;border-radius:3px;padding:0 4px;background:#fff;font-size:12px}
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
.measures th{font-weight:normal;color:#444}.num{text-align:right;font-variant-numeric:tabular-nums}
#events tbody tr{cursor:pointer}#events tbody tr:hover{background:#eef4ff}#events tr.current{background:#dbe8ff}
tr.involuntary .dot,tr.voluntary .dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}
tr.involuntary .dot{background:""" + INVOLUNTARY_COLOR + """}tr.voluntary .dot{background:""" + VOLUNTARY_COLOR + """}
button.mark{margin-right:4px;border:1px solid #999;background:#f4f4f4;border-radius:3px;cursor:pointer}
tr[data-mark=confirmed] button[data-mark=confirmed]{background:#2e7d32;color:#fff;border-color:#2e7d32}
tr[data-mark=rejected] button[data-mark=rejected]{background:#b3261e;color:#fff;border-color:#b3261e}
.details{display:flex;flex-wrap:wrap;gap:0 28px;align-items:flex-start}.measures{flex:0 1 440px}.events{flex:1 1 620px}
.measures table,.events table{font-size:14px}
.review-bar{margin:4px 0 8px}#download{font-weight:bold}
#index th{cursor:pointer;background:#eee}#index th.asc::after{content:" \\25B2"}#index th.desc::after{content:" \\25BC"}
.error{color:#b3261e}footer{margin-top:20px;font-size:12px;color:#666}
"""

PAGE_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var video = document.getElementById("video");
  var svg = document.getElementById("timeline");
  var playhead = document.getElementById("playhead");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#events tbody tr"));
  var spans = Array.prototype.slice.call(document.querySelectorAll("#timeline .span"));
  var marks = {};
  var unsaved = false;  // marks changed since the last download: leaving the page asks first
  var involuntary = data.events.filter(function (e) { return e.involuntary; });

  function videoTime(analysisTime) { return analysisTime - data.offset_s; }
  function analysisTime() { return video ? video.currentTime + data.offset_s : data.t0; }

  var cursor = null;  // index (into involuntary) of the event last jumped to, while it is on screen
  var ownSeek = null;  // the video time of the page's own latest seek

  function play() { var started = video.play(); if (started && started.catch) started.catch(function () {}); }
  function seekTo(analysisSeconds, andPlay) {
    if (!video) return;
    var target = Math.max(0, videoTime(analysisSeconds));
    if (isFinite(video.duration)) target = Math.min(target, video.duration);
    ownSeek = target;
    video.currentTime = target;
    if (andPlay) play();
  }
  function playEvent(index) {
    var at = involuntary.indexOf(data.events[index]);
    cursor = at < 0 ? null : at;
    seekTo(data.events[index].start_s - data.pre_roll_s, true);
  }
  function onCursor() {
    if (cursor === null) return false;
    var e = involuntary[cursor], t = analysisTime();
    return t >= e.start_s - data.pre_roll_s - 0.1 && t <= e.end_s + data.hold_s;
  }
  function jump(direction) {  // n and p: the next or previous involuntary event
    var target = -1, t = analysisTime(), i;
    if (onCursor()) target = cursor + direction;
    else if (direction > 0) { for (i = 0; i < involuntary.length && target < 0; i++) if (involuntary[i].start_s > t) target = i; }
    else { for (i = involuntary.length - 1; i >= 0 && target < 0; i--) if (involuntary[i].start_s < t) target = i; }
    if (target >= 0 && target < involuntary.length) playEvent(involuntary[target].number - 1);
  }

  function xOf(t) { return data.x0 + (t - data.t0) / (data.t1 - data.t0) * (data.x1 - data.x0); }
  function update() {
    var t = analysisTime();
    var x = Math.max(data.x0, Math.min(data.x1, xOf(t)));
    playhead.setAttribute("x1", x); playhead.setAttribute("x2", x);
    data.events.forEach(function (e, i) {
      var on = t >= e.start_s && t <= e.end_s;
      rows[i].classList.toggle("current", on);
      spans[i].classList.toggle("current", on);
    });
  }
  function loop() { update(); if (video && !video.paused) window.requestAnimationFrame(loop); }
  if (video) {
    ["timeupdate", "seeked", "loadedmetadata"].forEach(function (name) { video.addEventListener(name, update); });
    video.addEventListener("seeking", function () {  // a seek of the reviewer's own leaves the event jumped to
      if (ownSeek === null || Math.abs(video.currentTime - ownSeek) > 0.01) cursor = null;
      ownSeek = null;
    });
    video.addEventListener("play", function () { window.requestAnimationFrame(loop); });
  }

  rows.forEach(function (row) {
    row.addEventListener("click", function (event) {
      var button = event.target.closest("button.mark");
      var index = Number(row.getAttribute("data-event"));
      if (button) { setMark(row, index, button.getAttribute("data-mark")); button.blur(); return; }
      playEvent(index);
    });
  });
  svg.addEventListener("click", function (event) {
    var span = event.target.closest(".span");
    if (span) { playEvent(Number(span.getAttribute("data-event"))); return; }
    var point = svg.createSVGPoint(); point.x = event.clientX; point.y = event.clientY;
    var local = point.matrixTransform(svg.getScreenCTM().inverse());
    seekTo(data.t0 + (local.x - data.x0) / (data.x1 - data.x0) * (data.t1 - data.t0), false);
  });

  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "n") { jump(1); event.preventDefault(); }
    else if (event.key === "p") { jump(-1); event.preventDefault(); }
    else if (event.key === " " && video) {
      event.preventDefault();
      if (video.paused) play(); else video.pause();
    }
  });

  function setMark(row, index, mark) {
    if (marks[index] && marks[index].mark === mark) { delete marks[index]; row.removeAttribute("data-mark"); }
    else { marks[index] = {mark: mark, at: new Date().toISOString()}; row.setAttribute("data-mark", mark); }
    unsaved = true;
    var n = Object.keys(marks).length;
    document.getElementById("review-count").textContent = n + " of " + involuntary.length + " involuntary events marked";
  }

  function cell(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") return String(value);
    var text = String(value);
    var bare = text.replace(/^[ \u00a0]+/, "");
    if (data.formula_starts.some(function (s) { return text.indexOf(s) === 0 || bare.indexOf(s) === 0; })) text = data.text_mark + text;
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  document.getElementById("download").addEventListener("click", function () {
    var reviewer = document.getElementById("reviewer").value.trim();
    var lines = [data.columns.join(",")];
    data.events.forEach(function (e, i) {
      var m = marks[i] || {};
      var values = {file: data.file, number: e.number, event: e.event, side: e.side, region: e.region,
                    start_s: e.start_s, end_s: e.end_s, duration_s: e.duration_s, amplitude: e.amplitude,
                    mark: m.mark || "", reviewer: m.mark ? reviewer : "", marked_at: m.at || ""};
      lines.push(data.columns.map(function (c) { return cell(values[c]); }).join(","));
    });
    var blob = new Blob([lines.join("\r\n") + "\r\n"], {type: "text/csv;charset=utf-8"});
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = data.stem + ".review.csv";
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
    unsaved = false;
  });
  window.addEventListener("beforeunload", function (event) {
    if (unsaved) { event.preventDefault(); event.returnValue = ""; }
  });
  update();
})();
"""

INDEX_JS = r"""
(function () {
  "use strict";
  var table = document.getElementById("index");
  var body = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(row, column) {
    var text = row.cells[column].getAttribute("data-sort");
    return text !== "" && isFinite(Number(text)) ? Number(text) : text;
  }
  headers.forEach(function (header, column) {
    header.addEventListener("click", function () {
      var ascending = !header.classList.contains("asc");
      headers.forEach(function (h) { h.classList.remove("asc", "desc"); });
      header.classList.add(ascending ? "asc" : "desc");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, column), y = key(b, column);
        var empty = (x === "") - (y === "");
        if (empty) return empty;  // empty cells last, either way
        var order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  document.getElementById("filter").addEventListener("change", function (event) {
    var value = event.target.value;
    Array.prototype.slice.call(body.rows).forEach(function (row) {
      row.hidden = value !== "" && row.getAttribute("data-verdict") !== value;
    });
  });
})();
"""
