"""Reports: CSV columns and values round-trip, spreadsheet safety, JSON, atomic and refused writes."""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spasmscan import __version__, report
from spasmscan.errors import OutputError, ParameterError
from spasmscan.events import EVENT_KINDS
from spasmscan.measures import MEASURE_KEYS
from spasmscan.report import (EVENT_COLUMNS, SUMMARY_COLUMNS, csv_cell, event_rows, signal_columns, summary_row,
                              write_csv, write_reports)

from fake_analysis import make_analysis

DOCUMENTED_SUMMARY_COLUMNS = (
    "file, duration_s, fps, frames, face_frames_pct, classification, affected_side, confidence, twitches_per_min, "
    "twitches_left, twitches_right, rest_twitches, coupled_twitches, coupling_p_value, blinks, blinks_per_min, "
    "brow_raises, spasm_time_pct, longest_spasm_s, spread_to_mouth, jrs_frequency_estimate, quality_flags, "
    "spasmscan_version").split(", ")
DOCUMENTED_EVENT_COLUMNS = "file, event, side, region, start_s, end_s, duration_s, amplitude, coupled_to".split(", ")
INJECTION = '=HYPERLINK("http://evil.example","click")'
REPORTS_DOC = Path(__file__).resolve().parents[1] / "docs" / "reports.md"


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames), list(reader)


def leftovers(folder: Path) -> list[str]:
    """Temporary files a write may have left behind."""
    return [p.name for p in folder.iterdir() if ".tmp" in p.name]


@pytest.fixture(scope="module")
def analysis():
    return make_analysis()


@pytest.fixture(scope="module")
def written(analysis, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    paths = write_reports(analysis, folder, json=True)
    return folder, {p.name.split(".", 1)[1]: p for p in paths}


def test_columns_are_the_issues_in_order():
    assert SUMMARY_COLUMNS[:len(DOCUMENTED_SUMMARY_COLUMNS)] == tuple(DOCUMENTED_SUMMARY_COLUMNS)
    assert EVENT_COLUMNS == tuple(DOCUMENTED_EVENT_COLUMNS)
    assert set(MEASURE_KEYS) <= set(SUMMARY_COLUMNS)


def test_write_reports_names_files_after_the_stem(written):
    folder, paths = written
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"patient 01.{kind}" for kind in ("summary.csv", "events.csv", "signals.csv", "json"))


def test_summary_csv_round_trips(written, analysis):
    header, rows = read_csv(written[1]["summary.csv"])
    assert tuple(header) == SUMMARY_COLUMNS
    assert len(rows) == 1
    row = rows[0]
    assert row["file"] == "clinic/patient 01.mp4"
    assert float(row["duration_s"]) == pytest.approx(analysis.duration_s, abs=1e-4)
    assert float(row["fps"]) == 30.0
    assert int(row["frames"]) == analysis.frames == 180
    assert float(row["face_frames_pct"]) == pytest.approx(analysis.face_frames_pct, abs=1e-4)
    assert (row["classification"], row["affected_side"]) == ("primary_hfs", "left")
    assert float(row["confidence"]) == pytest.approx(0.8734)
    assert float(row["coupling_p_value"]) == pytest.approx(1.234567e-7, rel=1e-3)  # tiny, not rounded to 0
    assert int(row["twitches_left"]) == 2 and float(row["twitches_per_min"]) == 20.0
    assert float(row["longest_spasm_s"]) == pytest.approx(1.1)
    assert row["spread_to_mouth"] == "true"
    assert row["jrs_frequency_estimate"] == ""  # NaN: an empty cell
    assert row["quality_flags"] == "low_face_coverage;short_recording"
    assert row["spasmscan_version"] == __version__


def test_events_csv_round_trips(written, analysis):
    header, rows = read_csv(written[1]["events.csv"])
    assert tuple(header) == EVENT_COLUMNS
    assert len(rows) == len(analysis.events)
    for i, row in enumerate(rows):
        assert row["event"] in EVENT_KINDS
        assert row["side"] in ("left", "right", "both")
        start, end, duration = float(row["start_s"]), float(row["end_s"]), float(row["duration_s"])
        assert start == pytest.approx(analysis.events.start_s[i]) and end == pytest.approx(analysis.events.end_s[i])
        assert duration == pytest.approx(end - start, abs=1e-4)
        assert float(row["amplitude"]) == pytest.approx(analysis.events.amplitude[i])
    assert rows[1]["coupled_to"] == "blink@1.00s"
    assert [r["coupled_to"] for r in rows if r is not rows[1]] == [""] * (len(rows) - 1)
    assert rows[1]["amplitude"] == "-0.05"  # a negative number stays a number, no text mark


def test_signals_csv_round_trips(written, analysis):
    header, rows = read_csv(written[1]["signals.csv"])
    signals = analysis.signals
    assert header == ["time_s", "face_present"] + signals.names
    assert len(rows) == analysis.frames
    times = np.array([float(r["time_s"]) for r in rows])
    assert np.allclose(times, signals.times_s, atol=1e-4)
    assert [r["face_present"] == "true" for r in rows] == signals.face_present.tolist()
    for name in signals.names:
        cells = [r[name] for r in rows]
        assert all(cell == "" for cell, face in zip(cells, signals.face_present) if not face)  # NaN -> empty
        parsed = np.array([float(c) if c else np.nan for c in cells])
        assert np.allclose(parsed, signals[name], atol=1e-4, equal_nan=True)


def test_every_signal_column_has_a_unit(analysis):
    columns, units = signal_columns(analysis)
    assert set(units) == set(columns)
    assert all(units[c] for c in columns)
    assert units["time_s"] == "s"


def test_the_reports_doc_documents_every_column_with_a_unit():
    text = REPORTS_DOC.read_text(encoding="utf-8")
    table_rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z_]+)` \| ([^|]*) \|", text, re.M)}
    for column in SUMMARY_COLUMNS + EVENT_COLUMNS + ("time_s", "face_present"):
        assert column in table_rows, f"docs/reports.md does not document {column}"
        assert table_rows[column].strip(), f"docs/reports.md gives no unit for {column}"


def test_json_holds_the_same_content(written, analysis):
    text = written[1]["json"].read_text(encoding="utf-8")

    def refuse(constant):
        raise AssertionError(f"JSON holds {constant}, not valid JSON")

    document = json.loads(text, parse_constant=refuse)
    assert document["spasmscan_version"] == __version__
    assert list(document["summary"]) == list(SUMMARY_COLUMNS)
    assert document["summary"]["jrs_frequency_estimate"] is None
    assert document["summary"]["frames"] == 180 and document["summary"]["spread_to_mouth"] is True
    assert document["verdict"]["evidence"] == list(analysis.verdict.evidence)
    assert document["verdict"]["reason"] == analysis.verdict.reason
    assert set(document["measures"]) == set(analysis.measures)
    assert [e["event"] for e in document["events"]] == analysis.events.kind.tolist()
    assert document["events"][1]["coupled_to"] == "blink@1.00s" and document["events"][0]["coupled_to"] is None
    signals = document["signals"]
    assert signals["columns"] == ["time_s", "face_present"] + analysis.signals.names
    assert set(signals["units"]) == set(signals["columns"])
    for name in analysis.signals.names:
        values = np.array([np.nan if v is None else v for v in signals["values"][name]])
        assert np.allclose(values, analysis.signals[name], atol=1e-4, equal_nan=True)
    assert signals["values"]["face_present"] == analysis.signals.face_present.tolist()


@pytest.mark.parametrize("value, text", [
    (0.1 + 0.2, "0.3"), (1e-17, "0.0"), (-1e-9, "0.0"), (-0.25, "-0.25"), (np.float32(0.5), "0.5"),
    (np.int64(3), "3"), (True, "true"), (np.bool_(False), "false"), (float("nan"), ""), (float("inf"), ""),
    (None, ""), (12345.678912, "12345.6789"), ("primary_hfs", "primary_hfs"),
])
def test_cells_keep_numbers_numeric(value, text):
    assert csv_cell(value) == text


# Written out here, not taken from the code: first characters that make a spreadsheet (Excel,
# LibreOffice, Google Sheets) run a cell, or start one on import, and the blanks it looks past.
DANGEROUS_FIRST = ["=", "+", "-", "@", "\t", "\r", "\n",
                   "\uff1d", "\uff0b", "\uff0d", "\uff20",  # full-width = + - @ (Japanese and Chinese input)
                   "\ufe66", "\ufe62", "\ufe63"]  # small = + - (compatibility forms)
BLANKS_BEFORE = ["", " ", "  ", "\u00a0", "\u3000", "\u2003", "\n", "\r\n", "\ufeff", "\u200b", " \u3000 "]
HARMLESS = ["patient 01", "a=1", "1+1", "e-mail", "x@y", "'quoted", "ü=1", "", "–dash"]


@pytest.mark.parametrize("first", DANGEROUS_FIRST)
@pytest.mark.parametrize("blanks", BLANKS_BEFORE)
def test_formula_text_is_written_as_text(first, blanks):
    for payload in ('1+1', 'HYPERLINK("http://evil.example","click")', 'cmd|" /C calc"!A0'):
        text = blanks + first + payload
        assert csv_cell(text) == "'" + text, repr(text)


@pytest.mark.parametrize("text", HARMLESS)
def test_harmless_text_is_left_as_it_is(text):
    assert csv_cell(text) == text


def test_formula_injection_file_name_stays_text(tmp_path):
    analysis = make_analysis(source=f"{INJECTION}.mp4")
    paths = write_reports(analysis, tmp_path, stem="injected")
    _, rows = read_csv(paths[0])
    assert rows[0]["file"] == f"'{INJECTION}.mp4"
    assert float(rows[0]["duration_s"]) > 0  # numbers beside it stay numbers
    _, events = read_csv(paths[1])
    assert all(r["file"] == f"'{INJECTION}.mp4" for r in events)
    assert events[1]["amplitude"] == "-0.05"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(BLANKS_BEFORE), max_size=4).map("".join), st.sampled_from(DANGEROUS_FIRST),
       st.text(max_size=20))
def test_any_dangerous_text_is_marked_and_nothing_else_changes(blanks, first, rest):
    text = blanks + first + rest
    assert csv_cell(text) == "'" + text
    assert csv_cell("x" + text) == "x" + text


def test_csv_module_reads_back_awkward_text(tmp_path):
    texts = ['a,b', 'quote " inside', "new\nline", "=1+1", "ünïcødé ✓", ""]
    path = write_csv(tmp_path / "t.csv", [{"file": t} for t in texts], ("file",))
    _, rows = read_csv(path)
    assert [r["file"] for r in rows] == [("'" + t if t.startswith("=") else t) for t in texts]


def test_existing_reports_are_not_overwritten_without_force(tmp_path, analysis):
    write_reports(analysis, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(OutputError, match="force=True") as error:
        write_reports(make_analysis(label="none"), tmp_path)
    assert "patient 01.summary.csv" in str(error.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    write_reports(make_analysis(label="none"), tmp_path, force=True)
    assert read_csv(tmp_path / "patient 01.summary.csv")[1][0]["classification"] == "none"


def test_one_existing_file_stops_the_whole_run_before_anything_is_written(tmp_path, analysis):
    (tmp_path / "patient 01.json").write_text("mine")
    with pytest.raises(OutputError, match="patient 01.json"):
        write_reports(analysis, tmp_path, json=True)
    assert [p.name for p in tmp_path.iterdir()] == ["patient 01.json"]
    assert (tmp_path / "patient 01.json").read_text() == "mine"


def rows_then(failure, good_rows=50):
    for i in range(good_rows):
        yield {"file": f"row {i}"}
    raise failure


@pytest.mark.parametrize("failure, expected", [(KeyboardInterrupt(), KeyboardInterrupt),
                                                (OSError(28, "No space left on device"), OutputError)])
def test_interrupted_write_leaves_nothing(tmp_path, failure, expected):
    target = tmp_path / "x.csv"
    with pytest.raises(expected):
        write_csv(target, rows_then(failure), ("file",))
    assert list(tmp_path.iterdir()) == []


def test_interrupted_forced_write_keeps_the_old_report_whole(tmp_path):
    target = tmp_path / "x.csv"
    write_csv(target, [{"file": "old"}], ("file",))
    old = target.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        write_csv(target, rows_then(KeyboardInterrupt()), ("file",), force=True)
    assert target.read_bytes() == old
    assert leftovers(tmp_path) == []


def test_a_report_that_fails_late_leaves_no_file_of_the_set(tmp_path, analysis, monkeypatch):
    from spasmscan.errors import InputNotFoundError

    with pytest.raises(InputNotFoundError):  # the video to annotate is gone: found after the CSVs were made
        write_reports(analysis, tmp_path, json=True, annotate_video=tmp_path / "missing.mp4")
    assert list(tmp_path.iterdir()) == []

    import spasmscan.plot

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(spasmscan.plot, "plot_timeline", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_reports(analysis, tmp_path, plot=True)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder_is_an_output_error(tmp_path, analysis):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="output folder"):
        write_reports(analysis, blocker / "reports")
    with pytest.raises(OutputError, match="cannot write"):
        write_csv(blocker / "x.csv", [], ("file",))


def test_a_stem_with_folders_is_refused(tmp_path, analysis):
    with pytest.raises(ParameterError):
        write_reports(analysis, tmp_path, stem="../elsewhere")


def test_rows_match_the_analysis_without_writing(analysis):
    row = summary_row(analysis, file="f.mp4")
    assert tuple(row) == SUMMARY_COLUMNS and row["file"] == "f.mp4"
    assert math.isnan(row["jrs_frequency_estimate"])
    assert len(event_rows(analysis, file="f.mp4")) == len(analysis.events)


def test_analysis_without_events_writes_a_header_only_events_file(tmp_path):
    paths = write_reports(make_analysis(events=(), quality_flags=()), tmp_path)
    header, rows = read_csv(paths[1])
    assert tuple(header) == EVENT_COLUMNS and rows == []
    assert read_csv(paths[0])[1][0]["quality_flags"] == ""


def test_report_stem():
    assert report.report_stem("clinic/a b.MP4") == "a b"
    assert report.report_stem("camera 0") == "camera 0"
    assert report.report_stem("rtsp://host/live/") == "live"


# -- command line ---------------------------------------------------------------------------------
@pytest.fixture
def fake_pipeline(monkeypatch):
    """`spasmscan analyze` with the analysis replaced by a fake: records the videos it was asked for."""
    import spasmscan.analysis
    import spasmscan.summary
    import spasmscan.pipeline

    calls = []

    def analyze_video(source, **options):
        calls.append(source)
        return make_analysis(source=str(source))

    monkeypatch.setattr(spasmscan.pipeline, "analyze_video", analyze_video)
    monkeypatch.setattr(spasmscan.summary, "summary_text", lambda analysis: "verdict: (fake)")
    return calls


def run_cli(*args):
    from click.testing import CliRunner

    from spasmscan.cli import cli

    return CliRunner().invoke(cli, list(args))


def test_cli_writes_the_reports(tmp_path, fake_pipeline):
    out = tmp_path / "out"
    result = run_cli("analyze", "visit 1.mp4", "--out", str(out), "--json", "--plot")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"visit 1.{kind}" for kind in ("summary.csv", "events.csv", "signals.csv", "json",
                                                          "timeline.png"))
    assert result.stdout.count("wrote ") == 5
    assert read_csv(out / "visit 1.summary.csv")[1][0]["file"] == "visit 1.mp4"


def test_cli_refuses_existing_reports_before_analysing(tmp_path, fake_pipeline):
    (tmp_path / "v.events.csv").write_text("mine")
    result = run_cli("analyze", "v.mp4", "--out", str(tmp_path))
    assert result.exit_code == 7
    assert result.stderr.count("\n") == 1 and "--force" in result.stderr and "Traceback" not in result.output
    assert fake_pipeline == []  # refused before the (long) analysis
    assert [p.name for p in tmp_path.iterdir()] == ["v.events.csv"]
    assert run_cli("analyze", "v.mp4", "--out", str(tmp_path), "--force").exit_code == 0
    assert (tmp_path / "v.events.csv").read_text() != "mine"


@pytest.mark.parametrize("args", [("--plot",), ("--json",), ("--annotate",),
                                  ("--out", "reports", "--annotate")])
def test_cli_report_options_that_cannot_work_fail_early(tmp_path, fake_pipeline, args):
    result = run_cli("analyze", "0", *args)  # "0" is a camera: it cannot be annotated
    assert result.exit_code == 2
    assert result.stderr.startswith("spasmscan: error: ") and result.stderr.count("\n") == 1
    assert fake_pipeline == []


def test_cli_without_out_writes_nothing(tmp_path, fake_pipeline, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("analyze", "v.mp4").exit_code == 0
    assert list(tmp_path.iterdir()) == []
