"""noss-eval: score frozen speech embeddings on the Non-Semantic Speech Benchmark.

The Python API (docs/api.md): `noss_eval.evaluate(embedder, tasks, ...)` -> `Results`,
`noss_eval.load_task(path_or_name)`; errors are `noss_eval.NossError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "NossError",
    "PythonEmbedder",
    "ResultRow",
    "Results",
    "__version__",
    "evaluate",
    "load_task",
]

if TYPE_CHECKING:
    from noss_eval.api import PythonEmbedder, ResultRow, Results, evaluate, load_task
    from noss_eval.errors import NossError

_API = {"PythonEmbedder", "ResultRow", "Results", "evaluate", "load_task"}


def __getattr__(name: str) -> Any:
    """The API, imported on first use: `import noss_eval` (and the CLI) stays light."""
    if name in _API:
        from noss_eval import api

        return getattr(api, name)
    if name == "NossError":
        from noss_eval.errors import NossError

        return NossError
    raise AttributeError(f"module 'noss_eval' has no attribute {name!r}")

