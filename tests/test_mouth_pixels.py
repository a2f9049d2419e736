"""The mouth corners' optical flow on images whose pixels move by known steps."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from spasmscan import regions
from spasmscan.landmarks import TrackerSettings
from spasmscan.mouth_pixels import CornerFlow
from spasmscan.signals import compute_signals
from tests.test_signals import pulse, synthetic_series, template_face


def textured(seed: int = 0) -> np.ndarray:
    """(480, 640) uint8 smooth random texture: something for the flow to follow."""
    noise = np.random.default_rng(seed).uniform(0, 255, (480, 640)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3.0 - 255.0, 0, 255).astype(np.uint8)


def shifted_around(image: np.ndarray, centre, step) -> np.ndarray:
    """``image`` with a 40 px box around ``centre`` moved by ``step`` (dx, dy) pixels."""
    out = image.copy()
    shift = np.float32([[1, 0, step[0]], [0, 1, step[1]]])
    moved = cv2.warpAffine(image, shift, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR)
    x, y = int(centre[0]), int(centre[1])
    out[y - 20:y + 20, x - 20:x + 20] = moved[y - 20:y + 20, x - 20:x + 20]
    return out


def test_a_corner_whose_pixels_move_reads_their_step_and_the_other_none():
    face = template_face().astype(np.float32)
    first = textured()
    second = shifted_around(first, face[regions.MOUTH_CORNER["left"]], (1.0, -2.0))
    flow = CornerFlow()
    assert np.isnan(flow.step(first, face)).all()  # no frame before the first
    step = flow.step(second, face)
    assert step[0] == pytest.approx([1.0, -2.0], abs=0.25)  # the patient's left corner
    assert step[1] == pytest.approx([0.0, 0.0], abs=0.25)


def test_head_translation_cancels_against_the_nose():
    face = template_face().astype(np.float32)
    first = textured(1)
    whole = cv2.warpAffine(first, np.float32([[1, 0, 3.0], [0, 1, 1.0]]), (640, 480))
    flow = CornerFlow()
    flow.step(cv2.cvtColor(first, cv2.COLOR_GRAY2BGR), face)
    step = flow.step(cv2.cvtColor(whole, cv2.COLOR_GRAY2BGR), face)
    assert np.abs(step).max() < 0.3


def test_a_frame_without_the_face_breaks_the_chain():
    face = template_face().astype(np.float32)
    image = textured(2)
    flow = CornerFlow()
    flow.step(image, face)
    assert np.isnan(flow.step(image, None)).all()
    assert np.isnan(flow.step(image, face)).all()
    assert np.abs(flow.step(image, face)).max() < 0.05


def test_the_flow_is_tracked_only_when_asked_and_keyed_apart():
    assert TrackerSettings(mouth_flow=True).key() != TrackerSettings().key()


def test_a_series_tracked_without_the_flow_reads_as_the_landmarks():
    points, times = synthetic_series(8.0, mouth={"left": pulse(3.0, 0.5, 0.05)})
    unknown = np.full((times.size, 2, 2), np.nan, np.float32)  # what the cache holds for a series without it
    with_nan = compute_signals(points, times, mouth_flow=unknown)
    landmarks_only = compute_signals(points, times)
    for side in regions.SIDES:
        np.testing.assert_allclose(with_nan[f"mouth_corner_vertical_{side}"], landmarks_only[f"mouth_corner_vertical_{side}"])
