"""Probe results cached under the fingerprint of everything they depend on — the embeddings,
the clips' ids, labels, splits and speakers, the task's headline and folds, the protocol, the
solver choice, the seed and the noss-eval version — so a warm re-run fits nothing, and any
changed input recomputes what depends on it."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from noss_eval import __version__
from noss_eval.atomic import atomic_write_text
from noss_eval.cache import quarantine
from noss_eval.results import Predictions, ProbeResult

if TYPE_CHECKING:
    from noss_eval.extract import Extraction
    from noss_eval.probes import Protocol
    from noss_eval.task import Task

log = logging.getLogger(__name__)
FORMAT = "probe-results-v1"
PROBE_CODE = tuple(f"noss_eval.{m}" for m in ("evaluate", "lda", "probes", "softmax", "stats"))


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
        return self.root / key[:2] / f"{key}.json"

    def load(self, key: str) -> list[ProbeResult] | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return [_result(d) for d in json.loads(path.read_text(encoding="utf-8"))]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            quarantine(path, self.root.parent, f"{type(exc).__name__}: {exc}")
            return None

    def save(self, key: str, results: list[ProbeResult]) -> None:
        atomic_write_text(self.path(key), json.dumps([_plain(r) for r in results]))


def _plain(r: ProbeResult) -> dict:
    d = asdict(r)
    d["predictions"] = {
        "clip_ids": list(r.predictions.clip_ids),
        "y_true": r.predictions.y_true.tolist(),
        "y_pred": r.predictions.y_pred.tolist(),
    }
    return d


def _result(d: dict) -> ProbeResult:
    p = d.pop("predictions")
    predictions = Predictions(
        tuple(p["clip_ids"]), np.array(p["y_true"], dtype=str), np.array(p["y_pred"], dtype=str)
    )
    d["headline_ci"] = tuple(d["headline_ci"])
    if d.get("comparison") is not None:
        raise ValueError("cached results carry no comparison")
    return ProbeResult(**d, predictions=predictions)
