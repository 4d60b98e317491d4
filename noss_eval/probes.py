"""Linear probes on frozen embeddings: configurations, normalisations, selection, scoring.

A protocol is data: a grid of configurations (classifier settings x L2 on/off x per-speaker
normalisation on/off) and the split the best one is chosen on.

- `noss-eval` (default): logistic regression (standardised, C in {0.1, 1, 10}) and LDA; the best
  configuration on validation is scored on test once.
- `noss`: Google's NOSS sklearn grid - LogisticRegression(C=1e5, lbfgs), the same with
  class_weight='balanced', LDA(lsqr, shrinkage='auto') - reporting the best *test* accuracy over
  the grid, as the TRILL/FRILL papers did.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from noss_eval.softmax import SoftmaxRegression
from noss_eval.stats import classification_metrics

FAMILIES = ("logistic", "lda")


@dataclass(frozen=True)
class ProbeConfig:
    family: str
    l2: bool = False
    speaker_norm: bool = False
    C: float = 1.0
    class_weight: str | None = None
    standardize: bool = True
    solver: str = "lbfgs"  # or "adam": SoftmaxRegression, for many-class problems

    @property
    def label(self) -> str:
        parts = [self.family]
        if self.family == "logistic":
            parts.append(f"C={self.C:g}")
            parts += [f"cw={self.class_weight}"] * (self.class_weight is not None)
            parts += ["adam"] * (self.solver == "adam")
        parts += ["l2"] * self.l2 + ["spk-norm"] * self.speaker_norm
        return "+".join(parts)


def _normalisations(with_speakers: bool) -> list[tuple[bool, bool]]:
    return [(l2, s) for l2 in (False, True) for s in ((False, True) if with_speakers else (False,))]


def default_grid(
    with_speakers: bool, c_values: Sequence[float] = (0.1, 1.0, 10.0)
) -> list[ProbeConfig]:
    norms = _normalisations(with_speakers)
    return [ProbeConfig("logistic", l2, s, c) for c in c_values for l2, s in norms] + [
        ProbeConfig("lda", l2, s) for l2, s in norms
    ]


def noss_grid(with_speakers: bool) -> list[ProbeConfig]:
    norms = _normalisations(with_speakers)
    return [
        ProbeConfig("logistic", l2, s, 1e5, cw, standardize=False)
        for cw in (None, "balanced")
        for l2, s in norms
    ] + [ProbeConfig("lda", l2, s) for l2, s in norms]


@dataclass(frozen=True)
class Protocol:
    name: str
    grid: Callable[[bool], list[ProbeConfig]]
    select_on: str  # "validation" (test scored once) or "test" (paper mode)


PROTOCOLS = {
    "noss-eval": Protocol("noss-eval", default_grid, "validation"),
    "noss": Protocol("noss", noss_grid, "test"),
}


# Above this many train rows x classes x dims, logistic probes use the mini-batch solver.
ADAM_THRESHOLD = 1e10


def choose_solver(
    grid: list[ProbeConfig], n_train: int, n_classes: int, dim: int, solver: str = "auto"
) -> list[ProbeConfig]:
    """Set the logistic solver: "lbfgs" (sklearn), "adam", or "auto" (adam when large)."""
    if solver == "auto":
        solver = "adam" if n_train * n_classes * dim > ADAM_THRESHOLD else "lbfgs"
    if solver not in ("lbfgs", "adam"):
        raise ValueError(f"unknown solver '{solver}'")
    return [replace(c, solver=solver) if c.family == "logistic" else c for c in grid]


def make_classifier(cfg: ProbeConfig, seed: int):
    if cfg.family == "logistic" and cfg.solver == "adam":
        fast = SoftmaxRegression(C=cfg.C, class_weight=cfg.class_weight, random_state=seed)
        return make_pipeline(StandardScaler(), fast) if cfg.standardize else fast
    if cfg.family == "logistic":
        lr = LogisticRegression(
            C=cfg.C, class_weight=cfg.class_weight, solver="lbfgs", max_iter=2000, random_state=seed
        )
        return make_pipeline(StandardScaler(), lr) if cfg.standardize else lr
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


@dataclass(frozen=True)
class Scored:
    metrics: dict[str, float]
    y_pred: np.ndarray


def fit(cfg: ProbeConfig, train: Part, seed: int):
    model = make_classifier(cfg, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and collinearity warnings on tiny sets
        return model.fit(train.prepared(cfg), train.y)


def score(model, cfg: ProbeConfig, evaluate: Part) -> Scored:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = evaluate.prepared(cfg)
        y_pred = model.predict(x)
        scores = model.predict_proba(x)[:, 1] if len(model.classes_) == 2 else None
    return Scored(classification_metrics(evaluate.y, y_pred, scores), y_pred)


@dataclass(frozen=True)
class Selection:
    config: ProbeConfig
    validation_accuracy: float | None
    test: Scored


def select_and_test(
    grid: Sequence[ProbeConfig],
    train: Part,
    validation: Part,
    test: Part,
    seed: int,
    select_on: str = "validation",
) -> Selection:
    """Fit every configuration on train once and keep the best by accuracy on `select_on`
    (first in grid order wins ties). With "validation" only the chosen model sees the test set."""
    held_out = test if select_on == "test" else validation
    best = None
    for cfg in grid:
        model = fit(cfg, train, seed)
        scored = score(model, cfg, held_out)
        if best is None or scored.metrics["accuracy"] > best[2].metrics["accuracy"]:
            best = (cfg, model, scored)
    cfg, model, scored = best
    if select_on == "test":
        return Selection(cfg, None, scored)
    return Selection(cfg, scored.metrics["accuracy"], score(model, cfg, test))
