"""The two rendering models: pixels land where the landmarks were moved, the tracker sees a twitch
under each, the motion profiles differ as stated, and a clip is reproducible from its seed."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from spasmscan import regions, render, simulate
from spasmscan.cli import cli
from spasmscan.errors import ParameterError
from spasmscan.simulate import Motion, ScheduleOptions, SimEvent, make_schedule

SIZE = (320, 240)
REAL_FACES = Path(__file__).resolve().parents[2] / "shared" / "real-faces"
TWITCH_MIN_CLOSURE = 0.08  # as in tests/test_simulate.py and docs/simulator.md
TWITCH_MIN_EXCESS = 0.06
QUIET_EYE_MAX_CLOSURE = 0.05  # the other eye's tracked closure stays within noise
FAR_MAX_SHIFT_PX = 0.5  # pixels far from every moved landmark (the mesh's border triangles stretch a little)


@pytest.fixture(scope="module")
def portrait():
    """The bundled portrait at 320x240 and its (478, 2) landmarks, tracked once."""
    base = render.load_base(None, width=SIZE[0], height=SIZE[1])
    return next(iter(base.frames())), base.points[0]


def test_every_renderer_has_a_motion_profile_and_the_cli_offers_both():
    assert set(render.WARPERS) == set(simulate.MOTION_PROFILES) == set(simulate.RENDERERS)
    option = next(p for p in cli.commands["simulate"].params if p.name == "renderer")
    assert set(option.type.choices) == set(simulate.RENDERERS) and option.default == simulate.DEFAULT_RENDERER
    with pytest.raises(ParameterError, match="renderer"):
        simulate.motion_profile("ray_tracer")


@pytest.mark.parametrize("renderer", simulate.RENDERERS)
@pytest.mark.parametrize("values", [{"eye_close_left": 0.5}, {"mouth_right": 0.08, "cheek_right": 0.04},
                                    {"brow_left": 0.1, "eye_close_right": 0.4}])
def test_pixels_land_where_the_landmarks_were_moved(portrait, renderer, values):
    """Warping an image of its own coordinates: the output at each moved landmark's new place
    holds the coordinates of its old place."""
    _, points = portrait
    width, height = SIZE
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    coordinates = np.dstack([xs, ys, np.zeros_like(xs)])
    target = simulate.move_landmarks(points, values, renderer=renderer)
    out = render.WARPERS[renderer](points, width, height).warp(coordinates, points, target)
    moved = np.linalg.norm(target - points, axis=1) > 0.5
    assert moved.sum() >= 10
    pixel = np.round(target[moved]).astype(int)
    error = np.linalg.norm(out[pixel[:, 1], pixel[:, 0], :2] - (points[moved] + pixel - target[moved]), axis=1)
    assert np.median(error) < 0.5 and error.max() < 2.0  # pixels; the field is sampled on a coarse grid
    grid = np.stack([xs, ys], axis=-1)
    far = np.linalg.norm(grid[..., None, :] - target[moved][None, None], axis=-1).min(axis=-1) > 0.4 * width
    assert np.abs(out[far] - coordinates[far]).max() < FAR_MAX_SHIFT_PX, renderer  # far away almost nothing moves


def test_a_movement_between_the_field_knots_leaves_the_frame_as_it_is(portrait):
    image, points = portrait
    warper = render.FieldWarper(points, *SIZE)
    between = np.setdiff1d(np.arange(len(points)), warper.knots)
    assert between.size
    target = points.copy()
    target[between[0]] += (0.1, 0.0)  # pixels: one landmark that is not a knot
    assert warper.warp(image, points, target) is image


def test_the_field_profile_squeezes_from_both_lids_bunches_the_cheek_and_pulls_the_corner_outward(portrait):
    _, points = portrait
    across, down, iod = simulate.face_frame(points)
    lower = list(regions.LOWER_LID["left"][1:6])
    upper = list(regions.UPPER_LID["left"][1:6])
    rise = {}
    for renderer in simulate.RENDERERS:
        moved = simulate.move_landmarks(points, {"eye_close_left": 0.6}, renderer=renderer)
        rise[renderer] = -np.mean((moved[lower] - points[lower]) @ down) / np.mean((moved[upper] - points[upper]) @ down)
    assert rise["field"] > 0.5 and rise["mesh"] < 0.25  # lower-lid travel over upper-lid travel
    cheek = list(regions.CHEEK["left"])
    for renderer, inward_min in (("mesh", None), ("field", 0.3)):
        moved = simulate.move_landmarks(points, {"cheek_left": 0.04}, renderer=renderer)
        shift = (moved[cheek] - points[cheek]).mean(axis=0)
        up, inward = -shift @ down, -shift @ across  # the patient's left cheek moves inward towards -across
        assert up > 0.2 * 0.04 * iod  # the cheek points' mean: the lift fades away from their centre
        assert abs(inward) < 0.05 * up if inward_min is None else inward > inward_min * up
    corner = regions.MOUTH_CORNER["left"]
    for renderer, (low, high) in (("mesh", (0.5, 0.8)), ("field", (0.15, 0.45))):
        shift = simulate.move_landmarks(points, {"mouth_left": 0.08}, renderer=renderer)[corner] - points[corner]
        assert low < (-shift @ down) / (shift @ across) < high  # up per unit outward


def test_the_same_seed_gives_the_same_events_under_both_renderers_with_their_own_ramps():
    mesh = make_schedule("primary_hfs", "left", 30.0, seed=3, options=ScheduleOptions(twitch_rate_per_min=15))
    field = make_schedule("primary_hfs", "left", 30.0, seed=3, options=ScheduleOptions(twitch_rate_per_min=15),
                          renderer="field")
    assert [e.to_dict() for e in mesh] == [e.to_dict() for e in field]
    for a, b in zip(mesh, field):
        if a.kind in ("twitch", "tonic_spasm"):
            ma, mb = a.motions[0], b.motions[0]
            assert mb.rise_s < ma.rise_s and mb.fall_s >= ma.fall_s  # fast rise, slow relaxation
            assert mb.rise_s < 0.5 * mb.fall_s


def _track(path):
    from spasmscan.pipeline import video_landmarks
    return video_landmarks(path, use_cache=False)


@pytest.mark.parametrize("renderer", simulate.RENDERERS)
def test_the_tracker_sees_a_twitch_under_each_renderer(tmp_path, renderer):
    twitch = SimEvent("twitch", "left", "eye", 1.2, 1.6, 0.6,
                      motions=(Motion("eye_close_left", 1.2, 1.6, 0.6, 0.08, 0.25),
                               Motion("cheek_left", 1.2, 1.6, 0.02, 0.08, 0.25)))
    path = tmp_path / f"{renderer}.mp4"
    truth = render.simulate_video(path, label="primary_hfs", side="left", duration_s=3.0, fps=25.0, seed=5,
                                  width=SIZE[0], height=SIZE[1], events=[twitch], renderer=renderer,
                                  nuisance=render.Nuisance(scale=0.5))
    assert truth.renderer == renderer and simulate.read_truth(simulate.truth_path(path)).renderer == renderer
    series = _track(path)
    assert series.face_fraction == 1.0
    response = simulate.event_responses(simulate.landmark_measures(series.mesh()), series.times_s, [twitch])[0]
    assert response["closure_left"] >= TWITCH_MIN_CLOSURE
    assert response["closure_left"] - response["closure_right"] >= TWITCH_MIN_EXCESS
    assert response["closure_right"] <= QUIET_EYE_MAX_CLOSURE


@pytest.mark.parametrize("renderer", simulate.RENDERERS)
@pytest.mark.parametrize("label", ["blepharospasm", "bilateral_hfs"])
def test_a_tiny_clip_of_each_bilateral_label_renders_under_each_renderer(tmp_path, label, renderer):
    path = tmp_path / f"{label}.mp4"
    truth = render.simulate_video(path, label=label, side="both", duration_s=5.0, fps=10.0, seed=2, width=160,
                                  height=120, renderer=renderer, options=ScheduleOptions(twitch_rate_per_min=20,
                                                                                         severity=1.0))
    assert len(_frames(path)) == 50 and simulate.read_truth(simulate.truth_path(path)).to_json() == truth.to_json()
    involuntary = {"blepharospasm": {"bilateral_closure"}, "bilateral_hfs": {"twitch", "tonic_spasm"}}[label]
    assert {e.kind for e in truth.events} & involuntary
    reference = tmp_path / "reference.mp4"
    render.simulate_video(reference, label=label, side="both", duration_s=5.0, fps=10.0, seed=2, width=160,
                          height=120, renderer=renderer, events=[])
    assert not np.array_equal(_frames(path), _frames(reference))  # the events moved pixels


BLEPH_MIN_CLOSURE = 0.25  # each eye, a held bilateral closure (as a blink in tests/test_simulate.py)
FLUTTER_MIN_CORRELATION = 0.7  # tracked closure against the scheduled beats, each eye


@pytest.mark.parametrize("renderer", simulate.RENDERERS)
def test_the_tracker_sees_held_closures_and_flutter_in_both_eyes_under_each_renderer(tmp_path, renderer):
    rng = np.random.default_rng(0)
    profile = simulate.motion_profile(renderer)
    events = [simulate._bilateral_closure(rng, "bilateral_closure", 1.6, 1.2, 0.95, profile),
              simulate._bilateral_closure(rng, "flutter", 3.3, 1.2, 0.4, profile, beat_hz=7.0)]
    path = tmp_path / f"{renderer}.mp4"
    render.simulate_video(path, label="blepharospasm", side="both", duration_s=5.0, fps=25.0, seed=5,
                          width=SIZE[0], height=SIZE[1], events=events, renderer=renderer,
                          nuisance=render.Nuisance(scale=0.5))
    series = _track(path)
    assert series.face_fraction == 1.0
    measures = simulate.landmark_measures(series.mesh())
    closure, flutter = simulate.event_responses(measures, series.times_s, events)
    assert min(closure["closure_left"], closure["closure_right"]) >= BLEPH_MIN_CLOSURE
    wanted = simulate.channel_values(events, series.times_s)
    beats = (series.times_s >= events[1].start_s) & (series.times_s <= events[1].end_s)
    rest = series.times_s < 1.4
    for side in regions.SIDES:
        aperture = measures[f"eye_aperture_{side}"]
        tracked = 1.0 - aperture[beats] / np.median(aperture[rest])
        assert np.corrcoef(tracked, wanted[f"eye_close_{side}"][beats])[0, 1] >= FLUTTER_MIN_CORRELATION, side


@pytest.mark.skipif(not (REAL_FACES / "single_face.mp4").exists(), reason="real face clips not present")
@pytest.mark.parametrize("label", ["blepharospasm", "bilateral_hfs"])
def test_the_bilateral_labels_render_on_a_real_face_video(tmp_path, label):
    truth = render.simulate_video(tmp_path / "real.mp4", label=label, side="both", duration_s=4.0, fps=30.0, seed=3,
                                  base=REAL_FACES / "single_face.mp4", renderer="field",
                                  options=ScheduleOptions(twitch_rate_per_min=25, voluntary_movements=False))
    assert truth.base_events_known is False and truth.side == "both" and truth.events
    assert len(_frames(tmp_path / "real.mp4")) == 120


def _frames(path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.array(frames)


def test_a_clip_is_reproducible_from_its_seed(tmp_path):
    runner = CliRunner()
    common = ["--label", "synkinesis", "--side", "right", "--duration", "4", "--fps", "10", "--size", "160x120",
              "--renderer", "field"]
    for name, seed in (("a", "9"), ("b", "9"), ("c", "10")):
        result = runner.invoke(cli, ["simulate", str(tmp_path / f"{name}.mp4"), "--seed", seed] + common)
        assert result.exit_code == 0, result.output
        assert "renderer field" in result.output
    a, b, c = (simulate.read_truth(tmp_path / f"{n}.json") for n in "abc")
    assert a.to_json() == b.to_json() and a.to_json() != c.to_json()
    assert a.renderer == "field" and a.parameters == simulate.clip_parameters("synkinesis", seed=9)
    assert np.array_equal(_frames(tmp_path / "a.mp4"), _frames(tmp_path / "b.mp4"))
    bad = runner.invoke(cli, ["simulate", str(tmp_path / "d.mp4"), "--renderer", "ray"])
    assert bad.exit_code == 2


# -- the grouped corpus (benchmarks/corpus.py) ------------------------------------------------------

def _corpus_module():
    """benchmarks/corpus.py, imported once (it is a script, not part of the package)."""
    import importlib.util
    import sys
    from pathlib import Path

    if "corpus" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus.py"
        spec = importlib.util.spec_from_file_location("corpus", path)
        sys.modules["corpus"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["corpus"])
    return sys.modules["corpus"]


def test_the_corpus_plan_covers_every_face_renderer_and_label_with_consecutive_seeds(tmp_path):
    corpus = _corpus_module()
    jobs = corpus.plan(faces=["portrait", "talking_low_res_b"], renderers=list(simulate.RENDERERS), per_cell=2,
                       first_seed=500, real_faces=tmp_path, durations_s=(10.0, 120.0))
    assert [j.seed for j in jobs] == list(range(500, 500 + len(jobs)))
    assert len(jobs) == 2 * 2 * (6 + 5)  # the portrait also has its hard negatives
    assert {(j.face, j.renderer, j.cell) for j in jobs if j.face == "portrait"} >= {
        ("portrait", r, c) for r in simulate.RENDERERS for c in corpus.CELLS + (corpus.HARD_NEGATIVE_CELL,)}
    assert jobs[0].relative == "portrait/mesh/primary_hfs_left_500.mp4" and jobs[0].base is None
    assert jobs[-1].base == str(tmp_path / "talking_low_res_b.mp4")
    order = corpus.interleaved(jobs)
    assert sorted(j.seed for j in order) == [j.seed for j in jobs]
    first_round = order[:4]  # one clip of every face and renderer, with different labels
    assert len({(j.face, j.renderer) for j in first_round}) == 4 and len({j.cell for j in first_round}) > 1


def test_the_default_corpus_plan_is_the_one_before_the_bilateral_labels(tmp_path):
    """Default options keep every clip's cell and seed (corpora already rendered stay valid)."""
    corpus = _corpus_module()
    cells = (("primary_hfs", "left"), ("primary_hfs", "right"), ("synkinesis", "left"), ("synkinesis", "right"),
             ("none", "none"))
    faces, seed, expected = ["portrait", "talking_low_res_b", "talking_full_body"], 700, []
    for face in faces:
        for renderer in simulate.RENDERERS:
            for cell in cells + ((("hard_negative", "none"),) if face == "portrait" else ()):
                for _ in range(2):
                    expected.append((face, renderer, cell, seed))
                    seed += 1
    common = dict(faces=faces, renderers=list(simulate.RENDERERS), per_cell=2, first_seed=700, real_faces=tmp_path,
                  durations_s=(10.0, 120.0))
    assert [(j.face, j.renderer, j.cell, j.seed) for j in corpus.plan(**common)] == expected
    assert [(j.face, j.renderer, j.cell, j.seed) for j in corpus.plan(labels=corpus.DEFAULT_LABELS, **common)] \
        == expected
    both = corpus.plan(labels=["blepharospasm", "bilateral_hfs"], **common)
    assert {j.cell for j in both} == {("blepharospasm", "both"), ("bilateral_hfs", "both")}
    assert [j.seed for j in both] == list(range(700, 700 + 3 * 2 * 2 * 2))
    assert both[0].relative == "portrait/mesh/blepharospasm_both_700.mp4"
    with pytest.raises(SystemExit):
        corpus.main([str(tmp_path / "out"), "--labels", "palsy"])


def test_corpus_durations_and_settings_come_from_the_seed():
    corpus = _corpus_module()
    drawn = [corpus.Job("portrait", "mesh", ("none", "none"), seed, None, (10.0, 120.0)).drawn()
             for seed in range(300)]
    durations = np.array([d["duration_s"] for d in drawn])
    assert durations.min() >= 10.0 and durations.max() <= 120.0 and durations.max() > 60.0
    assert 0.7 < np.mean((durations >= 20.0) & (durations <= 60.0)) < 0.95  # mostly 20-60 s
    assert {d["fps"] for d in drawn} == set(corpus.PORTRAIT_FPS)
    again = corpus.Job("portrait", "field", ("none", "none"), 7, None, (10.0, 120.0)).drawn()
    assert again == drawn[7]
    video = corpus.Job("talking_low_res_b", "mesh", ("none", "none"), 7, "x.mp4", (15.0, 60.0)).drawn()
    assert video["fps"] is None and video["width"] is None and 15.0 <= video["duration_s"] <= 60.0


def test_a_still_face_is_a_real_video_rendered_as_a_portrait(tmp_path):
    """still_<video>: that video as the base, a portrait's frame rates and sizes, and the hard negatives."""
    corpus = _corpus_module()
    jobs = corpus.plan(faces=["still_talking_low_res_b"], renderers=["field"], per_cell=1, first_seed=60,
                       real_faces=tmp_path, durations_s=(10.0, 120.0))
    assert {j.cell for j in jobs} == set(corpus.CELLS + (corpus.HARD_NEGATIVE_CELL,))
    assert all(corpus.is_still(j.face) and j.base == str(tmp_path / "talking_low_res_b.mp4") for j in jobs)
    assert {j.drawn()["fps"] for j in jobs} <= set(corpus.PORTRAIT_FPS)
    assert "talking_full_body" in corpus.REAL_FACES and "still_talking_full_body" not in corpus.FACES


@pytest.mark.skipif(not (REAL_FACES / "talking_low_res_b.mp4").exists(), reason="real face clips not present")
def test_the_neutral_frame_of_a_talking_video_has_its_eyes_open_and_lips_closest(tmp_path):
    from spasmscan.landmarks import FaceTracker, TrackerSettings

    frame = render.neutral_frame(REAL_FACES / "talking_low_res_b.mp4")
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    with FaceTracker(TrackerSettings()) as tracker:
        face = tracker.detect(frame)[0]
    iod = np.linalg.norm(face[263] - face[33])
    assert np.linalg.norm(face[13] - face[14]) / iod < 0.05  # lips together
    eyes = min(np.linalg.norm(face[159] - face[145]), np.linalg.norm(face[386] - face[374])) / iod
    assert eyes > 0.05  # open (shut: about 0.02)
    with pytest.raises(ParameterError):
        render.neutral_frame(render.default_portrait_path())
    still = render.neutral_still(REAL_FACES / "talking_low_res_b.mp4", tmp_path / "stills")
    assert still == str(tmp_path / "stills" / "still_talking_low_res_b.png")
    assert np.array_equal(cv2.imread(still), frame) and sorted(p.name for p in (tmp_path / "stills").iterdir()) == [
        "still_talking_low_res_b.png"]


def test_the_corpus_resumes_and_lists_what_is_rendered(tmp_path):
    """Clips already present are not rendered again; the manifest lists them from their truth files."""
    corpus = _corpus_module()
    jobs = corpus.plan(faces=["portrait"], renderers=["field"], per_cell=1, first_seed=40, real_faces=tmp_path,
                       durations_s=(10.0, 120.0))
    for job in jobs:
        video = tmp_path / "out" / job.relative
        video.parent.mkdir(parents=True, exist_ok=True)
        video.write_bytes(b"")
        label, side = job.cell
        simulate.write_truth(simulate.Truth(
            label="none" if label == "hard_negative" else label, side=side, fps=30.0, duration_s=12.0, width=640,
            height=480, seed=job.seed, base="astronaut_portrait.png", base_events_known=True, events=(),
            renderer="field"), simulate.truth_path(video))
    assert corpus.main([str(tmp_path / "out"), "--faces", "portrait", "--renderers", "field",
                        "--first-seed", "40"]) == 0  # nothing left to render: it returns at once
    rows = (tmp_path / "out" / "manifest.csv").read_text().splitlines()
    assert rows[0].split(",") == list(corpus.MANIFEST_FIELDS) and len(rows) == 1 + len(jobs)
    assert rows[-1].startswith("portrait/field/hard_negative_none_45.mp4,portrait,field,none,none,1,12.0,")
    with pytest.raises(SystemExit):
        corpus.main([str(tmp_path / "out"), "--faces", "nobody"])
