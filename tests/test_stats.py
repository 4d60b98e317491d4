"""Metrics and statistics: known answers, upstream's EER as oracle, and coverage of the interval."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import balanced_accuracy_score

from noss_eval.stats import (
    Outcomes,
    bootstrap_interval,
    classification_metrics,
    equal_error_rate,
    format_p_value,
    paired_comparison,
    paired_p_value,
)


def upstream_det_curve(labels, scores):
    """Re-typed from google-research non_semantic_speech_benchmark/eval_embedding/metrics.py
    (`calculate_det_curve`)."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=float)
    labels = labels[np.argsort(scores)]
    fnr = np.insert(np.cumsum(labels) / np.sum(labels), 0, 0)
    negative = 1 - labels
    fpr = np.append(np.cumsum(negative[::-1])[::-1] / np.sum(negative), 0)
    return fpr, fnr


def upstream_calculate_eer(labels, scores):
    """Re-typed from the same file (`calculate_eer`)."""
    fpr, fnr = upstream_det_curve(labels, scores)
    i = np.argmin(np.abs(fpr - fnr))
    return np.mean((fpr[i], fnr[i]))


def equal_error_candidates(labels, scores):
    fpr, fnr = upstream_det_curve(labels, scores)
    gap = np.abs(fpr - fnr)
    return [(fpr[i] + fnr[i]) / 2 for i in np.flatnonzero(gap - gap.min() < 1e-9)]


def test_eer_known_case_keeps_the_crossing_point():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 0])
    scores = np.linspace(1, 0, 10)  # descending
    assert equal_error_rate(labels == 1, scores) == pytest.approx(0.20)
    assert upstream_calculate_eer(labels, scores) == pytest.approx(0.20)


@pytest.mark.parametrize("seed", range(60))
def test_eer_equals_upstreams_on_random_untied_scores(seed):
    rng = np.random.RandomState(seed)
    n = rng.randint(5, 60)
    labels = rng.rand(n) < rng.uniform(0.2, 0.8)
    labels[:2] = [True, False]
    scores = rng.permutation(n) + rng.rand(n) * 0.5 * labels  # distinct values
    gaps = np.sort(np.abs(np.subtract(*upstream_det_curve(labels, scores))))
    if gaps[1] - gaps[0] < 1e-9:  # two points equally close: upstream's pick is float noise
        tied = {round(v, 9) for v in equal_error_candidates(labels, scores)}
        assert round(equal_error_rate(labels, scores), 9) in tied
        return
    assert equal_error_rate(labels, scores) == pytest.approx(upstream_calculate_eer(labels, scores))


def test_auc_and_eer_direction_on_a_binary_task():
    y = np.array(["clear"] * 6 + ["mask"] * 4)
    pred = np.array(["clear"] * 5 + ["mask"] * 5)
    good = np.linspace(0, 1, 10)  # higher = more "mask" (the second sorted class)
    m = classification_metrics(y, pred, good)
    assert m["accuracy"] == pytest.approx(0.9)
    assert m["balanced_accuracy"] == pytest.approx((5 / 6 + 1) / 2)
    assert m["auc"] == pytest.approx(1.0) and m["eer"] == pytest.approx(0.0)
    flipped = classification_metrics(y, pred, 1 - good)
    assert flipped["auc"] == pytest.approx(0.0) and flipped["eer"] == pytest.approx(1.0)
    assert "auc" not in classification_metrics(np.array(list("abc")), np.array(list("abc")))


def test_eer_of_uninformative_scores_is_about_half():
    rng = np.random.RandomState(0)
    assert equal_error_rate(rng.rand(4000) > 0.5, rng.rand(4000)) == pytest.approx(0.5, abs=0.03)


def test_outcome_scores_are_sklearns():
    rng = np.random.RandomState(1)
    y = rng.choice(list("abcd"), 300, p=[0.6, 0.2, 0.15, 0.05])
    pred = np.where(rng.rand(300) < 0.6, y, rng.choice(list("abcd"), 300))
    o = Outcomes.of(y, pred)
    assert o.score("accuracy") == pytest.approx(np.mean(y == pred))
    assert o.score("balanced_accuracy") == pytest.approx(balanced_accuracy_score(y, pred))


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy"])
def test_interval_covers_the_truth_95_percent_of_the_time(metric):
    """A seeded simulation: 400 test sets drawn from a known classifier; the 95 % interval of
    the chosen level must cover the true score in about 95 % of them (not 68 %, not 99 %)."""
    rng = np.random.RandomState(0)
    p_correct = np.array([0.9, 0.6])  # per class; UAR = 0.75, accuracy = 0.84 at 80/20
    truth = {"accuracy": 0.8 * 0.9 + 0.2 * 0.6, "balanced_accuracy": 0.75}[metric]
    covered = 0
    for trial in range(400):
        classes = (rng.rand(200) < 0.2).astype(int)
        correct = rng.rand(200) < p_correct[classes]
        lo, hi = bootstrap_interval(Outcomes(correct, classes), metric, n_boot=400, seed=trial)
        covered += lo <= truth <= hi
    assert 0.91 <= covered / 400 <= 0.98


def test_interval_level_is_the_one_asked_for():
    o = Outcomes(np.random.RandomState(0).rand(500) < 0.7, np.zeros(500, int))
    narrow, wide = bootstrap_interval(o, level=0.5), bootstrap_interval(o, level=0.99)
    default = bootstrap_interval(o)
    assert wide[1] - wide[0] > default[1] - default[0] > narrow[1] - narrow[0]


def test_mcnemar_exact_known_answer_and_never_zero():
    classes = np.zeros(40, int)
    a = np.zeros(40, bool)
    b = np.zeros(40, bool)
    a[:10] = True  # 10 clips only a got right
    b[10:12] = True  # 2 clips only b got right
    p, test = paired_p_value(Outcomes(a, classes), Outcomes(b, classes))
    by_hand = 2 * sum(math.comb(12, k) for k in range(10, 13)) / 2**12
    assert test == "mcnemar-exact" and p == pytest.approx(by_hand) == pytest.approx(
        0.03857, abs=1e-5
    )
    assert p == pytest.approx(binomtest(10, 12).pvalue)
    right, wrong = np.ones(60, bool), np.zeros(60, bool)
    p_small, _ = paired_p_value(
        Outcomes(right, np.zeros(60, int)), Outcomes(wrong, np.zeros(60, int))
    )
    assert 0 < p_small < 1e-15 and format_p_value(p_small) not in ("0", "0.0")
    assert format_p_value(1e-12) == "1e-12" and format_p_value(0.03857) == "0.03857"


def test_paired_test_is_symmetric_and_one_when_equal():
    rng = np.random.RandomState(0)
    classes = rng.randint(0, 2, 300)
    a, b = rng.rand(300) < 0.7, rng.rand(300) < 0.6
    for metric in ("accuracy", "balanced_accuracy"):
        pa = paired_p_value(Outcomes(a, classes), Outcomes(b, classes), metric)[0]
        pb = paired_p_value(Outcomes(b, classes), Outcomes(a, classes), metric)[0]
        assert pa == pytest.approx(pb) and 0 < pa <= 1
        assert paired_p_value(Outcomes(a, classes), Outcomes(a, classes), metric)[0] == 1.0


def test_stratified_test_reduces_to_mcnemar_with_one_class_discordant():
    classes = np.array([0] * 50 + [1] * 50)
    a = np.zeros(100, bool)
    b = np.zeros(100, bool)
    a[:9], b[9:11] = True, True  # all discordant clips in class 0
    p, test = paired_p_value(Outcomes(a, classes), Outcomes(b, classes), "balanced_accuracy")
    assert test == "stratified-mcnemar-exact" and p == pytest.approx(binomtest(9, 11).pvalue)


def test_paired_comparison_finds_a_real_difference_only():
    rng = np.random.RandomState(0)
    classes = np.zeros(2000, int)
    base = rng.rand(2000) < 0.6
    better = base | (rng.rand(2000) < 0.2)
    c = paired_comparison(Outcomes(better, classes), Outcomes(base, classes))
    assert c.difference > 0 and c.ci_low > 0 and c.p_value < 0.01
    swapped = base.copy()  # as many clips gained as lost: no real difference
    swapped[rng.choice(np.flatnonzero(base), 60, replace=False)] = False
    swapped[rng.choice(np.flatnonzero(~base), 60, replace=False)] = True
    same = paired_comparison(Outcomes(swapped, classes), Outcomes(base, classes))
    assert same.difference == 0 and same.ci_low < 0 < same.ci_high and same.p_value > 0.5


def test_p_value_of_an_overwhelming_difference_is_tiny_but_never_zero():
    classes = np.zeros(3000, int)
    right, wrong = np.ones(3000, bool), np.zeros(3000, bool)
    for metric in ("accuracy", "balanced_accuracy"):
        p, _ = paired_p_value(Outcomes(right, classes), Outcomes(wrong, classes), metric)
        assert 0 < p <= 1e-300 and format_p_value(p) == "<1e-300"


def test_uar_bootstrap_with_a_class_absent_from_some_resamples_matches_by_hand():
    """A class with one test clip is missing from about a third of the resamples: those
    resamples average the recall of the classes they hold (as sklearn's balanced accuracy)."""
    classes = np.array([0] * 30 + [1] * 9 + [2])
    correct = np.array([True] * 20 + [False] * 10 + [True] * 5 + [False] * 4 + [True])
    lo, hi = bootstrap_interval(Outcomes(correct, classes), "balanced_accuracy", n_boot=300, seed=3)
    rng = np.random.RandomState(3)
    by_hand = []
    for start in range(0, 300, 100):
        for idx in rng.randint(0, 40, size=(min(100, 300 - start), 40)):
            c, k = correct[idx], classes[idx]
            by_hand.append(np.mean([c[k == j].mean() for j in np.unique(k)]))
    assert (lo, hi) == pytest.approx(tuple(np.percentile(by_hand, [2.5, 97.5])))
