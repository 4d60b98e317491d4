"""Typed results: what one probe scored on one task, from evaluation to the leaderboard CSV."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Comparison:
    """The reference a score is compared with, and the difference (headline points)."""

    reference: str
    score: float  # the reference's headline score, percent
    protocol: str
    source: str
    paired: PairedComparison | None = None  # only for a reference measured on the same clips


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


@dataclass(frozen=True)
class RunStamp:
    """What every row of one run shares: how it was produced."""

    seed: int
    data_source: str
    run_id: str
    noss_eval_version: str
    created: str
