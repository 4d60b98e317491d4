import numpy as np
import pytest

from noss_eval.stats import (
    bootstrap_interval,
    classification_metrics,
    equal_error_rate,
    paired_bootstrap,
)


def test_metrics_for_a_binary_task():
    y = np.array(["clear"] * 6 + ["mask"] * 4)
    pred = np.array(["clear"] * 5 + ["mask"] * 5)
    scores = np.linspace(0, 1, 10)
    m = classification_metrics(y, pred, scores)
    assert m["accuracy"] == pytest.approx(0.9)
    assert m["balanced_accuracy"] == pytest.approx((5 / 6 + 1) / 2)
    assert m["auc"] == pytest.approx(1.0) and m["eer"] == pytest.approx(0.0)
    assert 0 < m["macro_f1"] < 1
    assert "auc" not in classification_metrics(np.array(list("abc")), np.array(list("abc")))


def test_eer_of_uninformative_scores_is_about_half():
    rng = np.random.RandomState(0)
    assert equal_error_rate(rng.rand(4000) > 0.5, rng.rand(4000)) == pytest.approx(0.5, abs=0.03)


def test_bootstrap_interval_brackets_the_accuracy_and_narrows_with_n():
    rng = np.random.RandomState(0)
    small, large = rng.rand(100) < 0.7, rng.rand(10000) < 0.7
    lo, hi = bootstrap_interval(small)
    assert lo < small.mean() < hi
    lo2, hi2 = bootstrap_interval(large)
    assert hi2 - lo2 < (hi - lo) / 5


def test_paired_bootstrap_detects_a_real_difference_only():
    rng = np.random.RandomState(0)
    base = rng.rand(2000) < 0.6
    better = base | (rng.rand(2000) < 0.2)
    diff, lo, hi, p = paired_bootstrap(better, base)
    assert diff > 0 and lo > 0 and p < 0.01
    assert paired_bootstrap(base, base)[3] == 1.0
    swapped = base.copy()  # as many clips gained as lost: no real difference
    swapped[rng.choice(np.flatnonzero(base), 60, replace=False)] = False
    swapped[rng.choice(np.flatnonzero(~base), 60, replace=False)] = True
    assert paired_bootstrap(swapped, base)[3] > 0.5
