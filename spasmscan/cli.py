"""Command line: parses options, calls the library, writes files. No analysis happens here."""
from __future__ import annotations

import logging
import math
import sys

import click

from . import __version__
from .errors import SpasmscanError

EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130

EPILOG = """\b
Examples:
  spasmscan analyze clinic/patient01.mp4
  spasmscan analyze selfie.mov --mirrored --start 10 --end 70
  spasmscan simulate out.mp4 --label primary_hfs --side left --duration 30
  spasmscan evaluate samples/

\b
Exit codes: 0 done, 1 internal error, 2 bad option, 3 file not found,
4 unreadable video, 5 no video stream, 6 no face found, 7 cannot write output,
8 some videos of a batch failed, 9 camera missing or busy, 130 interrupted.
"""


class _Cli(click.Group):
    """A group that turns spasmscan's errors into one line on stderr and their exit code."""

    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except SpasmscanError as error:
            if debug:
                raise
            click.echo(f"spasmscan: error: {error}", err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
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


@click.group(cls=_Cli, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spasmscan")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(verbose: int, debug: bool) -> None:
    """Detect one-sided facial spasm in face videos: primary hemifacial spasm or synkinesis."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("spasmscan").setLevel(level)


def progress_bar(label: str):
    """A progress callback ``(done_s, total_s)`` drawing a bar on stderr, and a function to close it."""
    state: dict = {}

    def update(done_s: float, total_s: float) -> None:
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


def tracker_options(func):
    """Options shared by every command that tracks a video."""
    options = [
        click.option("--start", "start_s", type=float, default=None, help="Analyse from this time on (seconds)."),
        click.option("--end", "end_s", type=float, default=None, help="Analyse up to this time (seconds)."),
        click.option("--mirrored", is_flag=True,
                     help="The video is mirrored (selfie camera): the patient's right is on the image's right."),
        click.option("--no-cache", is_flag=True, help="Track again instead of reusing cached landmarks."),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                     help="Where landmark caches live (default: $SPASMSCAN_CACHE_DIR or ~/.cache/spasmscan)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def tracker_settings(start_s, end_s, mirrored):
    from .landmarks import TrackerSettings
    return TrackerSettings(start_s=start_s, end_s=end_s, mirrored=mirrored)


@cli.command(epilog=EPILOG)
@click.argument("video", type=str)
@tracker_options
def analyze(video: str, start_s, end_s, mirrored, no_cache, cache_dir) -> None:
    """Analyse one VIDEO (file, camera index or stream URL) and print the result."""
    from .pipeline import video_landmarks

    update, close = progress_bar("tracking")
    try:
        series = video_landmarks(video, settings=tracker_settings(start_s, end_s, mirrored),
                                 cache_dir=cache_dir, use_cache=not no_cache, progress=update)
    finally:
        close()
    click.echo(f"file: {video}")
    click.echo(f"duration: {series.duration_s:.1f} s, {series.n_frames} frames at {series.fps:.2f} fps, "
               f"{series.width}x{series.height}")
    click.echo(f"face tracked in {100 * series.face_fraction:.1f}% of frames")


def main() -> None:
    """Console entry point."""
    cli(prog_name="spasmscan")
