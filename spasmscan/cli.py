"""Command line: parses options, calls the library, writes files. No analysis happens here."""
from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import sys
import threading

import click

from . import __version__
from .errors import TERMINATION_SIGNALS, ParameterError, SpasmscanError
from .formats import BATCH_FORMATS, REPORT_FORMATS

EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130
EXIT_BATCH_FAILED = 8  # some videos of a batch failed; their rows in summary.csv say why
SIMULATED_LABELS = ("none", "primary_hfs", "synkinesis", "blepharospasm", "bilateral_hfs")  # simulate.LABELS, named
# here because the command line starts without loading numpy
EXAM_LABELS = ("palsy", "palsy_synkinesis")  # simulate.PALSY_LABELS: examinations following a protocol's steps
LIVE_STEM = "live"  # the report name of a camera's or stream's session (a file's is named after it)

PARAMETER_FLAGS = {  # library messages name parameters; the one-line error names the options instead
    "force=True": "--force", "out_dir": "--out", "frame_step": "--frame-step", "start_s": "--start", "end_s": "--end",
}
_PARAMETER = re.compile(r"(?<!['\"\w])(" + "|".join(map(re.escape, PARAMETER_FLAGS)) + r")(?!['\"\w])")


def cli_message(error: Exception) -> str:
    """``error``'s message with the library's parameter names replaced by the command's options
    (quoted names, such as the keys of a protocol file, stay as they are)."""
    return _PARAMETER.sub(lambda match: PARAMETER_FLAGS[match.group(1)], str(error))


EPILOG = """\b
Examples:
  spasmscan analyze clinic/patient01.mp4
  spasmscan analyze selfie.mov --mirrored --start 10 --end 70
  spasmscan simulate out.mp4 --label primary_hfs --side left --duration 30
  spasmscan evaluate samples/
  spasmscan live --camera 0 --protocol standard --out visit/
  spasmscan batch clinic/recordings --out clinic/results --jobs 2
  spasmscan analyze clinic/patient01.mp4 --out reports --html
  spasmscan review-score reports/*.review.csv
  spasmscan followup visits.csv --out followup/
  spasmscan compare before.mp4 after.mp4

\b
Exit codes: 0 done, 1 internal error, 2 bad option, 3 file not found,
4 unreadable video, 5 no video stream, 6 no face found, 7 cannot write output,
8 some videos of a batch or follow-up failed, 9 camera missing or busy,
130 interrupted.
"""


class _Cli(click.Group):
    """A group that turns spasmscan's errors into one line on stderr and their exit code."""

    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug"))
        try:
            with _interrupted_by_termination():
                return super().invoke(ctx)
        except click.UsageError as error:  # an option click itself refused: one line too
            if debug:
                raise
            command = " ".join(filter(None, ("spasmscan", ctx.invoked_subcommand, "--help")))
            click.echo(f"spasmscan: error: {error.format_message()} (see '{command}')", err=True)
            ctx.exit(error.exit_code)
        except SpasmscanError as error:
            if debug:
                raise
            click.echo(f"spasmscan: error: {cli_message(error)}", err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            from .files import remove_own_temporaries
            remove_own_temporaries()
            if debug:
                raise
            click.echo("spasmscan: interrupted; finished results are kept, nothing half-written", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except Exception as error:  # a bug: say so in one line unless --debug asks for the traceback
            if debug:
                raise
            click.echo(f"spasmscan: internal error: {type(error).__name__}: {error} "
                       "(run again with --debug for the traceback and report it)", err=True)
            ctx.exit(EXIT_INTERNAL)


@contextlib.contextmanager
def _interrupted_by_termination():
    """While the block runs, TERMINATION_SIGNALS end it as Ctrl-C does (KeyboardInterrupt), so
    nothing is left half-written."""
    def interrupt(signum, frame):
        signal.signal(signum, signal.SIG_IGN)  # a second one must not break the clean-up of the first
        raise KeyboardInterrupt

    before = {}
    if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
        for number in TERMINATION_SIGNALS:
            if signal.getsignal(number) == signal.SIG_DFL:
                before[number] = signal.signal(number, interrupt)
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


@click.group(cls=_Cli, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spasmscan")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, debug: bool) -> None:
    """Detect one-sided facial spasm in face videos: primary hemifacial spasm or synkinesis."""
    from .runtime import configure_logging

    level = logging.WARNING - 10 * min(verbose, 2)
    # batch and followup track in worker processes, which silence their own native messages
    configure_logging(level, native_messages=True if ctx.invoked_subcommand in ("batch", "followup") else None)


def progress_bar(label: str):
    """A progress callback ``(done_s, total_s)`` drawing a bar on stderr, and a function to close it."""
    state: dict = {}

    def update(done_s: float, total_s: float) -> None:
        if not _stderr_is_terminal():  # a bar is for people watching; logs and pipes get none
            return
        if "bar" not in state:
            length = int(total_s * 1000) if math.isfinite(total_s) and total_s > 0 else None
            state["bar"] = click.progressbar(length=length, label=label, file=sys.stderr,
                                             show_eta=length is not None, item_show_func=None)
            state["bar"].__enter__()
            state["done"] = 0
        done_ms = int(max(done_s, 0.0) * 1000)
        bar = state["bar"]
        if bar.length is not None:
            done_ms = min(done_ms, bar.length)
        bar.update(done_ms - state["done"])
        state["done"] = done_ms

    def close() -> None:
        if "bar" in state:
            state.pop("bar").__exit__(None, None, None)

    return update, close


def videos_progress():
    """A progress callback ``(finished, failed, total)`` counting videos on stderr, and a function to close it."""
    state: dict = {}

    def update(finished: int, failed: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label="videos", file=sys.stderr, show_eta=True,
                                             show_pos=True, item_show_func=lambda text: text)
            state["bar"].__enter__()
            state["finished"] = 0
        state["bar"].update(finished - state["finished"], f"{finished} done, {failed} failed")
        state["finished"] = finished

    def close() -> None:
        if "bar" in state:
            state.pop("bar").__exit__(None, None, None)

    return update, close


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


FRAME_STEP_OPTION = click.option(
    "--frame-step", type=click.IntRange(min=1), default=1, show_default=True,
    help="Track every Nth frame only: about N times faster, but twitches shorter than N frames can be missed "
         "(docs/accuracy.md gives the accuracy cost).")


JOBS_OPTION = click.option("--jobs", type=click.IntRange(min=1), default=None,
                           help="Videos processed in parallel (default: the number of cores).")
SCHEDULER_OPTION = click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                                help="Run on this Dask cluster instead; its workers must see the same files "
                                     "(needs: pip install 'spasmscan[distributed]').")
REDO_OPTION = click.option("--force", is_flag=True, help="Redo videos already done with the same settings.")


def tracker_options(func):
    """Options shared by every command that tracks a video."""
    options = [
        click.option("--start", "start_s", type=float, default=None, help="Analyse from this time on (seconds)."),
        click.option("--end", "end_s", type=float, default=None, help="Analyse up to this time (seconds)."),
        click.option("--mirrored", is_flag=True,
                     help="The video is mirrored (selfie camera): the patient's right is on the image's right."),
        FRAME_STEP_OPTION,
        click.option("--no-cache", is_flag=True, help="Track again instead of reusing cached landmarks."),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                     help="Where landmark caches live (default: $SPASMSCAN_CACHE_DIR or ~/.cache/spasmscan)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def format_options(*names: str, each_video: bool = False):
    """The flags asking for these report formats (``formats.REPORT_FORMATS`` names, in this order),
    with their help for one recording's reports or, ``each_video``, for a batch's."""
    def decorate(func):
        for name in reversed(names):
            fmt = REPORT_FORMATS[name]
            text = fmt.batch_help if each_video else fmt.help
            func = click.option(fmt.flag, name, is_flag=True, help=text.format(file=fmt.file))(func)
        return func

    return decorate


def report_options(func):
    """--out, --json, --plot and --force, shared by the commands that write one recording's reports."""
    always = [fmt.file for fmt in REPORT_FORMATS.values() if fmt.always]
    options = [
        click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
                     help=f"Write {', '.join(always[:-1])} and {always[-1]} into this folder."),
        format_options("json", "plot"),
        click.option("--force", is_flag=True, help="Replace reports (and a --record file) that already exist."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def require_out(out_dir, **chosen: bool) -> None:
    """Refuse report formats (name -> asked) asked for without --out: ParameterError naming their flags."""
    given = [REPORT_FORMATS[name].flag for name, on in chosen.items() if on]
    if out_dir is None and given:
        verb = "needs" if len(given) == 1 else "need"
        raise ParameterError(f"{', '.join(given)} {verb} --out DIR: the folder the reports go to")


def check_out_dir(out_dir) -> None:
    """Refuse an --out folder that cannot be written (OutputError), before any work is done."""
    from .files import check_writable_folder
    check_writable_folder(out_dir)


def check_protocol(protocol: str) -> str:
    """Refuse a --protocol that names a folder (ParameterError); the protocol as given otherwise."""
    if os.path.isdir(protocol):
        raise ParameterError(f"--protocol {protocol}: is a folder; give a protocol file, 'standard' or 'palsy'")
    return protocol


def exam_formats(segments) -> dict:
    """The reports an analysis following ``segments`` adds (the exam's, for an exam protocol), as
    keywords of report_paths."""
    from .exam import is_exam_protocol
    from .formats import REPORT_FORMATS
    return {name: is_exam_protocol(segments) for name, fmt in REPORT_FORMATS.items() if fmt.needs == "exam"}


def tracking(start_s=None, end_s=None, mirrored=False, frame_step=1) -> dict:
    """The tracker settings and the input selection the options ask for, as keywords of the library's calls."""
    from .landmarks import TrackerSettings
    from .selection import Selection
    return {"settings": TrackerSettings(mirrored=mirrored),
            "selection": Selection(start_s=start_s, end_s=end_s, frame_step=frame_step)}


@cli.command(epilog=EPILOG)
@click.argument("video", type=str)
@tracker_options
@report_options
@format_options("annotate", "html")
@click.option("--protocol", default=None, metavar="NAME|FILE",
              help="The recording followed this examination protocol ('standard', 'palsy', a protocol file, or the "
                   "NAME.protocol.json saved by 'live --record'); its steps start at the analysed part's start.")
def analyze(video: str, start_s, end_s, mirrored, frame_step, no_cache, cache_dir, out_dir, force, protocol,
            **formats) -> None:
    """Analyse one VIDEO (file, camera index or stream URL) and print the result."""
    from .summary import summary_text
    from .files import check_overwrite
    from .pipeline import analyze_video
    from .report import report_paths, report_stem, write_reports

    require_out(out_dir, **formats)
    chosen = tracking(start_s, end_s, mirrored, frame_step)
    if out_dir is not None:  # refuse before the long analysis, not after it
        check_out_dir(out_dir)
    if formats["annotate"]:
        from .annotate import require_video_file
        require_video_file(video)
    elif formats["html"]:  # the page plays the annotated video of a file; a camera's or stream's page has none
        from .video import is_camera_or_stream
        formats["annotate"] = not is_camera_or_stream(video)
    segments = ()
    if protocol is not None:
        from .protocol import load_protocol
        segments = load_protocol(check_protocol(protocol), start_s=start_s or 0.0)
    if out_dir is not None:  # refuse before the long analysis, not after it
        check_overwrite(report_paths(out_dir, report_stem(video), **formats, **exam_formats(segments)), force=force)
    annotate = formats.pop("annotate")

    update, close = progress_bar("tracking")
    try:
        analysis = analyze_video(video, **chosen, cache_dir=cache_dir, use_cache=not no_cache,
                                 progress=update, segments=segments)
    finally:
        close()
    series = analysis.series
    click.echo(f"file: {video}")
    click.echo(f"duration: {series.duration_s:.1f} s, {series.n_frames} frames at {series.fps:.2f} fps, "
               f"{series.width}x{series.height}")
    click.echo(f"face tracked in {100 * series.face_fraction:.1f}% of frames")
    click.echo(summary_text(analysis))
    if out_dir is not None:
        update, close = progress_bar("annotating") if annotate else (None, lambda: None)
        try:
            written = write_reports(analysis, out_dir, stem=report_stem(video),
                                    annotate_video=video if annotate else None, force=force, file=video,
                                    progress=update, **formats)
        finally:
            close()
        for path in written:
            click.echo(f"wrote {path}")


@cli.command(epilog=EPILOG)
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for summary.csv, events.csv and the per-video reports (created if missing).")
@JOBS_OPTION
@SCHEDULER_OPTION
@REDO_OPTION
@format_options(*BATCH_FORMATS, each_video=True)
@tracker_options
def batch(inputs, out_dir, jobs, scheduler, force, start_s, end_s, mirrored, frame_step, no_cache, cache_dir,
          **formats) -> None:
    """Analyse many videos into one spreadsheet.

    INPUTS are files, folders (searched recursively for videos), glob patterns ('clinic/**/*.mp4')
    or @list.txt (one path a line). Writes OUT/summary.csv (one row per video, with status and
    error), OUT/events.csv and each video's reports. Running the same command again skips the
    videos already done.
    """
    from .batch import run_batch

    update, close = videos_progress()
    try:
        result = run_batch(inputs, out_dir, **tracking(start_s, end_s, mirrored, frame_step), jobs=jobs,
                           scheduler=scheduler, force=force, cache_dir=cache_dir, use_cache=not no_cache,
                           progress=update, **formats)
    finally:
        close()
    done = len(result.results)
    click.echo(f"{done} videos: {done - result.failed} ok, {result.failed} failed "
               f"({result.reused} taken from an earlier run)")
    click.echo(f"summary: {result.summary_path}")
    click.echo(f"events: {result.events_path}")
    if formats.get("html"):
        from .review_page import INDEX_NAME
        click.echo(f"review pages: {result.summary_path.parent / INDEX_NAME}")
    if result.failed:
        click.echo(f"spasmscan: {result.failed} of {done} videos failed; the status and error columns of "
                   f"{result.summary_path} say why", err=True)
        click.get_current_context().exit(EXIT_BATCH_FAILED)


def response_options(func):
    """--min-fall and --confidence: the rule that labels a follow-up visit improved, worse or no clear change."""
    options = [
        click.option("--min-fall", "min_fall_pct", type=click.FloatRange(0, 100, max_open=True), default=50.0,
                     show_default=True, help="'improved' needs the rate at rest to fall by at least this many percent "
                                             "(and the interval of the rate ratio to lie below 1)."),
        click.option("--confidence", type=click.FloatRange(0.5, 1, max_open=True), default=0.95, show_default=True,
                     help="Level of the intervals; 'worse' needs the interval to lie above 1."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def response_rule(min_fall_pct: float, confidence: float):
    from .followup_stats import ResponseRule
    return ResponseRule(min_fall=min_fall_pct / 100.0, confidence=confidence)


@cli.command(epilog=EPILOG)
@click.argument("manifest", type=str)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for followup.csv, PATIENT.followup.png and each visit's reports (created if missing).")
@click.option("--baseline", default=None, metavar="YYYY-MM-DD",
              help="Compare with the patient's visit on this date (default: the first visit).")
@response_options
@click.option("--no-plot", is_flag=True, help="Do not draw PATIENT.followup.png.")
@click.option("--html", is_flag=True, help="Also write each visit's review page and OUT/PATIENT.followup.html "
              "linking them (docs/followup.md).")
@JOBS_OPTION
@SCHEDULER_OPTION
@REDO_OPTION
@tracker_options
def followup(manifest, out_dir, baseline, min_fall_pct, confidence, no_plot, html, jobs, scheduler, force, start_s,
             end_s, mirrored, frame_step, no_cache, cache_dir) -> None:
    """Compare each patient's visits: did the treatment work?

    MANIFEST is a CSV with the columns patient, date (YYYY-MM-DD), file (relative to the
    manifest) and optional treatment and note, or a folder laid out PATIENT/YYYY-MM-DD*.mp4.
    Writes OUT/followup.csv (one row per visit, compared with the reference visit) and
    OUT/PATIENT.followup.png. Running the same command again reuses the visits already analysed.
    """
    from .followup import followup_text, parse_date, run_followup

    day = parse_date(baseline, origin="--baseline").date() if baseline is not None else None
    rule = response_rule(min_fall_pct, confidence)
    update, close = videos_progress()
    try:
        result = run_followup(manifest, out_dir, baseline=day, rule=rule,
                              **tracking(start_s, end_s, mirrored, frame_step), jobs=jobs,
                              scheduler=scheduler, force=force, cache_dir=cache_dir, use_cache=not no_cache,
                              plot=not no_plot, html=html, progress=update)
    finally:
        close()
    click.echo(followup_text(result.rows))
    click.echo(f"rule: {rule.text()}")
    click.echo(f"follow-up: {result.csv_path}")
    for path in result.plot_paths:
        click.echo(f"plot: {path}")
    for path in result.page_paths:
        click.echo(f"page: {path}")
    if result.failed:
        click.echo(f"spasmscan: {result.failed} of {len(result.rows)} visits failed; the status and error columns "
                   f"of {result.csv_path} say why", err=True)
        click.get_current_context().exit(EXIT_BATCH_FAILED)


@cli.command(epilog=EPILOG)
@click.argument("before", type=str)
@click.argument("after", type=str)
@response_options
@tracker_options
def compare(before, after, min_fall_pct, confidence, start_s, end_s, mirrored, frame_step, no_cache,
            cache_dir) -> None:
    """Compare two recordings of one patient, BEFORE (the reference) and AFTER a treatment."""
    from .followup import compare_analyses, comparison_text
    from .pipeline import analyze_video

    rule = response_rule(min_fall_pct, confidence)
    analyses = []
    for label, video in (("before", before), ("after", after)):
        update, close = progress_bar(f"tracking {label}")
        try:
            analyses.append(analyze_video(video, **tracking(start_s, end_s, mirrored, frame_step),
                                          cache_dir=cache_dir, use_cache=not no_cache, progress=update))
        finally:
            close()
    reference, row = compare_analyses(*analyses, before_file=before, after_file=after, rule=rule)
    click.echo(comparison_text(reference, row))


@cli.command(epilog=EPILOG)
@click.option("--camera", type=int, default=None, help="Camera index to read (default 0 when no --source).")
@click.option("--source", default=None, help="A video file played at its real pace, or a stream URL.")
@click.option("--fast", is_flag=True, help="With a file --source: replay as fast as it can be processed, "
              "dropping nothing (for checking a recording).")
@click.option("--no-window", is_flag=True, help="Run headless: events and verdict on the terminal only.")
@click.option("--protocol", default=None, metavar="NAME|FILE",
              help="Guided examination: 'standard' (rest, blinks, brow raises, smiles), 'palsy' (the facial palsy "
                   "examination's expressions, docs/exam.md) or a protocol JSON file.")
@click.option("--record", type=click.Path(dir_okay=False), default=None,
              help="Keep the video as this .mp4 file for later re-analysis (with its protocol timings beside it).")
@report_options
@click.option("--mirrored", is_flag=True, help="The picture is mirrored (selfie camera).")
def live(camera, source, fast, no_window, protocol, record, out_dir, force, mirrored, **formats) -> None:
    """Analyse a camera, stream or file while it plays; Ctrl-C, q or Esc ends the session."""
    import threading

    from . import live as live_mode
    from .summary import summary_text
    from .files import check_overwrite
    from .report import report_paths, report_stem, write_reports
    from .video import is_camera_or_stream

    if camera is not None and source is not None:
        raise ParameterError("give either --camera or --source, not both")
    require_out(out_dir, **formats)
    video = source if source is not None else (camera if camera is not None else 0)
    stem = LIVE_STEM if is_camera_or_stream(video) else report_stem(str(video))
    from .protocol import load_protocol

    segments = load_protocol(check_protocol(protocol)) if protocol else ()
    if out_dir is not None:
        check_out_dir(out_dir)
        check_overwrite(report_paths(out_dir, stem, **formats, **exam_formats(segments)), force=force)
    if record is not None:
        live_mode.check_record_path(record, force=force)
    stop = threading.Event()
    window = None if no_window else live_mode.open_window()
    running = live_mode.RunningVerdict(segments)
    shown = {"label": None}

    def on_events(rows):
        for row in rows:
            click.echo(f"{row['start_s']:8.2f} s  {row['kind']:<11} {row['side']:<5} {row['region']:<9} "
                       f"amplitude {row['amplitude']:.3f}")

    def on_frame(frame, time_s, face, session, segment):
        running.update(session, time_s)
        if window is None and running.label != shown["label"]:
            shown["label"] = running.label
            click.echo(f"{time_s:8.2f} s  running verdict: {running.text}")
        if window is not None and not window.show(live_mode.draw(frame, time_s, face, session, segment,
                                                                 running.text)):
            stop.set()

    try:
        session, stats, placed = live_mode.run_live(
            video, settings=tracking(mirrored=mirrored)["settings"], paced=not fast, protocol=segments,
            record=record, on_frame=on_frame, on_events=on_events, stop=stop)
    finally:
        if window is not None:
            window.close()
    analysis = live_mode.finish(session, stats, placed, record=record)
    click.echo(summary_text(analysis))
    click.echo(live_mode.stats_text(stats))
    if out_dir is not None:
        for path in write_reports(analysis, out_dir, stem=stem, force=force, file=str(video), **formats):
            click.echo(f"wrote {path}")


@cli.command(epilog=EPILOG)
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--label", type=click.Choice(SIMULATED_LABELS + EXAM_LABELS), default="primary_hfs",
              show_default=True, help="What the clip shows (blepharospasm and bilateral_hfs affect both sides; "
                                      "palsy and palsy_synkinesis follow an examination --protocol, docs/exam.md).")
@click.option("--side", type=click.Choice(["left", "right", "none", "both"]), default=None,
              help="Affected side, the patient's anatomical side (default: left; 'none' for --label none; "
                   "'both' for blepharospasm and bilateral_hfs; the weak side for palsy).")
@click.option("--duration", "duration_s", type=float, default=30.0, show_default=True, help="Seconds.")
@click.option("--fps", type=float, default=30.0, show_default=True, help="Frames per second.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: the same seed gives the same clip.")
@click.option("--base", type=click.Path(dir_okay=False), default=None,
              help="Portrait image or face video to render on (default: the bundled public-domain portrait).")
@click.option("--size", default=None, metavar="WxH",
              help="Output size, e.g. 640x480 (default: 640x480 for a portrait, the video's size for a video base).")
@click.option("--twitch-rate", type=float, default=None,
              help="primary_hfs, bilateral_hfs (each side): spasm episodes per minute (default: random, 0.3-25, "
                   "log-uniform, for each side on its own).")
@click.option("--mouth/--no-mouth", "spread_to_mouth", default=None,
              help="primary_hfs, bilateral_hfs: spasms spread to the mouth corner, or not (default: random).")
@click.option("--severity", type=float, default=None,
              help="blepharospasm: 0 (mild) to 1 (severe) (default: random).")
@click.option("--hard-negative", is_flag=True,
              help="Asymmetric blinks, squinting smiles and brow raises: movements that must not read as spasm.")
@click.option("--nuisance", type=float, default=1.0, show_default=True,
              help="Scale of head motion, lighting drift, noise and compression (0 = clean).")
@click.option("--renderer", type=click.Choice(["mesh", "field"]), default="mesh", show_default=True,
              help="Rendering model and its motion profile: mesh (piecewise-affine triangles) or field (smooth "
                   "thin-plate-spline displacement field; lids squeeze from both sides, cheeks bunch, corners pull "
                   "outward, fast rise and slow relaxation).")
@click.option("--palsy-share", type=click.FloatRange(0, 100), default=50.0, show_default=True,
              help="palsy: the weak side's voluntary movement, % of the healthy side's.")
@click.option("--synkinesis", "palsy_synkinesis", is_flag=True,
              help="palsy: the weak side also co-contracts with every movement (as --label palsy_synkinesis).")
@click.option("--protocol", default="palsy", show_default=True, metavar="NAME|FILE",
              help="palsy: the examination's steps (a packaged protocol or a file); the clip lasts as long "
                   "as they do (--duration is not used).")
@click.option("--force", is_flag=True, help="Overwrite OUT and its truth file.")
def simulate(out, label, side, duration_s, fps, seed, base, size, twitch_rate, spread_to_mouth, severity,
             hard_negative, nuisance, renderer, palsy_share, palsy_synkinesis, protocol, force) -> None:
    """Render a face video OUT (.mp4) with known events, and its ground truth OUT.json beside it."""
    from .files import check_overwrite
    from .render import Nuisance, simulate_exam_video, simulate_video
    from .simulate import LABEL_SIDES, PALSY_LABELS, ScheduleOptions, truth_path

    if side is None:
        side = LABEL_SIDES[label][0] if label in LABEL_SIDES else "left"  # left, or the one side a label allows
    width = height = None
    if size is not None:
        try:
            width, height = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise ParameterError(f"--size must look like 640x480, got {size!r}") from None
    if not out.lower().endswith(".mp4"):
        raise ParameterError(f"OUT must be an .mp4 file name, got {out!r}")
    check_overwrite([out, truth_path(out)], force=force, elsewhere="choose another OUT name")
    options = ScheduleOptions(hard_negative=hard_negative, twitch_rate_per_min=twitch_rate,
                              spread_to_mouth=spread_to_mouth, severity=severity)
    if palsy_synkinesis and label not in PALSY_LABELS:
        raise ParameterError("--synkinesis adds co-contractions to --label palsy; for the random synkinesis "
                             "schedule use --label synkinesis")
    label = "palsy_synkinesis" if palsy_synkinesis else label
    update, close = progress_bar("rendering")
    common = dict(fps=fps, seed=seed, base=base, width=width, height=height, nuisance=Nuisance(scale=nuisance),
                  renderer=renderer, progress=update)
    try:
        if label in PALSY_LABELS:
            truth = simulate_exam_video(out, label=label, side=side, share=palsy_share / 100.0,
                                        protocol=check_protocol(protocol), **common)
        else:
            truth = simulate_video(out, label=label, side=side, duration_s=duration_s, options=options, **common)
    finally:
        close()
    kinds = {}
    for event in truth.events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    click.echo(f"wrote {out} ({truth.width}x{truth.height}, {truth.fps:g} fps, {truth.duration_s:.1f} s, "
               f"renderer {truth.renderer}) "
               f"and {truth_path(out)}")
    click.echo("events: " + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"))


@cli.command(epilog=EPILOG)
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--out", "out_csv", type=click.Path(dir_okay=False), default=None,
              help="Also write the per-clip scores and totals to this CSV file (and FILE.confusion.csv).")
@click.option("--tolerance", "tolerance_s", type=float, default=0.150, show_default=True,
              help="Onsets this close (seconds) match a detected event to a true one.")
@FRAME_STEP_OPTION
@click.option("--no-cache", is_flag=True, help="Track again instead of reusing cached landmarks.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where landmark caches live (default: $SPASMSCAN_CACHE_DIR or ~/.cache/spasmscan).")
@click.option("--method", type=click.Choice(["analysis", "baseline"]), default="analysis", show_default=True,
              help="Score the analysis, or the simple left-right difference baseline it must beat.")
@click.option("--force", is_flag=True, help="Overwrite the CSV files.")
def evaluate(directory, out_csv, tolerance_s, frame_step, no_cache, cache_dir, method, force) -> None:
    """Score spasmscan on every video in DIRECTORY that has a truth file (clip.mp4 + clip.json):
    classification accuracy, confusion matrix, affected side, twitch and blink detection."""
    from .evaluate import default_analyze, evaluate_clips, find_clips
    from .files import check_overwrite

    if out_csv is not None:
        check_out_dir(os.path.dirname(out_csv) or ".")
        check_overwrite([out_csv, _confusion_path(out_csv)], force=force)
    clips = find_clips(directory)
    with click.progressbar(length=len(clips), label="clips", file=sys.stderr) as bar:
        analyze = default_analyze(selection=tracking(frame_step=frame_step)["selection"], cache_dir=cache_dir,
                                  use_cache=not no_cache, method=method)
        result = evaluate_clips(clips, analyze=analyze,
                                tolerance_s=tolerance_s, on_clip=lambda score: bar.update(1))
    click.echo(result.text())
    if out_csv is not None:
        result.write_csv(out_csv)
        result.write_confusion_csv(_confusion_path(out_csv))
        click.echo(f"wrote {out_csv} and {_confusion_path(out_csv)}")


@cli.command("review-score", epilog=EPILOG)
@click.argument("reviews", nargs=-1, required=True, type=click.Path(dir_okay=False))
def review_score(reviews) -> None:
    """Precision of spasmscan's involuntary events against a reviewer's marks: reads the
    STEM.review.csv files saved from review pages ("Download review"), per file and in all."""
    from .review_page import score_reviews

    click.echo(score_reviews(reviews).text())


def _confusion_path(out_csv: str) -> str:
    stem = out_csv[:-4] if out_csv.lower().endswith(".csv") else out_csv
    return stem + ".confusion.csv"


def main() -> None:
    """Console entry point."""
    cli(prog_name="spasmscan")
