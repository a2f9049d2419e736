"""The committed samples, the demo a new user sees first: each gives its truth's verdict and side,
and each, flipped left-right and read with ``--mirrored`` (a selfie camera), gives what the original gives.

Every sample is tracked once per test session (the session's landmark cache keeps it).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spasmscan.cli import cli
from spasmscan.evaluate import find_clips
from spasmscan.landmarks import TrackerSettings
from spasmscan.pipeline import analyze_video

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
ONE_PER_LABEL = ("hfs_left_eye", "synkinesis_right", "normal", "hard_negative")  # every label, and a hard negative
ONSET_TOLERANCE_S = 0.15  # the evaluation's own onset tolerance
MIN_EVENT_F1 = 0.75  # re-encoding alone changes about one event in ten (smiles split, a spasm read as a smile)
MAX_RMS_DIFFERENCE_NOISES = 1.5  # re-encoding alone: 0.2-1.1 noise levels; a signal turned upside down: 2 and more
MAX_ROLL_DIFFERENCE_DEG = 1.0  # re-encoding alone: 0.2 degrees at most


def test_evaluate_on_the_samples_gives_every_sample_its_truth_verdict_and_side(tmp_path):
    result = CliRunner().invoke(cli, ["evaluate", str(SAMPLES), "--out", str(tmp_path / "scores.csv")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "scores.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["video"] != "ALL"]
    assert sorted(Path(row["video"]).stem for row in rows) == sorted(p.stem for p in SAMPLES.glob("*.json"))
    for row in rows:
        assert (row["predicted"], row["predicted_side"]) == (row["label"], row["side"]), row["video"]


def test_evaluate_scores_the_simple_baseline_on_the_same_clips(tmp_path):
    """The reference the analysis must beat: ``evaluate --method baseline`` scores it, and on the samples
    the analysis gets more verdicts right."""
    baseline = CliRunner().invoke(cli, ["evaluate", str(SAMPLES), "--method", "baseline",
                                        "--out", str(tmp_path / "baseline.csv")])
    assert baseline.exit_code == 0, baseline.output
    with open(tmp_path / "baseline.csv", newline="", encoding="utf-8") as handle:
        total = [row for row in csv.DictReader(handle) if row["video"] == "ALL"][0]
    assert float(total["label_correct"]) < 1.0  # the analysis gets all five samples right (test above)
    refused = CliRunner().invoke(cli, ["evaluate", str(SAMPLES), "--method", "oracle"])
    assert refused.exit_code == 2


def flipped_copy(source: Path, target: Path) -> Path:
    """``source`` flipped left-right frame by frame and written again with OpenCV, as a selfie camera shows it."""
    import cv2

    capture = cv2.VideoCapture(str(source))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), capture.get(cv2.CAP_PROP_FPS), size)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(cv2.flip(frame, 1))
    writer.release()
    capture.release()
    return target


def event_f1(a, b) -> float:
    """F1 of events ``b`` against ``a``: a match has the same kind and side and an onset within the tolerance."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    taken: set[int] = set()
    matched = 0
    for i in range(len(a)):
        for j in range(len(b)):
            if j not in taken and a.kind[i] == b.kind[j] and a.side[i] == b.side[j] \
                    and abs(a.start_s[i] - b.start_s[j]) <= ONSET_TOLERANCE_S:
                taken.add(j)
                matched += 1
                break
    return 2.0 * matched / (len(a) + len(b))


@pytest.mark.parametrize("name", ONE_PER_LABEL)
def test_a_flipped_sample_read_with_mirrored_gives_the_original_result(name, tmp_path):
    original = analyze_video(SAMPLES / f"{name}.mp4")
    mirrored = analyze_video(flipped_copy(SAMPLES / f"{name}.mp4", tmp_path / f"{name}.flipped.mp4"),
                             settings=TrackerSettings(mirrored=True))
    truth = dict(find_clips(SAMPLES))[str(SAMPLES / f"{name}.mp4")]
    assert (mirrored.verdict.label, mirrored.verdict.side) == (truth.label, truth.side)
    assert (original.verdict.label, original.verdict.side) == (truth.label, truth.side)
    assert event_f1(original.events, mirrored.events) >= MIN_EVENT_F1
    for signal, noise in original.signals.noise.items():
        difference = mirrored.signals[signal] - original.signals[signal]
        assert np.sqrt(np.nanmean(difference ** 2)) <= MAX_RMS_DIFFERENCE_NOISES * noise, signal
    roll = mirrored.signals["head_roll_deg"] - original.signals["head_roll_deg"]
    assert np.nanmax(np.abs(roll)) <= MAX_ROLL_DIFFERENCE_DEG
