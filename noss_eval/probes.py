"""Probes on frozen embeddings: configurations, normalisations, fitting and scoring.

A protocol is data: a grid of configurations (classifier settings x L2 on/off x per-speaker
normalisation on/off) and the split the best one is chosen on.

- `noss-eval` (default): logistic regression (standardised, C in {0.1, 1, 10}) and LDA; the best
  configuration on validation is scored on test once.
- `noss`: Google's NOSS sklearn models exactly as upstream
  `non_semantic_speech_benchmark/eval_embedding/sklearn/models.py` builds them -
  LogisticRegression(C=1e5, lbfgs, multinomial: a softmax over both classes of a binary task too),
  the same with class_weight='balanced', LDA(lsqr, auto),
  RandomForest(100) balanced and unbalanced - reporting the best *test* score over the grid, as the
  TRILL/FRILL papers did.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from noss_eval.errors import NossError
from noss_eval.stats import classification_metrics

FAMILIES = ("logistic", "lda", "forest")
BEST = "best"  # the pseudo-family whose grid is every configuration


@dataclass(frozen=True)
class ProbeConfig:
    family: str
    l2: bool = False
    speaker_norm: bool = False
    C: float = 1.0
    class_weight: str | None = None
    standardize: bool = True
    solver: str = "lbfgs"  # or "adam": SoftmaxRegression, for many-class problems
    max_iter: int | None = 2000  # None: sklearn's default, as upstream
    # Softmax over both classes of a binary task too, as upstream's multi_class='multinomial'
    # (paper mode); False: sklearn's binomial fit on two classes.
    multinomial: bool = False

    @property
    def label(self) -> str:
        parts = [self.family]
        if self.family == "logistic":
            parts.append(f"C={self.C:g}")
            parts += [f"cw={self.class_weight}"] * (self.class_weight is not None)
            parts += ["adam"] * (self.solver == "adam")
        if self.family == "forest":
            parts.append(f"cw={self.class_weight}")
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
    """Upstream's five models (in `get_sklearn_models` order) x L2 x speaker normalisation."""
    norms = _normalisations(with_speakers)
    logistic = [
        ProbeConfig("logistic", l2, s, 1e5, cw, standardize=False, max_iter=None, multinomial=True)
        for cw in (None, "balanced")
        for l2, s in norms
    ]
    lda = [ProbeConfig("lda", l2, s) for l2, s in norms]
    forest = [
        ProbeConfig("forest", l2, s, class_weight=cw)
        for cw in ("balanced", None)
        for l2, s in norms
    ]
    return logistic + lda + forest


@dataclass(frozen=True)
class Protocol:
    """How a task's numbers are made: the grid of configurations, the split the one reported
    is chosen on, and how the tables, the report and its charts name and draw it."""

    name: str
    grid: Callable[[bool], list[ProbeConfig]]
    select_on: str  # "validation" (test scored once) or "test" (paper mode)
    description: str = ""  # in plain words, for every table and page that shows its rows
    marker: tuple[str, str] = ("D", "tab:green")  # of its points in the report's charts

    @property
    def paper_estimator(self) -> bool:
        """The papers' estimator, exactly: sklearn's lbfgs at every size (never the adam
        solver noss-eval uses for very large problems)."""
        return self.select_on == "test"


PROTOCOLS = {
    "noss-eval": Protocol(
        "noss-eval",
        default_grid,
        "validation",
        "configuration picked on validation, test scored once",
        ("o", "tab:blue"),
    ),
    "noss": Protocol(
        "noss",
        noss_grid,
        "test",
        "paper mode: best test score over Google's grid (20 configurations, 10 without speaker "
        "ids), as the papers report; its 95% interval ignores that this choice was made on "
        "test, so it is too narrow",
        ("s", "tab:orange"),
    ),
}
PROTOCOL_NOTES = {p.name: p.description for p in PROTOCOLS.values()}


SOLVERS = ("auto", "lbfgs", "adam")  # the logistic probe's solver: choose, sklearn, mini-batch
# Above this many train rows x classes x dims, logistic probes use the mini-batch solver.
ADAM_THRESHOLD = 1e10


def choose_solver(
    grid: list[ProbeConfig],
    n_train: int,
    n_classes: int,
    dim: int,
    solver: str = "auto",
    protocol: Protocol | None = None,
) -> list[ProbeConfig]:
    """Set the logistic solver: "lbfgs" (sklearn), "adam", or "auto" (adam when large). Paper
    mode is always sklearn's lbfgs: it must be the paper's estimator, whatever the size."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver '{solver}'")
    if protocol is not None and protocol.paper_estimator:
        if solver == "adam":
            raise NossError(
                "--probe-solver adam: --protocol noss uses the paper's sklearn lbfgs estimator; "
                "drop --probe-solver or use --protocol noss-eval"
            )
        return grid
    if solver == "auto":
        solver = "adam" if n_train * n_classes * dim > ADAM_THRESHOLD else "lbfgs"
    return [replace(c, solver=solver) if c.family == "logistic" else c for c in grid]


def make_classifier(cfg: ProbeConfig, seed: int):
    """The scikit-learn estimator of `cfg` (sklearn is imported here, when a probe is fitted:
    a run whose probe results are all cached never loads it)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from noss_eval.lda import ShrunkLDA
    from noss_eval.softmax import SoftmaxRegression, UpstreamLogisticRegression

    if cfg.family == "logistic" and cfg.solver == "adam":
        fast = SoftmaxRegression(C=cfg.C, class_weight=cfg.class_weight, random_state=seed)
        return make_pipeline(StandardScaler(), fast) if cfg.standardize else fast
    if cfg.family == "logistic":
        # Upstream also passes multi_class='multinomial', which sklearn >= 1.8 no longer accepts:
        # lbfgs is multinomial for more than two classes, but on two it fits the binomial loss,
        # a different model (its optimum at 2C is upstream's at C; max_iter stops it elsewhere), so
        # `multinomial` configurations fit upstream's 2-class softmax (UpstreamLogisticRegression).
        extra = {} if cfg.max_iter is None else {"max_iter": cfg.max_iter}
        lr = (UpstreamLogisticRegression if cfg.multinomial else LogisticRegression)(
            C=cfg.C, class_weight=cfg.class_weight, solver="lbfgs", random_state=seed, **extra
        )
        return make_pipeline(StandardScaler(), lr) if cfg.standardize else lr
    if cfg.family == "lda":
        return ShrunkLDA()  # = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    if cfg.family == "forest":
        return RandomForestClassifier(
            n_estimators=100, class_weight=cfg.class_weight, random_state=seed
        )
    raise ValueError(f"unknown probe family '{cfg.family}'")


def l2_normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def speaker_normalise(x: np.ndarray, speakers: Sequence[str | None]) -> np.ndarray:
    """z-score each speaker's embeddings with that speaker's own mean and std; a feature constant
    within a speaker is only centred (std 0 -> 1), as upstream `sklearn_utils.py`
    `_speaker_normalization`. Every clip needs a speaker: grouping speaker-less clips together
    would group them by whatever made them speaker-less (often the label)."""
    if any(s is None or s == "" for s in speakers):
        raise ValueError("speaker normalisation needs a speaker for every clip")
    speakers = np.asarray(speakers)
    names, group = np.unique(speakers, return_inverse=True)
    order = np.argsort(group, kind="stable")  # each speaker's rows, contiguous, in input order
    bounds = np.searchsorted(group[order], np.arange(len(names) + 1))
    out = np.empty(x.shape, np.float64)
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        rows = order[start:end]
        centred = x[rows] - x[rows].mean(0)
        std = centred.std(0)
        std[std == 0] = 1.0
        out[rows] = centred / std
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


@dataclass(frozen=True)
class Fitted:
    """A fitted classifier and the labels its integer classes stand for (sorted)."""

    model: Any
    classes: np.ndarray


def fit(cfg: ProbeConfig, train: Part, seed: int) -> Fitted:
    return fit_matrix(cfg, train.prepared(cfg), train.y, seed)


def score(fitted: Fitted, cfg: ProbeConfig, evaluate: Part) -> Scored:
    return score_matrix(fitted, evaluate.prepared(cfg), evaluate.y)


def fit_matrix(cfg: ProbeConfig, x: np.ndarray, labels: np.ndarray, seed: int) -> Fitted:
    """Fit on already normalised `x`, on integer class indices as upstream does
    (`sklearn_utils.py` feeds label indices); it also sidesteps scikit-learn 1.9's forests,
    which reject string labels with 'balanced'."""
    classes, y = np.unique(labels, return_inverse=True)
    model = make_classifier(cfg, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and collinearity warnings on tiny sets
        model.fit(x, y)
    return Fitted(model, classes)


def score_matrix(fitted: Fitted, x: np.ndarray, labels: np.ndarray) -> Scored:
    """Score on already normalised `x` against the true `labels`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y_pred = fitted.classes[fitted.model.predict(x)]
        binary = len(fitted.classes) == 2
        scores = fitted.model.predict_proba(x)[:, 1] if binary else None
    return Scored(classification_metrics(labels, y_pred, scores), y_pred)


def concat(parts: Sequence[Part]) -> Part:
    """One part holding the rows of `parts`, in order."""
    return Part(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        tuple(s for p in parts for s in p.speakers),
    )
