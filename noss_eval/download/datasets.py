"""A dataset folder from its catalog entry, by kind: `archives` (fetched, verified, unpacked
into a temporary folder, renamed into place), `listed` (every file of a TFDS checksums list that
matches), `url_list` (archives listed one URL a line, each unpacked in place). Partial downloads
and temporary folders live under `data_dir/.noss-download/`, so an interrupted run never leaves
a half layout a reader would accept."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path, PurePosixPath

from filelock import FileLock, Timeout

from noss_eval.download.catalog import (
    Archive,
    DatasetSource,
    Remote,
    check_data_dir,
    resolve,
)
from noss_eval.download.fetch import PROGRESS_EVERY, Fetcher
from noss_eval.download.unpack import unpack
from noss_eval.errors import NossError
from noss_eval.progress import Meter

log = logging.getLogger(__name__)

STAGE = ".noss-download"  # under data_dir: partial downloads, archives, temporary folders


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
