"""Follow-up across visits: did the treatment work? Manifest -> batch analysis -> followup.csv and plots.

A patient's visits are compared with a reference visit (the first one analysed, or the one on
``baseline``) on the reference visit's affected side; the statistics are in
:mod:`spasmscan.followup_stats`. Recordings are analysed by :func:`spasmscan.batch.run_batch`
(its cache, resume, parallel jobs and failure isolation); each visit's numbers are read back
from the STEM.json report the batch writes.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .errors import InputNotFoundError, OutputError, ParameterError
from .followup_stats import (BOTH, CHANGED, MEASURE_COLUMNS, RESPONSES, ResponseRule, compare_visit,
                             comparison_side, visit_measures)
from .kinds import side_text, verdict_text
from .landmarks import TrackerSettings
from .regions import SIDES
from .files import atomic_path
from .report import report_path, write_csv
from .selection import WHOLE_VIDEO, Selection
from .video import is_video_path

logger = logging.getLogger(__name__)

FOLLOWUP_NAME = "followup.csv"
PLOT_SUFFIX = ".followup.png"
MANIFEST_REQUIRED = ("patient", "date", "file")
MANIFEST_OPTIONAL = ("treatment", "note")
FOLDER_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")  # PATIENT/YYYY-MM-DD*.mp4: the date a file name starts with
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?$")  # a date, optionally with a time
PATIENT_FORBIDDEN = set('/\\:*?"<>|')  # the patient names a file (PATIENT.followup.png): no such characters
FOLLOWUP_COLUMNS = ("patient", "date", "file", "status", "error", "treatment", "note", "reference_date",
                    "days_since_reference", "days_since_treatment", "comparison_side", "classification",
                    "affected_side", "confidence", *MEASURE_COLUMNS, "quality_flags",
                    *(f"change_{column}" for column in CHANGED), "rate_ratio", "rate_ratio_ci_low",
                    "rate_ratio_ci_high", "rate_ratio_p_value", "response", "response_rule")
# Quality flags the follow-up adds to a visit's own (report.quality_flags)
SIDE_DIFFERS = "side_differs_from_reference"  # this visit's verdict names the other side
SIDE_FROM_COUNTS = "reference_side_from_counts"  # the reference verdict named no side: the busier side is used
NO_BASELINE_VISIT = "no_visit_on_baseline_date"  # the patient has no visit on --baseline: the first is used
REFERENCE_FAILED = "reference_visit_failed"  # the reference recording could not be analysed


# -- visits --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Visit:
    """One recording of a patient. ``when`` is None only for the two recordings of ``compare``."""

    patient: str
    when: dt.datetime | None
    date: str  # as reported: YYYY-MM-DD, or with the time given (YYYY-MM-DDTHH:MM)
    file: str  # as the manifest names it
    path: str  # the file, joined with the manifest's folder
    treatment: str = ""  # given at this visit, after its recording
    note: str = ""
    origin: str = ""  # where it was listed, for messages: "visits.csv, row 3" or the file's path
    problem: str = ""  # why it is not analysed (a path outside the manifest's folder), else ""


def parse_date(text: str, *, origin: str) -> dt.datetime:
    """An ISO 8601 date (YYYY-MM-DD), optionally with a time; ParameterError naming ``origin`` otherwise."""
    text = text.strip()
    try:
        if not ISO_DATE.match(text):
            raise ValueError("write it as YYYY-MM-DD")
        return dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise ParameterError(f"{origin}: date {text!r} is not a valid ISO 8601 date (YYYY-MM-DD): {error}") from None


def check_patient(patient: str, *, origin: str) -> str:
    """``patient`` stripped; ParameterError when it cannot name a file."""
    patient = patient.strip()
    if not patient or patient.startswith(".") or PATIENT_FORBIDDEN.intersection(patient) \
            or any(ord(c) < 32 for c in patient):
        raise ParameterError(f"{origin}: patient {patient!r} cannot name a file (PATIENT.followup.png); use letters, "
                             "digits, spaces, '-' or '_', not starting with '.'")
    return patient


def load_visits(source: str | os.PathLike) -> list[Visit]:
    """The visits of a manifest CSV or of a folder laid out PATIENT/YYYY-MM-DD*.mp4, checked
    (see :func:`read_manifest`, :func:`folder_visits` and :func:`check_visits`)."""
    source = os.fspath(source)
    if os.path.isdir(source):
        return check_visits(folder_visits(source))
    if not os.path.exists(source):
        raise InputNotFoundError(f"{source}: no such manifest or folder; name a CSV manifest (patient, date, file) "
                                 "or a folder of PATIENT/YYYY-MM-DD*.mp4")
    return check_visits(read_manifest(source))


def read_manifest(path: str | os.PathLike) -> list[Visit]:
    """Visits from a CSV with a header: patient, date, file and optional treatment and note.

    Paths are relative to the manifest's folder; a path leaving it (absolute, or through ``..``)
    gives a visit with a ``problem``. Blank lines are skipped; other columns are ignored. Rows are
    counted as a spreadsheet shows them (the header is row 1). Raises ParameterError naming the
    row for a missing value or a bad date or patient.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            table = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ParameterError(f"{path}: cannot be read as a CSV manifest ({error})") from None
    if not table:
        raise ParameterError(f"{path}: the manifest is empty; it needs a header: patient,date,file[,treatment,note]")
    header = [cell.strip().lower() for cell in table[0]]
    missing = [column for column in MANIFEST_REQUIRED if column not in header]
    if missing:
        raise ParameterError(f"{path}: the header lacks {', '.join(missing)}; it needs patient,date,file "
                             "(treatment and note are optional)")
    ignored = [column for column in header if column and column not in MANIFEST_REQUIRED + MANIFEST_OPTIONAL]
    if ignored:
        logger.warning("%s: ignoring the columns %s", path, ", ".join(ignored))
    base = os.path.dirname(os.path.abspath(path))
    visits = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        origin = f"{name}, row {number}"
        values = {column: (cells[i].strip() if i < len(cells) else "") for i, column in enumerate(header)}
        empty = [column for column in MANIFEST_REQUIRED if not values[column]]
        if empty:
            raise ParameterError(f"{origin}: no {' and no '.join(empty)}; every row needs patient, date and file")
        when = parse_date(values["date"], origin=origin)
        file = values["file"]
        joined = os.path.normpath(os.path.join(os.path.dirname(path), file))  # relative when the manifest is
        outside = os.path.isabs(file) or os.path.commonpath([base, os.path.abspath(joined)]) != base
        visits.append(Visit(patient=check_patient(values["patient"], origin=origin), when=when,
                            date=_date_text(when, values["date"]), file=file, path=joined,
                            treatment=values.get("treatment", ""), note=values.get("note", ""), origin=origin,
                            problem="the path leaves the manifest's folder; put the recording in that folder "
                                    "(or below it) and name it relative to the manifest" if outside else ""))
    if not visits:
        raise ParameterError(f"{path}: the manifest lists no recordings")
    return visits


def folder_visits(folder: str | os.PathLike) -> list[Visit]:
    """Visits from ``folder/PATIENT/YYYY-MM-DD*.EXT`` (video files whose names start with their date).

    Hidden entries are skipped; other files are skipped with a warning. Raises ParameterError for a
    file name starting with an impossible date, InputNotFoundError when no visit is found.
    """
    folder = os.fspath(folder)
    visits = []
    for patient in sorted(os.listdir(folder)):
        patient_dir = os.path.join(folder, patient)
        if patient.startswith("."):
            continue
        if not os.path.isdir(patient_dir):
            logger.warning("%s: not in a patient folder; skipped", patient_dir)
            continue
        for name in sorted(os.listdir(patient_dir)):
            path = os.path.join(patient_dir, name)
            match = FOLDER_DATE.match(name)
            if name.startswith(".") or not os.path.isfile(path):
                continue
            if not match or not is_video_path(name):
                logger.warning("%s: not a video named YYYY-MM-DD*; skipped", path)
                continue
            when = parse_date(match.group(1), origin=path)
            visits.append(Visit(patient=check_patient(patient, origin=patient_dir), when=when,
                                date=when.date().isoformat(), file=os.path.join(patient, name), path=path,
                                origin=path))
    if not visits:
        raise InputNotFoundError(f"{folder}: no recordings found; lay them out as PATIENT/YYYY-MM-DD*.mp4, "
                                 "or name a CSV manifest")
    return visits


def check_visits(visits: Sequence[Visit]) -> list[Visit]:
    """``visits`` without exact repeats (same patient, date and file: skipped with a warning).

    Raises ParameterError when one recording is listed for another patient or date, or when two
    patients' names differ only in letter case (their plots would share a file).
    """
    kept: list[Visit] = []
    seen: dict[str, Visit] = {}
    patients: dict[str, str] = {}
    for visit in visits:
        key = os.path.normcase(os.path.realpath(visit.path))
        earlier = seen.get(key)
        if earlier is not None:
            if (earlier.patient, earlier.when) != (visit.patient, visit.when):
                raise ParameterError(f"{visit.origin}: {visit.file} is listed already ({earlier.origin}) for another "
                                     "patient or date; a recording belongs to one visit")
            logger.warning("%s repeats %s; skipped", visit.origin, earlier.origin)
            continue
        other = patients.setdefault(visit.patient.lower(), visit.patient)
        if other != visit.patient:
            raise ParameterError(f"{visit.origin}: patient {visit.patient!r} differs from {other!r} only in letter "
                                 "case; write the same patient the same way")
        seen[key] = visit
        kept.append(visit)
    return kept


def _date_text(when: dt.datetime, given: str) -> str:
    return when.date().isoformat() if len(given.strip()) == 10 else when.isoformat(timespec="minutes")


# -- per-visit outcomes and the follow-up rows ---------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What the analysis of one visit gave: its summary row and clinical measures, or an error."""

    error: str = ""
    summary: dict = field(default_factory=dict)
    measures: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error


def followup_rows(visits: Sequence[Visit], outcomes: Sequence[Outcome], *, baseline: dt.date | None = None,
                  rule: ResponseRule = ResponseRule()) -> list[dict]:
    """One row of FOLLOWUP_COLUMNS per visit: patients in name order, each patient's visits by date.

    The reference visit is the first analysed one, or the patient's visit on ``baseline`` (the
    first analysed when the patient has none that day, flagged).
    """
    rows = []
    for patient in sorted({visit.patient for visit in visits}):
        order = sorted((i for i, visit in enumerate(visits) if visit.patient == patient),
                       key=lambda i: (visits[i].when, i))
        flags: tuple = ()
        on_day = [i for i in order if baseline is not None and visits[i].when.date() == baseline]
        if on_day:
            reference = next((i for i in on_day if outcomes[i].ok), on_day[0])
        else:
            if baseline is not None:
                logger.warning("patient %s has no visit on %s; the first visit is the reference", patient, baseline)
                flags = (NO_BASELINE_VISIT,)
            reference = next((i for i in order if outcomes[i].ok), None)
        rows += patient_rows([visits[i] for i in order], [outcomes[i] for i in order],
                             reference=None if reference is None else order.index(reference), rule=rule, flags=flags)
    return rows


def patient_rows(visits: Sequence[Visit], outcomes: Sequence[Outcome], *, reference: int | None,
                 rule: ResponseRule = ResponseRule(), flags: tuple = ()) -> list[dict]:
    """Rows of one patient's visits (in date order) compared with visit number ``reference``."""
    counts = {side: sum(_count(o.measures.get(f"twitches_{side}")) for o in outcomes if o.ok) for side in SIDES}
    if reference is not None and outcomes[reference].ok:
        ref = outcomes[reference]
        side, from_verdict = comparison_side(ref.summary, ref.measures, counts)
        flags = flags + (() if from_verdict else (SIDE_FROM_COUNTS,))
    else:
        side = "none"
        flags = flags + (REFERENCE_FAILED,)
    measured = [visit_measures(o.summary, o.measures, side=side, confidence=rule.confidence) if o.ok else {}
                for o in outcomes]
    rows = []
    last_treatment: dt.datetime | None = None
    for index, (visit, outcome, measures) in enumerate(zip(visits, outcomes, measured)):
        summary = outcome.summary
        visit_flags = list(summary.get("quality_flags") or []) if outcome.ok else []
        if outcome.ok and summary.get("affected_side") in SIDES and side in SIDES and summary["affected_side"] != side:
            visit_flags.append(SIDE_DIFFERS)
        row = {column: None for column in FOLLOWUP_COLUMNS}
        row.update(patient=visit.patient, date=visit.date, file=visit.file, status="ok" if outcome.ok else "error",
                   error=outcome.error, treatment=visit.treatment, note=visit.note, comparison_side=side,
                   quality_flags=visit_flags + list(flags), response_rule=rule.text(),
                   days_since_treatment=_days(last_treatment, visit.when))
        if reference is not None:
            row.update(reference_date=visits[reference].date,
                       days_since_reference=_days(visits[reference].when, visit.when))
        if outcome.ok:
            row.update(classification=summary.get("classification"), affected_side=summary.get("affected_side"),
                       confidence=summary.get("confidence"), **measures)
        if index == reference:
            row["response"] = "reference"
        elif outcome.ok and reference is not None and outcomes[reference].ok:
            row.update(compare_visit(measures, measured[reference], rule))
        else:
            row["response"] = "not assessable"
        if visit.treatment and visit.when is not None:
            last_treatment = visit.when
        rows.append(row)
    return rows


def _count(value) -> int:
    return int(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0


def _days(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    """Days from ``start`` to ``end``: whole days between dates, hundredths when a time was given."""
    if start is None or end is None:
        return None
    days = round((end - start).total_seconds() / 86400.0, 2)
    return int(days) if days.is_integer() else days


def csv_ready(row: dict) -> dict:
    """``row`` for report.write_csv: an unbounded interval end written as ``inf`` (an empty cell means unknown)."""
    return {column: "inf" if isinstance(value, float) and math.isinf(value) else value
            for column, value in row.items()}


# -- running -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FollowupResult:
    """The follow-up rows, the CSV and the per-patient plots and pages written."""

    rows: tuple
    csv_path: Path
    plot_paths: tuple
    page_paths: tuple = ()  # PATIENT.followup.html, with ``html``

    @property
    def failed(self) -> int:
        return sum(row["status"] != "ok" for row in self.rows)


def run_followup(source: str | os.PathLike, out_dir: str | os.PathLike, *, baseline: dt.date | None = None,
                 rule: ResponseRule = ResponseRule(), settings: TrackerSettings = TrackerSettings(),
                 selection: Selection = WHOLE_VIDEO, jobs: int | None = None, scheduler: str | None = None, force: bool = False,
                 cache_dir: str | os.PathLike | None = None, use_cache: bool = True, plot: bool = True,
                 html: bool = False, progress=None) -> FollowupResult:
    """Analyse the visits of ``source`` (a manifest or a PATIENT/ folder, :func:`load_visits`) into
    ``out_dir``: each visit's reports, summary.csv and events.csv (as ``batch``), followup.csv and,
    with ``plot``, PATIENT.followup.png. With ``html``, each visit's review page STEM.html and the
    batch's index.html (as ``batch --html``) and PATIENT.followup.html linking them. A visit whose
    file is missing, leaves the manifest's folder or fails to analyse is a row with its error; the
    others go on. ``progress`` as in run_batch.
    """
    from .batch import run_batch

    visits = load_visits(source)
    if baseline is not None and not any(visit.when.date() == baseline for visit in visits):
        raise ParameterError(f"--baseline {baseline.isoformat()}: no visit on that date; name a date of the visits")
    out = Path(out_dir)
    outcomes = [Outcome(error=visit.problem or _missing(visit.path)) for visit in visits]
    analysable = [i for i, outcome in enumerate(outcomes) if outcome.ok]
    pages: dict[str, str] = {}  # a visit's file -> its review page beside the reports
    if analysable:
        batch = run_batch([visits[i].path for i in analysable], out, settings=settings, selection=selection, jobs=jobs,
                          scheduler=scheduler, force=force, json=True, html=html, cache_dir=cache_dir,
                          use_cache=use_cache, progress=progress)
        by_file = {result.file: result for result in batch.results}
        for i in analysable:
            outcomes[i] = read_outcome(by_file[visits[i].path], out)
            page = f"{by_file[visits[i].path].stem}.html"
            if html and outcomes[i].ok and (out / page).is_file():
                pages[visits[i].file] = page
    else:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{out_dir}: cannot create the output folder ({error.strerror or error}); "
                              "choose a writable place with --out") from None
    rows = followup_rows(visits, outcomes, baseline=baseline, rule=rule)
    csv_path = write_csv(out / FOLLOWUP_NAME, [csv_ready(row) for row in rows], FOLLOWUP_COLUMNS, force=True)
    plots = []
    if plot:
        for patient in sorted({row["patient"] for row in rows}):
            plots.append(plot_patient([row for row in rows if row["patient"] == patient],
                                      out / f"{patient}{PLOT_SUFFIX}"))
    written = write_pages(rows, out, pages=pages, plots=plots,
                          hidden_paths=[os.path.abspath(visit.path) for visit in visits]) if html else ()
    return FollowupResult(rows=tuple(rows), csv_path=csv_path, plot_paths=tuple(plots), page_paths=written)


def write_pages(rows: Sequence[dict], out: Path, *, pages: dict[str, str], plots: Sequence[Path],
                hidden_paths: Sequence[str]) -> tuple:
    """Write each patient's PATIENT.followup.html into ``out``: their rows, linking ``pages`` (a row's
    file -> its review page), embedding their figure when it is among ``plots``."""
    from .followup_page import PAGE_SUFFIX, write_patient_page
    from .review_page import INDEX_NAME

    written = []
    index = INDEX_NAME if (out / INDEX_NAME).is_file() else None
    for patient in sorted({row["patient"] for row in rows}):
        plot = out / f"{patient}{PLOT_SUFFIX}"
        written.append(write_patient_page(out / f"{patient}{PAGE_SUFFIX}",
                                          [row for row in rows if row["patient"] == patient], pages=pages,
                                          plot_name=plot.name if plot in plots else None, index_name=index,
                                          hidden_paths=[*hidden_paths, str(out.absolute())]))
        logger.info("wrote %s", written[-1])
    return tuple(written)


def _missing(path: str) -> str:
    """Why ``path`` cannot be analysed, or "" when it is a file."""
    if os.path.isfile(path):
        return ""
    return "is a folder, not a video file" if os.path.isdir(path) else "no such file; check the path"


def read_outcome(result, out: Path) -> Outcome:
    """The Outcome of a batch result (a VideoResult), its numbers read from its STEM.json report in ``out``."""
    if not result.ok:
        return Outcome(error=result.error)
    report = report_path(out, result.stem, "json")
    try:
        document = json.loads(report.read_text(encoding="utf-8"))
        summary, measures = dict(document["summary"]), dict(document["measures"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Outcome(error=f"its report {report.name} cannot be read ({error}); run again with --force")
    if "rest_minutes" not in measures:
        return Outcome(error=f"its report {report.name} lacks the measures at rest (an earlier spasmscan wrote it); "
                             "run again with --force")
    return Outcome(summary=summary, measures=measures)


def compare_analyses(before, after, *, before_file: str, after_file: str,
                     rule: ResponseRule = ResponseRule()) -> list[dict]:
    """The follow-up rows of two analyses (:class:`spasmscan.analysis.Analysis`), ``before`` the reference."""
    from .report import summary_row

    visits = [Visit(patient="", when=None, date="", file=name, path=name) for name in (before_file, after_file)]
    outcomes = [Outcome(summary=summary_row(analysis, file=name), measures=dict(analysis.measures))
                for analysis, name in ((before, before_file), (after, after_file))]
    return patient_rows(visits, outcomes, reference=0, rule=rule)


# -- text ----------------------------------------------------------------------------------------
LABELS = {  # how the terminal names the measures
    "one_sided_per_min": "one-sided events per minute",
    "one_sided_per_min_eye": "  of the eye alone",
    "one_sided_per_min_mouth": "  of the mouth corner alone",
    "one_sided_per_min_eye_mouth": "  of eye and mouth together",
    "rest_episodes_per_min": "episodes per minute at rest",
    "spasm_time_pct": "time in spasm, %",
    "longest_spasm_s": "longest spasm, s",
    "spread_to_mouth": "spread to the mouth (1 yes)",
    "jrs_frequency_estimate": "JRS frequency ESTIMATE (0-4)",
    "blinks_per_min": "blinks per minute",
    "eye_opening_ratio": "eye opening at rest, affected/other",
}


TEXT_DIGITS = {"eye_opening_ratio": 3}  # decimals on the terminal where 2 hide a real difference (default 2)


def _number_text(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, int)):
        return str(int(value))
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.{digits}f}"
    return "inf" if isinstance(value, float) and math.isinf(value) else "-"


def comparison_text(reference: dict, row: dict) -> str:
    """The comparison of ``row`` with the ``reference`` row as lines for a terminal."""
    side = reference["comparison_side"]
    lines = [f"before: {reference['file']}: {_visit_verdict(reference)}",
             f"after:  {row['file']}: {_visit_verdict(row)}"]
    if row["status"] != "ok" or reference["status"] != "ok":
        return "\n".join(lines + ["no comparison: a recording could not be analysed"])
    lines.append(f"compared on the patient's {side.upper()} side (the side of the first recording)" if side in SIDES
                 else "compared on both eyes: prolonged closures are the episodes (blepharospasm in the first "
                 "recording)" if side == BOTH else "no one-sided events in either recording: no side to compare")
    lines.append(f"{'':<38}{'before':>9}{'after':>9}{'change':>9}")
    for column in CHANGED:
        digits = TEXT_DIGITS.get(column, 2)
        lines.append(f"{LABELS[column]:<38}{_number_text(reference[column], digits):>9}"
                     f"{_number_text(row[column], digits):>9}{_number_text(row['change_' + column], digits):>9}")
    lines.append(f"{'minutes at rest':<38}{_number_text(reference['rest_minutes']):>9}"
                 f"{_number_text(row['rest_minutes']):>9}")
    lines.append(f"{'episodes at rest':<38}{_number_text(reference['rest_episodes'], 0):>9}"
                 f"{_number_text(row['rest_episodes'], 0):>9}")
    lines.append(rate_text(row))
    flags = [flag for flag in row["quality_flags"] if flag in (SIDE_DIFFERS, SIDE_FROM_COUNTS)]
    lines += [f"note: {flag.replace('_', ' ')}" for flag in flags]
    lines.append(f"rule: {row['response_rule']}")
    return "\n".join(lines)


def rate_text(row: dict) -> str:
    """'rate ratio 0.17 (95% CI 0.06-0.45, p = 1.2e-05): improved' for a compared row."""
    if row["rate_ratio_ci_low"] is None or not math.isfinite(row["rate_ratio_ci_low"]):
        return f"rate at rest: {row['response']}"
    p = row["rate_ratio_p_value"]
    return (f"rate ratio at rest {_number_text(row['rate_ratio'])} (CI {_number_text(row['rate_ratio_ci_low'])}-"
            f"{_number_text(row['rate_ratio_ci_high'])}, p = {p:.2g}): {row['response']}")


def _visit_verdict(row: dict) -> str:
    if row["status"] != "ok":
        return f"failed ({row['error']})"
    side = side_text(row["affected_side"])
    return f"{verdict_text(row['classification'])}{side} (confidence {_number_text(row['confidence'])})"


def followup_text(rows: Sequence[dict]) -> str:
    """A few lines per patient: the reference visit and each later visit's rate ratio and response."""
    lines = []
    for patient in sorted({row["patient"] for row in rows}):
        mine = [row for row in rows if row["patient"] == patient]
        side = mine[0]["comparison_side"]
        reference = next((row["date"] for row in mine if row["response"] == "reference"), None)
        lines.append(f"{patient}: {len(mine)} visits, " + (f"reference {reference}, {side} side" if reference
                                                           else "no reference visit could be analysed"))
        for row in mine:
            if row["response"] == "reference":
                continue
            text = f"failed: {row['error']}" if row["status"] != "ok" else rate_text(row)
            lines.append(f"  {row['date']}: {text}")
    return "\n".join(lines)


# -- the per-patient figure ----------------------------------------------------------------------
WIDTH_PX, HEIGHT_PX, DPI = 1400, 1000, 100  # one patient, one page
# In the order of RESPONSES: reference black, improved green, worse red, no clear change and not assessable grey
RESPONSE_COLORS = dict(zip(RESPONSES, ("#000000", "#1a9641", "#d7191c", "#7f7f7f", "#bbbbbb")))
TREATMENT_COLOR = "#6a3d9a"
TREATMENT_TEXT_CHARS = 40  # longer treatment texts are shortened on the figure (the CSV keeps them whole)
DATE_MARGIN_DAYS = 10  # space left and right of the first and last visit, at least ...
DATE_MARGIN_SHARE = 0.12  # ... or this share of the visits' span: room for the last visit's label
RATIO_SPAN = 0.2  # the eye-opening axis shows at least 1 +- this: small differences must not look large


def plot_patient(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Write one patient's follow-up figure (PNG, atomically) from their follow-up rows in date order.

    Panels over calendar time: episodes per minute at rest with their intervals (points coloured by
    response), the share of time in spasm, and the eye-opening ratio at rest; treatments are
    vertical lines with their text; failed visits are grey dotted lines.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    path = Path(path)
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(3, 1, sharex=True)
    dates = [dt.datetime.fromisoformat(row["date"]) for row in rows]
    ok = [i for i, row in enumerate(rows) if row["status"] == "ok"]
    panels = (("rest_episodes_per_min", "one-sided episodes per minute at rest (95% interval)"),
              ("spasm_time_pct", "time in spasm (%)"),
              ("eye_opening_ratio", "eye opening at rest, affected / other side"))
    for axis, (column, title) in zip(axes, panels):
        values = [_finite(rows[i][column]) for i in ok]
        axis.plot([dates[i] for i in ok], values, "-", color="#999999", lw=1, zorder=1)
        for i, value in zip(ok, values):
            color = RESPONSE_COLORS.get(rows[i]["response"], "#7f7f7f")
            if column == "rest_episodes_per_min":
                low, high = _finite(rows[i]["rest_rate_ci_low"]), _finite(rows[i]["rest_rate_ci_high"])
                if math.isfinite(low) and math.isfinite(high):
                    axis.errorbar([dates[i]], [value], yerr=[[value - low], [high - value]], fmt="none",
                                  ecolor=color, capsize=5, lw=1.5, zorder=2)
            axis.plot([dates[i]], [value], "o", color=color, ms=9, zorder=3)
        if not any(math.isfinite(value) for value in values):
            axis.text(0.5, 0.5, "no values", transform=axis.transAxes, ha="center", va="center", color="#666666")
        if column == "eye_opening_ratio":
            axis.axhline(1.0, color="#555555", lw=0.8, ls=":")
            shown = [value for value in values if math.isfinite(value)]
            axis.set_ylim(min(shown + [1.0 - RATIO_SPAN]) - 0.02, max(shown + [1.0 + RATIO_SPAN]) + 0.02)
        else:
            axis.set_ylim(bottom=0)
        axis.set_title(title, loc="left", fontsize=11, fontweight="bold")
        axis.grid(True, alpha=0.3)
        for i, row in enumerate(rows):
            if row["status"] != "ok":
                axis.axvline(dates[i], color="#bbbbbb", ls=":", lw=1.5)
            if row["treatment"]:
                axis.axvline(dates[i], color=TREATMENT_COLOR, ls="--", lw=1.2, zorder=0)
    top = axes[0]
    for i, row in enumerate(rows):
        if row["treatment"]:
            top.text(dates[i], 0.97, " " + textwrap.shorten(row["treatment"], TREATMENT_TEXT_CHARS, placeholder="..."),
                     transform=top.get_xaxis_transform(), rotation=0, ha="left", va="top", fontsize=9,
                     color=TREATMENT_COLOR)
        if row["status"] == "ok" and row["response"] not in ("reference", None):
            top.annotate(_short_ratio(row), (dates[i], _finite(row["rest_episodes_per_min"])),
                         textcoords="offset points", xytext=(8, -4), fontsize=9,
                         color=RESPONSE_COLORS.get(row["response"], "#7f7f7f"))
        if row["status"] != "ok":
            top.text(dates[i], 0.02, " failed", transform=top.get_xaxis_transform(), fontsize=9, color="#777777")
    top.set_ylim(top=max([_finite(rows[i]["rest_rate_ci_high"]) for i in ok
                          if math.isfinite(_finite(rows[i]["rest_rate_ci_high"]))] + [1.0]) * 1.25)
    first, last = min(dates), max(dates)
    margin = max(dt.timedelta(days=DATE_MARGIN_DAYS), (last - first) * DATE_MARGIN_SHARE)
    axes[-1].set_xlim(first - margin, last + margin)
    locator = AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
    side = rows[0]["comparison_side"]
    reference = next((row["date"] for row in rows if row["response"] == "reference"), "none analysed")
    figure.suptitle(f"{rows[0]['patient']}: follow-up of the patient's {side.upper()} side "
                    f"(reference visit {reference})", fontsize=14, ha="left", x=0.01)
    handles = [Line2D([], [], marker="o", ls="", color=color, label=label, ms=8)
               for label, color in RESPONSE_COLORS.items()]
    handles.append(Line2D([], [], ls="--", color=TREATMENT_COLOR, label="treatment (after that visit's recording)"))
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9, frameon=False)
    with atomic_path(path, force=True) as temporary:
        figure.savefig(temporary, format="png", dpi=DPI)
    logger.info("wrote %s", path)
    return path


def _finite(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _short_ratio(row: dict) -> str:
    ratio = row["rate_ratio"]
    return f"ratio {ratio:.2f}, {row['response']}" if isinstance(ratio, float) and math.isfinite(ratio) \
        else row["response"]
