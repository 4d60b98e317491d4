"""Write a file so that readers see the old content or the new, never a torn one; and
read-modify-write it under a lock, so that concurrent runs never lose each other's rows."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from filelock import FileLock


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


def locked(path: Path) -> FileLock:
    """An inter-process lock for read-modify-write of `path` (a `.lock` file beside it)."""
    path = write_target(path)  # beside a symbolic link's target
    return FileLock(str(path.with_name(f".{path.name}.lock")), timeout=600)
