"""Write a file so that readers see the old content or the new, never a torn one; and
read-modify-write it under a lock, so that concurrent runs never lose each other's rows."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from filelock import FileLock, Timeout

from noss_eval.errors import NossError
from noss_eval.paths import LOCKS

log = logging.getLogger(__name__)


def _mode_for(path: Path) -> int:
    """The existing file's permissions, else what the umask gives a new file (never mkstemp's
    private 0600)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_target(path: Path) -> Path:
    """Where writing `path` lands: `path`, or for a symbolic link the file it points to (so a
    replaced file is the link's target and the link stays a link)."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


@contextmanager
def atomic_writer(path: Path, binary: bool = False) -> Iterator[IO]:
    """A handle on a temporary file beside `path`, renamed onto it when the block ends without an
    exception; on any exception (or interrupt) the temporary file is removed. A symbolic link is
    written through: its target is replaced, the link kept."""
    path = write_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        mode = "wb" if binary else "w"
        encoding = None if binary else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=None if binary else "") as fh:
            yield fh
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def nearest_folder(path: Path) -> Path:
    """`path` itself or its nearest existing ancestor: where a file below it would be created."""
    folder = Path(path).expanduser()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def is_writable_folder(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_writer(path) as fh:
        fh.write(text)


LOCK_WAIT = 600.0  # seconds a merge waits for another run's lock before giving up
LOCK_NOTICE = 2.0  # seconds of waiting before it says so


def lock_path(path: Path, folder: Path = LOCKS) -> Path:
    """The lock file of `path` (of a symbolic link's target): in `folder`, named after the
    file's absolute path, so every run that writes the file meets the same lock and none is
    left beside it; beside it (hidden) where `folder` cannot be made."""
    path = Path(os.path.abspath(write_target(path)))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return path.with_name(f".{path.name}.lock")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return folder / f"{path.name[:64]}-{digest}.lock"


@contextmanager
def locked(path: Path, timeout: float = LOCK_WAIT) -> Iterator[None]:
    """An inter-process lock for read-modify-write of `path` (a `.lock` file beside it). A lock
    file that cannot be made is an error at once, naming it; one held by another run is waited
    for (said after LOCK_NOTICE seconds) up to `timeout`, then an error naming it."""
    where = lock_path(path)
    lock = FileLock(str(where), timeout=timeout)
    try:
        try:
            lock.acquire(timeout=min(LOCK_NOTICE, timeout))
        except Timeout:
            log.warning(
                "waiting up to %.0f s for %s: another noss-eval run is writing %s",
                timeout,
                where,
                path.name,
            )
            lock.acquire(timeout=max(timeout - LOCK_NOTICE, 0))
    except Timeout:
        raise NossError(
            f"{where}: still locked by another run after {timeout:.0f} s; let it finish and "
            "re-run (if no run is writing, delete the lock file)"
        ) from None
    except OSError as exc:
        raise NossError(_unusable(where, exc)) from None
    try:
        yield
    finally:
        lock.release()


def check_lock(path: Path, option: str) -> None:
    """Before the long work: the lock file for `path` can be made (or is there, held or not), so
    the merge at the end does not fail on it. Nothing is made where `path`'s folder is yet to be."""
    where = lock_path(path)
    if not where.parent.is_dir():
        return
    lock = FileLock(str(where), timeout=0)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return  # another run holds it: the merge will wait for it
    except OSError as exc:
        raise NossError(f"{option}: {_unusable(where, exc)}") from None
    lock.release()


def _unusable(where: Path, exc: OSError) -> str:
    return (
        f"{where}: cannot make the lock file ({exc.strerror or exc}); move away what is in "
        "its place, or give a path in a folder you can write"
    )
