"""Batch processing: many videos to per-video reports, one ``summary.csv`` and one ``events.csv``.

The per-video task, :func:`process_video`, is a top-level function of one picklable
:class:`VideoTask`, so the same task runs in a local process pool or on a Dask distributed
cluster. Each finished video leaves a small record in ``DIR/.spasmscan-batch/STEM.json``
(written last, atomically): a re-run skips videos whose record matches their content hash and
settings, and the merged CSVs are rebuilt from the records of the current inputs.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import time
from collections import defaultdict, deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from . import __version__
from .cache import file_digest, settings_key
from .errors import TERMINATION_SIGNALS, InputNotFoundError, OutputError, ParameterError, SpasmscanError
from .files import check_writable_folder, remove_own_temporaries, write_text
from .formats import BATCH_FORMATS, chosen_formats
from .landmarks import TrackerSettings
from .runtime import configure_logging, usable_cores
from .report import EVENT_COLUMNS, SUMMARY_COLUMNS, event_rows, summary_row, write_csv, write_reports
from .selection import WHOLE_VIDEO, Selection
from .video import check_video_file, is_video_path

logger = logging.getLogger(__name__)

STATE_DIR = ".spasmscan-batch"  # per-video records, hidden beside the reports
RECORD_FORMAT = 1  # bump when a record's fields change meaning
SUMMARY_NAME = "summary.csv"
EVENTS_NAME = "events.csv"
STATUS_COLUMNS = ("status", "error")  # added to the per-video summary columns, right after "file"
# Failures that come from the video's content: the same content fails the same way, so a re-run
# skips them. Anything else (disk full, a crash, a bug) is tried again.
CONTENT_ERRORS = ("VideoReadError", "NoVideoStreamError", "NoFaceError")
GLOB_CHARACTERS = frozenset("*?[")
STEM_SEPARATOR = "__"  # joins parent folder names to a file's stem when two inputs share a name
CONNECT_TIMEOUT_S = 20  # how long to wait for a Dask scheduler before giving up


# -- inputs --------------------------------------------------------------------------------------
def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """The video paths named by ``inputs``, each once, in the order given.

    An input is a file (taken as it is, whatever its extension), a folder (searched recursively
    for video files, hidden files and folders skipped), a glob pattern (``**`` spans folders;
    matched files are taken as they are, matched folders searched) or ``@list.txt`` (one such
    input a line; blank lines and ``#`` comments skipped; relative paths are relative to the list
    file's folder). A named file that does not exist is kept: it fails on its own row.
    Raises InputNotFoundError when a list file is missing or nothing at all is found.
    """
    found: list[str] = []
    for item in inputs:
        if item.startswith("@") and not os.path.exists(item):
            found.extend(_expand_list_file(item[1:]))
        else:
            found.extend(_expand_one(item))
    unique: list[str] = []
    seen: set[str] = set()
    for path in found:
        identity = os.path.normcase(os.path.realpath(path))
        if identity not in seen:
            seen.add(identity)
            unique.append(path)
    if not any(os.path.isfile(path) for path in unique):
        shown = ", ".join(inputs) if inputs else "(no inputs)"
        raise InputNotFoundError(f"no video files found in {shown}; name video files, folders holding "
                                 "them, glob patterns such as 'clinic/**/*.mp4', or @list.txt")
    return unique


def _expand_one(item: str) -> list[str]:
    if os.path.isdir(item):
        return _videos_in_folder(item)
    if os.path.exists(item) or not GLOB_CHARACTERS.intersection(item):
        return [item]
    paths: list[str] = []
    for match in sorted(glob.glob(item, recursive=True)):
        paths.extend(_videos_in_folder(match) if os.path.isdir(match) else [match])
    if not paths:
        logger.warning("the pattern %s matches no file", item)
    return paths


def _expand_list_file(list_path: str) -> list[str]:
    try:
        with open(list_path, encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise InputNotFoundError(f"@{list_path}: no such list file; check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputNotFoundError(f"@{list_path}: cannot be read as a text list of paths ({error})") from None
    base = os.path.dirname(list_path)
    paths: list[str] = []
    for line in lines:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            paths.extend(_expand_one(os.path.normpath(os.path.join(base, os.path.expanduser(entry)))))
    return paths


def _videos_in_folder(folder: str) -> list[str]:
    """Video files below ``folder``, sorted, hidden files and folders (``.name``) skipped."""
    paths: list[str] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        paths.extend(os.path.join(root, name) for name in sorted(files)
                     if not name.startswith(".") and is_video_path(name))
    return paths


def unique_stems(paths: Sequence[str]) -> list[str]:
    """An output name stem for each of ``paths``, unique regardless of letter case.

    The file name without its extension (with it, as ``p_mov``, when a folder holds ``p.mp4`` and
    ``p.mov``); files sharing a name get as many parent folder names in front
    (``clinicA__patient01``) as it takes to tell them apart; ``-2``, ``-3`` end what still clashes.
    """
    absolute = [Path(os.path.abspath(path)) for path in paths]
    folders = [path.parent.parts[1:] for path in absolute]
    in_folder: dict[tuple, int] = defaultdict(int)
    for path in absolute:
        in_folder[(str(path.parent).lower(), path.stem.lower())] += 1
    bases = [f"{path.stem}_{path.suffix.lstrip('.')}" if in_folder[(str(path.parent).lower(), path.stem.lower())] > 1
             and path.suffix else path.stem for path in absolute]
    depths = [0] * len(paths)

    def name(index: int) -> str:
        return STEM_SEPARATOR.join((*folders[index][len(folders[index]) - depths[index]:], bases[index]))

    while True:
        clashes: dict[str, list[int]] = defaultdict(list)
        for index in range(len(paths)):
            clashes[name(index).lower()].append(index)
        grown = False
        for members in clashes.values():
            for index in members:
                distinguishable = any(folders[other] != folders[index] for other in members)
                if len(members) > 1 and distinguishable and depths[index] < len(folders[index]):
                    depths[index] += 1
                    grown = True
        if not grown:
            break
    stems = [name(index) for index in range(len(paths))]
    seen: dict[str, int] = defaultdict(int)
    for index, stem in enumerate(stems):
        seen[stem.lower()] += 1
        if seen[stem.lower()] > 1:
            stems[index] = f"{stem}-{seen[stem.lower()]}"
    return stems


# -- the per-video task --------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoTask:
    """Everything one worker needs to process one video of a batch (picklable)."""

    path: str  # absolute path: what the worker opens
    file: str  # the path as the user named it: the ``file`` column
    stem: str  # output name stem, unique within the batch
    out_dir: str  # absolute folder of the reports and records
    settings: TrackerSettings = TrackerSettings()
    selection: Selection = WHOLE_VIDEO
    formats: tuple[str, ...] = ()  # the BATCH_FORMATS also written; "html" brings the annotated video it plays
    cache_dir: str | None = None  # landmark cache folder; None: the worker's default
    use_cache: bool = True
    force: bool = False  # redo even when a matching record exists
    tracking_workers: int = 1  # trackers at once on parts of the video (cores per job)

    def settings_key(self) -> str:
        """Everything besides the video's content that changes the outputs."""
        chosen = "".join(f"|{name}{int(name in self.formats)}" for name in BATCH_FORMATS)
        return f"{settings_key(self.settings, self.selection)}{chosen}|v{__version__}"


@dataclass(frozen=True)
class VideoResult:
    """The outcome of one video: its summary row (with status and error) and its event rows."""

    file: str
    stem: str
    status: str  # "ok" or "error"
    error: str = ""  # why it failed, for a person to read
    error_kind: str = ""  # the exception's class name
    row: dict = field(default_factory=dict)
    events: tuple = ()
    reused: bool = False  # taken from an earlier run's record
    seconds: float = 0.0  # processing time (0 when reused)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def summary_columns() -> tuple[str, ...]:
    """Columns of the batch summary.csv: the per-video summary columns plus status and error."""
    columns = [name for name in SUMMARY_COLUMNS if name not in STATUS_COLUMNS]
    at = columns.index("file") + 1 if "file" in columns else 0
    return (*columns[:at], *STATUS_COLUMNS, *columns[at:])


def events_columns() -> tuple[str, ...]:
    """Columns of the batch events.csv: the per-video event columns, ``file`` first."""
    return ("file", *(name for name in EVENT_COLUMNS if name != "file"))


def failure(task: VideoTask, message: str, kind: str = "", seconds: float = 0.0) -> VideoResult:
    """The result of a video that could not be processed."""
    row = {name: "" for name in summary_columns()}
    row.update(file=task.file, status="error", error=message)
    if "spasmscan_version" in row:
        row["spasmscan_version"] = __version__
    return VideoResult(file=task.file, stem=task.stem, status="error", error=message, error_kind=kind,
                       row=row, seconds=seconds)


def process_video(task: VideoTask) -> VideoResult:
    """Analyse one video and write its reports and record; problems of the video become an error result.

    Skips the work (returning the earlier result) when a record for the same content and
    settings exists and ``task.force`` is false. Lets KeyboardInterrupt through.
    """
    from .pipeline import analyze_video  # the analysis stack: needed in workers, not in the parent

    started = time.monotonic()
    record_path = Path(task.out_dir) / STATE_DIR / f"{task.stem}.json"
    try:
        check_video_file(task.path)  # a pipe or a device would block the digest
        digest = file_digest(task.path)
        key = _result_key(digest, task.settings_key())
    except SpasmscanError as error:
        return failure(task, _without_path(str(error), task.path), type(error).__name__)
    except OSError as error:
        return failure(task, _os_error_message(error), type(error).__name__)
    if not task.force:
        previous = _load_record(record_path, key, task)
        if previous is not None:
            logger.info("%s: done before with the same settings; reusing it", task.file)
            return previous
    earlier_reports = _recorded_reports(record_path)
    reports: list[str] = []
    try:
        analysis = analyze_video(task.path, settings=task.settings, selection=task.selection, cache_dir=task.cache_dir,
                                 use_cache=task.use_cache, workers=task.tracking_workers, content_digest=digest)
        html = "html" in task.formats  # the review page plays the annotated video
        written = write_reports(analysis, task.out_dir, stem=task.stem, annotate_video=task.path if html else None,
                                force=True, file=task.file, **{name: True for name in task.formats})
        reports = [os.path.relpath(path, task.out_dir) for path in written]
        row = {name: "" for name in summary_columns()}
        row.update(summary_row(analysis, file=task.file), status="ok", error="")
        result = VideoResult(file=task.file, stem=task.stem, status="ok", row=_plain(row),
                             events=tuple(_plain(event) for event in event_rows(analysis, file=task.file)),
                             seconds=time.monotonic() - started)
    except SpasmscanError as error:
        result = failure(task, _without_path(str(error), task.path), type(error).__name__,
                         time.monotonic() - started)
    except Exception as error:  # a bug or a library failure on this video: the batch goes on
        logger.error("%s: unexpected failure", task.file, exc_info=True)
        result = failure(task, f"internal error: {type(error).__name__}: {error} (please report it)",
                         type(error).__name__, time.monotonic() - started)
    try:
        _write_record(record_path, key, result, reports)
    except (OSError, OutputError) as error:
        logger.warning("%s: could not write the record %s (%s); a re-run will redo this video",
                       task.file, record_path, error)
    for name in set(earlier_reports) - set(reports):  # reports of an earlier run no longer true
        (Path(task.out_dir) / name).unlink(missing_ok=True)
    return result


def _result_key(content_digest: str, settings_key: str) -> str:
    return hashlib.sha256(f"{RECORD_FORMAT}|{content_digest}|{settings_key}".encode()).hexdigest()


def _os_error_message(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file; check the path"
    if isinstance(error, IsADirectoryError):
        return "is a folder, not a video file"
    if isinstance(error, PermissionError):
        return "cannot be read: permission denied"
    return f"cannot be read ({error.strerror or error})"


def _without_path(message: str, path: str) -> str:
    """The error message without a leading ``PATH: ``; the file column already names it."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _plain(row: dict) -> dict:
    """``row`` with numpy scalars turned into Python numbers (records are JSON)."""
    return {name: value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
            for name, value in row.items()}


def _load_record(path: Path, key: str, task: VideoTask) -> VideoResult | None:
    """The earlier result for ``task`` when its record matches ``key`` and its reports are all there."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != RECORD_FORMAT or record.get("key") != key:
            return None
        if record["status"] == "error" and record["error_kind"] not in CONTENT_ERRORS:
            return None
        if not all((Path(task.out_dir) / name).is_file() for name in record["reports"]):
            return None
        row = dict(record["row"], file=task.file)
        events = tuple(dict(event, file=task.file) for event in record["events"])
        return VideoResult(file=task.file, stem=task.stem, status=record["status"], error=record["error"],
                           error_kind=record["error_kind"], row=row, events=events, reused=True)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.warning("%s: record %s is unusable (%s); processing the video again", task.file, path, error)
        return None


def _recorded_reports(path: Path) -> list[str]:
    """The report file names an earlier record lists (plain names in the output folder only)."""
    try:
        names = json.loads(path.read_text(encoding="utf-8"))["reports"]
        return [name for name in names if isinstance(name, str) and name and Path(name).name == name]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _write_record(path: Path, key: str, result: VideoResult, reports: list[str]) -> None:
    """Write the record of ``result`` atomically: it is what marks the video as done."""
    record = {"format": RECORD_FORMAT, "key": key, "status": result.status, "error": result.error,
              "error_kind": result.error_kind, "reports": reports, "row": result.row,
              "events": list(result.events)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(record, indent=1), force=True)


# -- execution engines ---------------------------------------------------------------------------
OnDone = Callable[[int, object, BaseException | None], None]  # (item index, result, error)


class WorkerCrashed(Exception):
    """A worker process died (a crash in native code) while it processed this item alone."""


_task_running = False  # in a pool worker: whether a task is running (Ctrl-C interrupts only tasks)


def _init_worker(log_level: int) -> None:
    """Pool worker set-up: the parent's log level; Ctrl-C interrupts a running task, never the idle worker."""
    global _task_running
    configure_logging(log_level)  # at debug level (spasmscan -vv) workers keep the native messages
    _task_running = False
    for number in (signal.SIGINT, *TERMINATION_SIGNALS):
        signal.signal(number, _interrupt_task)


def _interrupt_task(signum, frame) -> None:
    """Ctrl-C, SIGTERM or SIGHUP in a worker: interrupt the running task (its files are cleaned up);
    an idle worker ignores Ctrl-C and ends on the others."""
    global _task_running
    if _task_running:  # once per task: a second signal must not break the clean-up of the first
        _task_running = False
        raise KeyboardInterrupt
    if signum != signal.SIGINT:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _run_in_worker(function: Callable, item):
    global _task_running
    _task_running = True
    try:
        return function(item)
    except KeyboardInterrupt:
        remove_own_temporaries()
        raise
    finally:
        _task_running = False


def run_pool(function: Callable, items: Sequence, *, jobs: int, on_done: OnDone,
             log_level: int = logging.WARNING) -> None:
    """Call ``function(item)`` for every item in ``jobs`` spawned processes; ``on_done`` gets each outcome.

    At most ``jobs`` items are in flight. When a worker process dies, the items it may have held
    are run again one at a time in a fresh process, so only the item that kills a process alone
    is reported as :class:`WorkerCrashed`. On KeyboardInterrupt (Ctrl-C reaches the workers too,
    as they share the terminal's process group) nothing new starts, running items are
    interrupted, finished ones have been reported; then KeyboardInterrupt is raised again.
    """
    if jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, got {jobs}")
    queue = deque(range(len(items)))
    suspects: deque = deque()
    while queue or suspects:
        alone = bool(suspects)
        crashed = _pool_pass(function, items, suspects if alone else queue, 1 if alone else jobs, on_done,
                             log_level)
        if alone:
            for index in crashed:
                on_done(index, None, WorkerCrashed("the analysis process crashed on this video (a fault in "
                                                   "native code); check that the file plays in a video player"))
        else:
            suspects.extend(crashed)


def _pool_pass(function, items, queue: deque, jobs: int, on_done: OnDone, log_level: int) -> list[int]:
    """Run items from ``queue`` in one pool until it is empty or a worker dies; the items lost with it."""
    context = multiprocessing.get_context("spawn")  # MediaPipe's threads do not survive fork
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(queue)), mp_context=context,
                               initializer=_init_worker, initargs=(log_level,))
    in_flight: dict = {}
    lost: list[int] = []
    broken = False
    try:
        while (queue and not broken) or in_flight:
            while queue and not broken and len(in_flight) < jobs:
                index = queue.popleft()
                try:
                    in_flight[pool.submit(_run_in_worker, function, items[index])] = index
                except BrokenProcessPool:
                    queue.appendleft(index)
                    broken = True
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                index = in_flight.pop(future)
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    lost.append(index)
                    broken = True
                elif isinstance(error, KeyboardInterrupt):  # Ctrl-C reached the worker before this process
                    raise KeyboardInterrupt
                else:
                    on_done(index, None if error else future.result(), error)
        return lost
    except KeyboardInterrupt:
        for future in in_flight:
            future.cancel()
        _interrupt_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        for future, index in in_flight.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                on_done(index, future.result(), None)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _interrupt_workers(pool: ProcessPoolExecutor) -> None:
    """Pass an interruption on to the pool's workers: Ctrl-C reaches them through the terminal's
    process group, but SIGTERM and SIGHUP reach this process only."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.kill(process.pid, signal.SIGINT)


def run_dask(function: Callable, items: Sequence, *, scheduler: str, on_done: OnDone) -> None:
    """Call ``function(item)`` for every item on the Dask cluster at ``scheduler``; ``on_done`` gets each outcome.

    The workers must see the same file system (items carry absolute paths). Dask itself retries
    an item whose worker died, and reports it as failed after a few deaths. On KeyboardInterrupt
    the items not yet finished are cancelled and KeyboardInterrupt is raised again.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ParameterError("--scheduler needs Dask distributed, which is not installed: "
                             "pip install 'spasmscan[distributed]'") from None
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except Exception as error:  # whatever the reason, the cluster cannot be used
        raise ParameterError(f"cannot reach the Dask scheduler at {scheduler} ({type(error).__name__}: "
                             f"{error}); check the address and that the scheduler is running") from None
    try:
        futures = client.map(function, list(items), pure=False)
        index_of = {future.key: index for index, future in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=client.loop):
                error = future.exception()
                on_done(index_of[future.key], None if error else future.result(), error)
        except KeyboardInterrupt:
            client.cancel(futures)
            raise
    finally:
        client.close()


# -- the batch -----------------------------------------------------------------------------------
Progress = Callable[[int, int, int], None]  # (videos finished, of which failed, videos in all)


@dataclass(frozen=True)
class BatchResult:
    """What a batch produced: one result per input video, in input order, and the merged CSVs."""

    results: tuple[VideoResult, ...]
    summary_path: Path
    events_path: Path

    @property
    def failed(self) -> int:
        return sum(not result.ok for result in self.results)

    @property
    def reused(self) -> int:
        return sum(result.reused for result in self.results)


def run_batch(inputs: Sequence[str], out_dir: str | os.PathLike, *, settings: TrackerSettings = TrackerSettings(),
              selection: Selection = WHOLE_VIDEO, jobs: int | None = None, scheduler: str | None = None, force: bool = False,
              cache_dir: str | os.PathLike | None = None, use_cache: bool = True, progress: Progress | None = None,
              **chosen: bool) -> BatchResult:
    """Process every video named by ``inputs`` (see :func:`expand_inputs`) into ``out_dir``.

    ``settings``, ``selection``: the tracker's settings and the part of every video analysed.
    Per-video reports go to ``out_dir/STEM.*``; ``summary.csv`` gets one row per video (status
    ``ok`` or ``error`` with the reason), ``events.csv`` every event with its ``file``. Videos done
    before with the same content and settings are reused unless ``force``. ``jobs`` local
    processes (default: the number of cores), or the Dask cluster at ``scheduler``. On
    KeyboardInterrupt the CSVs are written for the videos finished so far, then it is raised again.
    ``chosen``: the BATCH_FORMATS (``json``, ``plot``, ``html``) each video also gets; with
    ``html`` its review page and annotated video, and ``out_dir/index.html`` lists them all.
    """
    formats = chosen_formats(chosen, offered=BATCH_FORMATS, caller="run_batch")
    html = "html" in formats
    if jobs is not None and jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, got {jobs}")
    if jobs is not None and scheduler:
        logger.warning("--jobs has no effect with --scheduler: the cluster's workers set the parallelism")
    files = expand_inputs(inputs)
    out = Path(out_dir).absolute()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{out_dir}: cannot create the output folder ({error.strerror or error}); "
                          "choose a writable place with --out") from None
    check_writable_folder(out)
    jobs = jobs or usable_cores()
    # Local jobs share this machine's cores; a cluster's workers each track one video in one pass.
    tracking_workers = 1 if scheduler else max(1, usable_cores() // jobs)
    tasks = [VideoTask(path=os.path.abspath(path), file=path, stem=stem, out_dir=str(out), settings=settings,
                       selection=selection, formats=formats, cache_dir=None if cache_dir is None else os.path.abspath(cache_dir),
                       use_cache=use_cache, force=force, tracking_workers=tracking_workers)
             for path, stem in zip(files, unique_stems(files))]
    results: list[VideoResult | None] = [None] * len(tasks)
    tally = {"finished": 0, "failed": 0}

    def on_done(index: int, result, error: BaseException | None) -> None:
        if error is not None or not isinstance(result, VideoResult):
            message = str(error) if isinstance(error, WorkerCrashed) else f"{type(error).__name__}: {error}"
            result = failure(tasks[index], message, type(error).__name__)
        results[index] = result
        tally["finished"] += 1
        tally["failed"] += not result.ok
        logger.info("%s: %s%s", result.file, result.status, f" ({result.error})" if result.error else "")
        if progress is not None:
            progress(tally["finished"], tally["failed"], len(tasks))

    logger.info("%d videos to %s", len(tasks), out)
    if progress is not None:
        progress(0, 0, len(tasks))
    try:
        if scheduler:
            run_dask(process_video, tasks, scheduler=scheduler, on_done=on_done)
        else:
            run_pool(process_video, tasks, jobs=jobs, on_done=on_done,
                     log_level=logging.getLogger("spasmscan").getEffectiveLevel())
    except KeyboardInterrupt:
        finished = [result for result in results if result is not None]
        _write_merged(out, finished, html=html, files=files)
        logger.warning("interrupted: %s lists the %d of %d videos finished; run the same command again "
                       "to do the rest", out / SUMMARY_NAME, len(finished), len(tasks))
        raise
    _write_merged(out, results, html=html, files=files)
    return BatchResult(results=tuple(results), summary_path=out / SUMMARY_NAME, events_path=out / EVENTS_NAME)


def _write_merged(out: Path, results: Sequence[VideoResult], *, html: bool, files: Sequence[str]) -> None:
    """Write ``summary.csv`` and ``events.csv`` (atomically) from per-video results, and with
    ``html`` the index page (which shows none of the input ``files``' folders)."""
    write_csv(out / SUMMARY_NAME, [result.row for result in results], summary_columns(), force=True)
    write_csv(out / EVENTS_NAME, [event for result in results for event in result.events], events_columns(),
              force=True)
    if html:
        from .review_page import write_index

        write_index(out, results, hidden_paths=[os.path.abspath(path) for path in files])
