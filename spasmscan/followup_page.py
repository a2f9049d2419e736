"""The per-patient follow-up page: PATIENT.followup.html, one self-contained HTML file per patient.

One row per visit in date order (verdict, rates, the rate ratio with its interval, the response,
flags or the error), each analysed visit linking to its review page STEM.html beside it, and the
patient's follow-up figure embedded. Inline CSS only, no script; nothing is fetched. Everything
from the manifest (patient, file names, treatments, notes) and every message is escaped, and the
page shows files by their own names, never by a folder of the machine it was made on.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote

from . import __version__
from .kinds import verdict_text
from .summary import FLAG_TEXT
from .files import write_text
from .followup import RESPONSE_COLORS
from .regions import SIDES
from .review_page import PAGE_CSS, _e, _number, _scrub, display_name

PAGE_SUFFIX = ".followup.html"  # beside PATIENT.followup.png; never a batch's STEM.html or index.html
FOLLOWUP_CSS = ("tr.reference td{background:#f2f2f2}.response{font-weight:bold}#visits td.num,#visits td.date{white-space:nowrap}"
                ".figure img{max-width:100%;height:auto;border:1px solid #ddd;background:#fff}"
                "#visits td{vertical-align:top}.rule{font-size:13px;color:#555}")


def _ratio_text(value) -> str:
    """A ratio or interval end: two decimals, '∞' when unbounded, 'n/a' when unknown."""
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return _number(value)


def _interval_text(value, low, high) -> str:
    """'0.26 (0.03–1.27)'; just the value when the interval is unknown."""
    if not isinstance(low, (int, float)) or math.isnan(low):
        return _ratio_text(value)
    return f"{_ratio_text(value)} ({_ratio_text(low)}–{_ratio_text(high)})"


def _visit_row(row: dict, *, page: str | None, hidden: list[str]) -> str:
    """One <tr> of the visits table for a follow-up row (followup.FOLLOWUP_COLUMNS)."""
    name = display_name(row["file"])
    recording = f'<a href="{_e(quote(page))}">{_e(name)}</a>' if page else _e(name)
    ok = row["status"] == "ok"
    if ok:
        verdict = _e(verdict_text(row["classification"]))
        side = _e(row["affected_side"] if row["affected_side"] in SIDES else "none")
        confidence = _number(row["confidence"])
    else:
        verdict, side, confidence = "", "", ""
    ratio = ""
    if row["response"] not in ("reference", "not assessable"):
        ratio = _interval_text(row["rate_ratio"], row["rate_ratio_ci_low"], row["rate_ratio_ci_high"])
        if isinstance(row["rate_ratio_p_value"], float):
            ratio += f", p = {row['rate_ratio_p_value']:.2g}"
    flags = ", ".join(FLAG_TEXT.get(flag, flag.replace("_", " ")) for flag in row["quality_flags"] or [])
    status = _e(flags) if ok else f'<span class="error">failed: {_e(_scrub(str(row["error"]), hidden))}</span>'
    color = RESPONSE_COLORS.get(row["response"], "#7f7f7f")
    rest_rate = _interval_text(row["rest_episodes_per_min"], row["rest_rate_ci_low"], row["rest_rate_ci_high"])
    cells = (("date", _e(row["date"])), ("text", recording), ("text", _e(row["treatment"] or "")),
             ("text", _e(row["note"] or "")), ("text", verdict), ("text", side), ("num", confidence),
             ("num", _number(row["one_sided_per_min"]) if ok else ""), ("num", rest_rate if ok else ""),
             ("num", _e(ratio)),
             ("text", f'<span class="response" style="color:{color}">{_e(row["response"])}</span>'), ("text", status))
    tds = "".join(f'<td class="{kind}">{cell}</td>' for kind, cell in cells)  # "num": right-aligned, one line
    reference = ' class="reference"' if row["response"] == "reference" else ""
    return f"<tr{reference}>{tds}</tr>"


VISIT_HEADERS = ("date", "recording (review page)", "treatment (after the recording)", "note", "verdict", "side",
                 "confidence", "one-sided events/min", "episodes/min at rest (interval)",
                 "rate ratio at rest (interval, p)", "response", "quality flags / status")


def patient_page_html(rows: Sequence[dict], *, pages: dict[str, str], plot_name: str | None = None,
                      index_name: str | None = None, hidden_paths: Iterable[str] = ()) -> str:
    """One patient's follow-up page as HTML text, from their follow-up rows in date order.

    pages: a row's ``file`` -> the file name of its review page beside this page (a visit without
    one is not linked). plot_name: the follow-up figure beside the page, or None. index_name: the
    batch index beside the page, or None. hidden_paths: absolute paths that messages must not show.
    """
    hidden = list(hidden_paths)
    patient = rows[0]["patient"]
    side = rows[0]["comparison_side"]
    reference = next((row["date"] for row in rows if row["response"] == "reference"), None)
    failed = sum(row["status"] != "ok" for row in rows)
    compared = (f"compared on the patient's {_e(side.upper())} side with the reference visit {_e(reference)}"
                if reference and side in SIDES else
                f"reference visit {_e(reference)}; no one-sided events: no side to compare" if reference
                else "no visit could be analysed: nothing to compare")
    body = "".join(_visit_row(row, page=pages.get(row["file"]), hidden=hidden) for row in rows)
    headers = "".join(f"<th>{_e(title)}</th>" for title in VISIT_HEADERS)
    figure = (f'<section class="figure"><h2>Over time</h2><img src="{_e(quote(plot_name))}" '
              f'alt="{_e(patient)}: rate at rest, time in spasm and eye opening over the visits"></section>'
              if plot_name else "")
    index = f' All recordings of this run: <a href="{_e(quote(index_name))}">{_e(index_name)}</a>.' if index_name else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src 'self' file:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(patient)}: spasmscan follow-up</title>
<style>{PAGE_CSS}{FOLLOWUP_CSS}</style></head>
<body><header><h1>Follow-up of <span class="patient">{_e(patient)}</span></h1>
<p class="counts">{len(rows)} visits, {len(rows) - failed} analysed, {failed} failed; {compared}.</p></header>
<main><table id="visits"><thead><tr>{headers}</tr></thead><tbody>{body}</tbody></table>
<p class="rule">Rule: {_e(rows[0]["response_rule"])}. Click a recording to open its review page.{index}</p>
{figure}</main>
<footer>spasmscan {_e(__version__)}: a measurement aid, not a diagnosis.</footer></body></html>
"""


def write_patient_page(path: str | os.PathLike, rows: Sequence[dict], **kwargs) -> Path:
    """Write :func:`patient_page_html` (same keyword arguments) to ``path``, atomically, replacing it."""
    return write_text(path, patient_page_html(rows, **kwargs), force=True)
