"""Turn a task's clips into time-averaged embeddings, reusing the cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noss_eval.audio import PREPROCESSING_VERSION
from noss_eval.cache import EmbeddingCache
from noss_eval.embedder import Embedder, fingerprint
from noss_eval.engines import Engine, LocalEngine, Result
from noss_eval.errors import AudioError, NossError, no_exit
from noss_eval.progress import track
from noss_eval.sources import AudioStream, file_stream
from noss_eval.task import Clip

log = logging.getLogger(__name__)
POOLING = "mean-over-frames"


@dataclass
class Extraction:
    """Pooled embeddings of the clips that could be read, plus the ones that could not."""

    clips: list[Clip]
    embeddings: np.ndarray  # [n_clips, dim]
    failed: list[tuple[Clip, str]] = field(default_factory=list)
    cache_hits: int = 0
    computed: int = 0


def cache_key(clip: Clip) -> str:
    """Clip id plus the file's size and mtime: a replaced file is never served from cache."""
    try:
        st = clip.path.stat()
    except OSError:
        return clip.clip_id  # loading will fail and report the path
    return f"{clip.clip_id}|{st.st_size}|{st.st_mtime_ns}"


def entry_paths(
    embedder: Embedder, task_name: str, clips: Sequence[Clip], cache: EmbeddingCache
) -> dict[str, Path]:
    """The cache entry of each split of `clips`."""
    key = fingerprint(embedder)
    preprocessing = f"{PREPROCESSING_VERSION}|{POOLING}|{embedder.sample_rate}"
    return {s: cache.path(key, task_name, s, preprocessing) for s in {c.split for c in clips}}


def uncached(
    embedder: Embedder, task_name: str, clips: Sequence[Clip], cache: EmbeddingCache
) -> int:
    """How many of `clips` have no vector in the cache (read from the entries' ids only)."""
    paths = entry_paths(embedder, task_name, clips, cache)
    keys = {s: cache.keys(path) for s, path in paths.items()}
    return sum(cache_key(c) not in keys[c.split] for c in clips)


def extract(
    embedder: Embedder,
    task_name: str,
    clips: Sequence[Clip],
    cache: EmbeddingCache,
    *,
    engine: Engine | None = None,
    stream: AudioStream = file_stream,
    strict: bool = False,
    progress: bool = True,
    flush_every: int = 1000,
    flush_seconds: float = 30.0,
    dim: int | None = None,
) -> Extraction:
    """Embed every clip not in the cache with `engine` (in-process by default) in one call;
    `task_name` namespaces the cache. Unreadable audio is logged and counted, or raised with
    `strict`. New vectors are flushed to the cache every `flush_every` clips or `flush_seconds`
    (so `kill -9` loses at most that much work), and on any exception or interrupt. `dim`, when
    known, is the embedder's output dimension: cached vectors of another are quarantined."""
    engine = engine or LocalEngine(embedder)
    paths = entry_paths(embedder, task_name, clips, cache)
    keyed = [(c, cache_key(c)) for c in clips]
    matrix = _Matrix(len(clips), dim or cache.width(paths.values()))
    found: set[str] = set()
    if matrix.data is not None:
        for split, path in paths.items():
            rows = {k: i for i, (c, k) in enumerate(keyed) if c.split == split}
            found |= cache.load_into(path, rows, matrix.data)
    todo = {c.clip_id: (i, k) for i, (c, k) in enumerate(keyed) if k not in found}
    result = Extraction(
        clips=[], embeddings=np.zeros((0, 0), np.float32), cache_hits=len(keyed) - len(todo)
    )
    fresh: dict[str, dict[str, np.ndarray]] = {s: {} for s in paths}  # views of matrix rows
    last_flush = time.monotonic()
    try:
        results = no_exit_in(engine.run([clips[i] for i, _ in todo.values()], stream), embedder)
        for clip, vector in track(results, len(todo), task_name, "clip", progress):
            if isinstance(vector, AudioError):
                if strict:
                    raise vector
                log.warning("unreadable audio skipped: %s", vector)
                result.failed.append((clip, str(vector)))
                continue
            row, key = todo[clip.clip_id]
            fresh[clip.split][key] = matrix.put(row, vector, clip)
            result.computed += 1
            due = time.monotonic() - last_flush >= flush_seconds
            if due or len(fresh[clip.split]) >= flush_every:
                for split in (s for s in paths if fresh[s] and (due or s == clip.split)):
                    _flush(cache, paths[split], fresh[split])
                last_flush = time.monotonic()
    except BaseException:
        pending = sum(len(batch) for batch in fresh.values())
        for split, path in paths.items():
            _flush(cache, path, fresh[split])  # a failure here says why itself
        log.warning(
            "%s: stopped; the %d vectors computed so far are saved in the cache (%d in the "
            "last flush) and will not be recomputed",
            task_name,
            result.computed,
            pending,
        )
        raise
    for split, path in paths.items():
        _flush(cache, path, fresh[split])
        cache.consolidate(path)
    bad = {c.clip_id for c, _ in result.failed}
    kept = [i for i, c in enumerate(clips) if c.clip_id not in bad]
    if not kept or matrix.data is None:
        raise NossError(f"{task_name}: no clip could be read")
    result.clips = [clips[i] for i in kept]
    result.embeddings = matrix.compact(kept)
    return result


class _Matrix:
    """The task's `[n_clips, dim]` float32 embeddings, the one copy of each vector (cached
    ones are read into it, computed ones written into it, flushes and probes take views)."""

    def __init__(self, n: int, dim: int | None) -> None:
        self.n = n
        self.data = None if dim is None else np.empty((n, dim), np.float32)

    def put(self, row: int, vector: np.ndarray, clip: Clip) -> np.ndarray:
        if self.data is None:
            self.data = np.empty((self.n, len(vector)), np.float32)
        if vector.shape != self.data.shape[1:]:
            raise NossError(
                f"{clip.path}: the embedder returned {vector.shape[0]}-d vectors where "
                f"{self.data.shape[1]}-d were expected (from the check or the cache)"
            )
        self.data[row] = vector
        return self.data[row]

    def compact(self, kept: list[int]) -> np.ndarray:
        """The rows `kept` (ascending), moved up in place: no copy of the matrix."""
        for new, old in enumerate(kept):
            if new != old:
                self.data[new] = self.data[old]
        return self.data[: len(kept)]


def no_exit_in(results: Iterator[Result], embedder: Embedder) -> Iterator[Result]:
    """`results`, with the embedder's `sys.exit()` a one-line error naming it."""
    with no_exit(embedder.name):
        yield from results


def _flush(cache: EmbeddingCache, path: Path, batch: dict[str, np.ndarray]) -> None:
    """Write `batch` as a cache part and empty it."""
    cache.save_part(path, batch)
    batch.clear()
