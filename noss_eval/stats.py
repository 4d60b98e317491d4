"""Metrics and bootstrap statistics on test predictions."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    roc_auc_score,
    roc_curve,
)

N_BOOTSTRAP = 1000


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, positive_scores: np.ndarray | None = None
) -> dict[str, float]:
    """Accuracy, balanced accuracy (UAR), macro-F1; AUC and EER when `positive_scores` are given
    (binary tasks: a score for the second of the sorted classes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # predicted classes absent from y_true
        out = {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
        }
    if positive_scores is not None and len(np.unique(y_true)) == 2:
        positive = np.unique(y_true)[1]
        out["auc"] = float(roc_auc_score(y_true == positive, positive_scores))
        out["eer"] = equal_error_rate(y_true == positive, positive_scores)
    return out


def equal_error_rate(is_positive: np.ndarray, scores: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(is_positive, scores)
    fnr = 1.0 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2.0)


def _resampled_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, 100):  # bounded memory on large test sets
        idx = rng.randint(0, len(values), size=(min(100, n_boot - start), len(values)))
        means[start : start + len(idx)] = values[idx].mean(axis=1)
    return means


def bootstrap_interval(
    correct: np.ndarray, n_boot: int = N_BOOTSTRAP, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the accuracy (resampling test clips)."""
    means = _resampled_means(np.asarray(correct, dtype=np.float64), n_boot, seed)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def paired_bootstrap(
    correct_a: np.ndarray,
    correct_b: np.ndarray,
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float, float]:
    """Accuracy difference a - b on the same test clips: (difference, low, high, two-sided p)."""
    diff = np.asarray(correct_a, np.float64) - np.asarray(correct_b, np.float64)
    means = _resampled_means(diff, n_boot, seed)
    tail = 100 * (1 - level) / 2
    p = min(1.0, 2.0 * min(np.mean(means <= 0), np.mean(means >= 0)))
    return (
        float(diff.mean()),
        float(np.percentile(means, tail)),
        float(np.percentile(means, 100 - tail)),
        float(p),
    )
