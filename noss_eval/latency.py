"""`noss-eval latency`: time per 0.96 s window, model size and parameter count.

Each (model, thread count) is measured in a fresh process, because TensorFlow fixes its thread
pools once started. Latency is the wall time of one `embed()` call on one NOSS window (96 frames
of 10 ms: 0.96 s, which takes 0.975 s of audio with the 25 ms STFT window), after warm-up:
median and 90th percentile.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from noss_eval.embedder import Embedder, fingerprint
from noss_eval.engines import EmbedderRecipe
from noss_eval.errors import NossError

WINDOW_S = 0.975  # audio for one 0.96 s (96-frame) NOSS window


@dataclass(frozen=True)
class Latency:
    embedder: str
    embedder_sha256: str
    embedder_fingerprint: str
    threads: int
    median_ms: float
    p90_ms: float
    size_mb: float
    params: int


def measure(recipe: EmbedderRecipe, threads: int, runs: int = 50, warmup: int = 5) -> Latency:
    """Time `runs` embeddings of one 0.96 s window in a fresh process."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(_measure_here, recipe, threads, runs, warmup).result()
        except BrokenProcessPool:
            raise NossError(f"latency: {recipe.spec} crashed the process that timed it") from None


def _measure_here(recipe: EmbedderRecipe, threads: int, runs: int, warmup: int) -> Latency:
    embedder = recipe.build(threads=threads)
    window = (0.1 * np.random.RandomState(0).randn(int(WINDOW_S * embedder.sample_rate))).astype(
        np.float32
    )
    for _ in range(warmup):
        embedder.embed(window)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        embedder.embed(window)
        times.append(1000.0 * (time.perf_counter() - start))
    size, params = model_size(embedder)
    return Latency(
        embedder.name,
        embedder.model_sha256,
        fingerprint(embedder),
        threads,
        float(np.median(times)),
        float(np.percentile(times, 90)),
        size,
        params,
    )


def model_size(embedder: Embedder) -> tuple[float, int]:
    """(megabytes on disk, parameter count) for TFLite and SavedModel embedders; 0 for DSP."""
    path = getattr(embedder, "path", None) or getattr(embedder, "directory", None)
    if path is None:
        return 0.0, 0
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    params = embedder.parameter_count() if hasattr(embedder, "parameter_count") else 0
    return sum(f.stat().st_size for f in files) / 1e6, int(params)


def measure_all(specs: list[tuple[str, dict]], runs: int) -> list[Latency]:
    cores = os.cpu_count() or 1
    results = []
    for spec, options in specs:
        recipe = EmbedderRecipe(spec, options)
        for threads in sorted({1, cores}):
            results.append(measure(recipe, threads, runs))
    return results


def latency_columns(results: list[Latency]) -> dict[str, dict[str, Any]]:
    """Per embedder fingerprint (weights and settings: the output that was timed is the one
    that was scored): the columns merged into leaderboard rows."""
    cores = max(r.threads for r in results)
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        entry = out.setdefault(
            r.embedder_fingerprint, {"size_mb": round(r.size_mb, 3), "params": r.params}
        )
        if r.threads == 1:
            entry.update(latency_ms=round(r.median_ms, 3), latency_p90_ms=round(r.p90_ms, 3))
        if r.threads == cores:
            entry.update(latency_ms_all_threads=round(r.median_ms, 3))
    return out


def format_latency(results: list[Latency]) -> str:
    header = ("embedder", "threads", "median ms", "p90 ms", "size MB", "params")
    body = [
        (
            r.embedder,
            str(r.threads),
            f"{r.median_ms:.2f}",
            f"{r.p90_ms:.2f}",
            f"{r.size_mb:.2f}",
            f"{r.params:,}",
        )
        for r in results
    ]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    lines = [
        "  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)) for line in (header, *body)
    ]
    return "\n".join(
        [*lines, "latency: one 0.96 s NOSS window (0.975 s of audio) per call, after warm-up"]
    )
