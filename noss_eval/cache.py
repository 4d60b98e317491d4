"""On-disk cache of pooled embeddings: one `.npz` per (embedder fingerprint, task, split,
preprocessing). Entries map clip ids to vectors; writes go to a temp file and are renamed."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np


class EmbeddingCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()

    def path(self, fingerprint: str, task: str, split: str, preprocessing: str) -> Path:
        tag = hashlib.sha256(preprocessing.encode()).hexdigest()[:12]
        return self.root / fingerprint[:16] / task / f"{split}-{tag}.npz"

    def load(self, path: Path) -> dict[str, np.ndarray]:
        if not path.is_file():
            return {}
        try:
            with np.load(path, allow_pickle=False) as data:
                return dict(zip(data["ids"].tolist(), data["embeddings"], strict=True))
        except (OSError, ValueError, KeyError):
            return {}  # a corrupt entry is recomputed, never trusted

    def save(self, path: Path, entries: dict[str, np.ndarray]) -> None:
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
