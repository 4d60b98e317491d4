"""The one place that decides how many threads the numeric libraries get during a run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def numeric_threads(limit: int = 1) -> Iterator[None]:
    """BLAS and OpenMP pools limited to `limit` threads while the block runs. noss-eval's own
    matrix products are small (a clip's log-mel, one probe fit); pools of their own on top of the
    interpreter's and decode threads oversubscribe the cores: on 2 cores a cross-validated probe
    stage ran 12x slower with OpenBLAS' default pool, with identical results."""
    with threadpool_limits(limits=limit):
        yield
