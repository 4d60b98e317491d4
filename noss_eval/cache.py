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
import shutil
import time
import uuid
from pathlib import Path

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
        tag = hashlib.sha256(preprocessing.encode()).hexdigest()[:12]
        return self.root / fingerprint[:16] / task / f"{split}-{tag}.npz"

    def known_dim(self, fingerprint: str) -> int | None:
        """The output dimension the embedder had when it was last checked, if recorded."""
        try:
            return int((self.root / fingerprint[:16] / "dim").read_text())
        except (OSError, ValueError):
            return None

    def record_dim(self, fingerprint: str, dim: int) -> None:
        atomic_write_text(self.root / fingerprint[:16] / "dim", str(dim))

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

    def consolidate(self, path: Path) -> None:
        parts = self.parts(path)
        if parts:
            write_npz(path, self.load(path))
            for part in parts:
                part.unlink(missing_ok=True)


def read_npz(path: Path, root: Path | None = None) -> dict[str, np.ndarray]:
    """The vectors of one cache file; {} when it is absent. Anything unreadable or inconsistent
    is quarantined (under `root`, default the file's folder), never trusted."""
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        if not path.is_file():
            raise ValueError("not a regular file")
        with np.load(path, allow_pickle=False) as data:
            ids, vectors = data["ids"], data["embeddings"]
        if ids.ndim != 1 or ids.dtype.kind != "U":
            raise ValueError(f"ids are {ids.dtype} of shape {ids.shape}, not a list of strings")
        if vectors.ndim != 2 or len(vectors) != len(ids) or vectors.dtype.kind != "f":
            raise ValueError(f"vectors of shape {vectors.shape} for {len(ids)} ids")
        if not np.all(np.isfinite(vectors)):
            raise ValueError("non-finite vectors")
        return dict(zip(ids.tolist(), vectors, strict=True))
    except Exception as exc:  # a corrupt zip fails in many ways (BadZipFile, zlib, EOF, ...)
        quarantine(path, root or path.parent, f"{type(exc).__name__}: {exc}")
        return {}


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


def write_npz(path: Path, entries: dict[str, np.ndarray]) -> None:
    """Write atomically; a full disk or a read-only folder is a one-line error that leaves no
    partial file and every existing entry intact."""
    ids = sorted(entries)
    embeddings = np.stack([entries[i] for i in ids]).astype(np.float32)
    try:
        with atomic_writer(path, binary=True) as fh:
            np.savez(fh, ids=np.array(ids, dtype=str), embeddings=embeddings)
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
