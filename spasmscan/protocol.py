"""The guided examination: a protocol's steps (rest, prompted blinks, brow raises, smiles; or the
palsy examination's expressions) in seconds of a recording, read from a packaged protocol or a JSON
file and saved beside a recording."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import ParameterError

PACKAGED_PROTOCOLS = ("standard", "palsy")  # spasmscan/data/protocol_NAME.json


@dataclass(frozen=True)
class Segment:
    """A part of the examination: ``name`` is "rest" or a prompted action; times in seconds."""

    name: str
    start_s: float
    end_s: float
    prompt: str = ""


def load_protocol(name_or_path: str, *, start_s: float = 0.0) -> tuple[Segment, ...]:
    """Segments of a protocol, in seconds of the recording.

    ``name_or_path`` is a packaged protocol name (PACKAGED_PROTOCOLS: "standard", "palsy") or a JSON file with either
    ``{"steps": [{"segment", "duration_s", "prompt"}, ...]}`` (durations, one after another,
    placed from ``start_s`` on) or ``{"segments": [{"name", "start_s", "end_s"}, ...]}``
    (times in the recording, as ``live --record`` saves them; ``start_s`` does not move them).
    """
    if os.path.exists(name_or_path):
        text = Path(name_or_path).read_text(encoding="utf-8")
    else:
        try:
            text = resources.files("spasmscan").joinpath(f"data/protocol_{name_or_path}.json").read_text("utf-8")
        except (FileNotFoundError, OSError):
            raise ParameterError(f"protocol {name_or_path!r}: no such file or packaged protocol "
                                 f"(packaged: {', '.join(repr(p) for p in PACKAGED_PROTOCOLS)})") from None
    try:
        document = json.loads(text)
        if "segments" in document:
            segments = tuple(Segment(str(s["name"]), float(s["start_s"]), float(s["end_s"]),
                                     str(s.get("prompt", ""))) for s in document["segments"])
        else:
            segments, clock = [], start_s
            for step in document["steps"]:
                duration = float(step["duration_s"])
                segments.append(Segment(str(step["segment"]), clock, clock + duration, str(step.get("prompt", ""))))
                clock += duration
            segments = tuple(segments)
    except (ValueError, KeyError, TypeError) as error:
        raise ParameterError(f"protocol {name_or_path}: not a protocol file ({error}); see "
                             "spasmscan/data/protocol_standard.json for the format") from None
    if not segments or any(not (math.isfinite(s.start_s) and s.end_s > s.start_s) for s in segments):
        raise ParameterError(f"protocol {name_or_path}: segments need positive durations")
    return segments


def segments_document(segments: tuple[Segment, ...]) -> dict:
    """The JSON form ``load_protocol`` reads back (absolute times)."""
    return {"segments": [{"name": s.name, "start_s": round(s.start_s, 4), "end_s": round(s.end_s, 4),
                          "prompt": s.prompt} for s in segments]}


def segment_at(segments: tuple[Segment, ...], time_s: float) -> Segment | None:
    """The step under way at ``time_s`` (seconds), None outside every step."""
    for segment in segments:
        if segment.start_s <= time_s < segment.end_s:
            return segment
    return None
