"""Writing files so that nothing is ever half-written: one atomic writer for every output.

A file is written to a hidden temporary file beside it, flushed to disk, then renamed over the
target in one step, so a reader sees the old file or the whole new one. A temporary file is named
``.NAME.PID-HOST-TOKEN.tmp.SUFFIX`` (its writer's process and machine): a run that is killed
outright (SIGKILL, power loss) leaves it behind, and the next run that writes into that folder
removes it once its writer is gone. While its writer still runs, the target counts as taken.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import socket
import time
from pathlib import Path
from typing import Iterable, Iterator

from .errors import OutputError, SpasmscanError

logger = logging.getLogger(__name__)

STALE_AFTER_S = 24 * 3600.0  # a temporary file untouched this long is left over, whoever wrote it
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]  # tells this machine's writers apart
_being_written: set[Path] = set()  # this process's temporary files, until renamed or removed
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{6})-[0-9a-f]{8}\.tmp(?:\.[^.]*)?$")


def temporary_name(path: Path) -> Path:
    """A fresh temporary path beside ``path``, keeping its suffix (writers such as cv2.VideoWriter
    choose the format from it)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{_HOST}-{secrets.token_hex(4)}.tmp{path.suffix}")


def _writer_running(pid: int, host: str) -> bool:
    """Whether the process that named a temporary file may still be writing it."""
    if host != _HOST:
        return True  # another machine's process (a shared folder): only its age tells
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def busy_temporaries(folder: Path) -> dict[str, int]:
    """Remove the left-over temporary files of our naming in ``folder``; the target names that a
    running writer is writing now (name -> its process id)."""
    busy: dict[str, int] = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:  # no folder yet, or not listable: nothing to tidy
        return busy
    now = time.time()
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None:
            continue
        pid = int(match["pid"])
        try:
            fresh = now - entry.stat(follow_symlinks=False).st_mtime < STALE_AFTER_S
        except OSError:
            continue
        if fresh and _writer_running(pid, match["host"]):
            if pid != os.getpid():
                busy[match["name"]] = pid
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            logger.info("removed the left-over temporary file %s", entry.path)
    return busy


def check_overwrite(paths: Iterable[str | os.PathLike], *, force: bool,
                    elsewhere: str = "choose another out_dir folder") -> None:
    """Raise OutputError naming the files of ``paths`` that exist (unless ``force``) or that
    another running spasmscan is writing now; left-over temporary files beside them are removed.
    ``elsewhere`` is the message's other way out (where else the files could go)."""
    paths = [Path(path) for path in paths]
    busy = {folder: busy_temporaries(folder) for folder in {path.parent for path in paths}}
    for path in paths:
        if path.name in busy[path.parent]:
            raise OutputError(f"{path}: another spasmscan run (process {busy[path.parent][path.name]}) is "
                              f"writing it now; wait for it to end, or {elsewhere}")
    if force:
        return
    existing = [path for path in paths if os.path.lexists(path)]
    if len(existing) == 1:
        raise OutputError(f"{existing[0]}: already exists; use force=True to replace it, or {elsewhere}")
    if existing:
        names = ", ".join(path.name for path in existing)
        raise OutputError(f"{existing[0].parent}: {names} already exist; use force=True to replace them, "
                          f"or {elsewhere}")


def check_writable_folder(folder: str | os.PathLike) -> None:
    """Raise OutputError unless files can be made in ``folder`` (or, while it does not exist, in
    its nearest existing parent, where it would be made): tried by making and removing a file."""
    folder = Path(folder)
    existing = folder
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{folder}: {existing} is not a folder; choose another output folder")
    probe = temporary_name(existing / "write-check")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as error:
        raise OutputError(f"{folder}: cannot write there ({error.strerror or error}); "
                          "choose a writable output folder") from None


@contextlib.contextmanager
def output_errors(path: Path) -> Iterator[None]:
    """Turn OSError (disk full, permissions) while writing ``path`` into OutputError naming it."""
    try:
        yield
    except SpasmscanError:
        raise
    except OSError as error:
        raise OutputError(f"{path}: could not be written ({error.strerror or error}); "
                          "check free space and permissions") from error


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it is renamed to ``path``.

    On any error or interruption the temporary file is removed, so nothing partial is left;
    OSError becomes OutputError. The block must flush what it writes (see :func:`synced`).
    """
    path = Path(path)
    check_overwrite([path], force=force)
    temporary = temporary_name(path)
    _being_written.add(temporary)  # before it exists: an interruption at any moment finds it
    try:
        try:  # created with the usual permissions (umask applies), unlike tempfile.mkstemp's 0600
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except OSError as error:
            raise OutputError(f"{path}: cannot write here ({error.strerror or error}); "
                              "check that the folder exists and is writable") from error
        with output_errors(path):
            yield temporary
            if not force and os.path.lexists(path):  # another process may have written it meanwhile
                raise OutputError(f"{path}: was written by another program meanwhile; use force=True to replace it")
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            temporary.unlink()
        _being_written.discard(temporary)


def remove_own_temporaries() -> None:
    """Remove every temporary file this process is writing: the last step of an interrupted run,
    for a signal that came between two steps of :func:`atomic_path`'s own clean-up."""
    for temporary in list(_being_written):
        with contextlib.suppress(OSError):
            temporary.unlink()
        _being_written.discard(temporary)


@contextlib.contextmanager
def synced(path: Path, mode: str = "w", **options) -> Iterator:
    """``open(path, mode, **options)`` whose content is flushed to the disk when the block ends."""
    with open(path, mode, **options) as stream:
        yield stream
        stream.flush()
        os.fsync(stream.fileno())


def write_text(path: str | os.PathLike, text: str, *, force: bool = False) -> Path:
    """Write ``text`` to ``path`` as UTF-8, atomically (see :func:`atomic_path`)."""
    path = Path(path)
    with atomic_path(path, force=force) as temporary, synced(temporary, encoding="utf-8") as stream:
        stream.write(text)
    return path
