"""Where a batch of probe fits runs: on threads, or in worker processes that read the batch's
normalised matrices from memory-mapped files.

scikit-learn's fits hold the GIL in their Python-level work (lbfgs iterations, input checks).
On 2 cores, against serial fits: threads ran a 100k-clip task's fits 1.3x faster and a 1k-clip
task's no faster at all; processes ran both about 1.9x faster. Processes cost a start-up (about
1 s, once per run: joblib keeps its workers) and one copy of the batch's matrices (written once
to a file that every worker maps, not pickled per job). So a batch uses processes when its
matrices take `PROCESS_MIN_BYTES` to `PROCESS_MAX_BYTES`: tiny batches (tests, the demo) stay
on threads, huge ones too (no second copy). Either way the results are the same, bit for bit:
each fit runs single-threaded on the same numbers.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Hashable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from joblib import Parallel, parallel_config

log = logging.getLogger(__name__)
PROCESS_MIN_BYTES = 4 << 20
PROCESS_MAX_BYTES = 1 << 30
SHARED_MEMORY = Path("/dev/shm")


def use_processes(workers: int, nbytes: int) -> bool:
    return workers > 1 and PROCESS_MIN_BYTES <= nbytes <= PROCESS_MAX_BYTES


Matrices = dict[Hashable, np.ndarray]


@contextmanager
def fit_workers(matrices: Matrices, workers: int) -> Iterator[tuple[Matrices, Parallel]]:
    """`(matrices, parallel)`: the matrices as the workers will read them, and a joblib
    `Parallel` that yields the results in job order on `workers` threads or processes."""
    with ExitStack() as stack:
        mapped, nbytes = None, sum(m.nbytes for m in matrices.values())
        if use_processes(workers, nbytes):
            try:
                mapped = stack.enter_context(_mapped(matrices, nbytes))
            except OSError as exc:
                log.warning("probe fits on threads: cannot map their matrices (%s)", exc)
        if mapped is None:
            yield matrices, Parallel(n_jobs=workers, backend="threading", return_as="generator")
            return
        stack.enter_context(parallel_config("loky", inner_max_num_threads=1))
        yield mapped, Parallel(n_jobs=workers, return_as="generator")


@contextmanager
def _mapped(matrices: Matrices, nbytes: int) -> Iterator[Matrices]:
    """Read-only memory maps of `matrices` (`nbytes` in all), in shared memory when it has
    room (else the temporary folder), removed when the block ends."""
    room = SHARED_MEMORY.is_dir() and shutil.disk_usage(SHARED_MEMORY).free > 2 * nbytes
    folder = SHARED_MEMORY if room else None
    with tempfile.TemporaryDirectory(prefix="noss-eval-fits-", dir=folder) as tmp:
        mapped = {}
        for i, (key, matrix) in enumerate(matrices.items()):
            path = Path(tmp) / f"{i}.npy"
            np.save(path, matrix)
            mapped[key] = np.load(path, mmap_mode="r")
        yield mapped
