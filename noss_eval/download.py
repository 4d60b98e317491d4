"""`noss-eval download`: fetch the openly downloadable NOSS datasets into the layouts the task
readers expect under `data_dir/<dataset folder>/`.

Where each dataset comes from (URLs, sizes, sha256, cited) is data: `configs/downloads.yaml`.
Every file goes to a `.part` file first and is resumed with an HTTP Range request (by a re-run,
or by a retry after a dropped connection); it is renamed from `.part` only once its size and
published sha256 match, so a file without `.part` is verified. A file that does not match is
moved aside (`.bad`) so a re-run starts clean. Archives are unpacked member by member into a
temporary folder (members with absolute paths or `..`, links leading outside, are refused) and
renamed into place, so an interrupted run never leaves a half layout a reader would accept.
Partial downloads and temporary folders live under `data_dir/.noss-download/`.

`base_url` (the CLI takes it from NOSS_EVAL_DOWNLOAD_BASE) replaces every URL's scheme with a
mirror: `https://host/path` is fetched from `<base_url>/host/path`, the layout `wget -x` makes.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import posixpath
import re
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

import yaml
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from noss_eval import __version__
from noss_eval.errors import NossError
from noss_eval.progress import Meter

log = logging.getLogger(__name__)

BASE_ENV = "NOSS_EVAL_DOWNLOAD_BASE"
STAGE = ".noss-download"  # under data_dir: partial downloads, archives, temporary folders
CHUNK = 1 << 20
PROGRESS_EVERY = 15.0  # seconds between progress lines when stderr is not a terminal
KINDS = ("archives", "listed", "url_list", "manual")


@dataclass(frozen=True)
class Remote:
    """One file to fetch; `size` and `sha256` are None where none is published."""

    url: str
    size: int | None = None
    sha256: str | None = None

    @property
    def name(self) -> str:
        return PurePosixPath(urllib.parse.urlsplit(self.url).path).name or "download"


@dataclass(frozen=True)
class Archive:
    remote: Remote
    into: str = "."  # where its members go, under the dataset folder
    strip: int = 0  # leading folders dropped from every member
    marker: str = ""  # a path under the dataset folder that exists once it is unpacked


@dataclass(frozen=True)
class DatasetSource:
    name: str  # the dataset folder under data_dir (a task's dataset_dir)
    title: str
    licence: str
    kind: str
    cited: str = ""
    archives: tuple[Archive, ...] = ()
    index: Remote | None = None
    select: str = ""
    into: str = ""
    instructions: str = ""

    @property
    def manual(self) -> bool:
        return self.kind == "manual"


# ---------------------------------------------------------------------------------------------
# The catalog


def load_catalog(path: Path | None = None) -> dict[str, DatasetSource]:
    """The datasets of `path` (default: the packaged configs/downloads.yaml), by folder name."""
    where = str(path) if path else "noss_eval/configs/downloads.yaml"
    try:
        if path is None:
            text = resources.files("noss_eval.configs").joinpath("downloads.yaml").read_text()
        else:
            text = Path(path).read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NossError(f"{where}: cannot read the download catalog ({first})") from None
    if not isinstance(raw, dict):
        raise NossError(f"{where}: expected a mapping of dataset folders")
    return {name: _dataset(where, name, entry) for name, entry in raw.items()}


def _dataset(where: str, name: str, entry: object) -> DatasetSource:
    def bad(field: str, why: str) -> NossError:
        return NossError(f"{where}: {name}.{field}: {why}")

    if not isinstance(entry, dict):
        raise bad("", "expected a mapping")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise bad("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    archives = []
    for i, item in enumerate(entry.get("archives") or ()):
        field = f"archives[{i}]"
        if not isinstance(item, dict):
            raise bad(field, "expected a mapping")
        archives.append(
            Archive(
                _remote(item, bad, field),
                str(item.get("into", ".")),
                int(item.get("strip", 0)),
                str(item.get("marker", "")),
            )
        )
    index = _remote(entry["index"], bad, "index") if "index" in entry else None
    source = DatasetSource(
        name=name,
        title=str(entry.get("title", name)),
        licence=str(entry.get("licence", "")),
        kind=kind,
        cited=str(entry.get("cited", "")),
        archives=tuple(archives),
        index=index,
        select=str(entry.get("select", "")),
        into=str(entry.get("into", "")),
        instructions=str(entry.get("instructions", "")),
    )
    needs = {
        "archives": ("archives", source.archives),
        "listed": ("index", index),
        "url_list": ("index", index),
        "manual": ("instructions", source.instructions),
    }[kind]
    if not needs[1]:
        raise bad(needs[0], f"required for kind {kind}")
    if kind == "listed" and not (source.select and source.into):
        raise bad("select", "kind listed needs select and into")
    return source


def _remote(item: object, bad: Callable[[str, str], NossError], field: str) -> Remote:
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        raise bad(f"{field}.url", "required")
    size, digest = item.get("size"), item.get("sha256")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise bad(f"{field}.size", f"expected bytes or null, got {size!r}")
    if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", str(digest)):
        raise bad(f"{field}.sha256", f"expected 64 hex digits or null, got {digest!r}")
    return Remote(item["url"], size, digest)


def resolve(names: Sequence[str], catalog: dict[str, DatasetSource] | None = None):
    """The datasets behind task names (or dataset folder names), each once, in the order given;
    an unknown name is a one-line error listing the known ones."""
    from noss_eval.tasks import BUILTIN_TASKS

    catalog = load_catalog() if catalog is None else catalog
    folders = {name: task.dataset_dir for name, task in BUILTIN_TASKS.items()}
    found: dict[str, DatasetSource] = {}
    for name in names:
        folder = folders.get(name, name)
        if folder not in catalog:
            known = sorted({*folders, *catalog})
            raise NossError(f"unknown task '{name}'; known: {', '.join(known)}")
        found.setdefault(folder, catalog[folder])
    if not found:
        raise NossError("name at least one task to download")
    return list(found.values())


def how_to_get(dataset_dir: str, task_name: str) -> str:
    """One line for --list-tasks: the download command, or that it is fetched by hand."""
    source = load_catalog().get(dataset_dir)
    if source is None:
        return "by hand (no download known)"
    if source.manual:
        return f"by hand: `noss-eval download {task_name}` prints where and how"
    return f"noss-eval download {task_name} --data-dir DIR"


def instructions(source: DatasetSource, data_dir: Path | None = None) -> str:
    """What to do by hand for a dataset that cannot be fetched openly (one screen)."""
    root = f"{data_dir}/{source.name}" if data_dir else f"<data-dir>/{source.name}"
    body = source.instructions.format(root=root, licence=source.licence)
    head = f"{source.name}: {source.title} cannot be downloaded openly; fetch it by hand"
    return f"{head}\n{body.rstrip()}"


def check_data_dir(data_dir: Path, option: str = "data_dir") -> Path:
    """`data_dir`, made if missing, that this process can write; else a one-line error."""
    path = Path(data_dir).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NossError(f"{option} {path}: cannot create it ({exc.strerror or exc})") from None
    if not path.is_dir():
        raise NossError(f"{option} {path}: not a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise NossError(f"{option} {path}: not writable; choose a folder you can write")
    return path


# ---------------------------------------------------------------------------------------------
# Fetching one file


class _Transient(Exception):
    """A failure worth a retry (connection refused or dropped, timeout, 5xx); `.part` is kept."""


class ByteMeter(Meter):
    """Progress in bytes: a scaled bar on a terminal, lines with sizes and rate otherwise."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        """`total` 0: the size is unknown (a server that sends no length); progress still
        shows the bytes so far and the rate."""
        super().__init__(total, desc, "B", enabled, every=PROGRESS_EVERY)
        if enabled and total <= 0:
            if sys.stderr.isatty():
                self._bar = tqdm(total=None, desc=desc, unit="B", leave=False)
            else:
                self._lines = True
        if self._bar is not None:
            self._bar.unit_scale, self._bar.unit_divisor = True, 1024

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total <= 0:
            return f"{self.desc}: {human(self.done)} (size unknown), {human(rate)}/s"
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = f"{left:.0f} s" if left is not None else "?"
        percent = min(100.0, 100.0 * self.done / max(self.total, 1))
        return (
            f"{self.desc}: {human(self.done)} of {human(self.total)} ({percent:.0f}%), "
            f"{human(rate)}/s, ETA {eta}"
        )


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


@dataclass
class Fetcher:
    """Fetches files with resume and verification. `base_url` maps every official URL to a
    mirror (`<base_url>/<host>/<path>`); `retries` is how many times a dropped or failed
    transfer is resumed before the error is reported; `backoff` seconds grow per retry."""

    base_url: str | None = None
    retries: int = 3
    backoff: float = 2.0
    timeout: float = 60.0
    progress: bool = True

    def url(self, official: str) -> str:
        if not self.base_url:
            return official
        parts = urllib.parse.urlsplit(official)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.base_url.rstrip('/')}/{parts.netloc}{parts.path}{query}"

    def fetch(self, remote: Remote, dest: Path, show: bool = True) -> Path:
        """`dest` holding `remote`'s verified bytes: already there (skipped), or fetched into
        `dest.part` (resumed where a previous run stopped), verified, renamed."""
        url = self.url(remote.url)
        show = show and self.progress
        if dest.is_file():  # fetched before: still what the catalog publishes?
            if self._matches(remote, dest, show):
                return dest
            log.warning("%s: not the published file (any more); fetching it again", dest)
            _move_aside(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        for attempt in range(self.retries + 1):
            try:
                self._transfer(url, remote, part, show)
                break
            except _Transient as exc:
                have = part.stat().st_size if part.exists() else 0
                if attempt == self.retries:
                    kept = f"; the {human(have)} fetched are kept in {part}" if have else ""
                    raise NossError(
                        f"{url}: {exc}{kept}; check the network (or {BASE_ENV}) and re-run "
                        "to resume"
                    ) from None
                log.warning(
                    "%s: %s; retrying from %s (%d of %d)",
                    url,
                    exc,
                    human(have),
                    attempt + 1,
                    self.retries,
                )
                time.sleep(self.backoff * (attempt + 1))
        self._verify(url, remote, part, show)
        os.replace(part, dest)
        return dest

    def _transfer(self, url: str, remote: Remote, part: Path, show: bool) -> None:
        have = part.stat().st_size if part.exists() else 0
        if remote.size is not None and have >= remote.size:
            return  # whole (or longer: _verify moves it aside)
        _check_space(part.parent, remote.size, have)
        headers = {"User-Agent": f"noss-eval/{__version__}"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            response = urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=self.timeout
            )
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and have:
                return  # nothing past `have`: the file is whole; _verify decides
            if exc.code >= 500 or exc.code == 429:
                raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
            raise NossError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, socket.gaierror):  # no such host: a retry will not find it
                raise NossError(
                    f"{url}: cannot connect ({reason}); check the network (or {BASE_ENV})"
                ) from None
            raise _Transient(f"cannot connect ({reason})") from None
        with response:
            mode, start, total = _resume_point(response, have)
            if mode == "ab" and start != have:
                part.unlink()  # the server resumed elsewhere: start again from 0
                raise _Transient(f"the server resumed at byte {start}, not {have}")
            if mode == "wb" and have:
                log.info("%s: the server does not resume; fetching it from the start", url)
            if remote.size is not None and total is not None and total != remote.size:
                raise NossError(
                    f"{url}: the server offers {total} bytes, the published size is "
                    f"{remote.size}; it is not the published file (check {BASE_ENV} if set)"
                )
            what = f"download {remote.name}" + (f" (resuming at {human(start)})" if start else "")
            meter = ByteMeter(total - start if total else 0, what, show)
            try:
                with open(part, mode) as out:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        meter.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and exc.filename:
                    raise NossError(f"{part}: cannot write ({exc.strerror or exc})") from None
                raise _Transient(f"the transfer broke off ({exc})") from None
            finally:
                meter.close()
        got = part.stat().st_size
        if total is not None and got < total:
            raise _Transient(f"the connection closed at {human(got)} of {human(total)}")

    def _matches(self, remote: Remote, path: Path, show: bool) -> bool:
        if remote.size is not None and path.stat().st_size != remote.size:
            return False
        return remote.sha256 is None or sha256_of(path, f"verify {path.name}", show) == (
            remote.sha256
        )

    def _verify(self, url: str, remote: Remote, part: Path, show: bool) -> None:
        size = part.stat().st_size
        if remote.size is not None and size != remote.size:
            bad = _move_aside(part)
            raise NossError(
                f"{remote.name}: {size} bytes, the published size is {remote.size} ({url}); "
                f"moved aside to {bad.name}: re-run to fetch it again"
            )
        if remote.sha256 is None:
            if show:
                checked = "the published size" if remote.size is not None else "the server's length"
                log.info("%s: no published sha256; checked against %s only", remote.name, checked)
            return
        digest = sha256_of(part, f"verify {remote.name}", show)
        if digest != remote.sha256:
            bad = _move_aside(part)
            raise NossError(
                f"{remote.name}: sha256 {digest} is not the published {remote.sha256} ({url}); "
                f"moved aside to {bad}: re-run to fetch it again (check {BASE_ENV} if set)"
            )


def _resume_point(response, have: int) -> tuple[str, int, int | None]:
    """(file mode, where the response's bytes start, whole size if known) for a response to a
    request that asked for the bytes from `have` on."""
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if response.status == 206:
        match = re.fullmatch(
            r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", "").strip()
        )
        if not match:
            raise NossError(f"{response.url}: a partial answer without a usable Content-Range")
        total = None if match.group(3) == "*" else int(match.group(3))
        return "ab", int(match.group(1)), total
    if response.status != 200:
        raise NossError(f"{response.url}: unexpected HTTP {response.status}")
    return "wb", 0, length if length is not None else None


def _check_space(folder: Path, size: int | None, have: int) -> None:
    if size is None:
        return
    free = shutil.disk_usage(folder).free
    if free < size - have:
        raise NossError(
            f"{folder}: {human(free)} free, {human(size - have)} more are needed; free some "
            "space or choose another data_dir"
        )


def _move_aside(path: Path) -> Path:
    """`path` renamed to `<name>.bad` (replacing an older one), out of the next run's way."""
    bad = path.with_name(path.name.removesuffix(".part") + ".bad")
    os.replace(path, bad)
    return bad


def sha256_of(path: Path, desc: str = "verify", show: bool = False) -> str:
    digest = hashlib.sha256()
    meter = ByteMeter(path.stat().st_size, desc, show)
    try:
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                digest.update(block)
                meter.update(len(block))
    finally:
        meter.close()
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Unpacking


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


# ---------------------------------------------------------------------------------------------
# Datasets


def download_dataset(
    source: DatasetSource,
    data_dir: Path,
    fetcher: Fetcher | None = None,
    jobs: int = 4,
    keep_archives: bool = False,
) -> Path:
    """`data_dir/<source.name>` in the layout its task reader expects; what is already complete
    is skipped, a partial download resumed. Returns the dataset folder."""
    if source.manual:
        raise NossError(f"{source.name}: cannot be downloaded openly; fetch it by hand")
    fetcher = fetcher or Fetcher()
    data_dir = Path(data_dir)
    stage = data_dir / STAGE / source.name
    stage.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(stage.with_name(f"{source.name}.lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise NossError(
            f"{stage}: another noss-eval download is fetching {source.name}; let it finish"
        ) from None
    try:
        for stale in stage.glob("unpack-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by an interrupted unpack
        root = data_dir / source.name
        if source.kind == "archives":
            _archives(source, root, stage, fetcher, keep_archives)
        elif source.kind == "listed":
            _listed(source, root, stage, fetcher, jobs)
        else:
            _url_list(source, root, stage, fetcher, jobs, keep_archives)
    finally:
        lock.release()
    if not keep_archives:
        shutil.rmtree(stage, ignore_errors=True)
        Path(lock.lock_file).unlink(missing_ok=True)
        try:
            stage.parent.rmdir()
        except OSError:
            pass  # other datasets' downloads are still there
    log.info("%s: ready in %s", source.name, root)
    return root


def _temp(stage: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=stage, prefix="unpack-"))


def _archives(source: DatasetSource, root: Path, stage: Path, fetcher: Fetcher, keep: bool) -> None:
    def present(a: Archive) -> bool:
        return (root / a.marker).exists() if a.marker else (root / a.into).is_dir()

    pending = [a for a in source.archives if not present(a)]
    if not pending:
        log.info("%s: already complete in %s (skipped)", source.name, root)
        return
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()  # an empty folder made by hand
    whole = [a for a in pending if a.into in ("", ".")]
    if whole and root.exists():
        raise NossError(
            f"{root}: exists but holds no {whole[0].marker}, so it is not a complete "
            f"{source.title}; move it away (or complete it by hand) and re-run"
        )
    files = [fetcher.fetch(a.remote, stage / a.remote.name) for a in pending]
    log.info("%s: unpacking %s", source.name, ", ".join(f.name for f in files))
    tmp = _temp(stage)
    try:
        if not root.exists():
            # Everything into one folder, renamed into place at once.
            for archive, path in zip(pending, files, strict=True):
                _unpack_checked(archive, path, tmp / archive.into, fetcher.progress)
            os.rename(tmp, root)
        else:
            for i, (archive, path) in enumerate(zip(pending, files, strict=True)):
                part = tmp / str(i)
                _unpack_checked(archive, path, part, fetcher.progress)
                target = root / archive.into
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(part, target)
    except OSError as exc:
        raise NossError(
            f"{root}: cannot move the unpacked files into place ({exc.strerror or exc})"
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not keep:
        for path in files:
            path.unlink(missing_ok=True)


def _unpack_checked(archive: Archive, path: Path, dest: Path, show: bool) -> None:
    try:
        unpack(path, dest, archive.strip, show)
    except NossError as exc:
        if archive.remote.sha256 is None:  # unverified: the next run fetches it again
            path.unlink(missing_ok=True)
            raise NossError(f"{exc}; the archive was deleted: re-run to fetch it again") from None
        raise
    if archive.marker and archive.into not in ("", "."):
        marker = PurePosixPath(archive.marker).relative_to(archive.into)
    else:
        marker = PurePosixPath(archive.marker)
    if archive.marker and not (dest / marker).exists():
        raise NossError(
            f"{path.name}: unpacked, but it holds no {archive.marker}; not the expected archive"
        )


GIVE_UP_AFTER = 10  # failures in a row (none fetched between them) that stop a list early


def _run_all(items: Sequence, work: Callable, jobs: int, meter: Meter, what: str) -> None:
    """`work` on every item with `jobs` threads. A failed item (one-line NossError) does not
    stop the others, unless GIVE_UP_AFTER fail in a row (the network is gone); then, or at the
    end, one error says how many failed and the first reason. Items done stay done, so a re-run
    fetches only the rest."""
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    failed, in_a_row, first = 0, 0, ""
    futures: set[Future] = set()
    try:
        futures = {pool.submit(work, item) for item in items}
        while futures and in_a_row < GIVE_UP_AFTER:
            done, futures = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                meter.update()
                try:
                    future.result()
                    in_a_row = 0
                except NossError as exc:
                    failed, in_a_row = failed + 1, in_a_row + 1
                    first = first or str(exc)
                    log.warning("%s", exc)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        meter.close()
    if failed:
        stopped = f" (stopped after {GIVE_UP_AFTER} failures in a row)" if futures else ""
        raise NossError(
            f"{what}: {failed} of {len(items)} failed{stopped}; the first: {first}; the others "
            "are kept: re-run to fetch the rest"
        )


def parse_checksums(text: str) -> list[Remote]:
    """A TFDS checksums file: `url <TAB> size <TAB> sha256 [<TAB> filename]` a line."""
    remotes = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        values = line.split("\t")
        if len(values) == 1:
            values = line.rsplit(" ", 2)
        if len(values) not in (3, 4) or not values[1].isdigit():
            raise NossError(f"checksums line {n}: expected url, size, sha256: {line[:80]!r}")
        remotes.append(Remote(values[0], int(values[1]), values[2].lower()))
    return remotes


def _listed(source: DatasetSource, root: Path, stage: Path, fetcher: Fetcher, jobs: int) -> None:
    target = root / source.into
    if target.is_dir():
        log.info("%s: already complete in %s (skipped)", source.name, target)
        return
    assert source.index is not None
    index = fetcher.fetch(source.index, stage / source.index.name, show=False)
    from noss_eval.tasks.crema_d import TFDS_EXCLUDED  # absent from the repository

    remotes = [
        r
        for r in parse_checksums(index.read_text(encoding="utf-8"))
        if source.select in r.url
        and r.name.lower().endswith(".wav")
        and r.name.rsplit(".", 1)[0] not in TFDS_EXCLUDED
    ]
    if not remotes:
        raise NossError(f"{index.name}: lists no URL containing '{source.select}'")
    folder = stage / source.into
    missing = [r for r in remotes if not (folder / r.name).is_file()]
    log.info(
        "%s: %d files (%d already fetched), each checked against the sha256 of %s",
        source.name,
        len(remotes),
        len(remotes) - len(missing),
        source.index.name,
    )
    meter = Meter(len(missing), f"download {source.name}", "file", fetcher.progress, PROGRESS_EVERY)
    _run_all(
        missing, lambda r: fetcher.fetch(r, folder / r.name, show=False), jobs, meter, source.name
    )
    root.mkdir(parents=True, exist_ok=True)
    os.rename(folder, target)


def voxforge_place(url: str) -> tuple[PurePosixPath, str]:
    """(folder of the archive's content under the dataset folder, archive file name) for a
    VoxForge archive URL: `<lang>/Trunk/Audio/Main/<rate>/<archive name without .tgz>`. The
    language is the two letters before `/Trunk`, as TFDS voxforge labels it."""
    parts = [p for p in urllib.parse.urlsplit(url).path.split("/") if p]
    if "Trunk" not in parts or parts.index("Trunk") == 0 or not parts[-1]:
        raise NossError(f"{url}: expected .../<lang>/Trunk/Audio/Main/<rate>/<archive>.tgz")
    at = parts.index("Trunk")
    language = parts[at - 1][-2:]
    name = parts[-1]
    stem = re.sub(r"\.(tgz|tar\.gz|tar|zip)$", "", name)
    if stem in ("", ".", "..") or language in (".", ".."):
        raise NossError(f"{url}: expected .../<lang>/Trunk/Audio/Main/<rate>/<archive>.tgz")
    return PurePosixPath(language, *parts[at:-1], stem), name


def _url_list(
    source: DatasetSource, root: Path, stage: Path, fetcher: Fetcher, jobs: int, keep: bool
) -> None:
    assert source.index is not None
    index = fetcher.fetch(source.index, stage / source.index.name, show=False)
    # TFDS voxforge: each line stripped, quotes removed.
    urls = [
        line.strip().replace('"', "").replace("'", "")
        for line in index.read_text(encoding="utf-8").splitlines()
    ]
    places: dict[PurePosixPath, tuple[str, str]] = {}
    for url in urls:
        if url and not url.startswith("#"):
            rel, name = voxforge_place(url)
            places.setdefault(rel, (url, name))  # an archive listed twice is fetched once
    missing = [(url, rel, name) for rel, (url, name) in places.items() if not (root / rel).is_dir()]
    if not missing:
        log.info("%s: already complete in %s (skipped)", source.name, root)
        return
    log.info(
        "%s: %d archives (%d already unpacked); none has a published checksum: each is checked "
        "against the server's size and its gzip CRC",
        source.name,
        len(places),
        len(places) - len(missing),
    )

    def one(item) -> None:
        url, rel, name = item
        archive = fetcher.fetch(Remote(url), stage / "archives" / rel.parent / name, show=False)
        tmp = _temp(stage)
        try:
            try:
                unpack(archive, tmp, 0, show=False)
            except NossError as exc:
                archive.unlink(missing_ok=True)
                raise NossError(
                    f"{exc}; the archive was deleted: re-run to fetch it again"
                ) from None
            entries = list(tmp.iterdir())
            content = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(content, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if not keep:
            archive.unlink(missing_ok=True)

    meter = Meter(
        len(missing), f"download {source.name}", "archive", fetcher.progress, PROGRESS_EVERY
    )
    _run_all(missing, one, jobs, meter, source.name)


def download(
    names: Iterable[str],
    data_dir: Path,
    *,
    base_url: str | None = None,
    catalog: dict[str, DatasetSource] | None = None,
    jobs: int = 4,
    retries: int = 3,
    backoff: float = 2.0,
    progress: bool = True,
    keep_archives: bool = False,
) -> tuple[list[Path], list[DatasetSource]]:
    """Fetch every openly downloadable dataset of `names` (task or dataset folder names) into
    `data_dir`. Returns (the dataset folders made or found complete, the datasets that must be
    fetched by hand). Unknown names and an unwritable `data_dir` are errors before anything is
    fetched."""
    sources = resolve(list(names), catalog)
    manual = [s for s in sources if s.manual]
    wanted = [s for s in sources if not s.manual]
    done = []
    if wanted:
        data_dir = check_data_dir(data_dir)
        fetcher = Fetcher(base_url, retries, backoff, progress=progress)
        for source in wanted:
            done.append(download_dataset(source, data_dir, fetcher, jobs, keep_archives))
    return done, manual
