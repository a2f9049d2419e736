"""Events in the signals: blinks, brow raises, smiles, one-sided twitches and tonic spasms.

Pure arrays: no OpenCV, no MediaPipe. Events come as aligned arrays, like the properties
scipy.signal.find_peaks returns.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOLUNTARY_KINDS = ("blink", "brow_raise", "smile")
INVOLUNTARY_KINDS = ("twitch", "tonic_spasm")
EVENT_KINDS = VOLUNTARY_KINDS + INVOLUNTARY_KINDS


@dataclass(frozen=True)
class Events:
    """k detected events as aligned (k,) arrays.

    kind: one of EVENT_KINDS. side: "left", "right" or "both" (patient's side). region: "eye",
    "mouth", "brow" or "eye+mouth". start_s, end_s: seconds. amplitude: peak size in the
    signal's relative units. coupled_to: index (into these same arrays) of the voluntary event
    a one-sided event is time-locked to, -1 when none.
    """

    kind: np.ndarray
    side: np.ndarray
    region: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    amplitude: np.ndarray
    coupled_to: np.ndarray

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @property
    def duration_s(self) -> np.ndarray:
        return self.end_s - self.start_s

    @classmethod
    def empty(cls) -> "Events":
        text = np.array([], dtype="<U16")
        number = np.array([], dtype=np.float64)
        return cls(kind=text, side=text, region=text, start_s=number, end_s=number, amplitude=number,
                   coupled_to=np.array([], dtype=np.int64))

    def describe(self, index: int) -> str:
        """A short label for event ``index``, e.g. ``"blink@12.30s"``."""
        return f"{self.kind[index]}@{self.start_s[index]:.2f}s"


def detect_events(signals, **options) -> Events:
    """All events in ``signals`` (a :class:`spasmscan.signals.Signals`)."""
    raise NotImplementedError  # filled in by the events work (issue 4)
