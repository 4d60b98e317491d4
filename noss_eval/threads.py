"""The one place that decides how a run shares the cores: BLAS/OpenMP pools, the interpreter's
threads, the decode stage and the probe workers.

- BLAS and OpenMP: 1 thread each. noss-eval's own matrix products are small (a clip's log-mel,
  one probe fit); pools of their own on top of the interpreter's and the decode thread
  oversubscribe the cores: on 2 cores a cross-validated probe stage ran 12x slower with
  OpenBLAS' default pool, with identical results.
- Extraction: a model file (TFLite, ONNX: embedders with `prepare`) runs one single-threaded
  copy per core, each preparing its own clips (`ThreadEngine`): 1.1-1.6x one interpreter on
  every core with a decode thread beside it, whose threads wait for each other at every op.
  Other embedders get every core, with decoding on a thread (`LocalEngine`).
- Probes: one worker per core, each fit single-threaded (extraction is over by then): threads,
  or processes for batches large enough to pay for them (`fit_pool`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from threadpoolctl import threadpool_limits


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ThreadBudget:
    """Threads per stage for a run on `cores` cores (`--threads`)."""

    cores: int

    def __post_init__(self) -> None:
        if self.cores < 1:
            raise ValueError(f"a thread budget needs at least 1 core, got {self.cores}")

    @property
    def interpreter(self) -> int:
        return self.cores

    def embedder_copies(self, embedder: object) -> int:
        """Single-threaded copies of `embedder` that extraction runs side by side: one per
        core for model files (their input preparation needs no runtime), else 1."""
        return self.cores if hasattr(embedder, "prepare") else 1

    @property
    def probe_workers(self) -> int:
        return self.cores

    @property
    def blas(self) -> int:
        return 1


@contextmanager
def numeric_threads(limit: int = 1) -> Iterator[None]:
    """BLAS and OpenMP pools limited to `limit` threads while the block runs."""
    with threadpool_limits(limits=limit):
        yield
