"""Probe results cached under the fingerprint of everything they depend on — the embeddings,
the clips' ids, labels, splits and speakers, the task's headline and folds, the protocol, the
solver choice, the seed and the noss-eval version — so a warm re-run fits nothing, and any
changed input recomputes what depends on it."""

from __future__ import annotations

import hashlib
import json
import logging
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from noss_eval import __version__
from noss_eval.atomic import atomic_write_text
from noss_eval.cache import quarantine, safe_name
from noss_eval.results import ProbeResult

if TYPE_CHECKING:
    from noss_eval.extract import Extraction
    from noss_eval.probes import Protocol
    from noss_eval.task import Task

log = logging.getLogger(__name__)
FORMAT = "probe-results-v1"
PROBE_CODE = tuple(f"noss_eval.{m}" for m in ("probing", "lda", "probes", "softmax", "stats"))


def _code_version() -> str:
    """A hash of the source of every module that computes a probe result: a code change
    invalidates cached results even when the package version stays the same. Read without
    importing them (they import scikit-learn, which a fully cached run never needs)."""
    digest = hashlib.sha256()
    for module in PROBE_CODE:
        digest.update(Path(find_spec(module).origin).read_bytes())
    return digest.hexdigest()[:16]


def results_key(
    task: Task, ex: Extraction, protocol: Protocol, solver: str, seed: int, identity: tuple
) -> str:
    digest = hashlib.sha256()
    header = {
        "format": FORMAT,
        "noss_eval": __version__,
        "code": _code_version(),
        "task": task.name,
        "headline": task.headline,
        "folds": task.folds,
        "protocol": protocol.name,
        "select_on": protocol.select_on,
        "solver": solver,
        "seed": seed,
        "identity": identity,
        "failed": len(ex.failed),
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for c in ex.clips:
        digest.update(f"{c.clip_id}\t{c.label}\t{c.split}\t{c.speaker}\n".encode())
    digest.update(np.ascontiguousarray(ex.embeddings, dtype=np.float32).tobytes())
    return digest.hexdigest()


class ProbeResultCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser() / "probes"

    def path(self, key: str) -> Path:
        return self.root / safe_name(key[:2]) / f"{safe_name(key)}.json"

    def load(self, key: str) -> list[ProbeResult] | None:
        """The cached results, or None; anything else in their place (not a file, not JSON, not
        a non-empty list of results) is quarantined, never served, and the probes fit again."""
        path = self.path(key)
        if not path.exists() and not path.is_symlink():
            return None
        try:
            if not path.is_file():
                raise ValueError("not a regular file")
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, list) or not data:
                raise ValueError(f"{type(data).__name__} where a non-empty list is expected")
            return [_result(d) for d in data]
        except Exception as exc:  # any content can be there: none of it is trusted
            quarantine(path, self.root.parent, f"{type(exc).__name__}: {exc}")
            return None

    def save(self, key: str, results: list[ProbeResult]) -> None:
        """Cache `results`; a failure to write (a full disk, a read-only folder) is a warning:
        the results are in memory and go on to the leaderboard (or its fallback file)."""
        path = self.path(key)
        try:
            atomic_write_text(path, json.dumps([r.to_dict(dtypes=False) for r in results]))
        except OSError as exc:
            log.warning(
                "cache: could not save probe results to %s (%s); they are not cached, the run "
                "goes on",
                path,
                exc.strerror or exc,
            )


def _result(d: object) -> ProbeResult:
    """A result as `save` wrote it (`ProbeResult.to_dict(dtypes=False)`); else an exception."""
    if isinstance(d, dict) and d.get("comparison") is not None:
        raise ValueError("cached results carry no comparison")
    return ProbeResult.from_dict(d, dtypes=False)
