"""Safe archive extraction: a tar (any compression) or zip archive is unpacked member by
member into a folder; members with absolute paths or `..`, and links leading outside, are
refused, and a failed unpack leaves no half-unpacked folder behind."""

from __future__ import annotations

import logging
import os
import posixpath
import re
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from noss_eval.download.fetch import CHUNK, PROGRESS_EVERY, ByteMeter
from noss_eval.errors import NossError
from noss_eval.progress import Meter

log = logging.getLogger(__name__)


class _Counting:
    """A read-only file that reports the bytes read to a meter (unpack progress)."""

    def __init__(self, fh, meter: Meter) -> None:
        self.fh, self.meter = fh, meter

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.meter.update(len(data))
        return data


def _member_path(archive: Path, name: str, strip: int) -> PurePosixPath | None:
    """The member's path below the unpack folder after dropping `strip` leading folders (None
    for what strip drops); absolute paths and `..` are refused."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        raise _refused(archive, name, "an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refused(archive, name, "'..' in its path")
    parts = parts[strip:]
    return PurePosixPath(*parts) if parts else None


def _refused(archive: Path, name: str, why: str) -> NossError:
    return NossError(
        f"{archive.name}: member '{name}' has {why}, which could write outside the dataset "
        "folder; refused, nothing was unpacked"
    )


def _inside(root: Path, path: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def _link_target(archive: Path, name: str, rel: PurePosixPath, target: str) -> str:
    """A symbolic link's target, refused if it leads outside the unpack folder."""
    joined = posixpath.normpath(posixpath.join(str(rel.parent), target))
    if target.startswith("/") or joined == ".." or joined.startswith("../"):
        raise _refused(archive, name, f"a link to '{target}', outside the archive")
    return target


def _make_folder(root: Path, rel: PurePosixPath, archive: Path, name: str) -> None:
    path = root / rel
    if not _inside(root, path):
        raise _refused(archive, name, "a path through a link leading outside")
    path.mkdir(parents=True, exist_ok=True)


def _make_link(root: Path, rel: PurePosixPath, archive: Path, name: str, target: str) -> None:
    path = root / rel
    _link_target(archive, name, rel, target)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not _inside(root, path.parent):
        raise _refused(archive, name, "a path through a link leading outside")
    if path.is_symlink() or path.exists():
        path.unlink()
    os.symlink(target, path)
    if not _inside(root, path):  # through other links, it leads outside after all
        path.unlink()
        raise _refused(archive, name, f"a link to '{target}', outside the archive")


def _write_member(root: Path, rel: PurePosixPath, archive: Path, name: str, data) -> Path:
    path = root / rel
    if not _inside(root, path.parent):
        raise _refused(archive, name, "a path through a link leading outside")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    with open(path, "wb") as out:
        shutil.copyfileobj(data, out, CHUNK)
    return path


def unpack(archive: Path, dest: Path, strip: int = 0, show: bool = True) -> None:
    """Every member of a tar (any compression) or zip archive into the folder `dest` (made, and
    removed again if unpacking fails), refusing members that would land outside it."""
    made = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        try:
            if zipfile.is_zipfile(archive):
                _unzip(archive, dest, strip, show)
            else:
                _untar(archive, dest, strip, show)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, OSError) and exc.filename:
                raise NossError(f"{exc.filename}: cannot write ({exc.strerror or exc})") from None
            raise NossError(
                f"{archive.name}: cannot unpack ({exc}); truncated or corrupt"
            ) from None
    except BaseException:
        if made:
            shutil.rmtree(dest, ignore_errors=True)  # no half-unpacked folder stays behind
        raise


def _untar(archive: Path, dest: Path, strip: int, show: bool) -> None:
    meter = ByteMeter(archive.stat().st_size, f"unpack {archive.name}", show)
    try:
        with (
            open(archive, "rb") as raw,
            tarfile.open(fileobj=_Counting(raw, meter), mode="r|*") as tar,
        ):
            for member in tar:
                rel = _member_path(archive, member.name, strip)
                if rel is None:
                    continue
                if member.isdir():
                    _make_folder(dest, rel, archive, member.name)
                elif member.isfile():
                    path = _write_member(dest, rel, archive, member.name, tar.extractfile(member))
                    os.utime(path, (member.mtime, member.mtime))
                elif member.issym():
                    _make_link(dest, rel, archive, member.name, member.linkname)
                elif member.islnk():
                    why = f"a hard link to '{member.linkname}'"
                    try:
                        source = _member_path(archive, member.linkname, strip)
                    except NossError:
                        raise _refused(archive, member.name, why) from None
                    if source is None or not (dest / source).is_file():
                        raise _refused(archive, member.name, why)
                    with open(dest / source, "rb") as data:
                        _write_member(dest, rel, archive, member.name, data)
                else:
                    log.warning("%s: skipped %s (not a file, folder or link)", archive, member.name)
    finally:
        meter.close()


def _unzip(archive: Path, dest: Path, strip: int, show: bool) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        meter = Meter(len(infos), f"unpack {archive.name}", "member", show, PROGRESS_EVERY)
        try:
            for info in infos:
                meter.update()
                rel = _member_path(archive, info.filename, strip)
                if rel is None:
                    continue
                mode = info.external_attr >> 16
                if info.is_dir():
                    _make_folder(dest, rel, archive, info.filename)
                elif stat.S_ISLNK(mode):
                    target = zf.read(info).decode("utf-8", "surrogateescape")
                    _make_link(dest, rel, archive, info.filename, target)
                else:
                    with zf.open(info) as data:
                        _write_member(dest, rel, archive, info.filename, data)
        finally:
            meter.close()
