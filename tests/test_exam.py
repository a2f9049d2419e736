"""The palsy examination on hand-made signals: excursions against rest, ratios, closure, synkinesis,
the Sunnybrook-style estimate."""
import math

import numpy as np
import pytest

from spasmscan import exam, protocol
from spasmscan.protocol import Segment
from spasmscan.signals import Signals

FPS = 30.0
REST_S, STEP_S = 5.0, 4.5
FULL = {"eye_closure": 0.9, "brow_raises": 0.08, "smiles": 0.09, "snarl": 0.05, "pucker": 0.06, "cheek_puff": 0.06}
OPEN_EYE = 0.3  # lid gap over eye width of an open eye


def segments(names=("rest",) + exam.EXAM_STEPS):
    out, clock = [], 0.0
    for name in names:
        length = REST_S if name == "rest" else STEP_S
        out.append(Segment(name, clock, clock + length))
        clock += length
    return tuple(out)


def bumps(times, start, end, peak):
    """Three held movements (0.4 s ramps, 0.6 s hold) evenly spread over [start, end)."""
    out = np.zeros_like(times)
    period = (end - start) / 3
    for k in range(3):
        onset = start + k * period + 0.2
        rise = np.clip((times - onset) / 0.4, 0, 1)
        fall = np.clip((onset + 1.4 - times) / 0.4, 0, 1)
        out += peak * np.minimum(rise, fall)
    return out


def exam_signals(steps, *, share=None, weak="left", synkinesis=0.0, resting_droop=0.0, noise=0.0, seed=0):
    """Signals of an examination: each step's region moves by FULL on the strong side and by
    ``share[step]`` of it on the weak one; ``synkinesis``: the weak eye narrows by this share in every
    step but eye closure (where the weak mouth corner pulls by a tenth of it, IOD)."""
    share = share or {}
    end = steps[-1].end_s
    times = np.arange(int(end * FPS)) / FPS
    rng = np.random.default_rng(seed)
    levels = {}
    values = {}
    for side in ("left", "right"):
        move = {name: np.zeros_like(times) for name in ("eye", "brow", "lip", "lateral", "vertical", "cheek_out")}
        for step in steps:
            if step.name == "rest":
                continue
            size = FULL[step.name] * (share.get(step.name, 1.0) if side == weak else 1.0)
            shape = bumps(times, step.start_s, step.end_s, 1.0)
            region = {"eye_closure": "eye", "brow_raises": "brow", "snarl": "lip", "cheek_puff": "cheek_out"}
            if step.name == "smiles":
                move["lateral"] += size * 0.8 * shape
                move["vertical"] += size * 0.6 * shape
            elif step.name == "pucker":
                move["lateral"] -= size * shape
            else:
                move[region[step.name]] += size * shape
            if side == weak and synkinesis:
                if step.name == "eye_closure":
                    move["lateral"] += 0.1 * synkinesis * shape
                else:
                    move["eye"] += synkinesis * shape

        def jitter():
            return noise * rng.standard_normal(times.size)

        levels[f"lid_gap_{side}"] = OPEN_EYE * (1 - move["eye"]) + 0.1 * jitter()
        levels[f"brow_height_{side}"] = 0.6 + move["brow"] + jitter()
        levels[f"upper_lip_height_{side}"] = -1.0 + move["lip"] + jitter()
        levels[f"mouth_corner_midline_{side}"] = 0.35 + move["lateral"] + jitter()
        levels[f"mouth_corner_vertical_{side}"] = -1.05 + move["vertical"] - (resting_droop if side == weak else 0) \
            + jitter()
        levels[f"cheek_lateral_{side}"] = 0.5 + move["cheek_out"] + jitter()
        levels[f"cheek_height_{side}"] = -0.5 - (resting_droop if side == weak else 0) + jitter()
    values.update(levels)
    return Signals(times_s=times, face_present=np.ones(times.size, bool), values=values, units={}, fps=FPS,
                   levels=levels)


def test_the_palsy_protocol_has_the_examination_steps():
    steps = protocol.load_protocol("palsy")
    assert [s.name for s in steps] == ["rest"] + list(exam.EXAM_STEPS)
    assert all(s.prompt for s in steps) and all(s.end_s - s.start_s >= 9 for s in steps)
    assert exam.is_exam_protocol(steps) and not exam.is_exam_protocol(protocol.load_protocol("standard"))


def test_a_symmetric_exam_scores_full_marks():
    steps = segments()
    result = exam.examine(exam_signals(steps, noise=0.002), steps)
    assert [s.segment for s in result.steps] == list(exam.EXAM_STEPS)
    for step in result.steps:
        assert step.excursion_ratio > 0.9, step
        assert step.repetitions == 3 and step.weaker_side == "none"
    assert result.weaker_side == "none"
    assert result.steps[0].incomplete_closure == "none"
    assert result.composite_estimate == 100.0


@pytest.mark.parametrize("weak", ["left", "right"])
def test_a_weak_side_has_its_share_and_incomplete_closure(weak):
    steps = segments()
    shares = {"eye_closure": 0.5, "brow_raises": 0.2, "smiles": 0.4, "snarl": 0.6, "pucker": 0.3, "cheek_puff": 0.7}
    result = exam.examine(exam_signals(steps, share=shares, weak=weak, noise=0.002, resting_droop=0.05), steps)
    for step in result.steps:
        assert step.excursion_ratio == pytest.approx(shares[step.segment], abs=0.05), step
        assert step.weaker_side == weak and step.ratio_spread < 0.1
    closure = result.steps[0]
    assert closure.incomplete_closure == weak
    assert closure.remaining_opening_share == pytest.approx(0.5, abs=0.05)  # against the other eye, taken as shut
    assert result.weaker_side == weak
    assert result.resting["resting_mouth_grade"] == 1 and result.resting["resting_cheek_grade"] >= 1
    assert result.composite_estimate < 60


def test_synkinesis_is_graded_on_the_side_that_co_contracts():
    steps = segments()
    result = exam.examine(exam_signals(steps, share={"smiles": 0.8}, weak="right", synkinesis=0.3), steps)
    smile = next(s for s in result.steps if s.segment == "smiles")
    assert smile.synkinesis_side == "right" and smile.synkinesis_grade == 2
    assert smile.synkinesis_eye_right == pytest.approx(0.3, abs=0.03) and smile.synkinesis_eye_left < 0.02
    closure = result.steps[0]
    assert closure.synkinesis_side == "right" and closure.synkinesis_mouth_right > 0.02
    assert result.synkinesis_score >= 8


def test_any_subset_in_any_order_and_no_composite_without_all_five():
    steps = segments(("rest", "pucker", "smiles"))
    result = exam.examine(exam_signals(steps), steps)
    assert [s.segment for s in result.steps] == ["pucker", "smiles"]
    assert math.isnan(result.composite_estimate)
    assert exam.examine(exam_signals(steps), (Segment("rest", 0, 5), Segment("blinks", 5, 9))) is None


def test_a_step_without_movement_has_no_ratio():
    steps = segments(("rest", "snarl"))
    signals = exam_signals(segments(("rest", "brow_raises")), noise=0.002)  # the brows move, not the lip
    step = exam.examine(signals, steps).steps[0]
    assert math.isnan(step.excursion_ratio) and step.weaker_side == "none" and step.repetitions == 0
    assert step.voluntary_grade == -1  # not graded: in a one-sided palsy the other side would have moved


def test_reports_of_an_exam(tmp_path):
    import csv
    import dataclasses
    import json

    from fake_analysis import make_analysis
    from spasmscan.report import SUMMARY_COLUMNS, report_paths, write_reports

    steps = segments()
    shares = {"eye_closure": 0.5, "brow_raises": 0.2, "smiles": 0.4, "snarl": 0.6, "pucker": 0.3, "cheek_puff": 0.7}
    analysis = dataclasses.replace(make_analysis(), segments=steps,
                                   exam=exam.examine(exam_signals(steps, share=shares, weak="right"), steps))
    written = write_reports(analysis, tmp_path, stem="v", json=True)
    names = [p.name for p in written]
    assert names[:5] == ["v.summary.csv", "v.events.csv", "v.signals.csv", "v.exam.csv", "v.exam.png"]
    assert [p.name for p in report_paths(tmp_path, "v", exam=True, exam_plot=True)] == names[:5]
    rows = list(csv.DictReader(open(tmp_path / "v.exam.csv", encoding="utf-8")))
    assert [r["segment"] for r in rows] == ["rest"] + list(exam.EXAM_STEPS)
    assert rows[1]["incomplete_closure"] == "right" and float(rows[2]["excursion_ratio"]) == pytest.approx(0.2, abs=0.05)
    summary = next(csv.DictReader(open(tmp_path / "v.summary.csv", encoding="utf-8")))
    assert list(summary)[-2:] == ["palsy_weaker_side", "sunnybrook_composite_estimate"] == list(SUMMARY_COLUMNS[-2:])
    assert summary["palsy_weaker_side"] == "right" and 0 <= float(summary["sunnybrook_composite_estimate"]) < 60
    document = json.loads((tmp_path / "v.json").read_text())
    assert document["exam"]["weaker_side"] == "right" and len(document["exam"]["steps"]) == 6
    plain = write_reports(make_analysis(), tmp_path / "plain", stem="v")
    assert [p.name for p in plain] == ["v.summary.csv", "v.events.csv", "v.signals.csv"]
    summary = next(csv.DictReader(open(tmp_path / "plain" / "v.summary.csv", encoding="utf-8")))
    assert summary["palsy_weaker_side"] == "" and summary["sunnybrook_composite_estimate"] == ""


SHORT_EXAM = {"steps": [{"segment": "rest", "duration_s": 4}] + [{"segment": name, "duration_s": 4.5}
                                                                  for name in exam.EXAM_STEPS]}


@pytest.mark.parametrize("label, renderer", [("palsy", "mesh"), ("palsy_synkinesis", "field")])
def test_simulated_exam_landmarks_give_the_true_shares(tmp_path, label, renderer):
    """The simulator's examination moved on the portrait's landmarks (no pixels, no tracking): the
    exam reads back each step's true share, the weak side and, with synkinesis, its side."""
    import json

    from spasmscan import simulate
    from spasmscan.render import load_base
    from spasmscan.signals import compute_signals

    path = tmp_path / "short.json"
    path.write_text(json.dumps(SHORT_EXAM))
    steps = protocol.load_protocol(str(path))
    events, parameters = simulate.exam_schedule(label, "right", steps, share=0.4, seed=5)
    base = load_base(None, width=480, height=360).points[0]
    times = np.arange(int(steps[-1].end_s * 10)) / 10.0
    channels = simulate.channel_values(events, times)
    points = np.stack([simulate.move_landmarks(base, {k: float(v[i]) for k, v in channels.items()},
                                               renderer=renderer) for i in range(times.size)])
    result = exam.examine(compute_signals(points, times), steps)
    truth = {step["segment"]: step for step in parameters["steps"]}
    for step in result.steps:
        assert step.excursion_ratio == pytest.approx(truth[step.segment]["true_share"], abs=0.1), step
        assert step.weaker_side == "right"
    assert result.steps[0].incomplete_closure == "right"
    assert result.weaker_side == "right" and result.resting["resting_grade"] >= 1
    assert result.resting["palpebral_fissure_ratio"] < 0.9
    smile = next(s for s in result.steps if s.segment == "smiles")
    assert (smile.synkinesis_side == "right") == (label == "palsy_synkinesis")
    with pytest.raises(Exception, match="exam_schedule"):
        simulate.make_schedule(label, "right", 10.0, seed=0)


def test_simulate_renders_an_exam_with_its_truth(tmp_path):
    import json

    from click.testing import CliRunner

    from spasmscan.cli import cli
    from spasmscan.simulate import read_truth

    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps({"steps": [{"segment": "rest", "duration_s": 1.0},
                                           {"segment": "pucker", "duration_s": 1.5}]}))
    out = tmp_path / "exam.mp4"
    result = CliRunner().invoke(cli, ["simulate", str(out), "--label", "palsy", "--synkinesis", "--side", "right",
                                      "--palsy-share", "30", "--protocol", str(steps), "--fps", "10",
                                      "--size", "320x240", "--nuisance", "0"])
    assert result.exit_code == 0, result.output
    truth = read_truth(tmp_path / "exam.json")
    assert truth.label == "palsy_synkinesis" and truth.side == "right" and truth.duration_s == pytest.approx(2.5)
    assert truth.parameters["palsy_share"] == 0.3 and truth.parameters["steps"][0]["segment"] == "pucker"
    assert truth.parameters["steps"][0]["true_share"] == pytest.approx(0.3, abs=0.03)
    refused = CliRunner().invoke(cli, ["simulate", str(tmp_path / "x.mp4"), "--label", "none", "--synkinesis"])
    assert refused.exit_code == 2 and "--synkinesis" in refused.output
