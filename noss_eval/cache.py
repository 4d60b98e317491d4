"""On-disk cache of pooled embeddings: one entry per (embedder fingerprint, task, split,
preprocessing), mapping clip keys to vectors.

An entry is a consolidated `.npz` plus any `*.part-*.npz` files written while it was being filled
(periodic flushes, Beam workers). Reads merge them; `consolidate` folds the parts into the main
file. Every file is written to a temporary name and renamed, so a crash leaves no torn entry.
A file that cannot be read, or whose content is inconsistent (ids not a list of strings, vectors
not finite or of another dimension), is moved aside under `quarantine/` with a warning, and its
vectors are recomputed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

import numpy as np

from noss_eval.atomic import (
    atomic_write_text,
    atomic_writer,
    is_writable_folder,
    nearest_folder,
)
from noss_eval.errors import NossError

log = logging.getLogger(__name__)
QUARANTINE = "quarantine"


class EmbeddingCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()

    def path(self, fingerprint: str, task: str, split: str, preprocessing: str) -> Path:
        """The entry's file: every part named from outside (the fingerprint, the task's name or
        cache namespace, the split or fold) goes through `safe_name`, so none reaches outside
        the cache folder."""
        tag = hashlib.sha256(preprocessing.encode()).hexdigest()[:12]
        return self._folder(fingerprint) / safe_name(task) / f"{safe_name(split)}-{tag}.npz"

    def _folder(self, fingerprint: str) -> Path:
        return self.root / safe_name(fingerprint[:16])

    def known_dim(self, fingerprint: str) -> int | None:
        """The output dimension of the embedder's cached vectors. The `dim` record is derived
        (the dimension measured when the embedder was last checked), so the vectors rule: a
        record that disagrees with them is rebuilt from their width, with a warning. None
        without a valid record (the embedder is then checked and its dimension recorded)."""
        record = self._folder(fingerprint) / "dim"
        try:
            recorded = int(record.read_text(encoding="ascii").strip())
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if recorded < 1:
            return None
        widths = self._widths(self._folder(fingerprint))
        if not widths or widths == {recorded}:
            return recorded
        if len(widths) > 1:  # vectors of several widths: only a new check can tell
            return recorded if recorded in widths else None
        (width,) = widths
        log.warning(
            "cache: %s says %d-d, the cached vectors are %d-d; rebuilt it from the vectors",
            record,
            recorded,
            width,
        )
        try:
            self.record_dim(fingerprint, width)
        except OSError:
            pass  # a read-only cache: the width is still right for this run
        return width

    def _widths(self, folder: Path) -> set[int]:
        """The vector widths of every cache file below `folder`, read from their headers (a
        file that is not a consistent cache file is left for `load_into` to quarantine)."""
        widths = set()
        for file in folder.glob("*/*.npz"):
            try:
                with zipfile.ZipFile(file) as zf:
                    with zf.open("ids.npy") as fh:
                        ids = _read_header(fh)[0]
                    with zf.open("embeddings.npy") as fh:
                        shape, _, dtype = _read_header(fh)
            except Exception:  # unreadable: not a witness
                continue
            if len(shape) == 2 and ids == shape[:1] and shape[1] > 0 and dtype.kind == "f":
                widths.add(int(shape[1]))
        return widths

    def record_dim(self, fingerprint: str, dim: int) -> None:
        atomic_write_text(self._folder(fingerprint) / "dim", str(dim))

    def parts(self, path: Path) -> list[Path]:
        return sorted(path.parent.glob(f"{path.stem}.part-*.npz"))

    def load(self, path: Path, dim: int | None = None) -> dict[str, np.ndarray]:
        """Every vector of the entry; a file whose vectors are not `dim`-dimensional (or, with
        no `dim`, not of the first readable file's dimension) is quarantined."""
        entries: dict[str, np.ndarray] = {}
        for file in [path, *self.parts(path)]:
            vectors = read_npz(file, self.root)
            if not vectors:
                continue
            width = len(next(iter(vectors.values())))
            dim = width if dim is None else dim
            if width != dim:
                quarantine(file, self.root, f"{width}-d vectors where {dim}-d are expected")
                continue
            entries.update(vectors)
        return entries

    def keys(self, path: Path) -> set[str]:
        """The clip keys the entry holds, reading only the ids (an unreadable file counts as
        empty here; `load` quarantines it)."""
        keys: set[str] = set()
        for file in [path, *self.parts(path)]:
            try:
                with np.load(file, allow_pickle=False) as data:
                    keys.update(data["ids"].tolist())
            except Exception:  # absent, or corrupt in any of the ways `read_npz` reports
                continue
        return keys

    def save_part(self, path: Path, entries: dict[str, np.ndarray]) -> None:
        """Add `entries` to the cache entry at `path` without rewriting what is there."""
        if entries:
            write_npz(path.parent / f"{path.stem}.part-{uuid.uuid4().hex}.npz", entries)

    def width(self, paths: Iterable[Path]) -> int | None:
        """The vector width of the first entry file there is, read from its header alone."""
        for file in (f for path in paths for f in [path, *self.parts(path)]):
            try:
                with zipfile.ZipFile(file) as zf, zf.open("embeddings.npy") as fh:
                    shape = _read_header(fh)[0]
            except Exception:  # absent or unreadable: `load_into` reports it
                continue
            if len(shape) == 2:
                return int(shape[1])
        return None

    def load_into(self, path: Path, rows: Mapping[str, int], out: np.ndarray) -> set[str]:
        """Copy the entry's vectors of the keys in `rows` into those rows of `out`, a block at
        a time (never a second copy of the entry in memory); the keys found. A file that is
        unreadable, inconsistent or not of `out`'s width is quarantined, its keys not found."""
        found: set[str] = set()
        for file in [path, *self.parts(path)]:
            copied: list[str] = []
            try:
                for ids, block in read_blocks(file, out.shape[1]):
                    for key, vector in zip(ids, block, strict=True):
                        if key in rows:
                            out[rows[key]] = vector
                            copied.append(key)
            except FileNotFoundError:
                continue
            except Exception as exc:  # a corrupt zip fails in many ways
                quarantine(file, self.root, f"{type(exc).__name__}: {exc}")
                found.difference_update(copied)
                continue
            found.update(copied)
        return found

    def consolidate(self, path: Path) -> None:
        """Fold the parts into the main file (a later file wins for a key it shares), a block at
        a time; unreadable or inconsistent files are quarantined, not folded in."""
        parts = self.parts(path)
        if not parts:
            return
        files, owner, width = [path, *parts], {}, None
        for i, file in enumerate(files):
            ids_of_file: list[str] = []
            try:
                for ids, block in read_blocks(file, width):
                    ids_of_file += ids
                    file_width = block.shape[1]
            except FileNotFoundError:
                continue
            except Exception as exc:  # nothing of a bad file is folded in, not even its good blocks
                quarantine(file, self.root, f"{type(exc).__name__}: {exc}")
                continue
            if ids_of_file:
                width = file_width
            owner.update(dict.fromkeys(ids_of_file, i))

        def rows() -> Iterator[tuple[str, np.ndarray]]:
            for i in sorted(set(owner.values())):
                for ids, block in read_blocks(files[i], width):
                    yield from (
                        (k, v) for k, v in zip(ids, block, strict=True) if owner.get(k) == i
                    )

        try:
            if owner:
                _write_rows(path, len(owner), width, rows())
        except NossError:
            raise
        except Exception as exc:  # a file changed since it was read (a concurrent run)
            log.warning("cache: %s left in parts (%s: %s)", path, type(exc).__name__, exc)
            return
        for part in parts:
            part.unlink(missing_ok=True)


BLOCK_ROWS = 4096  # vectors read or written at a time
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def safe_name(value: str) -> str:
    """`value` as one path component that stays inside its folder: a plain name (letters,
    digits, `_`, `-`; the builtin tasks, splits and folds, hex fingerprints) unchanged; anything
    else (`..`, `/`, an absolute path, dots, spaces, glob characters, a long name) as `_` + its
    plain letters + a hash of the whole, which no plain name can equal."""
    value = str(value)
    if _PLAIN_NAME.fullmatch(value):
        return value
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", value).strip("_")[:32]
    return f"_{readable}-{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


def _read_header(fh: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    return np.lib.format.read_array_header_2_0(fh)


def read_blocks(path: Path, width: int | None = None) -> Iterator[tuple[list[str], np.ndarray]]:
    """The ids and vectors of one cache file, `BLOCK_ROWS` at a time, each block checked
    (strings for ids, finite float vectors of one `width`); ValueError where it is not,
    FileNotFoundError where there is no file."""
    if not path.exists() and not path.is_symlink():
        raise FileNotFoundError(path)
    if not path.is_file():
        raise ValueError("not a regular file")
    with zipfile.ZipFile(path) as zf:
        with zf.open("ids.npy") as fh:
            ids = np.lib.format.read_array(fh, allow_pickle=False)
        if ids.ndim != 1 or ids.dtype.kind != "U":
            raise ValueError(f"ids are {ids.dtype} of shape {ids.shape}, not a list of strings")
        with zf.open("embeddings.npy") as fh:
            shape, fortran, dtype = _read_header(fh)
            if len(shape) != 2 or shape[0] != len(ids) or dtype.kind != "f" or fortran:
                raise ValueError(f"vectors of shape {shape} for {len(ids)} ids")
            if width is not None and shape[1] != width:
                raise ValueError(f"{shape[1]}-d vectors where {width}-d are expected")
            for start in range(0, len(ids), BLOCK_ROWS):
                n = min(BLOCK_ROWS, len(ids) - start)
                data = fh.read(n * shape[1] * dtype.itemsize)
                block = np.frombuffer(data, dtype).reshape(-1, shape[1])
                if len(block) != n:
                    raise ValueError(f"{start + len(block)} of {len(ids)} vectors in the file")
                if not np.all(np.isfinite(block)):
                    raise ValueError("non-finite vectors")
                yield ids[start : start + n].tolist(), block.astype(np.float32, copy=False)


def read_npz(path: Path, root: Path | None = None) -> dict[str, np.ndarray]:
    """The vectors of one cache file; {} when it is absent. Anything unreadable or inconsistent
    is quarantined (under `root`, default the file's folder), never trusted."""
    entries: dict[str, np.ndarray] = {}
    try:
        for ids, block in read_blocks(path):
            entries.update(zip(ids, block, strict=True))
    except FileNotFoundError:
        return {}
    except Exception as exc:  # a corrupt zip fails in many ways (BadZipFile, zlib, EOF, ...)
        quarantine(path, root or path.parent, f"{type(exc).__name__}: {exc}")
        return {}
    return entries


def quarantine(path: Path, root: Path, reason: str) -> Path | None:
    """Move `path` to `root/quarantine/` (keeping its name, stamped) and warn; None if even that
    fails (then it is left in place and still never trusted)."""
    target = (
        root / QUARANTINE / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}.{uuid.uuid4().hex[:6]}"
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    except OSError:
        log.warning("cache: unreadable %s (%s); recomputing", path, reason)
        return None
    log.warning("cache: %s is unreadable (%s); moved to %s, recomputing", path, reason, target)
    return target


def write_npz(path: Path, entries: Mapping[str, np.ndarray]) -> None:
    """Write `entries` (sorted by key) atomically; a full disk or a read-only folder is a
    one-line error that leaves no partial file and every existing entry intact."""
    ids = sorted(entries)
    width = len(entries[ids[0]]) if ids else 0
    _write_rows(path, len(ids), width, ((k, entries[k]) for k in ids))


def _write_rows(path: Path, n: int, width: int, rows: Iterable[tuple[str, np.ndarray]]) -> None:
    """An `.npz` of `n` (id, vector) rows, as `np.savez` writes it (stored, not compressed),
    streamed: the ids first, then the vectors a block at a time. ValueError on a vector that is
    not `width` wide (nothing is left behind)."""
    rows = iter(rows)
    ids, vectors = [], []
    try:
        with (
            atomic_writer(path, binary=True) as fh,
            zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf,
        ):
            with zf.open("embeddings.npy", "w", force_zip64=True) as out:
                header = {"descr": "<f4", "fortran_order": False, "shape": (n, width)}
                np.lib.format.write_array_header_1_0(out, header)
                for key, vector in rows:
                    if np.shape(vector) != (width,):
                        raise ValueError(f"vector of shape {np.shape(vector)} among {width}-d")
                    ids.append(key)
                    vectors.append(vector)
                    if len(vectors) == BLOCK_ROWS:
                        out.write(np.asarray(vectors, "<f4").tobytes())
                        vectors.clear()
                out.write(np.asarray(vectors, "<f4").reshape(-1, width).tobytes())
            if len(ids) != n:
                raise ValueError(f"{len(ids)} vectors where {n} were announced")
            with zf.open("ids.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.array(ids, dtype=str), allow_pickle=False)
    except OSError as exc:
        raise NossError(
            f"--cache-dir: cannot write {path} ({exc.strerror or exc}); free some space or "
            "give another --cache-dir (the vectors cached so far are intact)"
        ) from None


def check_room(root: Path, n_vectors: int, dim: int) -> None:
    """Before the long work: the cache folder (or its nearest existing parent) is a writable
    folder with room for `n_vectors` new vectors (twice: parts, then the consolidated entry)."""
    folder = nearest_folder(root)
    if not is_writable_folder(folder):
        raise NossError(f"--cache-dir: {folder} is not a writable folder; give another")
    need = 2 * n_vectors * (4 * dim + 64) + (16 << 20)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise NossError(
            f"--cache-dir: {folder} has {free >> 20} MB free, the run needs about {need >> 20} MB;"
            " free some space or give another --cache-dir"
        )
