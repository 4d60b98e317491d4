"""Linear probes on frozen embeddings: configurations, normalisations, selection, scoring.

A probe family (`logistic`, `lda`) is a list of configurations (classifier settings x L2 on/off x
per-speaker normalisation on/off). Each is fit on train and scored on validation; the best is
scored on test once. Cross-validated tasks repeat this per fold and average.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FAMILIES = ("logistic", "lda")


@dataclass(frozen=True)
class ProbeConfig:
    family: str
    l2: bool = False
    speaker_norm: bool = False
    C: float = 1.0

    @property
    def label(self) -> str:
        parts = [self.family]
        if self.family == "logistic":
            parts.append(f"C={self.C:g}")
        parts += ["l2"] * self.l2 + ["spk-norm"] * self.speaker_norm
        return "+".join(parts)


def default_grid(
    with_speakers: bool, c_values: Sequence[float] = (0.1, 1.0, 10.0)
) -> list[ProbeConfig]:
    spk = (False, True) if with_speakers else (False,)
    grid = [
        ProbeConfig("logistic", l2, s, c) for c in c_values for l2 in (False, True) for s in spk
    ]
    grid += [ProbeConfig("lda", l2, s) for l2 in (False, True) for s in spk]
    return grid


def make_classifier(cfg: ProbeConfig, seed: int):
    if cfg.family == "logistic":
        return make_pipeline(
            StandardScaler(), LogisticRegression(C=cfg.C, max_iter=2000, random_state=seed)
        )
    if cfg.family == "lda":
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    raise ValueError(f"unknown probe family '{cfg.family}'")


def l2_normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def speaker_normalise(x: np.ndarray, speakers: Sequence[str | None]) -> np.ndarray:
    """z-score each speaker's embeddings with that speaker's own mean and std."""
    out = x.astype(np.float64, copy=True)
    speakers = np.asarray([s if s is not None else "" for s in speakers])
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        out[rows] = (x[rows] - x[rows].mean(0)) / np.maximum(x[rows].std(0), 1e-8)
    return out


def normalise(x: np.ndarray, speakers: Sequence[str | None], cfg: ProbeConfig) -> np.ndarray:
    if cfg.l2:
        x = l2_normalise(x)
    if cfg.speaker_norm:
        x = speaker_normalise(x, speakers)
    return x


@dataclass(frozen=True)
class Part:
    """The embeddings, labels and speakers of one split (or fold)."""

    x: np.ndarray
    y: np.ndarray
    speakers: tuple[str | None, ...]

    def prepared(self, cfg: ProbeConfig) -> np.ndarray:
        return normalise(self.x, self.speakers, cfg)


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes predicted that never occur in y_true
        return {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        }


def fit_score(cfg: ProbeConfig, train: Part, evaluate: Part, seed: int) -> dict[str, float]:
    model = make_classifier(cfg, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and collinearity warnings on tiny sets
        model.fit(train.prepared(cfg), train.y)
    return metrics(evaluate.y, model.predict(evaluate.prepared(cfg)))


@dataclass(frozen=True)
class Selection:
    config: ProbeConfig
    validation_accuracy: float
    test: dict[str, float]


def select_and_test(
    grid: Sequence[ProbeConfig], train: Part, validation: Part, test: Part, seed: int
) -> Selection:
    """Best configuration on validation (first in grid order wins ties), then test once."""
    scored = [
        (fit_score(cfg, train, validation, seed)["accuracy"], i) for i, cfg in enumerate(grid)
    ]
    best_acc, best_i = max(scored, key=lambda t: (t[0], -t[1]))
    return Selection(grid[best_i], best_acc, fit_score(grid[best_i], train, test, seed))
