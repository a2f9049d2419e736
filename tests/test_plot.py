"""The timeline PNG: written at its documented size, robust to missing and empty inputs."""
from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

from spasmscan.plot import plot_timeline, verdict_title
from spasmscan.report import write_reports

from fake_analysis import make_analysis

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
README = Path(__file__).resolve().parents[1] / "README.md"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_the_png_has_the_size_the_readme_states(tmp_path):
    stated = re.search(r"`STEM\.timeline\.png`\s+(\d+) × (\d+) pixels \((\d+) × (\d+) inches at (\d+) dpi\)",
                       README.read_text(encoding="utf-8"))
    assert stated, "the README's section on STEM.timeline.png states no size"
    width, height, inches_wide, inches_high, dpi = map(int, stated.groups())
    path = tmp_path / "t.png"
    plot_timeline(make_analysis(), path)
    assert png_size(path) == (width, height) == (inches_wide * dpi, inches_high * dpi)


def test_write_reports_makes_the_png_at_the_expected_size(tmp_path):
    paths = write_reports(make_analysis(), tmp_path, plot=True)
    png = tmp_path / "patient 01.timeline.png"
    assert png in paths
    assert png_size(png) == (1600, 900)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_plot_has_ink_where_the_signals_are(tmp_path):
    import cv2

    path = tmp_path / "t.png"
    plot_timeline(make_analysis(), path)
    image = cv2.imread(str(path))
    assert image.shape == (900, 1600, 3)
    orange = np.all(np.abs(image.astype(int) - (2, 95, 217)) < 40, axis=2)  # patient's right line (BGR)
    blue = np.all(np.abs(image.astype(int) - (191, 95, 31)) < 40, axis=2)  # patient's left line
    assert orange.sum() > 500 and blue.sum() > 500


@pytest.mark.parametrize("kwargs", [
    dict(events=()),  # nothing detected
    dict(no_face=None),  # face in every frame
    dict(events=[("twitch", "left", "eye", 0.1 * k, 0.1 * k, 0.1, -1) for k in range(55)]),  # many, zero-length
    dict(seconds=0.1),  # three frames
])
def test_unusual_analyses_still_plot(tmp_path, kwargs):
    path = tmp_path / "t.png"
    plot_timeline(make_analysis(**kwargs), path)
    assert png_size(path) == (1600, 900)


def test_missing_and_all_nan_signals_still_plot(tmp_path):
    analysis = make_analysis()
    values = analysis.signals.values
    del values["mouth_corner_vertical_left"]
    values["eye_aperture_right"] = np.full_like(values["eye_aperture_right"], np.nan)
    path = tmp_path / "t.png"
    plot_timeline(analysis, path)
    assert png_size(path) == (1600, 900)


def test_title_states_verdict_side_and_confidence():
    title = verdict_title(make_analysis(label="synkinesis", side="right"), "v.mp4")
    assert title.startswith("v.mp4: synkinesis, patient's RIGHT side (confidence 0.87)")
    assert "one-sided twitches" in title
    assert "patient's" not in verdict_title(make_analysis(label="none", side="none"), "v.mp4").splitlines()[0]
