"""The report formats: every file a recording's reports can hold, one table for the writers,
the output paths and the command-line options.

Kept free of numpy and the analysis so that the command line can build its options from it
without importing them; each writer lives in :mod:`spasmscan.report` and is looked up by name.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class ReportFormat:
    """One kind of report file, ``STEM + suffix``: its writer and the command-line option asking for it.

    ``help`` and ``batch_help`` are the option's help for one recording's reports (analyze, live)
    and for each video of a batch, ``{file}`` standing for ``STEM + suffix``.
    """

    name: str  # the keyword asking for it: report_paths, write_reports, run_batch, the batch resume key
    suffix: str  # the file name after the stem
    writer: str  # the function of spasmscan.report, (temporary_path, ReportJob), that fills the file
    flag: str | None = None  # the command-line option; None: always written
    help: str = ""
    batch_help: str | None = None  # None: batch does not offer it
    needs: str | None = None  # an Analysis attribute: written (without a flag) exactly when it is not None

    @property
    def always(self) -> bool:
        return self.flag is None and self.needs is None

    @property
    def file(self) -> str:
        return f"STEM{self.suffix}"

    def write(self, target: Path, job) -> None:
        """Fill ``target`` (a temporary path) with this report of ``job`` (a report.ReportJob)."""
        getattr(importlib.import_module(".report", __package__), self.writer)(target, job)


REPORT_FORMATS = {fmt.name: fmt for fmt in (  # in writing order
    ReportFormat("summary", ".summary.csv", "_write_summary"),
    ReportFormat("events", ".events.csv", "_write_events"),
    ReportFormat("signals", ".signals.csv", "_write_signals"),
    ReportFormat("exam", ".exam.csv", "_write_exam", needs="exam"),
    ReportFormat("exam_plot", ".exam.png", "_write_exam_plot", needs="exam"),
    ReportFormat("json", ".json", "_write_json", "--json", "Also write {file} (needs --out).",
                 "Also write {file} for each video."),
    ReportFormat("plot", ".timeline.png", "_write_plot", "--plot", "Also write the timeline {file} (needs --out).",
                 "Also write {file} for each video."),
    ReportFormat("annotate", ".annotated.mp4", "_write_annotated", "--annotate",
                 "Also write the annotated video {file} (needs --out)."),
    ReportFormat("html", ".html", "_write_page", "--html",
                 "Also write the review page {file} playing the annotated video, which it implies for a video "
                 "file (needs --out; docs/review.md).",
                 "Also write each video's review page and annotated video, and OUT/index.html listing them "
                 "(docs/review.md)."),
)}
BATCH_FORMATS = tuple(name for name, fmt in REPORT_FORMATS.items() if fmt.batch_help is not None)


def chosen_formats(chosen: dict, *, offered: Iterable[str], caller: str) -> tuple[str, ...]:
    """The names of ``offered`` formats that ``chosen`` (name -> bool) asks for, in writing order;
    TypeError for a name not offered (as for any unknown keyword argument of ``caller``)."""
    offered = tuple(offered)
    for name in chosen:
        if name not in offered:
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}")
    return tuple(name for name in offered if chosen.get(name))
