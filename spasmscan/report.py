"""Reports of one analysis: summary, events and signals as CSV, the same as one JSON document.

Every file is written atomically (a temporary file in the same folder, then a rename), so an
interrupted run leaves either the whole report or none of it, and an existing file is only
replaced when ``force`` is given. CSV text cells that a spreadsheet would run as a formula are
written as plain text; numbers stay numbers.
"""
from __future__ import annotations

import contextlib
import csv
import json as jsonlib
import logging
import math
import numbers
import os
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import __version__
from .errors import OutputError, ParameterError
from .files import atomic_path, check_overwrite, output_errors, synced
from .formats import REPORT_FORMATS, chosen_formats
from .measures import MEASURE_KEYS

logger = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("file", "duration_s", "fps", "frames", "face_frames_pct", "classification", "affected_side",
                   "confidence", "twitches_per_min", "twitches_left", "twitches_right", "rest_twitches",
                   "coupled_twitches", "coupling_p_value", "blinks", "blinks_per_min", "brow_raises",
                   "spasm_time_pct", "longest_spasm_s", "spread_to_mouth", "jrs_frequency_estimate",
                   "quality_flags", "spasmscan_version", "reason", "protocol_rest_twitches",
                   "protocol_action_twitches", "live_frames_dropped", "live_processing_fps",
                   "blink_clusters_per_min", "prolonged_closures_per_min", "both_eyes_closed_pct", "longest_closure_s",
                   "palsy_weaker_side", "sunnybrook_composite_estimate")
PROTOCOL_KEYS = ("protocol_rest_twitches", "protocol_action_twitches")  # measures that exist with a protocol
LIVE_KEYS = {"live_frames_dropped": "frames_dropped", "live_processing_fps": "processing_fps"}  # column: stat
EXAM_COLUMNS = ("file", "segment", "start_s", "end_s", "measure", "unit", "repetitions", "excursion_left",
                "excursion_right", "weaker_side", "excursion_ratio", "ratio_spread", "voluntary_grade",
                "incomplete_closure", "remaining_opening_left", "remaining_opening_right", "remaining_opening_share",
                "synkinesis_eye_left", "synkinesis_eye_right", "synkinesis_mouth_left", "synkinesis_mouth_right",
                "synkinesis_side", "synkinesis_grade", "palpebral_fissure_ratio", "wider_fissure_side",
                "brow_height_difference_iod", "mouth_corner_height_difference_iod", "cheek_height_difference_iod",
                "resting_grade")
EVENT_COLUMNS = ("file", "event", "side", "region", "start_s", "end_s", "duration_s", "amplitude", "coupled_to")
SIGNAL_TIME_COLUMNS = ("time_s", "face_present")  # first columns of the signals table, before the signals

DECIMALS = 4  # floats are rounded to 4 decimals: 0.1 ms for times, far below any signal's noise
SIGNIFICANT = {"coupling_p_value": 4, "rate_ratio_p_value": 4}  # p-values can be tiny: keep 4 significant digits
FORMULA_STARTS = ("=", "+", "-", "@")  # a cell starting so (after blanks) is run as a formula by spreadsheets
LINE_STARTS = ("\t", "\r", "\n")  # among a cell's leading blanks, these can start a formula on import
TEXT_MARK = "'"  # Excel and LibreOffice show a cell that starts with an apostrophe as text
FLAG_SEPARATOR = ";"  # joins a list (quality flags) inside one CSV cell


# -- rows -----------------------------------------------------------------------------------------
def summary_row(analysis, *, file: str) -> dict:
    """One row for SUMMARY_COLUMNS: file facts, the verdict and the clinical measures.

    Values stay Python/numpy objects (NaN where unknown, quality_flags a list); the writers
    format them.
    """
    verdict = analysis.verdict
    row = {
        "file": file,
        "duration_s": analysis.duration_s,
        "fps": analysis.fps,
        "frames": analysis.frames,
        "face_frames_pct": analysis.face_frames_pct,
        "classification": verdict.label,
        "affected_side": verdict.side,
        "confidence": verdict.confidence,
        "coupling_p_value": verdict.coupling_p_value,
        "quality_flags": list(analysis.quality_flags),
        "spasmscan_version": __version__,
        "reason": verdict.reason,
    }
    for key in MEASURE_KEYS + PROTOCOL_KEYS:
        row[key] = analysis.measures.get(key, math.nan)
    session = getattr(analysis, "session", None) or {}
    for column, stat in LIVE_KEYS.items():
        row[column] = session.get(stat, math.nan)
    exam = getattr(analysis, "exam", None)
    row["palsy_weaker_side"] = exam.weaker_side if exam is not None else None
    row["sunnybrook_composite_estimate"] = exam.composite_estimate if exam is not None else math.nan
    return {column: row[column] for column in SUMMARY_COLUMNS}


def exam_rows(analysis, *, file: str) -> list[dict]:
    """One row for EXAM_COLUMNS per examination step: the rest steps pooled into one ``rest`` row
    (the resting asymmetry), then every other step in recording order; none without an exam."""
    exam = getattr(analysis, "exam", None)
    if exam is None:
        return []
    rests = [s for s in analysis.segments if s.name == "rest"]
    rows = [{"file": file, "segment": "rest", "start_s": rests[0].start_s if rests else None,
             "end_s": rests[-1].end_s if rests else None, **exam.resting}]
    for step in exam.steps:
        row = {"file": file, **asdict(step)}
        for key in ("synkinesis_grade", "voluntary_grade"):
            row[key] = row[key] if row[key] >= 0 else None
        rows.append(row)
    return rows


def event_rows(analysis, *, file: str) -> list[dict]:
    """One row for EVENT_COLUMNS per event, in the analysis' order (by onset)."""
    events = analysis.events
    rows = []
    for i in range(len(events)):
        coupled = int(events.coupled_to[i])
        rows.append({
            "file": file,
            "event": str(events.kind[i]),
            "side": str(events.side[i]),
            "region": str(events.region[i]),
            "start_s": float(events.start_s[i]),
            "end_s": float(events.end_s[i]),
            "duration_s": float(events.end_s[i] - events.start_s[i]),
            "amplitude": float(events.amplitude[i]),
            "coupled_to": events.describe(coupled) if coupled >= 0 else None,
        })
    return rows


def signal_columns(analysis) -> tuple[tuple[str, ...], dict]:
    """Column names of the signals table and their units (name -> text)."""
    signals = analysis.signals
    names = tuple(signals.names)
    units = {"time_s": "s", "face_present": "true/false"}
    units.update({name: signals.units.get(name, "") for name in names})
    return SIGNAL_TIME_COLUMNS + names, units


def signal_rows(analysis) -> Iterator[dict]:
    """The per-frame signals, one dict per frame (streamed: long videos have many frames)."""
    columns, _ = signal_columns(analysis)
    signals = analysis.signals
    arrays = [signals.times_s, signals.face_present] + [signals.values[name] for name in columns[2:]]
    for values in zip(*arrays):
        yield dict(zip(columns, values))


# -- cells ----------------------------------------------------------------------------------------
def _rounded(value: float, column: str) -> float | None:
    """A float rounded for reports, or None when it is NaN or infinite."""
    if not math.isfinite(value):
        return None
    if column in SIGNIFICANT:
        return float(f"{value:.{SIGNIFICANT[column]}g}")
    return round(value, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _plain(value, column: str):
    """``value`` as a JSON-ready Python object: rounded floats, None for missing, lists for sequences."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _rounded(float(value), column)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item, column) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item, str(key)) for key, item in value.items()}
    return str(value)


def spreadsheet_text(text: str) -> str:
    """``text`` made safe for a spreadsheet: a would-be formula gets a leading apostrophe.

    Leading blanks of any kind (spaces, no-break and ideographic spaces, invisible format
    characters) are looked past, a tab or line break among them is dangerous itself, and the first
    other character is compared in its compatibility form, so a full-width ``＝`` counts as ``=``.
    """
    start = 0
    while start < len(text) and (text[start].isspace() or unicodedata.category(text[start]) == "Cf"):
        start += 1
    if any(blank in LINE_STARTS for blank in text[:start]) \
            or unicodedata.normalize("NFKC", text[start:start + 1]).startswith(FORMULA_STARTS):
        return TEXT_MARK + text
    return text


def csv_cell(value, column: str = "") -> str:
    """One CSV cell: numbers as numbers (NaN empty), booleans true/false, text spreadsheet-safe."""
    value = _plain(value, column)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return spreadsheet_text(FLAG_SEPARATOR.join("" if item is None else str(item) for item in value))
    return spreadsheet_text(value)


# -- writing ------------------------------------------------------------------------------------
def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8 and flush it to disk."""
    with synced(path, encoding="utf-8") as stream:
        stream.write(text)


def _write_csv_file(path: Path, rows: Iterable[dict], columns: tuple[str, ...]) -> None:
    """Write a header and ``rows`` as CSV cells to ``path`` and flush them to disk."""
    with synced(path, encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([csv_cell(column) for column in columns])
        for row in rows:
            writer.writerow([csv_cell(row.get(column), column) for column in columns])


def write_csv(path: str | os.PathLike, rows: Iterable[dict], columns: Iterable[str], *,
              force: bool = False) -> Path:
    """Write ``rows`` (dicts keyed by ``columns``) as a UTF-8 CSV with a header, atomically.

    Raises OutputError when the file exists and ``force`` is false, or when it cannot be written
    (nothing partial is left behind).
    """
    path = Path(path)
    with atomic_path(path, force=force) as temporary:
        _write_csv_file(temporary, rows, tuple(columns))
    logger.info("wrote %s", path)
    return path


def report_document(analysis, *, file: str) -> dict:
    """The whole report as one JSON-ready dict (NaN as None)."""
    verdict = analysis.verdict
    columns, units = signal_columns(analysis)
    signals = analysis.signals
    arrays = [signals.times_s, signals.face_present] + [signals.values[name] for name in columns[2:]]
    return {
        "spasmscan_version": __version__,
        "summary": {key: _plain(value, key) for key, value in summary_row(analysis, file=file).items()},
        "verdict": {
            "label": verdict.label,
            "side": verdict.side,
            "confidence": _plain(verdict.confidence, "confidence"),
            "coupling_p_value": _plain(verdict.coupling_p_value, "coupling_p_value"),
            "reason": verdict.reason,
            "evidence": [str(line) for line in verdict.evidence],
        },
        "measures": {str(key): _plain(value, str(key)) for key, value in analysis.measures.items()},
        "exam": ({key: _plain(value, key) for key, value in analysis.exam.document().items()}
                 if getattr(analysis, "exam", None) is not None else None),
        "protocol": [{"name": seg.name, "start_s": _plain(seg.start_s, "start_s"), "end_s": _plain(seg.end_s, "end_s"),
                      "prompt": seg.prompt} for seg in getattr(analysis, "segments", ())],
        "live": {str(key): _plain(value, str(key)) for key, value in (getattr(analysis, "session", None) or {}).items()},
        "events": [{key: _plain(value, key) for key, value in row.items()}
                   for row in event_rows(analysis, file=file)],
        "signals": {
            "columns": list(columns),
            "units": units,
            "values": {column: _column_values(np.asarray(array)) for column, array in zip(columns, arrays)},
        },
    }


def _column_values(array: np.ndarray) -> list:
    """A signal column as a JSON list: rounded floats with None for NaN, or booleans."""
    if array.dtype == bool:
        return array.tolist()
    values = np.round(array.astype(np.float64), DECIMALS) + 0.0
    return [value if math.isfinite(value) else None for value in values.tolist()]


def _json_text(analysis, *, file: str) -> str:
    return jsonlib.dumps(report_document(analysis, file=file), ensure_ascii=False, allow_nan=False,
                         separators=(",", ":")) + "\n"  # compact: the signals can hold millions of numbers


# -- all reports of one analysis ------------------------------------------------------------------
@dataclass(frozen=True)
class ReportJob:
    """What the writers of one analysis' reports share."""

    analysis: object  # the Analysis reported on
    file: str  # what the reports' file column says
    paths: dict  # format name -> final path of every report being written
    annotate_video: str | os.PathLike | None = None  # the video the annotated video is drawn over
    progress: object = None  # progress(done_s, total_s) of the annotated video


def _write_summary(target: Path, job: ReportJob) -> None:
    _write_csv_file(target, [summary_row(job.analysis, file=job.file)], SUMMARY_COLUMNS)


def _write_events(target: Path, job: ReportJob) -> None:
    _write_csv_file(target, event_rows(job.analysis, file=job.file), EVENT_COLUMNS)


def _write_signals(target: Path, job: ReportJob) -> None:
    _write_csv_file(target, signal_rows(job.analysis), signal_columns(job.analysis)[0])


def _write_exam(target: Path, job: ReportJob) -> None:
    _write_csv_file(target, exam_rows(job.analysis, file=job.file), EXAM_COLUMNS)


def _write_exam_plot(target: Path, job: ReportJob) -> None:
    from .plot import plot_exam

    plot_exam(job.analysis, target, title_file=job.file)


def _write_json(target: Path, job: ReportJob) -> None:
    _write_text(target, _json_text(job.analysis, file=job.file))


def _write_plot(target: Path, job: ReportJob) -> None:
    from .plot import plot_timeline  # matplotlib is imported only when a plot is asked for

    plot_timeline(job.analysis, target, title_file=job.file)


def _write_annotated(target: Path, job: ReportJob) -> None:
    from .annotate import write_annotated_video

    write_annotated_video(job.analysis, job.annotate_video, target, progress=job.progress)


def _write_page(target: Path, job: ReportJob) -> None:
    from .review_page import write_page

    video = job.paths.get("annotate")  # the page plays the annotated video when there is one
    write_page(target, job.analysis, file=job.file, video_name=video.name if video is not None else None)


def report_path(out_dir: str | os.PathLike, stem: str, name: str) -> Path:
    """The path of the ``name`` report (a REPORT_FORMATS key) about ``stem`` in ``out_dir``."""
    return Path(out_dir) / f"{stem}{REPORT_FORMATS[name].suffix}"


def _named_paths(out_dir, stem: str, chosen: dict, *, caller: str) -> dict[str, Path]:
    optional = [name for name, fmt in REPORT_FORMATS.items() if not fmt.always]
    names = set(chosen_formats(chosen, offered=optional, caller=caller))
    return {name: report_path(out_dir, stem, name) for name, fmt in REPORT_FORMATS.items()
            if fmt.always or name in names}


def report_paths(out_dir: str | os.PathLike, stem: str, **chosen: bool) -> list[Path]:
    """The files :func:`write_reports` writes for these choices (``json``, ``plot``, ``annotate``,
    ``html``: the optional REPORT_FORMATS; ``exam`` and ``exam_plot`` when the analysis has an exam), in
    writing order."""
    return list(_named_paths(out_dir, stem, chosen, caller="report_paths").values())


def report_stem(source: str) -> str:
    """The file-name stem of reports about ``source`` (a path, camera name or URL): a plain, visible
    file name (``..mp4`` or ``.mp4`` give ``spasmscan``, ``.x.mp4`` gives ``x``)."""
    stem = Path(str(source).rstrip("/\\")).stem
    return stem.strip().lstrip(".").strip() or "spasmscan"


def write_reports(analysis, out_dir: str | os.PathLike, *, stem: str | None = None,
                  annotate_video: str | os.PathLike | None = None, force: bool = False, file: str | None = None,
                  progress=None, **chosen: bool) -> list[Path]:
    """Write STEM.summary.csv, STEM.events.csv, STEM.signals.csv and, when asked (``json``,
    ``plot``, ``html``: see REPORT_FORMATS), STEM.json, STEM.timeline.png, STEM.annotated.mp4
    (drawn over ``annotate_video``) and the review page STEM.html (playing the annotated video,
    when there is one) into ``out_dir``; with an exam (``analysis.exam``) also STEM.exam.csv and
    STEM.exam.png.

    ``file`` is what the reports' file column says (default: the analysis' source). Every file
    is checked before any is written: without ``force`` an existing one stops the run with
    OutputError and nothing is written. All files are written to temporary files first and
    renamed only when every one is complete, so a failed or interrupted run leaves none of them.
    ``progress(done_s, total_s)`` follows the annotated video. Returns the paths written.
    """
    file = analysis.source if file is None else file
    stem = report_stem(file) if stem is None else stem
    if not stem or Path(stem).name != stem or stem in (".", ".."):
        raise ParameterError(f"report name {stem!r} is not a plain file name; choose a name without folders")
    if "annotate" in chosen:
        raise TypeError("write_reports() takes annotate_video (the video to draw over), not annotate")
    needed = {name: getattr(analysis, fmt.needs, None) is not None for name, fmt in REPORT_FORMATS.items() if fmt.needs}
    paths = _named_paths(out_dir, stem, {**chosen, **needed, "annotate": annotate_video is not None},
                         caller="write_reports")
    check_overwrite(paths.values(), force=force)
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{out_dir}: cannot create the output folder ({error.strerror or error}); "
                          "choose a writable out_dir folder") from error
    job = ReportJob(analysis=analysis, file=file, paths=paths, annotate_video=annotate_video, progress=progress)
    with contextlib.ExitStack() as renames:  # on leaving: every file renamed into place, or every one removed
        for name, path in paths.items():
            temporary = renames.enter_context(atomic_path(path, force=force))
            with output_errors(path):
                REPORT_FORMATS[name].write(temporary, job)
    for path in paths.values():
        logger.info("wrote %s", path)
    return list(paths.values())
