"""The Python API: the worked examples of docs/api.md run as written, and the API's promises."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import spasmscan
from spasmscan.cli import cli, cli_message
from spasmscan.errors import ParameterError, SpasmscanError
from spasmscan.report import EVENT_COLUMNS, SUMMARY_COLUMNS, write_reports

from fake_analysis import make_analysis

ROOT = Path(__file__).resolve().parents[1]
API_DOC = ROOT / "docs" / "api.md"


def doc_examples() -> list[str]:
    """The ```python blocks of docs/api.md, in order."""
    return re.findall(r"```python\n(.*?)```", API_DOC.read_text(encoding="utf-8"), flags=re.S)


def run_example(index: int, monkeypatch) -> dict:
    """Run example ``index`` from the repository root (its paths point at samples/); its names."""
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": f"api_example_{index}"}
    exec(compile(doc_examples()[index], f"docs/api.md example {index + 1}", "exec"), namespace)
    return namespace


def test_the_doc_has_three_examples():
    assert len(doc_examples()) == 3


def test_example_one_recording(monkeypatch, capsys):
    names = run_example(0, monkeypatch)
    assert (names["verdict"].label, names["verdict"].side) == ("primary_hfs", "left")
    assert list(names["summary"].columns) == list(SUMMARY_COLUMNS)
    assert len(names["events"]) == len(names["analysis"].events) > 0
    assert len(names["signals"]) == names["analysis"].frames
    assert "primary_hfs, left side" in capsys.readouterr().out


def test_example_a_folder_into_one_dataframe(monkeypatch):
    names = run_example(1, monkeypatch)
    summary = names["summary"]
    assert names["failed"] == {}
    assert sorted(summary["file"]) == sorted(path.name for path in (ROOT / "samples").glob("*.mp4"))
    by_file = dict(zip(summary["file"], zip(summary["classification"], summary["affected_side"])))
    assert by_file["hfs_left_eye.mp4"] == ("primary_hfs", "left")
    assert by_file["normal.mp4"][0] == "none"
    assert set(names["events"]["file"]) <= set(summary["file"])


def test_example_rescoring_cached_landmarks(monkeypatch, capsys):
    names = run_example(2, monkeypatch)
    series, result = names["series"], names["result"]
    assert series.n_frames == 450 and result.series is series
    measures = result.measures  # the last one scored: with the steps, which cover the whole clip
    assert measures["protocol_rest_twitches"] + measures["protocol_action_twitches"] == int(result.events.one_sided.sum())
    assert "protocol_rest_twitches" not in spasmscan.analyze_landmarks(series).measures
    assert capsys.readouterr().out.count("synkinesis, right side") == 2


def test_dataframes_have_the_csv_columns_and_values(tmp_path):
    analysis = make_analysis()
    tables = analysis.to_dataframes(file="patient01.mp4")
    write_reports(analysis, tmp_path, stem="p", file="patient01.mp4")
    for table, name in [(tables.summary, "summary"), (tables.events, "events"), (tables.signals, "signals")]:
        header = (tmp_path / f"p.{name}.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
        assert list(table.columns) == header
    assert list(tables.events.columns) == list(EVENT_COLUMNS)
    assert tables.summary.loc[0, "quality_flags"] == "low_face_coverage;short_recording"
    assert tables.summary.loc[0, "file"] == "patient01.mp4"
    assert len(tables.events) == len(analysis.events)
    assert np.array_equal(tables.signals["time_s"].to_numpy(), analysis.signals.times_s)
    assert tables.events["coupled_to"].notna().sum() == int((analysis.events.coupled_to >= 0).sum())


def test_dataframes_without_pandas_say_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(SpasmscanError, match=r"spasmscan\[pandas\]"):
        make_analysis().to_dataframes()


def test_settings_must_be_analysis_settings_and_reach_both_stages():
    series = make_analysis().series
    with pytest.raises(ParameterError, match="settings"):
        spasmscan.analyze_landmarks(series, settings={"alpha": 0.01})
    with pytest.raises(ParameterError, match="settings"):
        spasmscan.analyze("samples/normal.mp4", settings=object())
    from test_signals import pulse, synthetic_series

    twitches = [pulse(t, 0.2, 0.5) for t in (4.0, 9.0, 14.0)]
    points, times = synthetic_series(20.0, closure={"left": lambda t: sum(p(t) for p in twitches)}, noise_px=0.2)
    series = spasmscan.LandmarkSeries(times_s=times, points=points, width=640, height=480, fps=30.0)
    default = spasmscan.analyze_landmarks(series)
    deaf = spasmscan.analyze_landmarks(series, settings=spasmscan.AnalysisSettings(noise_k=50.0))
    assert np.count_nonzero(default.events.one_sided) == 3 and not deaf.events.one_sided.any()


def test_analyze_landmarks_wants_a_series():
    with pytest.raises(ParameterError, match="LandmarkSeries"):
        spasmscan.analyze_landmarks(np.zeros((10, 478, 2)))


def test_library_errors_name_the_parameter_and_the_command_names_the_option(tmp_path):
    with pytest.raises(ParameterError, match=r"^frame_step must") as error:
        spasmscan.track("samples/normal.mp4", frame_step=0)
    assert "--" not in str(error.value)
    assert cli_message(error.value).startswith("--frame-step must")
    result = CliRunner().invoke(cli, ["analyze", "samples/normal.mp4", "--start", "-1", "--no-cache"])
    assert result.exit_code == 2
    assert "--start must be a time" in result.output and "start_s" not in result.output


def test_cli_message_leaves_quoted_names_alone():
    assert cli_message(ParameterError("protocol x: not a protocol file ('start_s')")).endswith("('start_s')")
    assert cli_message(ParameterError("end_s (5 s) must come after start_s (10 s)")) == \
        "--end (5 s) must come after --start (10 s)"


def test_public_names_are_listed_and_resolve():
    for name in spasmscan.__all__:
        assert getattr(spasmscan, name) is not None, name
    with pytest.raises(AttributeError):
        spasmscan.no_such_name  # noqa: B018


def test_import_spasmscan_loads_neither_opencv_nor_mediapipe():
    code = "import sys, spasmscan; spasmscan.analyze_landmarks; print(sorted(m for m in ('cv2', 'mediapipe', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_python_m_spasmscan_is_the_command():
    version = subprocess.run([sys.executable, "-m", "spasmscan", "--version"], capture_output=True, text=True,
                             cwd=ROOT)
    assert version.returncode == 0 and version.stdout.strip() == f"spasmscan, version {spasmscan.__version__}"
    missing = subprocess.run([sys.executable, "-m", "spasmscan", "analyze", "no/such/video.mp4"],
                             capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
