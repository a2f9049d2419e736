"""Rebuild a grouped corpus of simulated clips from seeds: base faces x renderers x labels.

Run from the repository root::

    .venv/bin/python benchmarks/corpus.py OUT                           # every face, both renderers
    .venv/bin/python benchmarks/corpus.py OUT --faces portrait,talking_low_res_b --renderers field \\
        --per-cell 2 --first-seed 30000 --durations 15:60 --jobs 2
    .venv/bin/python benchmarks/corpus.py OUT --labels blepharospasm,bilateral_hfs,none --first-seed 50000

writes ``OUT/<face>/<renderer>/<label>_<side>_<seed>.mp4`` with its truth ``.json`` beside it and
``OUT/manifest.csv`` (clip, face, renderer, label, side, hard_negative, duration_s, fps, nuisance,
seed). A cell is one face, one renderer and one of the cells of ``--labels`` (default: primary
HFS left and right, synkinesis left and right, none, and, on still faces only, a hard negative; also
offered: blepharospasm and bilateral HFS, side both); it holds ``--per-cell`` clips. Seeds run from
``--first-seed`` over the cells in the order faces, renderers, cells, so the same options give the
same corpus; everything else about a clip (duration, and on a still face fps, size and nuisance)
is drawn from its seed. A still face (``still_<video>``) is that real video's most neutral frame
rendered as a portrait: another subject held still, as an examined patient sits. Clips are rendered
round by round (one of every face and renderer per round, labels rotating), so a run stopped early
still covers every group. Clips already rendered (video and truth present) are skipped: an
interrupted run resumes where it stopped. Faces are grouped by folder, so leave-one-face-out and
leave-one-renderer-out splits are folder choices; score with ``spasmscan evaluate OUT/<face>``.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread per clip: parallelism comes from --jobs
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from spasmscan.errors import SpasmscanError  # noqa: E402
from spasmscan.simulate import RENDERERS, STILL_PREFIX, truth_path  # noqa: E402

PORTRAIT = "portrait"  # the committed public-domain portrait, spasmscan/data/astronaut_portrait.png
REAL_FACES = ("WolfgangLanger_Pexels", "talking_RD_Radio2_000", "talking_RD_Radio34_000",
              "talking_WDA_BobMenendez_000", "talking_WDA_EdMarkey0_000", "talking_low_res_a", "talking_low_res_b",
              "talking_full_body")  # files <name>.mp4 in ../shared/real-faces/: people without spasm
# A real face held still: the video's most neutral frame (spasmscan.render.neutral_frame) rendered as a portrait,
# with a portrait's head motion, frame rates and sizes. Another subject on a still base, as an examined patient
# sits; written to OUT/.stills/still_<video>.png, not into the project (the footage is third-party). Not the full-body
# video: its small face falls outside a portrait's crop.
STILL_FACES = tuple(STILL_PREFIX + name for name in REAL_FACES if name != "talking_full_body")
FACES = (PORTRAIT,) + REAL_FACES + STILL_FACES
CELLS = (("primary_hfs", "left"), ("primary_hfs", "right"), ("synkinesis", "left"), ("synkinesis", "right"),
         ("none", "none"))
HARD_NEGATIVE_CELL = ("hard_negative", "none")  # still faces only: a real video's own movements are its hard negatives
MORE_CELLS = (("blepharospasm", "both"), ("bilateral_hfs", "both"))  # offered by --labels, after the default cells
CELL_ORDER = CELLS + (HARD_NEGATIVE_CELL,) + MORE_CELLS  # a face's cells run in this order (the seeds follow it)
CELL_LABELS = tuple(dict.fromkeys(label for label, _ in CELL_ORDER))  # the names --labels takes
DEFAULT_LABELS = tuple(dict.fromkeys(label for label, _ in CELLS + (HARD_NEGATIVE_CELL,)))
DURATION_S = (10.0, 120.0)  # clip lengths drawn from this range ...
USUAL_DURATION_S = (20.0, 60.0)  # ... most of them from this part of it (bounded rendering and tracking time)
USUAL_SHARE = 0.75  # share of clips whose length is drawn from USUAL_DURATION_S
PORTRAIT_FPS = (25.0, 30.0, 60.0)  # a portrait clip's frame rate (a video base keeps its own)
PORTRAIT_SIZES = ((640, 480), (480, 360))  # a portrait clip's size (a video base keeps its own)
NUISANCE = {PORTRAIT: (0.5, 2.0), "video": (0.5, 1.5)}  # nuisance scale drawn per clip; a video base has no head motion added
MANIFEST_FIELDS = ("clip", "face", "renderer", "label", "side", "hard_negative", "duration_s", "fps", "nuisance", "seed")

logger = logging.getLogger("corpus")


@dataclass(frozen=True)
class Job:
    """One clip to render: where, on what, and its seed (everything else follows from the seed)."""

    face: str
    renderer: str
    cell: tuple
    seed: int
    base: str | None  # None: the committed portrait; a still face's video
    durations_s: tuple

    @property
    def relative(self) -> str:
        label, side = self.cell
        return f"{self.face}/{self.renderer}/{label}_{side}_{self.seed}.mp4"

    def drawn(self) -> dict:
        """Duration, and on a still face fps, size and nuisance, drawn from the seed's own stream."""
        rng = np.random.default_rng([self.seed, 3])
        low, high = self.durations_s
        usual = (max(low, USUAL_DURATION_S[0]), min(high, USUAL_DURATION_S[1]))
        span = usual if rng.random() < USUAL_SHARE and usual[0] < usual[1] else (low, high)
        duration = round(float(rng.uniform(*span)), 1)
        fps = float(rng.choice(PORTRAIT_FPS))
        size = PORTRAIT_SIZES[int(rng.integers(len(PORTRAIT_SIZES)))]
        nuisance = round(float(rng.uniform(*NUISANCE[PORTRAIT if is_still(self.face) else "video"])), 2)
        if not is_still(self.face):
            fps, size = None, (None, None)
        return {"duration_s": duration, "fps": fps, "width": size[0], "height": size[1], "nuisance": nuisance}


def plan(*, faces, renderers, per_cell: int, first_seed: int, real_faces: Path, durations_s: tuple,
         labels=DEFAULT_LABELS) -> list[Job]:
    """Every clip of the corpus, in seed order: the cells of ``labels`` (names of CELL_LABELS) for
    each face and renderer (the hard negative on still faces only)."""
    jobs, seed = [], first_seed
    for face in faces:
        base = None if face == PORTRAIT else str(real_faces / f"{face.removeprefix(STILL_PREFIX)}.mp4")
        cells = [cell for cell in CELL_ORDER if cell[0] in labels and (is_still(face) or cell != HARD_NEGATIVE_CELL)]
        for renderer in renderers:
            for cell in cells:
                for _ in range(per_cell):
                    jobs.append(Job(face, renderer, cell, seed, base, durations_s))
                    seed += 1
    return jobs


def is_still(face: str) -> bool:
    """Whether ``face`` is rendered as a still portrait: the committed one or a video's neutral frame."""
    return face == PORTRAIT or face.startswith(STILL_PREFIX)


def interleaved(jobs: list[Job]) -> list[Job]:
    """``jobs`` in rendering order: round by round, one clip of every face and renderer per round, each
    group starting at another label, so a run stopped early still covers every face, renderer and label."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.face, job.renderer), []).append(job)
    order = []
    for g, members in enumerate(groups.values()):
        shift = g % len(members)
        order += [((k - shift) % len(members), g, job) for k, job in enumerate(members)]
    return [job for _, _, job in sorted(order, key=lambda row: row[:2])]


def is_done(out: Path, job: Job) -> bool:
    video = out / job.relative
    return video.exists() and Path(truth_path(video)).exists()


def render_one(out: str, job: Job) -> tuple[str, dict, float]:
    """Render ``job`` under ``out``; returns its relative path, drawn settings and seconds taken."""
    from spasmscan.render import Nuisance, neutral_still, simulate_video
    from spasmscan.simulate import ScheduleOptions

    started = time.perf_counter()
    drawn = job.drawn()
    label, side = job.cell
    hard = label == HARD_NEGATIVE_CELL[0]
    video = Path(out) / job.relative
    video.parent.mkdir(parents=True, exist_ok=True)
    base = neutral_still(job.base, Path(out) / ".stills") if job.face.startswith(STILL_PREFIX) else job.base
    truth = simulate_video(video, label="none" if hard else label, side=side, duration_s=drawn["duration_s"],
                           fps=drawn["fps"] or _base_fps(job.base), seed=job.seed, base=base,
                           width=drawn["width"], height=drawn["height"], options=ScheduleOptions(hard_negative=hard),
                           nuisance=Nuisance(scale=drawn["nuisance"]), renderer=job.renderer)
    drawn.update(fps=truth.fps, duration_s=round(truth.duration_s, 3))
    return job.relative, drawn, time.perf_counter() - started


def _base_fps(path: str) -> float:
    from spasmscan.video import VideoSource

    with VideoSource(path) as video:
        return float(video.info.fps)


def manifest_row(out: Path, job: Job) -> dict:
    """The manifest's row for a rendered clip, read back from its truth file."""
    from spasmscan.simulate import read_truth

    truth = read_truth(truth_path(out / job.relative))
    return {"clip": job.relative, "face": job.face, "renderer": truth.renderer, "label": truth.label,
            "side": truth.side, "hard_negative": int(job.cell == HARD_NEGATIVE_CELL),
            "duration_s": round(truth.duration_s, 3), "fps": truth.fps, "nuisance": job.drawn()["nuisance"],
            "seed": truth.seed}


def write_manifest(out: Path, jobs: list[Job]) -> Path:
    """OUT/manifest.csv over the clips of ``jobs`` rendered so far, written atomically."""
    path = out / "manifest.csv"
    handle = tempfile.NamedTemporaryFile("w", dir=out, prefix=".manifest.", suffix=".csv", delete=False, newline="")
    with handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        for job in jobs:
            if is_done(out, job):
                writer.writerow(manifest_row(out, job))
    os.replace(handle.name, path)
    return path


def _names(text: str, allowed: tuple, what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or '(none given)'}; "
                                         f"choose from {', '.join(allowed)}")
    return names


def _durations(text: str) -> tuple:
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--durations must look like 20:60, got {text!r}") from None
    if not (DURATION_S[0] <= low <= high <= DURATION_S[1]):
        raise argparse.ArgumentTypeError(f"--durations must lie within {DURATION_S[0]:g}:{DURATION_S[1]:g} s")
    return low, high


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="Folder of the corpus (created).")
    parser.add_argument("--faces", type=lambda t: _names(t, FACES, "face"), default=list(FACES),
                        help=f"Comma-separated base faces (default: all): {', '.join(FACES)}.")
    parser.add_argument("--renderers", type=lambda t: _names(t, RENDERERS, "renderer"), default=list(RENDERERS),
                        help=f"Comma-separated renderers (default: all): {', '.join(RENDERERS)}.")
    parser.add_argument("--labels", type=lambda t: _names(t, CELL_LABELS, "label"), default=list(DEFAULT_LABELS),
                        help=f"Comma-separated cell labels (default: {','.join(DEFAULT_LABELS)}): "
                             f"{', '.join(CELL_LABELS)}; hard_negative on still faces only.")
    parser.add_argument("--per-cell", type=int, default=1, help="Clips per face, renderer and label (default 1).")
    parser.add_argument("--first-seed", type=int, default=20000, help="Seed of the first clip (default 20000).")
    parser.add_argument("--durations", type=_durations, default=DURATION_S, metavar="MIN:MAX",
                        help="Clip lengths in seconds, within 10:120 (default 10:120; most clips 20-60 s).")
    parser.add_argument("--jobs", type=int, default=1, help="Clips rendered at once (processes; default 1).")
    parser.add_argument("--real-faces", type=Path, default=None,
                        help="Folder of the real face videos (default: $REAL_FACES or ../shared/real-faces/).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.per_cell < 1 or args.jobs < 1:
        parser.error("--per-cell and --jobs must be at least 1")
    real_faces = args.real_faces or Path(os.environ.get("REAL_FACES", Path(__file__).resolve().parents[2] / "shared"
                                                         / "real-faces"))
    missing = [f.removeprefix(STILL_PREFIX) for f in args.faces if f != PORTRAIT
               and not (real_faces / f"{f.removeprefix(STILL_PREFIX)}.mp4").exists()]
    if missing:
        parser.error(f"{real_faces}: no {', '.join(m + '.mp4' for m in missing)}; give --real-faces DIR")
    jobs = plan(faces=args.faces, renderers=args.renderers, per_cell=args.per_cell, first_seed=args.first_seed,
                real_faces=real_faces, durations_s=args.durations, labels=args.labels)
    if not jobs:
        parser.error("no clips: the hard negative is the only label given and it is made on still faces only")
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [job for job in interleaved(jobs) if not is_done(args.out, job)]
    logger.info("%d clips planned (seeds %d-%d), %d already rendered, %d to render with %d job(s)", len(jobs),
                jobs[0].seed, jobs[-1].seed, len(jobs) - len(todo), len(todo), args.jobs)
    failures = 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(render_one, str(args.out), job): job for job in todo}
        for count, future in enumerate(as_completed(futures), start=1):
            job = futures[future]
            try:
                relative, drawn, seconds = future.result()
            except Exception as error:  # noqa: BLE001 - one clip's failure must not stop the corpus
                failures += 1
                kind = "" if isinstance(error, SpasmscanError) else f"{type(error).__name__}: "
                logger.error("[%d/%d] %s failed: %s%s", count, len(todo), job.relative, kind, error)
                continue
            logger.info("[%d/%d] %s: %.1f s at %g fps rendered in %.0f s", count, len(todo), relative,
                        drawn["duration_s"], drawn["fps"], seconds)
            write_manifest(args.out, jobs)
    path = write_manifest(args.out, jobs)
    logger.info("manifest: %s (%d clips)%s", path, sum(is_done(args.out, j) for j in jobs),
                f"; {failures} failed" if failures else "")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
