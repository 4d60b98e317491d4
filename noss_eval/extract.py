"""Turn a task's clips into time-averaged embeddings, reusing the cache."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from noss_eval.audio import PREPROCESSING_VERSION
from noss_eval.cache import EmbeddingCache
from noss_eval.embedder import Embedder, fingerprint
from noss_eval.errors import AudioError, NossError
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


def pool(frames: np.ndarray, clip: Clip) -> np.ndarray:
    if frames.ndim != 2 or frames.shape[0] == 0:
        raise NossError(f"{clip.path}: embedder returned shape {frames.shape}, not [frames, dim]")
    vector = frames.mean(axis=0)
    if not np.all(np.isfinite(vector)):
        raise NossError(f"{clip.path}: embedder returned NaN or infinite values")
    return vector.astype(np.float32)


def extract(
    embedder: Embedder,
    task_name: str,
    clips: Sequence[Clip],
    cache: EmbeddingCache,
    *,
    strict: bool = False,
    progress: bool = True,
    stream: AudioStream = file_stream,
    flush_every: int = 1000,
) -> Extraction:
    """Embed every clip (cache first), split by split; `task_name` namespaces the cache.
    Unreadable audio is logged and counted, or raised with `strict`."""
    key = fingerprint(embedder)
    preprocessing = f"{PREPROCESSING_VERSION}|{POOLING}|{embedder.sample_rate}"
    vectors: dict[str, np.ndarray] = {}
    result = Extraction(clips=[], embeddings=np.zeros((0, 0), np.float32))
    for split in sorted({c.split for c in clips}):
        path = cache.path(key, task_name, split, preprocessing)
        stored = cache.load(path)
        in_split = [(c, cache_key(c)) for c in clips if c.split == split]
        todo = [(c, k) for c, k in in_split if k not in stored]
        result.cache_hits += len(in_split) - len(todo)
        keys = {c.clip_id: k for c, k in todo}
        decoded = stream([c for c, _ in todo], embedder.sample_rate)
        bar = tqdm(
            decoded,
            total=len(todo),
            desc=f"{task_name}/{split}",
            unit="clip",
            disable=not progress or not todo,
            leave=False,
        )
        for n, (clip, waveform) in enumerate(bar, 1):
            if isinstance(waveform, AudioError):
                if strict:
                    raise waveform
                log.warning("unreadable audio skipped: %s", waveform)
                result.failed.append((clip, str(waveform)))
            else:
                stored[keys[clip.clip_id]] = pool(embedder.embed(waveform), clip)
                result.computed += 1
            if n % flush_every == 0:
                cache.save(path, stored)
        if todo and len(stored):
            cache.save(path, stored)
        vectors.update({c.clip_id: stored[k] for c, k in in_split if k in stored})
    bad = {c.clip_id for c, _ in result.failed}
    result.clips = [c for c in clips if c.clip_id not in bad]
    if not result.clips:
        raise NossError(f"{task_name}: no clip could be read")
    result.embeddings = np.stack([vectors[c.clip_id] for c in result.clips])
    return result
