"""Metrics, bootstrap intervals and paired tests on test predictions.

Every statistic here is a function of per-clip labels and predictions, so it can be recomputed on
a bootstrap resample. Metric names are the leaderboard's: "accuracy" and "balanced_accuracy"
(UAR, the mean of per-class recalls) are the two a task may use as its headline.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

N_BOOTSTRAP = 1000
# Sums of class weights that differ by less than this count as equal: rounding the running sums
# (to 12 decimals, once per class) drifts them by up to ~1e-12 per class.
TIE_TOLERANCE = 1e-9
# An exact p-value below this underflows in floating point: it is reported as "<1e-300".
P_FLOOR = 1e-300
HEADLINES = ("accuracy", "balanced_accuracy")


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, positive_scores: np.ndarray | None = None
) -> dict[str, float]:
    """Accuracy, balanced accuracy (UAR), macro-F1; AUC and EER when `positive_scores` are given
    (binary tasks: a score for the second of the sorted classes, higher = more positive)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

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
    """The point of the DET curve where false-positive and false-negative rates meet, as
    upstream `eval_embedding/metrics.py` `calculate_eer` computes it: the clips in ascending
    score order (numpy's default `argsort`, as upstream, so tied clips come in the order it gives
    them), a cut before each clip and one after the last (clips from the cut on are called
    positive), and the mean of the two rates at the cut where they are closest; of equally
    close cuts, the first, i.e. the one at the lower threshold. A cut may fall inside a run of
    tied scores, as upstream's does, so on ties the result follows that sort order."""
    order = np.argsort(np.asarray(scores, dtype=float))
    positive = np.asarray(is_positive, dtype=float)[order]
    negative = 1.0 - positive
    # rates at cut k (clips k.. called positive): positives below it, negatives at or above it
    fnr = np.concatenate(([0.0], np.cumsum(positive) / np.sum(positive)))
    fpr = np.concatenate((np.cumsum(negative[::-1])[::-1] / np.sum(negative), [0.0]))
    k = int(np.argmin(np.abs(fpr - fnr)))
    return float((fpr[k] + fnr[k]) / 2.0)


def _resample_indices(n: int, n_boot: int, seed: int):
    """Blocks of bootstrap index rows (bounded memory on large test sets)."""
    rng = np.random.RandomState(seed)
    for start in range(0, n_boot, 100):
        yield rng.randint(0, n, size=(min(100, n_boot - start), n))


@dataclass(frozen=True)
class Outcomes:
    """Per-clip test outcomes of one probe: which clips were right, and each clip's class."""

    correct: np.ndarray  # bool [n]
    classes: np.ndarray  # int [n], index of the true label

    @classmethod
    def of(cls, y_true: np.ndarray, y_pred: np.ndarray) -> Outcomes:
        _, classes = np.unique(y_true, return_inverse=True)
        return cls(np.asarray(y_true == y_pred), classes.astype(np.int64))

    def weights(self, metric: str) -> np.ndarray:
        """Per-clip weights w with metric = sum(w * correct): 1/n for accuracy, 1/(K * n_class)
        for balanced accuracy (UAR)."""
        n = len(self.correct)
        if metric == "accuracy":
            return np.full(n, 1.0 / n)
        if metric == "balanced_accuracy":
            counts = np.bincount(self.classes)
            return 1.0 / (np.count_nonzero(counts) * counts[self.classes])
        raise ValueError(f"unknown headline metric '{metric}' (one of {', '.join(HEADLINES)})")

    def score(self, metric: str) -> float:
        return float(np.sum(self.weights(metric) * self.correct))


def _resampled_scores(values: np.ndarray, classes: np.ndarray, metric: str, idx: np.ndarray):
    """`metric` of each bootstrap row of `idx`; `values` are per-clip (differences of) hits."""
    if metric == "accuracy":
        return values[idx].mean(axis=1)
    k = classes.max() + 1
    rows = np.repeat(np.arange(len(idx)), idx.shape[1])
    flat = (rows * k + classes[idx].ravel()).astype(np.int64)
    hits = np.bincount(flat, weights=values[idx].ravel(), minlength=len(idx) * k)
    counts = np.bincount(flat, minlength=len(idx) * k).astype(np.float64)
    hits, counts = hits.reshape(len(idx), k), counts.reshape(len(idx), k)
    present = counts > 0
    recall = np.divide(hits, counts, out=np.zeros_like(hits), where=present)
    return recall.sum(axis=1) / present.sum(axis=1)


def _percentiles(means: np.ndarray, level: float) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def bootstrap_interval(
    outcomes: Outcomes,
    metric: str = "accuracy",
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `metric` (resampling test clips)."""
    return bootstrap_intervals([outcomes], metric, n_boot, seed, level)[0]


def bootstrap_intervals(
    outcomes: Sequence[Outcomes],
    metric: str = "accuracy",
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
    level: float = 0.95,
) -> list[tuple[float, float]]:
    """`bootstrap_interval` of each of `outcomes` (of the same test clips), drawing the
    resamples once for all of them."""
    if len({len(o.correct) for o in outcomes}) > 1:
        raise ValueError("bootstrap_intervals: outcomes of different test sets")
    hits = [o.correct.astype(np.float64) for o in outcomes]
    means: list[list[np.ndarray]] = [[] for _ in outcomes]
    for idx in _resample_indices(len(hits[0]), n_boot, seed):
        for m, h, o in zip(means, hits, outcomes, strict=True):
            m.append(_resampled_scores(h, o.classes, metric, idx))
    return [_percentiles(np.concatenate(m), level) for m in means]


@dataclass(frozen=True)
class PairedComparison:
    """`a - b` on the same test clips, in the unit of the metric (a fraction)."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str


def paired_comparison(
    a: Outcomes,
    b: Outcomes,
    metric: str = "accuracy",
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
    level: float = 0.95,
) -> PairedComparison:
    """Difference of `metric` between two probes scored on the same clips (same order): a paired
    bootstrap interval, and an exact two-sided p-value from `paired_p_value`."""
    if not np.array_equal(a.classes, b.classes):
        raise ValueError("paired outcomes must be for the same clips in the same order")
    diff = a.correct.astype(np.float64) - b.correct.astype(np.float64)
    means = np.concatenate(
        [
            _resampled_scores(diff, a.classes, metric, idx)
            for idx in _resample_indices(len(diff), n_boot, seed)
        ]
    )
    low, high = _percentiles(means, level)
    p, test = paired_p_value(a, b, metric)
    return PairedComparison(a.score(metric) - b.score(metric), low, high, p, test)


def paired_p_value(a: Outcomes, b: Outcomes, metric: str = "accuracy") -> tuple[float, str]:
    """Two-sided exact test that `a` and `b` are equally good on the same clips.

    Only discordant clips (one right, the other wrong) carry information. For accuracy this is
    McNemar's exact test: the number of clips only `a` got right is Binomial(discordant, 1/2).
    For balanced accuracy the clips are weighted by 1/(K n_class), so the exact null distribution
    is that of sum_c w_c (2 X_c - m_c) with X_c ~ Binomial(m_c, 1/2) independent per class
    (m_c discordant clips of class c): a class-stratified McNemar test, enumerated exactly.
    """
    only_a = a.correct & ~b.correct
    only_b = b.correct & ~a.correct
    if metric == "accuracy":
        m = int(only_a.sum() + only_b.sum())
        if m == 0:
            return 1.0, "mcnemar-exact"
        from scipy.stats import binomtest

        return max(float(binomtest(int(only_a.sum()), m, 0.5).pvalue), P_FLOOR), "mcnemar-exact"
    weights = a.weights(metric)
    per_class = []
    for c in np.unique(a.classes):
        rows = a.classes == c
        m_c = int(only_a[rows].sum() + only_b[rows].sum())
        if m_c:
            per_class.append((float(weights[rows][0]), m_c))
    observed = abs(a.score(metric) - b.score(metric))
    exact = _stratified_mcnemar(per_class, observed)
    if exact is not None:
        return exact, "stratified-mcnemar-exact"
    return _stratified_sign_flips(per_class, observed), "stratified-mcnemar-monte-carlo"


def _stratified_mcnemar(per_class: list[tuple[float, int]], observed: float) -> float | None:
    """P(|sum_c w_c (2 X_c - m_c)| >= observed) under independent Binomial(m_c, 1/2), or None
    when the null distribution has too many distinct values to enumerate."""
    from scipy.stats import binom

    values, probs = np.zeros(1), np.ones(1)
    for w, m in per_class:
        k = np.arange(m + 1)
        values = (values[:, None] + (w * (2 * k - m))[None, :]).ravel()
        probs = (probs[:, None] * binom.pmf(k, m, 0.5)[None, :]).ravel()
        keys, inverse = np.unique(np.round(values, 12), return_inverse=True)
        values, probs = keys, np.bincount(inverse, weights=probs)
        if len(values) > 2_000_000:
            return None
    p = probs[np.abs(values) >= observed - TIE_TOLERANCE].sum()
    return float(min(1.0, max(p, P_FLOOR)))


def _stratified_sign_flips(
    per_class: list[tuple[float, int]], observed: float, draws: int = 100_000
) -> float:
    """Monte Carlo version of `_stratified_mcnemar`, (1 + hits) / (1 + draws): never 0."""
    rng = np.random.RandomState(0)
    total = np.zeros(draws)
    for w, m in per_class:
        total += w * (2 * rng.binomial(m, 0.5, size=draws) - m)
    return float((1 + np.sum(np.abs(total) >= observed - TIE_TOLERANCE)) / (1 + draws))


def format_p_value(p: float) -> str:
    """Four significant digits, never 0 (an exact test's p is never 0): "<1e-300" below that."""
    return f"<{P_FLOOR:.0e}" if p <= P_FLOOR else f"{p:.4g}"
