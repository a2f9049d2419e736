"""spasmscan: detect and classify one-sided facial spasm in face videos.

Data flows one way, one module per stage::

    video -> landmarks -> signals -> events -> classify -> report

``video`` and ``landmarks`` touch pixels (OpenCV, MediaPipe); ``signals``, ``events``
and ``classify`` work on plain arrays.

The public API is listed in ``__all__``::

    import spasmscan
    analysis = spasmscan.analyze("patient01.mp4")
    print(analysis.verdict.label, analysis.verdict.side)
    summary, events, signals = analysis.to_dataframes()   # needs spasmscan[pandas]

Names are imported on first use, so ``import spasmscan`` loads neither OpenCV nor MediaPipe.
"""
import importlib
import logging
import os

# Keep the native libraries quiet on stderr unless the user asks otherwise (spasmscan -vv).
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_PUBLIC = {  # name -> the module that defines it
    "analyze": "api", "analyze_landmarks": "api", "track": "api", "Tables": "api",
    "Analysis": "analysis", "summary_text": "summary",
    "LandmarkSeries": "landmarks", "TrackerSettings": "landmarks", "AnalysisSettings": "settings",
    "Verdict": "classify", "Events": "events", "Signals": "signals",
    "Segment": "protocol", "load_protocol": "protocol",
    "write_reports": "report",
    "SpasmscanError": "errors", "ParameterError": "errors", "InputNotFoundError": "errors",
    "VideoReadError": "errors", "NoVideoStreamError": "errors", "NoFaceError": "errors",
    "OutputError": "errors", "CameraError": "errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    """Import a public name from its module on first use (PEP 562)."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'spasmscan' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
