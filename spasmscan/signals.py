"""Per-frame, per-side face signals from a landmark series, in a head-normalised frame.

Pure arrays: no OpenCV, no MediaPipe.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Signal names, each with a "_left" and "_right" column (the patient's sides).
SIGNAL_BASES = ("eye_aperture", "brow_height", "mouth_corner_lateral", "mouth_corner_vertical", "cheek_height")


@dataclass(frozen=True)
class Signals:
    """Aligned per-frame signals.

    times_s: (n,) float64 seconds. face_present: (n,) bool, the face was tracked (short gaps
    bridged). values: name -> (n,) float64, NaN in long tracking gaps. Names are
    ``f"{base}_{side}"`` for base in SIGNAL_BASES and side in ("left", "right"); units are
    stated in ``units`` (name -> text).
    """

    times_s: np.ndarray
    face_present: np.ndarray
    values: dict
    units: dict

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    @property
    def names(self) -> list[str]:
        return list(self.values)


def compute_signals(points: np.ndarray, times_s: np.ndarray, **options) -> Signals:
    """Signals from (n, 478, 2) pixel landmarks and (n,) times in seconds."""
    raise NotImplementedError  # filled in by the signals work (issue 4)
