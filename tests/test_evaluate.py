"""Scoring against ground truth, with hand-made analyses (no tracking, no video)."""
from __future__ import annotations

import csv
import math
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from spasmscan.cli import cli
from spasmscan.errors import InputNotFoundError, NoFaceError, ParameterError
from spasmscan.evaluate import (Evaluation, evaluate_clips, evaluate_directory, find_clips, match_onsets,
                                score_clip, score_family)
from spasmscan.simulate import SimEvent, Truth, write_truth
from fake_analysis import fake_events


def truth_of(label, side, events, *, known=True, duration_s=60.0) -> Truth:
    return Truth(label=label, side=side, fps=30.0, duration_s=duration_s, width=64, height=48, seed=1,
                 base="test", base_events_known=known,
                 events=tuple(SimEvent(k, s, r, a, b, 0.5, c) for k, s, r, a, b, c in events))


def analysis_of(label, side, events, *, face_fraction=1.0):
    return SimpleNamespace(verdict=SimpleNamespace(label=label, side=side, confidence=0.9),
                           events=fake_events([(k, s, r, a, b, 0.3, c) for k, s, r, a, b, c in events]),
                           series=SimpleNamespace(face_fraction=face_fraction))


def test_match_onsets_is_one_to_one_and_closest_first():
    # found onset 1.05 is closest to true 1.0; 1.12 then goes to true 1.2 (0.08 away), 3.0 matches nothing
    pairs = match_onsets([1.0, 1.2, 5.0], [1.12, 1.05, 3.0])
    assert pairs == [(0, 1), (1, 0)]


def test_match_onsets_respects_the_tolerance_edge():
    assert match_onsets([1.0], [1.149]) == [(0, 0)]
    assert match_onsets([1.0], [1.151]) == []
    assert match_onsets([], [1.0]) == [] and match_onsets([1.0], []) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 30), max_size=12), st.lists(st.floats(0, 30), max_size=12))
def test_match_onsets_pairs_are_within_tolerance_and_unique(true, found):
    pairs = match_onsets(true, found)
    assert len({i for i, _ in pairs}) == len(pairs) == len({j for _, j in pairs})
    assert all(abs(true[i] - found[j]) <= 0.150 for i, j in pairs)
    assert len(pairs) <= min(len(true), len(found))


def test_twitches_match_only_on_the_same_side_and_tonic_counts_as_twitch():
    truth = truth_of("primary_hfs", "left", [("twitch", "left", "eye", 2.0, 2.1, -1),
                                             ("tonic_spasm", "left", "eye", 5.0, 6.5, -1),
                                             ("blink", "both", "eye", 8.0, 8.2, -1)])
    events = fake_events([("twitch", "right", "eye", 2.02, 2.1, 0.2, -1),  # wrong side: false positive
                          ("twitch", "left", "eye", 5.1, 6.4, 0.4, -1),  # tonic found as a twitch: a match
                          ("blink", "both", "eye", 8.05, 8.2, 0.5, -1)])
    score = score_family(truth, events, "twitch")
    assert (score.true_positives, score.false_positives, score.false_negatives) == (1, 1, 1)
    assert score.onset_errors_s == [pytest.approx(0.1)]
    assert score.precision == 0.5 and score.recall == 0.5 and score.f1 == 0.5
    blinks = score_family(truth, events, "blink")
    assert (blinks.true_positives, blinks.false_positives, blinks.false_negatives) == (1, 0, 0)


def test_blinks_are_not_scored_when_the_base_video_has_unknown_blinks():
    truth = truth_of("none", "none", [("blink", "both", "eye", 2.0, 2.2, -1)], known=False)
    score = score_clip("clip.mp4", truth, analysis_of("none", "none", [("blink", "both", "eye", 9.0, 9.2, -1)]))
    assert "blink" not in score.families and "twitch" in score.families


def make_evaluation() -> Evaluation:
    clips = [
        ("a.mp4", truth_of("primary_hfs", "left", [("twitch", "left", "eye", 2.0, 2.1, -1)]),
         analysis_of("primary_hfs", "left", [("twitch", "left", "eye", 2.03, 2.1, -1)])),
        ("b.mp4", truth_of("synkinesis", "right", [("blink", "both", "eye", 3.0, 3.2, -1),
                                                   ("twitch", "right", "mouth", 3.0, 3.3, 0)]),
         analysis_of("primary_hfs", "left", [("blink", "both", "eye", 3.05, 3.2, -1)])),
        ("c.mp4", truth_of("none", "none", [], duration_s=30.0),
         analysis_of("none", "none", [("twitch", "left", "eye", 9.0, 9.1, -1)])),
        ("d.mp4", truth_of("none", "none", [], duration_s=30.0), analysis_of("indeterminate", "none", [])),
    ]
    return evaluate_clips([(v, t) for v, t, _ in clips], analyze={v: a for v, _, a in clips}.__getitem__)


def test_totals_accuracy_confusion_side_and_false_twitch_rate():
    result = make_evaluation()
    assert result.accuracy == pytest.approx(2 / 4)
    confusion = result.confusion()
    assert confusion["primary_hfs"]["primary_hfs"] == 1
    assert confusion["synkinesis"]["primary_hfs"] == 1
    assert confusion["none"]["none"] == 1 and confusion["none"]["indeterminate"] == 1
    assert result.side_accuracy == pytest.approx(1 / 2)  # a.mp4 right, b.mp4 wrong side
    twitch = result.family("twitch")
    assert (twitch.true_positives, twitch.false_positives, twitch.false_negatives) == (1, 1, 1)
    assert twitch.mean_onset_error_s == pytest.approx(0.03)
    assert result.false_twitches_per_min_at_none == pytest.approx(1.0)  # 1 twitch in two 30 s clips
    text = result.text()
    assert "classification accuracy: 2/4 (50%)" in text and "twitches: precision 0.50" in text


def test_csv_has_one_row_per_clip_and_a_total_row(tmp_path):
    result = make_evaluation()
    path = tmp_path / "eval.csv"
    result.write_csv(path)
    rows = list(csv.DictReader(path.open()))
    assert [r["video"] for r in rows] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4", "ALL"]
    assert rows[0]["label_correct"] == "1" and rows[1]["label_correct"] == "0"
    assert float(rows[-1]["label_correct"]) == pytest.approx(0.5)
    assert rows[-1]["twitch_tp"] == "1" and rows[2]["side_correct"] == ""
    assert [r["verdict_correct"] for r in rows[:4]] == ["1", "0", "1", "0"]
    result.write_confusion_csv(tmp_path / "eval.confusion.csv")
    confusion = list(csv.reader((tmp_path / "eval.confusion.csv").open()))
    assert confusion[0] == ["truth", "none", "primary_hfs", "synkinesis", "blepharospasm", "indeterminate"]
    assert confusion[1] == ["none", "1", "0", "0", "0", "1"]


def test_evaluation_csvs_are_spreadsheet_safe_and_written_whole(tmp_path, monkeypatch):
    from dataclasses import replace

    result = make_evaluation()
    result.clips[0] = replace(result.clips[0], video="=HYPERLINK(\"http://evil.example\")-a.mp4")
    path = tmp_path / "eval.csv"
    result.write_csv(path)
    rows = list(csv.DictReader(path.open(newline="")))
    assert rows[0]["video"] == "'=HYPERLINK(\"http://evil.example\")-a.mp4"
    assert float(rows[0]["confidence"]) == pytest.approx(0.9)  # numbers stay numbers
    old = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", interrupted)
    for write, target in ((result.write_csv, path), (result.write_confusion_csv, tmp_path / "eval.confusion.csv")):
        with pytest.raises(KeyboardInterrupt):
            write(target)
    assert [p.name for p in tmp_path.iterdir()] == ["eval.csv"] and path.read_bytes() == old


def test_tracking_only_and_failed_clips_are_reported_not_scored():
    truth = truth_of("primary_hfs", "left", [("twitch", "left", "eye", 2.0, 2.1, -1)])

    def analyze(video):
        if video == "bad.mp4":
            raise NoFaceError("bad.mp4: no face")
        return SimpleNamespace(face_fraction=0.75)  # a landmark series: no verdict yet

    result = evaluate_clips([("ok.mp4", truth), ("bad.mp4", truth)], analyze=analyze)
    assert [c.status.split(":")[0] for c in result.clips] == ["tracking only", "error"]
    assert result.clips[0].face_pct == pytest.approx(75.0)
    assert math.isnan(result.accuracy)
    assert "no verdicts" in result.text()


def test_find_clips_needs_a_truth_file_beside_the_video(tmp_path):
    truth = truth_of("none", "none", [])
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4").write_bytes(b"x")  # no truth: skipped
    write_truth(truth, tmp_path / "a.json")
    assert [v for v, _ in find_clips(tmp_path)] == [str(tmp_path / "a.mp4")]
    with pytest.raises(InputNotFoundError):
        find_clips(tmp_path / "missing")
    (tmp_path / "a.json").unlink()
    with pytest.raises(ParameterError, match="no video with a truth file"):
        evaluate_directory(tmp_path, analyze=lambda v: None)


def test_evaluate_command_errors_are_one_line_with_exit_codes(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate", str(tmp_path / "missing")])
    assert result.exit_code == 3 and result.output.count("\n") == 1 and "Traceback" not in result.output
    result = runner.invoke(cli, ["evaluate", str(tmp_path)])
    assert result.exit_code == 2 and "no video with a truth file" in result.output


def test_onset_errors_are_absolute_values():
    truth = truth_of("primary_hfs", "left", [("twitch", "left", "eye", 2.0, 2.1, -1),
                                             ("twitch", "left", "eye", 4.0, 4.1, -1)])
    events = fake_events([("twitch", "left", "eye", 1.9, 2.0, 0.2, -1), ("twitch", "left", "eye", 4.05, 4.1, 0.2, -1)])
    score = score_family(truth, events, "twitch")
    assert np.allclose(sorted(score.onset_errors_s), [0.05, 0.1])
    assert score.max_onset_error_s == pytest.approx(0.1)


def test_a_spasm_on_the_wrong_side_has_the_right_label_but_not_the_right_verdict():
    wrong_side = score_clip("r.mp4", truth_of("primary_hfs", "right", [("twitch", "right", "eye", 5.0, 5.1, -1)]),
                            analysis_of("primary_hfs", "left", [("twitch", "left", "eye", 5.0, 5.1, -1)]))
    assert wrong_side.label_correct and not wrong_side.verdict_correct
    result = Evaluation(clips=[wrong_side])
    assert (result.accuracy, result.verdict_accuracy) == (1.0, 0.0)
    quiet = score_clip("c.mp4", truth_of("none", "none", [], duration_s=30.0), analysis_of("none", "none", []))
    assert quiet.verdict_correct  # no side to find


def test_grouped_tables_split_by_face_renderer_and_length():
    from spasmscan.evaluate import calibration, comparison_table, grouped, summary_row

    def clip(base, duration_s, predicted, confidence):
        truth = Truth(label="primary_hfs", side="left", fps=30.0, duration_s=duration_s, width=64, height=48, seed=1,
                      base=base, base_events_known=True, events=(SimEvent("twitch", "left", "eye", 5.0, 5.1, 0.5),))
        return score_clip(base, truth, analysis_of(predicted, "left", [("twitch", "left", "eye", 5.02, 5.1, -1)])
                          ) if predicted else None

    clips = [clip("a.mp4", 15.0, "primary_hfs", 0.9), clip("a.mp4", 60.0, "none", 0.9),
             clip("portrait.png", 30.0, "primary_hfs", 0.9)]
    for c, confidence in zip(clips, (0.95, 0.6, 0.8)):
        c.confidence = confidence
    evaluation = Evaluation(clips=clips)
    faces = grouped(evaluation, "face")
    assert list(faces) == ["a", "portrait"]
    assert summary_row(faces["a"])["accuracy"] == 0.5 and summary_row(faces["portrait"])["accuracy"] == 1.0
    assert summary_row(faces["a"])["verdict"] == 0.5
    assert list(grouped(evaluation, "length")) == ["20-45 s", "< 20 s", ">= 45 s"]
    assert list(grouped(evaluation, "renderer")) == ["mesh"]
    bands = {(low, high): (n, share) for low, high, n, share in calibration(evaluation)}
    assert bands[(0.5, 0.7)] == (1, 0.0) and bands[(0.9, 1.0)] == (1, 1.0) and bands[(0.7, 0.9)] == (1, 1.0)
    table = comparison_table({"analysis": evaluation, "baseline": evaluation}, "face")
    assert "0.50/0.50" in table.splitlines()[1] and table.splitlines()[2].startswith("portrait")


def test_bilateral_labels_have_confusion_rows_and_their_own_side_rules(tmp_path):
    from spasmscan.evaluate import PREDICTED_LABELS
    from spasmscan.kinds import VERDICT_LABELS

    clips = [
        ("e.mp4", truth_of("blepharospasm", "both", [("blink", "both", "eye", 2.0, 2.2, -1),
                                                     ("bilateral_closure", "both", "eye", 4.0, 6.5, -1),
                                                     ("flutter", "both", "eye", 8.0, 9.0, -1)]),
         analysis_of("none", "left", [("blink", "both", "eye", 2.02, 2.2, -1)])),
        ("f.mp4", truth_of("bilateral_hfs", "both", [("twitch", "left", "eye", 2.0, 2.1, -1),
                                                     ("twitch", "right", "eye", 3.0, 3.1, -1)]),
         analysis_of("primary_hfs", "both", [("twitch", "left", "eye", 2.01, 2.1, -1),
                                             ("twitch", "right", "eye", 3.02, 3.1, -1)])),
        ("g.mp4", truth_of("bilateral_hfs", "both", []), analysis_of("primary_hfs", "left", [])),
    ]
    result = evaluate_clips([(v, t) for v, t, _ in clips], analyze={v: a for v, _, a in clips}.__getitem__)
    assert set(PREDICTED_LABELS) == set(VERDICT_LABELS)  # the columns follow the verdict vocabulary
    confusion = result.confusion()
    assert confusion["blepharospasm"]["none"] == 1 and confusion["bilateral_hfs"]["primary_hfs"] == 2
    assert "synkinesis" in confusion  # a label the analysis can name keeps its row
    # blepharospasm's side is not scored; bilateral HFS is right with "both"
    assert result.side_accuracy == pytest.approx(1 / 2)
    # held closures and flutters are neither missed twitches nor missed blinks
    assert [(f.true_positives, f.false_positives, f.false_negatives) for f in (result.family("twitch"),
                                                                                result.family("blink"))] == [
        (2, 0, 0), (1, 0, 0)]
    text = result.text()
    assert "blepharospasm" in text and "affected side right: 1/2" in text
    result.write_csv(tmp_path / "eval.csv")
    rows = list(csv.DictReader((tmp_path / "eval.csv").open()))
    assert [r["side_correct"] for r in rows[:3]] == ["", "1", "0"]
    # a bilateral HFS clip is classified right by a primary spasm on both sides only
    assert [r["label_correct"] for r in rows[:3]] == ["0", "1", "0"]
    result.write_confusion_csv(tmp_path / "eval.confusion.csv")
    truth_rows = [r[0] for r in csv.reader((tmp_path / "eval.confusion.csv").open())][1:]
    assert truth_rows == ["none", "primary_hfs", "synkinesis", "blepharospasm", "bilateral_hfs"]
    only_old = Evaluation(clips=make_evaluation().clips)
    # absent labels add no row unless the analysis can name them
    assert list(only_old.confusion()) == ["none", "primary_hfs", "synkinesis", "blepharospasm"]
