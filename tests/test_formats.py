"""The report formats table, the camera-or-stream check and the overwrite check that every
command shares."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from spasmscan.batch import VideoTask
from spasmscan.cache import settings_key
from spasmscan.cli import cli
from spasmscan.formats import BATCH_FORMATS, REPORT_FORMATS
from spasmscan.landmarks import TrackerSettings
from spasmscan.live import check_record_path
from spasmscan.errors import OutputError
from spasmscan.report import report_paths
from spasmscan.selection import Selection
from spasmscan.video import is_camera_or_stream, opened_source


def test_report_paths_follow_the_table_in_writing_order(tmp_path):
    every = report_paths(tmp_path, "p", **{name: True for name, fmt in REPORT_FORMATS.items() if not fmt.always})
    assert [path.name for path in every] == ["p" + fmt.suffix for fmt in REPORT_FORMATS.values()]
    assert [path.name for path in report_paths(tmp_path, "p")] == ["p.summary.csv", "p.events.csv", "p.signals.csv"]
    assert [path.name for path in report_paths(tmp_path, "p", plot=True)][-1] == "p.timeline.png"


def test_an_unknown_format_is_refused_like_an_unknown_keyword(tmp_path):
    with pytest.raises(TypeError, match="'pdf'"):
        report_paths(tmp_path, "p", pdf=True)
    with pytest.raises(TypeError, match="'summary'"):  # always written: nothing to ask for
        report_paths(tmp_path, "p", summary=True)


def test_every_offered_format_is_a_command_line_flag():
    for command in ("analyze", "batch", "live"):
        help_text = CliRunner().invoke(cli, [command, "--help"]).output
        offered = {"analyze": ("json", "plot", "annotate", "html"), "batch": BATCH_FORMATS,
                   "live": ("json", "plot")}[command]
        for name in offered:
            assert REPORT_FORMATS[name].flag in help_text, (command, name)
    assert BATCH_FORMATS == ("json", "plot", "html")


def test_the_batch_resume_key_keeps_its_shape():
    """Records written before stay valid: the key names each batch format with 0 or 1, in order."""
    task = VideoTask(path="/v.mp4", file="v.mp4", stem="v", out_dir="/out", formats=("json", "html"))
    key = task.settings_key()
    assert key.startswith(settings_key(TrackerSettings(), Selection()) + "|json1|plot0|html1|v")
    assert key.startswith("mf3-dc0.5-tc0.5-m0-sNone-eNone|")  # the text records were written under
    assert VideoTask(path="/v.mp4", file="v.mp4", stem="v", out_dir="/out").settings_key() != key


@pytest.mark.parametrize("source, live", [
    (0, True), ("3", True), ("rtsp://host/stream", True), ("http://host/a.mp4", True),
    ("clip.mp4", False), ("folder/12", False),
])
def test_a_camera_or_stream_is_told_from_a_file(source, live):
    assert is_camera_or_stream(source) is live


def test_digits_naming_a_file_are_that_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "7").write_bytes(b"")
    assert opened_source("7") == "7" and not is_camera_or_stream("7")
    assert opened_source("8") == 8


def test_a_recording_that_exists_is_refused_with_its_way_out(tmp_path):
    target = tmp_path / "visit.mp4"
    target.write_bytes(b"old")
    with pytest.raises(OutputError, match=r"visit\.mp4: already exists; use force=True to replace it, or choose "
                                          r"another name for the recording"):
        check_record_path(target, force=False)
    check_record_path(target, force=True)


def test_simulate_refuses_an_existing_truth_file(tmp_path):
    out = tmp_path / "clip.mp4"
    (tmp_path / "clip.json").write_text("{}")
    result = CliRunner().invoke(cli, ["simulate", str(out)])
    assert result.exit_code == 7
    assert "clip.json: already exists; use --force to replace it" in result.output
    assert not out.exists()
