"""Follow-up across visits: the rate-ratio statistics on synthetic event trains, the manifest's rules,
failed visits as rows, and one run of ``spasmscan followup`` on three rendered clips."""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import logging
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pytest
from click.testing import CliRunner

from spasmscan.measures import MEASURE_KEYS, clinical_measures
from spasmscan.cli import EXIT_BATCH_FAILED, cli
from spasmscan.errors import ParameterError
from spasmscan.events import Events, couple, coupling_windows
from spasmscan.followup import (FOLLOWUP_COLUMNS, NO_BASELINE_VISIT, SIDE_DIFFERS, Outcome, Visit, followup_rows,
                                load_visits, patient_rows, run_followup)
from spasmscan.followup_page import patient_page_html, write_patient_page
from spasmscan.followup_stats import ResponseRule, rate_interval, rate_ratio_test
from spasmscan.signals import Signals

from test_review_page import browser  # noqa: F401 (the headless Chromium fixture)

FPS = 30.0
DOCS = Path(__file__).resolve().parents[1] / "docs" / "followup.md"


# -- synthetic visits ----------------------------------------------------------------------------
def event_train(rate_per_min: float, *, minutes: float, seed: int, side: str = "left",
                blinks_per_min: float = 15.0) -> Events:
    """Regular blinks plus one-sided eye twitches at Poisson times, ``rate_per_min`` on average."""
    rng = np.random.default_rng(seed)
    duration_s = minutes * 60.0
    twitches = np.sort(rng.uniform(0.0, duration_s - 0.2, rng.poisson(rate_per_min * minutes)))
    blink_times = np.arange(1.0, duration_s - 0.3, 60.0 / blinks_per_min)
    rows = [("blink", "both", "eye", t, 0.2) for t in blink_times] + [("twitch", side, "eye", t, 0.1) for t in twitches]
    rows.sort(key=lambda row: row[3])
    kind, sides, region, start, length = zip(*rows)
    start = np.array(start, dtype=float)
    return couple(Events(kind=np.array(kind, dtype="<U16"), side=np.array(sides, dtype="<U16"),
                         region=np.array(region, dtype="<U16"), start_s=start, end_s=start + np.array(length),
                         amplitude=np.full(len(rows), 0.2), coupled_to=np.full(len(rows), -1, dtype=np.int64)))


def time_base(minutes: float, values: dict | None = None) -> Signals:
    times = np.arange(int(round(minutes * 60.0 * FPS))) / FPS
    return Signals(times_s=times, face_present=np.ones(times.size, bool), values=values or {}, units={}, fps=FPS)


def outcome(events: Events, signals: Signals, *, side: str = "left") -> Outcome:
    """The Outcome of an analysed visit with the verdict side ``side``."""
    measures = clinical_measures(events, signals)
    summary = {key: measures[key] for key in MEASURE_KEYS}
    summary.update(classification="primary_hfs" if side != "none" else "none", affected_side=side,
                   confidence=0.9, quality_flags=[])
    return Outcome(summary=summary, measures=measures)


def visit(day: str, *, patient: str = "P01", treatment: str = "") -> Visit:
    return Visit(patient=patient, when=dt.datetime.fromisoformat(day), date=day, file=f"{patient}/{day}.mp4",
                 path=f"{patient}/{day}.mp4", treatment=treatment)


def compared(before_rate: float, after_rate: float, *, seed: int, minutes: float = 2.0) -> dict:
    outcomes = [outcome(event_train(rate, minutes=minutes, seed=seed + k), time_base(minutes))
                for k, rate in enumerate((before_rate, after_rate))]
    return patient_rows([visit("2026-01-05"), visit("2026-03-02")], outcomes, reference=0)[1]


# -- statistics ----------------------------------------------------------------------------------
def test_exact_rate_ratio_matches_the_binomial_construction():
    """Equal minutes: the share of the visit is Binomial(n, R / (1 + R)); the bounds follow
    scipy.stats' exact binomial interval, and p is twice the smaller tail."""
    from scipy.stats import binom, binomtest

    result = rate_ratio_test(count=4, minutes=2.0, reference_count=24, reference_minutes=2.0)
    low, high = binomtest(4, 28, 0.5).proportion_ci(method="exact")
    assert result.ratio == pytest.approx(4 / 24)
    assert result.ci_low == pytest.approx(low / (1 - low), rel=1e-9)
    assert result.ci_high == pytest.approx(high / (1 - high), rel=1e-9)
    assert result.p_value == pytest.approx(2 * binom.cdf(4, 28, 0.5), rel=1e-9)
    unequal = rate_ratio_test(count=7, minutes=1.5, reference_count=3, reference_minutes=2.5)
    share_low = binomtest(7, 10, 0.5).proportion_ci(method="exact").low
    assert unequal.ci_low == pytest.approx(share_low * 2.5 / ((1 - share_low) * 1.5), rel=1e-9)
    assert unequal.p_value == pytest.approx(2 * binom.sf(6, 10, 1.5 / 4.0), rel=1e-9)


def test_rate_ratio_edges():
    none = rate_ratio_test(count=0, minutes=1.0, reference_count=0, reference_minutes=1.0)
    assert math.isnan(none.ratio) and none.ci_low == 0 and math.isinf(none.ci_high) and none.p_value == 1
    new = rate_ratio_test(count=6, minutes=1.0, reference_count=0, reference_minutes=1.0)
    assert math.isinf(new.ratio) and math.isinf(new.ci_high) and new.ci_low > 1
    assert ResponseRule().response(new) == "worse"
    assert math.isnan(rate_ratio_test(count=3, minutes=0.0, reference_count=3, reference_minutes=1.0).ci_low)
    low, high = rate_interval(0, 2.0)
    assert low == 0 and high == pytest.approx(-math.log(0.025) / 2.0)  # P(0 events) = 2.5% at the upper end


def test_twelve_then_two_per_minute_is_improved_with_the_interval_below_one():
    for seed in range(0, 40, 2):
        row = compared(12.0, 2.0, seed=seed, minutes=3.0)  # 2-3 minutes at rest, as the README advises
        assert row["response"] == "improved", row
        assert row["rate_ratio_ci_high"] < 1.0
        assert row["rate_ratio"] < 0.5
        assert row["change_rest_episodes_per_min"] < 0


def test_ten_per_minute_twice_gives_no_clear_change_in_most_seeds():
    rows = [compared(10.0, 10.0, seed=100 + 2 * seed) for seed in range(50)]
    spanning = sum(row["rate_ratio_ci_low"] < 1.0 < row["rate_ratio_ci_high"] for row in rows)
    assert spanning >= 45
    assert sum(row["response"] == "no clear change" for row in rows) == spanning


def test_the_rule_is_configurable():
    row_counts = dict(count=60, minutes=5.0, reference_count=100, reference_minutes=5.0)  # a 40% fall
    comparison = rate_ratio_test(**row_counts)
    assert comparison.ci_high < 1.0
    assert ResponseRule().response(comparison) == "no clear change"  # a fall below 50%
    assert ResponseRule(min_fall=0.3).response(comparison) == "improved"
    with pytest.raises(ParameterError):
        ResponseRule(min_fall=1.5)


def test_rest_time_excludes_voluntary_windows_and_counts_rest_episodes():
    events = event_train(12.0, minutes=2.0, seed=3)
    measures = clinical_measures(events, time_base(2.0))
    low, high = coupling_windows(events)  # the 30 blinks' windows, 4 s apart: none overlap
    assert low.size == 30
    expected = 2.0 - float(np.sum(high - low)) / 60.0
    assert measures["rest_minutes"] == pytest.approx(expected, abs=30 / FPS / 60)  # a frame per window
    rest_twitches = int(np.sum((events.kind == "twitch") & (events.coupled_to < 0)))
    assert 0 < measures["rest_episodes_left"] <= rest_twitches
    assert measures["rest_episodes_right"] == 0


def test_eye_opening_ratio_uses_the_resting_face_only():
    """The left eye is held nearly shut by a long tonic spasm for 60% of the time: the resting
    median must come from the other frames (0.25), giving 0.25 / 0.30."""
    minutes = 1.0
    times = np.arange(int(minutes * 60 * FPS)) / FPS
    left = np.full(times.size, 0.25)
    left[(times >= 10.0) & (times < 46.0)] = 0.05
    signals = time_base(minutes, {"eye_aperture_raw_left": left, "eye_aperture_raw_right": np.full(times.size, 0.30)})
    start = np.array([10.0])
    events = couple(Events(kind=np.array(["tonic_spasm"]), side=np.array(["left"]), region=np.array(["eye"]),
                           start_s=start, end_s=np.array([46.0]), amplitude=np.array([0.8]),
                           coupled_to=np.array([-1])))
    rows = patient_rows([visit("2026-01-05")], [outcome(events, signals)], reference=0)
    assert rows[0]["eye_opening_ratio"] == pytest.approx(0.25 / 0.30)


def test_the_reference_side_is_kept_when_visits_disagree():
    before = outcome(event_train(12.0, minutes=2.0, seed=5), time_base(2.0), side="left")
    after_events = event_train(6.0, minutes=2.0, seed=6, side="right")
    after = outcome(after_events, time_base(2.0), side="right")
    rows = patient_rows([visit("2026-01-05"), visit("2026-03-02")], [before, after], reference=0)
    assert [row["comparison_side"] for row in rows] == ["left", "left"]
    assert SIDE_DIFFERS in rows[1]["quality_flags"] and SIDE_DIFFERS not in rows[0]["quality_flags"]
    assert rows[1]["rest_episodes"] == 0  # counted on the left: the right-sided events are not the patient's side
    assert rows[1]["response"] == "improved"


def test_baseline_date_chooses_the_reference_and_failed_visits_stay_rows():
    visits = [visit("2026-01-05"), visit("2026-03-02", treatment="botulinum toxin"), visit("2026-06-01"),
              visit("2026-02-01", patient="P02")]
    outcomes = [outcome(event_train(rate, minutes=1.0, seed=k), time_base(1.0))
                for k, rate in enumerate((12.0, 10.0, 3.0))] + [Outcome(error="no face was found")]
    rows = followup_rows(visits, outcomes, baseline=dt.date(2026, 3, 2))
    by_date = {(row["patient"], row["date"]): row for row in rows}
    assert by_date[("P01", "2026-03-02")]["response"] == "reference"
    assert by_date[("P01", "2026-06-01")]["reference_date"] == "2026-03-02"
    assert by_date[("P01", "2026-06-01")]["days_since_treatment"] == 91
    assert by_date[("P01", "2026-01-05")]["days_since_reference"] == -56
    failed = by_date[("P02", "2026-02-01")]
    assert failed["status"] == "error" and failed["error"] == "no face was found"
    assert failed["response"] == "not assessable" and NO_BASELINE_VISIT in failed["quality_flags"]


# -- the manifest --------------------------------------------------------------------------------
def write_manifest(folder: Path, rows: list[str], name: str = "visits.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("patient,date,file,treatment,note\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def test_an_impossible_date_is_a_one_line_error_naming_the_row(tmp_path):
    manifest = write_manifest(tmp_path, ["P01,2026-01-05,a.mp4,,", "P01,2026-13-01,b.mp4,,"])
    result = CliRunner().invoke(cli, ["followup", str(manifest), "--out", str(tmp_path / "out")])
    assert result.exit_code == ParameterError.exit_code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spasmscan: error: "), result.stderr
    assert "visits.csv, row 3" in lines[0] and "2026-13-01" in lines[0]
    assert not (tmp_path / "out").exists()


def test_duplicates_are_skipped_and_conflicts_refused(tmp_path, caplog):
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"")
    manifest = write_manifest(tmp_path, ["P01,2026-01-05,a.mp4,,", "P01,2026-01-05,./a.mp4,,", "P01,2026-02-05,b.mp4,,"])
    with caplog.at_level(logging.WARNING, logger="spasmscan"):
        visits = load_visits(manifest)
    assert [v.file for v in visits] == ["a.mp4", "b.mp4"]
    assert "visits.csv, row 3 repeats visits.csv, row 2" in caplog.text
    conflict = write_manifest(tmp_path, ["P01,2026-01-05,a.mp4,,", "P02,2026-01-05,a.mp4,,"], name="conflict.csv")
    with pytest.raises(ParameterError, match=r"conflict.csv, row 3: a.mp4 is listed already"):
        load_visits(conflict)
    case = write_manifest(tmp_path, ["P01,2026-01-05,a.mp4,,", "p01,2026-02-05,b.mp4,,"], name="case.csv")
    with pytest.raises(ParameterError, match="only in letter case"):
        load_visits(case)


def test_missing_and_outside_files_are_rows_with_their_error(tmp_path):
    for name in ("outside.mp4", "absolute.mp4"):
        (tmp_path / name).write_bytes(b"not analysed")
    manifest = write_manifest(tmp_path / "clinic", ["P01,2026-01-05,gone.mp4,,", "P01,2026-02-05,../outside.mp4,,",
                                                    f"P01,2026-03-05,{tmp_path / 'absolute.mp4'},,"])
    result = run_followup(manifest, tmp_path / "out", plot=False)
    rows = list(csv.DictReader((tmp_path / "out" / "followup.csv").open(encoding="utf-8")))
    assert [row["status"] for row in rows] == ["error"] * 3 and result.failed == 3
    assert rows[0]["error"] == "no such file; check the path"
    assert all("leaves the manifest's folder" in row["error"] for row in rows[1:])
    assert not (tmp_path / "out" / "summary.csv").exists()  # nothing was analysed


def test_a_folder_of_patients_is_a_manifest(tmp_path):
    for name in ("P01/2026-01-05.mp4", "P01/2026-03-02_after.mp4", "P01/notes.txt", "P02/2026-02-01.mov"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    visits = load_visits(tmp_path)
    assert [(v.patient, v.date) for v in visits] == [("P01", "2026-01-05"), ("P01", "2026-03-02"), ("P02", "2026-02-01")]
    (tmp_path / "P02" / "2026-13-01.mp4").write_bytes(b"")
    with pytest.raises(ParameterError, match=r"2026-13-01.mp4: date '2026-13-01'"):
        load_visits(tmp_path)


def test_a_recording_that_fails_is_a_row_with_its_error(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"this is not a video" * 100)
    manifest = write_manifest(tmp_path, ["P01,2026-01-05,broken.mp4,,", "P01,2026-02-05,missing.mp4,,"])
    result = CliRunner().invoke(cli, ["followup", str(manifest), "--out", str(tmp_path / "out"), "--jobs", "1"])
    assert result.exit_code == EXIT_BATCH_FAILED, result.output
    rows = list(csv.DictReader((tmp_path / "out" / "followup.csv").open(encoding="utf-8")))
    assert [row["status"] for row in rows] == ["error", "error"]
    assert rows[0]["error"] and rows[0]["response"] == "not assessable"
    assert (tmp_path / "out" / "P01.followup.png").is_file()


def test_every_column_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    assert set(FOLLOWUP_COLUMNS) <= documented, set(FOLLOWUP_COLUMNS) - documented


# -- end to end on rendered clips ----------------------------------------------------------------
CLIP_SECONDS = 12.0  # above the 10 s the verdict needs, short to keep the render and the tracking cheap
CLIPS = (("2026-01-05", 40.0, 0, "botulinum toxin 15 U left orbicularis"),  # date, episodes/min, seed, treatment
         ("2026-03-02", None, 0, ""), ("2026-05-04", 40.0, 3, ""))  # None: no spasm (label none)


@pytest.fixture(scope="session")
def rendered_visits(tmp_path_factory) -> Path:
    """Three visits of one patient (a spasm, no spasm after treatment, the spasm back) and their manifest."""
    from spasmscan.render import simulate_video
    from spasmscan.simulate import ScheduleOptions

    folder = tmp_path_factory.mktemp("followup-clips")
    (folder / "P01").mkdir()
    for day, rate, seed, _ in CLIPS:
        simulate_video(folder / "P01" / f"{day}.mp4", label="none" if rate is None else "primary_hfs",
                       side="none" if rate is None else "left", duration_s=CLIP_SECONDS, seed=seed, width=320,
                       height=240, options=ScheduleOptions(twitch_rate_per_min=rate))
    return write_manifest(folder, [f"P01,{day},P01/{day}.mp4,{treatment},rendered" for day, _, _, treatment in CLIPS])


def test_followup_end_to_end_on_three_rendered_visits(rendered_visits, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["followup", str(rendered_visits), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    with (out / "followup.csv").open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == FOLLOWUP_COLUMNS
        rows = list(reader)
    assert [row["date"] for row in rows] == [day for day, *_ in CLIPS]
    assert [row["status"] for row in rows] == ["ok"] * 3
    assert [row["response"] for row in rows][0] == "reference"
    assert {row["comparison_side"] for row in rows} == {"left"}
    rates = [float(row["rest_episodes_per_min"]) for row in rows]
    assert rates[1] < rates[0] and rates[1] < rates[2]
    assert float(rows[1]["rate_ratio"]) < 0.5 and float(rows[1]["rate_ratio"]) < float(rows[2]["rate_ratio"])
    assert rows[1]["days_since_treatment"] == "56"
    assert all(0.5 < float(row["eye_opening_ratio"]) < 1.5 for row in rows)
    assert (out / "P01.followup.png").stat().st_size > 10_000
    assert "P01: 3 visits, reference 2026-01-05, left side" in result.output
    first = (out / "followup.csv").read_text(encoding="utf-8")
    (out / "followup.csv").unlink()
    again = CliRunner().invoke(cli, ["followup", str(rendered_visits), "--out", str(out), "--jobs", "1"])
    assert again.exit_code == 0 and (out / "followup.csv").read_text(encoding="utf-8") == first  # resumed

    compare = CliRunner().invoke(cli, ["compare", str(rendered_visits.parent / "P01" / "2026-01-05.mp4"),
                                       str(rendered_visits.parent / "P01" / "2026-03-02.mp4")])
    assert compare.exit_code == 0, compare.output
    assert "compared on the patient's LEFT side" in compare.output
    assert f"rate ratio at rest {float(rows[1]['rate_ratio']):.2f}" in compare.output


def test_a_report_without_the_rest_measures_asks_for_a_rerun(tmp_path):
    from spasmscan.batch import VideoResult
    from spasmscan.followup import read_outcome

    (tmp_path / "old.json").write_text('{"summary": {"affected_side": "left"}, "measures": {"twitches_left": 3}}')
    result = VideoResult(file="old.mp4", stem="old", status="ok")
    assert "run again with --force" in read_outcome(result, tmp_path).error
    (tmp_path / "old.json").write_text('{"summary": {}, "measures": {"rest_minutes": 1.5}}')
    assert read_outcome(result, tmp_path).ok
    (tmp_path / "old.json").write_text('{"summary": ')
    assert "cannot be read" in read_outcome(result, tmp_path).error


# -- the per-patient page ------------------------------------------------------------------------
HOSTILE_PATIENT = "<script>alert(1)</script>"  # refused as a manifest's patient, but the page must not trust that
HOSTILE_TEXT = "<img src=x onerror=alert(1)>"


class PageParser(HTMLParser):
    """The visits table's rows (cell texts and the link of each row) and every tag seen."""

    def __init__(self):
        super().__init__()
        self.rows, self.links, self.tags, self.images, self.h1 = [], [], [], [], ""
        self._in_body = self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
            self.links.append(None)
        elif tag == "td" and self._in_body:
            self.rows[-1].append("")
        elif tag == "a" and self._in_body:
            self.links[-1] = attrs["href"]
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "h1":
            self._in_h1 = True

    def handle_endtag(self, tag):
        self._in_body = self._in_body and tag != "tbody"
        self._in_h1 = self._in_h1 and tag != "h1"

    def handle_data(self, data):
        if self._in_body and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data
        if self._in_h1:
            self.h1 += data


def parsed(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    return parser


def page_visits(patient: str = "P01") -> list[dict]:
    """Three visits of ``patient``: 12/min, then 2/min after a treatment, then a failed recording."""
    visits = [visit("2026-03-02", patient=patient), visit("2026-01-05", patient=patient, treatment=HOSTILE_TEXT),
              visit("2026-05-04", patient=patient)]
    visits[0] = dataclasses.replace(visits[0], note="4 weeks after & <b>better</b>")
    outcomes = [outcome(event_train(2.0, minutes=3.0, seed=1), time_base(3.0)),
                outcome(event_train(12.0, minutes=3.0, seed=2), time_base(3.0)),
                Outcome(error="/home/clinic/secret/P01/2026-05-04.mp4: cannot be decoded")]
    return followup_rows(visits, outcomes)


def test_the_page_has_a_row_per_visit_in_date_order_linking_the_review_pages():
    rows = page_visits()
    pages = {rows[0]["file"]: "2026-01-05.html", rows[1]["file"]: "2026-03-02.html"}
    page = parsed(patient_page_html(rows, pages=pages, plot_name="P01.followup.png", index_name="index.html",
                                    hidden_paths=["/home/clinic/secret/P01/2026-05-04.mp4"]))
    assert [cells[0] for cells in page.rows] == ["2026-01-05", "2026-03-02", "2026-05-04"]
    assert page.links == ["2026-01-05.html", "2026-03-02.html", None]  # the failed visit has no page
    assert [cells[1] for cells in page.rows] == ["2026-01-05.mp4", "2026-03-02.mp4", "2026-05-04.mp4"]
    reference, after, failed = page.rows
    assert reference[2] == HOSTILE_TEXT and after[3] == "4 weeks after & <b>better</b>"  # shown as text
    assert reference[4] == "primary hemifacial spasm" and reference[5] == "left" and reference[6] == "0.90"
    assert reference[10] == "reference" and after[10] == "improved" == rows[1]["response"]
    assert after[9].startswith(f"{rows[1]['rate_ratio']:.2f} ({rows[1]['rate_ratio_ci_low']:.2f}–"
                               f"{rows[1]['rate_ratio_ci_high']:.2f}), p = ")
    assert float(after[7]) == pytest.approx(rows[1]["one_sided_per_min"], abs=0.005)
    assert failed[4:10] == [""] * 6 and failed[10] == "not assessable"
    assert failed[11] == "failed: 2026-05-04.mp4: cannot be decoded"  # the folder of the machine is not shown
    assert page.images == ["P01.followup.png"]
    assert page.tags.count("img") == 1  # the figure only: the treatment's <img> is text


def test_the_page_escapes_the_patient_and_needs_no_script():
    rows = page_visits(HOSTILE_PATIENT)
    text = patient_page_html(rows, pages={}, plot_name=f"{HOSTILE_PATIENT}.followup.png")
    page = parsed(text)
    assert page.h1 == f"Follow-up of {HOSTILE_PATIENT}"
    assert "script" not in page.tags and page.tags.count("img") == 1 and page.links == [None] * 3
    assert HOSTILE_PATIENT not in text and HOSTILE_TEXT not in text
    assert page.images == [quote(f"{HOSTILE_PATIENT}.followup.png")]  # the figure by its own name, quoted
    assert "http" not in text.replace('http-equiv', '')  # nothing fetched


def test_followup_html_writes_a_page_per_patient_linking_existing_review_pages(rendered_visits, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["followup", str(rendered_visits), "--out", str(out), "--jobs", "1", "--html"])
    assert result.exit_code == 0, result.output
    page_path = out / "P01.followup.html"
    assert f"page: {page_path}" in result.output
    text = page_path.read_text(encoding="utf-8")
    page = parsed(text)
    assert [cells[0] for cells in page.rows] == [day for day, *_ in CLIPS]
    assert len(page.links) == 3 and all(page.links)
    for link in page.links:
        review = out / unquote(link)
        assert review.parent == out and review.is_file()
        assert "spasmscan review" in review.read_text(encoding="utf-8")
    assert page.rows[0][2] == CLIPS[0][3] and page.rows[0][10] == "reference"
    assert page.images == ["P01.followup.png"] and (out / "P01.followup.png").is_file()
    assert str(rendered_visits.parent) not in text and str(tmp_path) not in text
    assert (out / "index.html").is_file()


def test_the_page_shows_the_hostile_patient_as_text_in_a_browser(browser, tmp_path):
    """Headless Chromium, as the review pages' browser tests (skipped without it)."""
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    rows = page_visits(HOSTILE_PATIENT)
    (tmp_path / "2026-01-05.html").write_text("<title>review page</title>", encoding="utf-8")
    path = write_patient_page(tmp_path / "page.html", rows, pages={rows[0]["file"]: "2026-01-05.html"})
    browser.get(path.as_uri())
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Follow-up of {HOSTILE_PATIENT}"
    cells = browser.find_elements(By.CSS_SELECTOR, "#visits tbody tr:first-child td")
    assert cells[2].text == HOSTILE_TEXT and browser.find_elements(By.TAG_NAME, "img") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    browser.find_element(By.LINK_TEXT, "2026-01-05.mp4").click()
    assert browser.title == "review page"


def closure_visit(per_min: float, *, minutes: float, seed: int) -> Outcome:
    """A blepharospasm visit: blinks plus closures of both eyes held 1.5 s at Poisson times."""
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.uniform(1.0, minutes * 60.0 - 2.0, rng.poisson(per_min * minutes)))
    events = event_train(0.0, minutes=minutes, seed=seed)
    start = np.concatenate((events.start_s, starts))
    order = np.argsort(start, kind="stable")
    closures = Events(kind=np.concatenate((events.kind, np.full(starts.size, "eye_closure")))[order],
                      side=np.concatenate((events.side, np.full(starts.size, "both")))[order],
                      region=np.concatenate((events.region, np.full(starts.size, "eye")))[order], start_s=start[order],
                      end_s=np.concatenate((events.end_s, starts + 1.5))[order],
                      amplitude=np.full(start.size, 0.5), coupled_to=np.full(start.size, -1, dtype=np.int64))
    measures = clinical_measures(closures, time_base(minutes))
    summary = {key: measures[key] for key in MEASURE_KEYS}
    summary.update(classification="blepharospasm", affected_side="both", confidence=0.99, quality_flags=[])
    return Outcome(summary=summary, measures=measures)


def test_blepharospasm_visits_compare_their_prolonged_closures():
    before, after = closure_visit(10.0, minutes=2.0, seed=1), closure_visit(1.5, minutes=2.0, seed=2)
    rows = patient_rows([visit("2026-01-05"), visit("2026-03-02")], [before, after], reference=0)
    assert [row["comparison_side"] for row in rows] == ["both", "both"]
    assert rows[0]["rest_episodes"] == before.measures["prolonged_closures"]
    assert rows[0]["rest_episodes_per_min"] == pytest.approx(before.measures["prolonged_closures_per_min"])
    assert rows[1]["rate_ratio"] < 0.5 and rows[1]["response"] == "improved"
