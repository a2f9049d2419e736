"""Hand-made, well-formed Analysis objects for the report, plot and annotation tests.

They do not come from the analysis stages: their numbers are chosen so that the tests know
every value the reports must contain.
"""
from __future__ import annotations

import numpy as np

from spasmscan.analysis import Analysis
from spasmscan.classify import Verdict
from spasmscan.events import Events
from spasmscan.landmarks import LandmarkSeries
from spasmscan.measures import MEASURE_KEYS
from spasmscan.regions import N_LANDMARKS
from spasmscan.signals import SIGNAL_BASES, Signals

SIGNAL_UNITS = {"eye_aperture": "fraction of the side's own open-eye aperture",
                "brow_height": "inter-ocular distances (positive = up)",
                "mouth_corner_lateral": "inter-ocular distances (positive = outward)",
                "mouth_corner_vertical": "inter-ocular distances (positive = up)",
                "cheek_height": "inter-ocular distances (positive = up)",
                "upper_lip_height": "inter-ocular distances (positive = up)",
                "cheek_lateral": "inter-ocular distances (positive = outward)"}


def fake_events(specs) -> Events:
    """Events from (kind, side, region, start_s, end_s, amplitude, coupled_to) tuples."""
    columns = list(zip(*specs)) if specs else [[]] * 7
    kind, side, region, start, end, amplitude, coupled = columns
    return Events(kind=np.array(kind, dtype="<U16"), side=np.array(side, dtype="<U16"),
                  region=np.array(region, dtype="<U16"), start_s=np.array(start, dtype=float),
                  end_s=np.array(end, dtype=float), amplitude=np.array(amplitude, dtype=float),
                  coupled_to=np.array(coupled, dtype=np.int64))


DEFAULT_EVENTS = (
    ("blink", "both", "eye", 1.0, 1.2, 0.3, -1),
    ("twitch", "right", "mouth", 1.02, 1.15, -0.05, 0),  # synkinetic: rides on the blink
    ("twitch", "left", "eye", 2.0, 2.1, 0.12, -1),
    ("brow_raise", "both", "brow", 2.5, 3.2, 0.08, -1),
    ("tonic_spasm", "left", "eye+mouth", 3.3, 4.4, 0.4, -1),
    ("smile", "both", "mouth", 4.6, 5.3, 0.07, -1),
)


def make_analysis(*, seconds: float = 6.0, fps: float = 30.0, width: int = 160, height: int = 120,
                  source: str = "clinic/patient 01.mp4", events=DEFAULT_EVENTS, no_face=(0.4, 0.6),
                  label: str = "primary_hfs", side: str = "left", measures: dict | None = None,
                  quality_flags=("low_face_coverage", "short_recording")) -> Analysis:
    """An Analysis of ``seconds`` at ``fps``: a face in every frame except the ``no_face`` span.

    Landmarks lie on a jittered grid inside the frame; signals are smooth with dips at the
    events; verdict and measures are fixed values.
    """
    n = int(round(seconds * fps))
    times = np.arange(n) / fps
    face = ~((times >= no_face[0]) & (times < no_face[1])) if no_face else np.ones(n, bool)
    rng = np.random.default_rng(3)
    base = np.stack([rng.uniform(0.2 * width, 0.8 * width, N_LANDMARKS),
                     rng.uniform(0.2 * height, 0.8 * height, N_LANDMARKS)], axis=1)
    points = np.repeat(base[None].astype(np.float32), n, axis=0)
    points += rng.normal(0, 0.3, points.shape).astype(np.float32)
    points[~face] = np.nan
    series = LandmarkSeries(times_s=times, points=points, width=width, height=height, fps=fps, source=source)
    event_table = fake_events(list(events))
    values, units = {}, {}
    for base_name in SIGNAL_BASES:
        for side_name in ("left", "right"):
            name = f"{base_name}_{side_name}"
            eye = base_name == "eye_aperture"  # a fraction around 1, the others displacements around 0
            signal = float(eye) + 0.01 * np.sin(2 * np.pi * 0.3 * times + len(name))
            for i in range(len(event_table)):
                if event_table.side[i] in (side_name, "both"):
                    inside = (times >= event_table.start_s[i]) & (times <= event_table.end_s[i])
                    signal[inside] += -event_table.amplitude[i] if eye else event_table.amplitude[i]
            signal[~face] = np.nan
            values[name] = signal
            units[name] = SIGNAL_UNITS[base_name]
    signals = Signals(times_s=times, face_present=face, values=values, units=units)
    verdict = Verdict(label=label, side=side, confidence=0.8734, coupling_p_value=1.234567e-7,
                      reason="2 one-sided twitches at rest on the patient's left",
                      evidence=("1 left-eye twitch at rest in 6 s", "1 tonic spasm of 1.1 s"))
    if measures is None:
        measures = dict.fromkeys(MEASURE_KEYS, 0.0)
        measures.update(twitches_per_min=20.0, twitches_left=2, twitches_right=1, rest_twitches=2,
                        coupled_twitches=1, blinks=1, blinks_per_min=10.0, brow_raises=1,
                        spasm_time_pct=100 * 1.1 / seconds, longest_spasm_s=1.1, spread_to_mouth=True,
                        jrs_frequency_estimate=float("nan"))
    return Analysis(series=series, signals=signals, events=event_table, verdict=verdict, measures=measures,
                    quality_flags=tuple(quality_flags))
