"""spasmscan: detect and classify one-sided facial spasm in face videos.

Data flows one way, one module per stage::

    video -> landmarks -> signals -> events -> classify -> report

``video`` and ``landmarks`` touch pixels (OpenCV, MediaPipe); ``signals``, ``events``
and ``classify`` work on plain arrays.
"""
import logging
import os

# Keep the native libraries quiet on stderr unless the user asks otherwise (spasmscan -vv).
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
