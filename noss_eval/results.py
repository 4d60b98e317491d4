"""Typed results: what one probe scored on one task, from evaluation to the leaderboard CSV.

`ProbeResult.to_dict` / `ProbeResult.from_dict` are the one JSON form of a result, for the probe
cache's files and the API's `Results.to_json`; `from_dict` refuses fields of the wrong type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from noss_eval.stats import Outcomes, PairedComparison


@dataclass(frozen=True)
class Predictions:
    """Every test clip once, with its true and predicted label (all folds, in fold order)."""

    clip_ids: tuple[str, ...]
    y_true: np.ndarray
    y_pred: np.ndarray

    def outcomes(self) -> Outcomes:
        return Outcomes.of(self.y_true, self.y_pred)

    def aligned_with(self, other: Predictions) -> tuple[Outcomes, Outcomes] | None:
        """Both probes' outcomes on the clips they share, in one order; None when no clip is
        shared or the two disagree on a shared clip's true label."""
        position = {cid: i for i, cid in enumerate(other.clip_ids)}
        mine = [i for i, cid in enumerate(self.clip_ids) if cid in position]
        theirs = [position[self.clip_ids[i]] for i in mine]
        if not mine or not np.array_equal(self.y_true[mine], other.y_true[theirs]):
            return None
        y = self.y_true[mine]
        return Outcomes.of(y, self.y_pred[mine]), Outcomes.of(y, other.y_pred[theirs])

    def to_dict(self, dtypes: bool = True) -> dict[str, Any]:
        """JSON-ready. With `dtypes` (the API's results JSON) each array is `{"dtype",
        "values"}` and comes back with its dtype; without (the probe cache's files) it is a
        plain list and comes back as text labels."""
        array = _typed_array if dtypes else _plain_array
        return {
            "clip_ids": list(self.clip_ids),
            "y_true": array(self.y_true),
            "y_pred": array(self.y_pred),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], dtypes: bool = True) -> Predictions:
        """What `to_dict(dtypes)` wrote, back."""
        array = _from_typed_array if dtypes else _from_plain_array
        return cls(tuple(data["clip_ids"]), array(data["y_true"]), array(data["y_pred"]))


def _typed_array(values: np.ndarray) -> dict[str, Any]:
    return {"dtype": values.dtype.str, "values": values.tolist()}


def _from_typed_array(data: Mapping[str, Any]) -> np.ndarray:
    return np.asarray(data["values"], dtype=np.dtype(data["dtype"]))


def _plain_array(values: np.ndarray) -> list:
    return values.tolist()


def _from_plain_array(values: Any) -> np.ndarray:
    return np.array(values, dtype=str)


@dataclass(frozen=True)
class Comparison:
    """The reference a score is compared with, and the difference (headline points)."""

    reference: str
    score: float  # the reference's headline score, percent
    protocol: str
    source: str
    paired: PairedComparison | None = None  # only for a reference measured on the same clips

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        paired = data.get("paired")
        return cls(**{**data, "paired": None if paired is None else PairedComparison(**paired)})


@dataclass(frozen=True)
class ProbeResult:
    """One probe family (or the best over all) on one task: a leaderboard row's numbers."""

    embedder: str
    embedder_sha256: str
    embedder_fingerprint: str
    task: str
    probe: str  # a probe family, or "best" (the best configuration of every family)
    protocol: str
    config: str  # the configuration(s) that produced the test numbers
    headline_metric: str
    metrics: Mapping[str, float]  # test metrics as fractions (mean over folds for CV tasks)
    headline_ci: tuple[float, float]  # 95 % bootstrap interval of the headline metric
    validation_score: float | None  # headline metric on validation; None in paper mode
    n_train: int
    n_validation: int
    n_test: int
    failed_clips: int
    predictions: Predictions
    data_fingerprint: str = ""  # the task's clips (ids, splits, labels, file sizes), hashed
    audio_warnings: str = ""  # odd inputs that may move the number (short, clipped, truncated)
    embedder_settings: str = ""  # JSON: every setting besides the weights (the output tensor...)
    data: str = ""  # Task.data_status: OFFICIAL, how the clips differ from it, or CUSTOM
    scored_on: str = ""  # the partition the test numbers come from (mask: devel or test)
    comparison: Comparison | None = None
    reference_note: str = ""  # why a published number has no delta here ("" when it has one)

    @property
    def headline_score(self) -> float:
        return self.metrics[self.headline_metric]

    @property
    def chance(self) -> float:
        """The headline score of guessing (fraction): the majority class's share of the test
        clips for accuracy, 1/k for UAR (k classes among the test clips)."""
        _, counts = np.unique(self.predictions.y_true, return_counts=True)
        if self.headline_metric == "balanced_accuracy":
            return 1.0 / len(counts)
        return float(counts.max() / counts.sum())

    @property
    def at_chance(self) -> bool:
        """The 95 % interval of the headline score reaches chance level."""
        return self.headline_ci[0] <= self.chance

    @property
    def delta(self) -> float | None:
        """Headline points above the reference (percent), or None without one."""
        if self.comparison is None:
            return None
        return 100.0 * self.headline_score - self.comparison.score

    def to_dict(self, dtypes: bool = True) -> dict[str, Any]:
        """Every field, JSON-ready, in field order; `dtypes`: as in `Predictions.to_dict`."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["metrics"] = dict(self.metrics)
        out["headline_ci"] = list(self.headline_ci)
        out["predictions"] = self.predictions.to_dict(dtypes)
        out["comparison"] = None if self.comparison is None else self.comparison.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, dtypes: bool = True) -> ProbeResult:
        """What `to_dict(dtypes)` wrote, back; a field missing or unknown is a KeyError or
        TypeError, anything else that is not a result (a field of the wrong type) a
        ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a {type(data).__name__} where a result is expected")
        d = dict(data)
        predictions = Predictions.from_dict(d.pop("predictions"), dtypes)
        comparison = d.pop("comparison", None)
        if comparison is not None:
            comparison = Comparison.from_dict(comparison)
        d["headline_ci"] = tuple(d["headline_ci"])
        if isinstance(d.get("metrics"), Mapping):
            d["metrics"] = dict(d["metrics"])
        return _checked(cls(**d, predictions=predictions, comparison=comparison))


def _checked(r: ProbeResult) -> ProbeResult:
    """`r` if its fields have the types a leaderboard row needs; else ValueError."""

    def number(x: object) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    texts = (r.embedder, r.embedder_sha256, r.embedder_fingerprint, r.task, r.probe, r.protocol)
    counts = (r.n_train, r.n_validation, r.n_test, r.failed_clips)
    p = r.predictions
    if (
        not all(isinstance(t, str) for t in (*texts, r.config, r.headline_metric))
        or not isinstance(r.metrics, dict)
        or r.headline_metric not in r.metrics
        or not all(number(v) for v in (*r.metrics.values(), *r.headline_ci))
        or len(r.headline_ci) != 2
        or not (r.validation_score is None or number(r.validation_score))
        or not all(type(n) is int and n >= 0 for n in counts)
        or not len(p.clip_ids) == len(p.y_true) == len(p.y_pred)
    ):
        raise ValueError("a result with fields of the wrong type")
    return r


@dataclass(frozen=True)
class RunStamp:
    """What every row of one run shares: how it was produced."""

    seed: int
    data_source: str
    run_id: str
    noss_eval_version: str
    created: str
