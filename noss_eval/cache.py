"""On-disk cache of pooled embeddings: one entry per (embedder fingerprint, task, split,
preprocessing), mapping clip keys to vectors.

An entry is a consolidated `.npz` plus any `*.part-*.npz` files written while it was being filled
(periodic flushes, Beam workers). Reads merge them; `consolidate` folds the parts into the main
file. Every file is written to a temporary name and renamed, so a crash leaves no torn entry.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from pathlib import Path

import numpy as np


class EmbeddingCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()

    def path(self, fingerprint: str, task: str, split: str, preprocessing: str) -> Path:
        tag = hashlib.sha256(preprocessing.encode()).hexdigest()[:12]
        return self.root / fingerprint[:16] / task / f"{split}-{tag}.npz"

    def parts(self, path: Path) -> list[Path]:
        return sorted(path.parent.glob(f"{path.stem}.part-*.npz"))

    def load(self, path: Path) -> dict[str, np.ndarray]:
        entries: dict[str, np.ndarray] = {}
        for file in [path, *self.parts(path)]:
            entries.update(read_npz(file))
        return entries

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


def read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            return dict(zip(data["ids"].tolist(), data["embeddings"], strict=True))
    except (OSError, ValueError, KeyError):
        return {}  # a corrupt file is recomputed, never trusted


def write_npz(path: Path, entries: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = sorted(entries)
    embeddings = np.stack([entries[i] for i in ids]).astype(np.float32)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, ids=np.array(ids, dtype=str), embeddings=embeddings)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
