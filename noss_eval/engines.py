"""Engines turn clips into pooled embeddings; extraction (caching, bookkeeping) is shared.

- `LocalEngine`: this process. Decoding and resampling run on a background thread, a bounded queue
  ahead of inference, so they overlap with the interpreter (which releases the GIL and uses all
  cores itself); memory stays bounded whatever the dataset size.
- `ThreadEngine`: N threads in this process, each with its own single-threaded copy of a model
  file's embedder (TFLite, ONNX), each preparing and inferring whole groups of clips.
- `ProcessEngine`: N worker processes, each with its own single-threaded embedder.
- `noss_eval.beam_engine.BeamEngine`: the same work as an Apache Beam pipeline.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, Protocol

import numpy as np

from noss_eval.embedder import Embedder, resolve_embedder
from noss_eval.errors import AudioError, NossError, no_exit
from noss_eval.sources import AudioStream, decode, require_file_stream
from noss_eval.task import Clip

Result = tuple[Clip, "np.ndarray | AudioError"]


class Engine(Protocol):
    def run(self, clips: Sequence[Clip], stream: AudioStream) -> Iterator[Result]:
        """`(clip, pooled vector or the AudioError)` for every clip, in order."""
        ...


def pool(frames: np.ndarray, clip: Clip) -> np.ndarray:
    """Time-average `[frames, dim]` into one vector."""
    if frames.ndim != 2 or frames.shape[0] == 0:
        raise NossError(f"{clip.path}: embedder returned shape {frames.shape}, not [frames, dim]")
    vector = frames.mean(axis=0)
    if not np.all(np.isfinite(vector)):
        raise NossError(f"{clip.path}: embedder returned NaN or infinite values")
    return vector.astype(np.float32)


def prefetched(items: Iterable[Any], depth: int) -> Iterator[Any]:
    """Iterate `items` on a background thread, at most `depth` ahead; re-raise its errors."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer
            buffer.put((done, exc))
            return
        buffer.put((done, None))

    thread = threading.Thread(target=produce, name="noss-eval-decode", daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()


@dataclass
class LocalEngine:
    """Embedders with `prepare`/`infer` (TFLite) also get their input preparation (frontend,
    framing) done on the decode thread. Those with `batch_windows` (models with a batch
    dimension fed NOSS windows) run several clips' windows per invoke, stacked on the decode
    thread too (`stack_windows`), so this thread only invokes. (Two preparing threads were
    measured no faster on 2 cores: the interpreter's threads already fill them.)"""

    embedder: Embedder
    depth: int = 32
    clips_per_batch: int = 16  # clips whose windows share invokes, where the model allows

    def run(self, clips: Sequence[Clip], stream: AudioStream) -> Iterator[Result]:
        prepare = getattr(self.embedder, "prepare", None)
        infer = getattr(self.embedder, "infer", self.embedder.embed)

        def decoded() -> Iterator[tuple[Clip, Any]]:
            for clip, audio in stream(clips, self.embedder.sample_rate):
                yield clip, audio if prepare is None or _failed(audio) else prepare(audio)

        if prepare is None or not getattr(self.embedder, "batch_windows", 0):
            for clip, item in prefetched(decoded(), self.depth):
                yield clip, item if _failed(item) else pool(infer(item), clip)
            return

        def stacked() -> Iterator[tuple[list[tuple[Clip, Any]], Any]]:
            for group in _groups(decoded(), self.clips_per_batch):
                ready = [item for _, item in group if not _failed(item)]
                yield group, self.embedder.stack_windows(ready) if ready else None

        for group, windows in prefetched(stacked(), max(1, self.depth // self.clips_per_batch)):
            frames = self.embedder.infer_stacked(windows) if windows is not None else []
            yield from _in_place(group, frames)


@dataclass
class ThreadEngine:
    """`workers` threads, each with its own single-threaded copy of the embedder, each preparing
    and inferring whole groups of clips (windows batched as in `LocalEngine`); results in
    order. Copies never wait on each other, where one interpreter's threads wait for the slowest
    at every op and a decode thread beside them takes their cores (`bench_extraction.py`)."""

    recipe: EmbedderRecipe
    sample_rate: int
    workers: int
    clips_per_batch: int = 16
    _idle: queue.SimpleQueue = field(default_factory=queue.SimpleQueue, init=False, repr=False)

    def run(self, clips: Sequence[Clip], stream: AudioStream) -> Iterator[Result]:
        pending: deque[Future] = deque()
        executor = ThreadPoolExecutor(self.workers, thread_name_prefix="noss-eval-embed")
        try:
            for group in _groups(iter(stream(clips, self.sample_rate)), self.clips_per_batch):
                pending.append(executor.submit(self._embed, group))
                if len(pending) > 2 * self.workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        except GeneratorExit:
            raise
        except BaseException:  # Ctrl-C or a failure: the groups handed to a copy still count
            yield from _finished(pending)
            raise
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    def _embed(self, group: list[tuple[Clip, Any]]) -> list[Result]:
        """One group on an idle copy; copies are built on first need (at most `workers` run
        at once) and kept for the next group and the next run."""
        try:
            embedder = self._idle.get_nowait()
        except queue.Empty:
            embedder = self.recipe.build(threads=1)
        try:
            return _embed_group(embedder, group)
        finally:
            self._idle.put(embedder)


def _finished(pending: deque[Future]) -> Iterator[Result]:
    """The results of the groups that a copy has started or finished, once they finish; the
    groups no copy has started are dropped."""
    started = [f for f in pending if not f.cancel()]
    yield from (r for f in started if f.exception() is None for r in f.result())


def _embed_group(embedder: Embedder, group: list[tuple[Clip, Any]]) -> list[Result]:
    """Pooled vectors (or the AudioError) of one group of decoded clips, on one embedder."""
    ready = [embedder.prepare(audio) for _, audio in group if not _failed(audio)]
    if ready and getattr(embedder, "batch_windows", 0):
        frames = embedder.infer_stacked(embedder.stack_windows(ready))
    else:
        frames = [embedder.infer(p) for p in ready]
    return _in_place(group, frames)


def _in_place(group: list[tuple[Clip, Any]], frames: Iterable[np.ndarray]) -> list[Result]:
    """Each clip of `group` with its pooled `frames` (those of its readable clips, in order),
    or its AudioError."""
    readable = iter(frames)
    return [(clip, item if _failed(item) else pool(next(readable), clip)) for clip, item in group]


def _failed(item: Any) -> bool:
    return isinstance(item, AudioError)


def _groups(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    group: list[Any] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


@dataclass(frozen=True)
class EmbedderRecipe:
    """What rebuilds the embedder in another process (or on a Beam worker)."""

    spec: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self, threads: int | None = None) -> Embedder:
        with no_exit(self.spec):
            if threads is None or "threads" in self.options:
                return resolve_embedder(self.spec, self.options)
            try:
                return resolve_embedder(self.spec, {**self.options, "threads": threads})
            except NossError:  # a plug-in kind without a `threads` argument
                return resolve_embedder(self.spec, self.options)


def embed_clip(embedder: Embedder, clip: Clip) -> Result:
    audio = decode(clip, embedder.sample_rate)
    return clip, audio if _failed(audio) else pool(embedder.embed(audio), clip)


_worker_embedder: Embedder | None = None


def _start_worker(recipe: EmbedderRecipe) -> None:
    global _worker_embedder
    _worker_embedder = recipe.build(threads=1)


def _embed_chunk(clips: list[Clip]) -> list[Result]:
    return [embed_clip(_worker_embedder, clip) for clip in clips]


@dataclass
class ProcessEngine:
    recipe: EmbedderRecipe
    workers: int
    chunk: int = 16

    def run(self, clips: Sequence[Clip], stream: AudioStream) -> Iterator[Result]:
        require_file_stream(stream, "--workers > 1")
        if not clips:
            return
        chunks = [list(clips[i : i + self.chunk]) for i in range(0, len(clips), self.chunk)]
        with ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.recipe,),
        ) as pool_:
            for results in pool_.map(_embed_chunk, chunks):
                yield from results
