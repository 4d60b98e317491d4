"""Pinned answers for `noss_eval.stats`: each number is worked out by hand or by an independent
oracle (sklearn, scipy, a re-typed upstream formula), so a changed constant or operator fails."""

import itertools

import numpy as np
import pytest
from scipy.stats import binom, binomtest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

from noss_eval.stats import (
    HEADLINES,
    N_BOOTSTRAP,
    Outcomes,
    _percentiles,
    _resample_indices,
    _resampled_scores,
    _stratified_mcnemar,
    _stratified_sign_flips,
    bootstrap_interval,
    bootstrap_intervals,
    classification_metrics,
    equal_error_rate,
    format_p_value,
    paired_comparison,
    paired_p_value,
)


def upstream_eer(labels, scores):
    """Re-typed from google-research non_semantic_speech_benchmark/eval_embedding/metrics.py
    `calculate_eer` and `calculate_det_curve`."""
    fpr, fnr = calculate_det_curve(labels, scores)
    min_diff_idx = np.argmin(np.abs(fpr - fnr))
    return np.mean((fpr[min_diff_idx], fnr[min_diff_idx]))


def calculate_det_curve(labels, scores):
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=float)
    indices = np.argsort(scores)
    labels = labels[indices]
    fnr = np.cumsum(labels) / np.sum(labels)
    fnr = np.insert(fnr, 0, 0)

    negative_labels = 1 - labels
    fpr = np.cumsum(negative_labels[::-1])[::-1]
    fpr /= np.sum(negative_labels)
    fpr = np.append(fpr, 0)

    return fpr, fnr


def test_constants_are_the_documented_ones():
    assert N_BOOTSTRAP == 1000
    assert HEADLINES == ("accuracy", "balanced_accuracy")


def test_classification_metrics_are_sklearns_on_a_three_class_case():
    y_true = np.array(["a", "a", "a", "b", "b", "c"])
    y_pred = np.array(["a", "b", "a", "b", "c", "c"])
    out = classification_metrics(y_true, y_pred, positive_scores=np.arange(6.0))
    assert out == {
        "accuracy": pytest.approx(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": pytest.approx(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": pytest.approx(f1_score(y_true, y_pred, average="macro")),
    }  # no AUC/EER on a three-class task, even with scores
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)


def test_binary_metrics_score_the_second_sorted_class():
    y_true = np.array(["no", "no", "no", "yes", "yes", "yes"])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])  # score of "yes"
    y_pred = np.where(scores > 0.5, "yes", "no")
    out = classification_metrics(y_true, y_pred, scores)
    assert set(out) == {"accuracy", "balanced_accuracy", "macro_f1", "auc", "eer"}
    assert out["auc"] == pytest.approx(roc_auc_score(y_true == "yes", scores)) == 7 / 9
    assert out["eer"] == pytest.approx(upstream_eer(y_true == "yes", scores)) == 1 / 3
    # One class in y_true: no AUC or EER (undefined), the rest still computed.
    one = classification_metrics(y_true[:3], y_pred[:3], scores[:3])
    assert set(one) == {"accuracy", "balanced_accuracy", "macro_f1"}


@pytest.mark.parametrize("seed", range(6))
def test_eer_is_upstreams_with_ties_too(seed):
    rng = np.random.RandomState(seed)
    is_positive = rng.rand(40) < 0.4
    scores = np.round(rng.rand(40) + is_positive * 0.5, 1)  # coarse: many ties
    untied = rng.rand(40) + is_positive * 0.5
    assert equal_error_rate(is_positive, untied) == upstream_eer(is_positive, untied)
    assert equal_error_rate(is_positive, scores) == upstream_eer(is_positive, scores)


def test_eer_on_2000_random_tied_cases_is_upstreams():
    """Scores from a few discrete values (forests' vote fractions tie like this): upstream cuts
    inside runs of tied scores, in numpy's argsort order, and so does noss-eval."""
    rng = np.random.RandomState(0)
    for _ in range(2000):
        n, k = rng.randint(2, 60), rng.randint(2, 6)
        is_positive = rng.rand(n) < rng.uniform(0.2, 0.8)
        is_positive[:2] = True, False  # both classes
        scores = (rng.randint(0, k, n) + is_positive * rng.randint(0, 2)) / k
        assert 0 < is_positive.sum() < n
        assert equal_error_rate(is_positive, scores) == upstream_eer(is_positive, scores)


def test_eer_known_answers():
    # Perfect separation -> 0; perfectly inverted scores -> 1 (every point wrong).
    assert equal_error_rate(np.array([0, 0, 1, 1], bool), np.array([1.0, 2, 3, 4])) == 0.0
    assert equal_error_rate(np.array([1, 1, 0, 0], bool), np.array([1.0, 2, 3, 4])) == 1.0
    # Two equally close cuts, |FPR - FNR| = 1/2 at both: between scores 1 and 2 (FPR 1/2,
    # FNR 0) and between 2 and 3 (FPR 1/2, FNR 1). The lower threshold's: 1/4.
    pos = np.array([0, 1, 0], bool)
    assert equal_error_rate(pos, np.array([1.0, 2, 3])) == 0.25 == upstream_eer(pos, [1, 2, 3])
    # A cut inside a tie: negative then positive at 0.5 (argsort keeps a tiny array's order),
    # the cut between them separates perfectly.
    pos = np.array([0, 0, 1, 1], bool)
    assert equal_error_rate(pos, np.array([0.1, 0.5, 0.5, 0.9])) == 0.0


def test_resample_indices_are_blocks_of_100_rows_from_one_random_state():
    blocks = list(_resample_indices(7, 250, seed=3))
    assert [b.shape for b in blocks] == [(100, 7), (100, 7), (50, 7)]
    rng = np.random.RandomState(3)
    expected = [rng.randint(0, 7, size=(100, 7)), rng.randint(0, 7, size=(100, 7))]
    expected.append(rng.randint(0, 7, size=(50, 7)))
    for got, want in zip(blocks, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert all(b.min() >= 0 and b.max() <= 6 for b in blocks)
    assert len(list(_resample_indices(5, 100, 0))) == 1


def test_outcome_weights_and_scores():
    y = np.array(["a", "a", "a", "b"])
    out = Outcomes.of(y, np.array(["a", "b", "a", "b"]))
    np.testing.assert_array_equal(out.correct, [True, False, True, True])
    np.testing.assert_array_equal(out.classes, [0, 0, 0, 1])
    assert out.classes.dtype == np.int64
    np.testing.assert_allclose(out.weights("accuracy"), [0.25] * 4)
    np.testing.assert_allclose(out.weights("balanced_accuracy"), [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    assert out.score("accuracy") == pytest.approx(0.75)
    assert out.score("balanced_accuracy") == pytest.approx((2 / 3 + 1) / 2)
    with pytest.raises(ValueError, match="unknown headline metric 'f1'.*accuracy, balanced_acc"):
        out.weights("f1")


def test_balanced_weights_count_only_present_classes():
    # Class index 1 absent (classes given directly): K is the number of present classes, 2.
    out = Outcomes(np.array([True, False, True]), np.array([0, 2, 2]))
    np.testing.assert_allclose(out.weights("balanced_accuracy"), [1 / 2, 1 / 4, 1 / 4])


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_resampled_scores_are_the_metric_of_each_row():
    values = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    classes = np.array([0, 0, 1, 1, 2])
    idx = np.array([[0, 1, 2, 3, 4], [0, 0, 2, 2, 2], [1, 1, 1, 1, 4], [3, 4, 4, 0, 1]])
    acc = _resampled_scores(values, classes, "accuracy", idx)
    np.testing.assert_allclose(acc, values[idx].mean(1))
    bal = _resampled_scores(values, classes, "balanced_accuracy", idx)
    for row, got in zip(idx, bal, strict=True):
        y = classes[row]
        pred = np.where(values[row] == 1, y, -1)
        assert got == pytest.approx(balanced_accuracy_score(y, pred))


def test_percentiles_are_the_central_interval():
    means = np.arange(101.0)
    assert _percentiles(means, 0.95) == pytest.approx((2.5, 97.5))
    assert _percentiles(means, 0.5) == pytest.approx((25.0, 75.0))


def test_bootstrap_interval_is_the_percentile_interval_of_resampled_scores():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 60)
    out = Outcomes(rng.rand(60) < 0.7, y)
    for metric in HEADLINES:
        low, high = bootstrap_interval(out, metric, n_boot=300, seed=5, level=0.9)
        boots = [
            Outcomes(out.correct[row], out.classes[row]).score(metric)
            for block in _resample_indices(60, 300, 5)
            for row in block
        ]
        assert (low, high) == pytest.approx(tuple(np.percentile(boots, [5, 95])))
        assert low < out.score(metric) < high
    default = bootstrap_interval(out)
    assert default == bootstrap_interval(out, "accuracy", 1000, 0, 0.95)


def test_intervals_of_several_probes_equal_each_probes_own():
    """One draw of resamples for several probes' outcomes on the same clips gives each the
    interval it gets alone (the same seed draws the same rows)."""
    rng = np.random.RandomState(4)
    y = rng.randint(0, 4, 250)
    probes = [Outcomes(rng.rand(250) < p, y) for p in (0.3, 0.6, 0.9)]
    for metric in HEADLINES:
        together = bootstrap_intervals(probes, metric, n_boot=250, seed=7, level=0.8)
        assert together == [bootstrap_interval(o, metric, 250, 7, 0.8) for o in probes]
        assert len(set(together)) == 3
    with pytest.raises(ValueError, match="different test sets"):
        bootstrap_intervals([probes[0], Outcomes(probes[1].correct[:-1], y[:-1])])


def test_paired_comparison_known_difference_and_interval():
    rng = np.random.RandomState(1)
    y = np.repeat([0, 1], 30)
    a = Outcomes(rng.rand(60) < 0.9, y)
    b = Outcomes(rng.rand(60) < 0.5, y)
    for metric in HEADLINES:
        cmp = paired_comparison(a, b, metric, n_boot=200, seed=2, level=0.8)
        assert cmp.difference == pytest.approx(a.score(metric) - b.score(metric))
        boots = [
            Outcomes(a.correct[r], y[r]).score(metric) - Outcomes(b.correct[r], y[r]).score(metric)
            for block in _resample_indices(60, 200, 2)
            for r in block
        ]
        assert (cmp.ci_low, cmp.ci_high) == pytest.approx(tuple(np.percentile(boots, [10, 90])))
        assert (cmp.p_value, cmp.test) == paired_p_value(a, b, metric)
    with pytest.raises(
        ValueError, match="^paired outcomes must be for the same clips in the same order$"
    ):
        paired_comparison(a, Outcomes(b.correct, y[::-1]))
    # defaults: accuracy, 1000 resamples, seed 0, 95 %
    assert paired_comparison(a, b) == paired_comparison(a, b, "accuracy", 1000, 0, 0.95)


def test_mcnemar_is_scipys_binomial_test():
    y = np.zeros(20, int)
    a = np.array([True] * 12 + [False] * 8)
    b = np.array([True] * 5 + [False] * 10 + [True] * 5)
    # only a: clips 5-11 (7); only b: clips 15-19 (5).
    p, test = paired_p_value(Outcomes(a, y), Outcomes(b, y))
    assert test == "mcnemar-exact"
    assert p == pytest.approx(binomtest(7, 12, 0.5).pvalue)
    assert paired_p_value(Outcomes(a, y), Outcomes(a, y)) == (1.0, "mcnemar-exact")


def brute_force_stratified(per_class, observed):
    """P(|sum_c w_c (2 X_c - m_c)| >= observed) by enumerating every discordant outcome."""
    total = 0.0
    for ks in itertools.product(*(range(m + 1) for _, m in per_class)):
        value = sum(w * (2 * k - m) for (w, m), k in zip(per_class, ks, strict=True))
        prob = np.prod([binom.pmf(k, m, 0.5) for (_, m), k in zip(per_class, ks, strict=True)])
        total += prob * (abs(value) >= observed - 1e-9)
    return total


def test_stratified_mcnemar_is_the_enumerated_null():
    per_class = [(0.25, 3), (0.1, 2), (0.05, 4)]
    for observed in (0.0, 0.05, 0.3, 0.55, 0.7, 1.2):
        assert _stratified_mcnemar(per_class, observed) == pytest.approx(
            brute_force_stratified(per_class, observed)
        )
    assert _stratified_mcnemar([], 0.0) == 1.0
    # Too many distinct values to enumerate: None (the caller falls back to Monte Carlo).
    many = [(1.0 / (7 + i * np.pi), 40) for i in range(6)]
    assert _stratified_mcnemar(many, 0.1) is None


def test_balanced_p_value_uses_per_class_weights_and_the_exact_null():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    a = np.array([1, 1, 0, 1, 1, 1, 1, 0, 1, 1], bool)
    b = np.array([0, 0, 0, 1, 1, 0, 0, 0, 1, 1], bool)
    # only a: class 0 clips 0, 1 (w 1/8); class 1 clips 5, 6 (w 1/12). None only b.
    p, test = paired_p_value(Outcomes(a, y), Outcomes(b, y), "balanced_accuracy")
    assert test == "stratified-mcnemar-exact"
    observed = 2 / 8 + 2 / 12
    assert p == pytest.approx(brute_force_stratified([(1 / 8, 2), (1 / 12, 2)], observed))
    assert p == pytest.approx(2 / 16)


def test_stratified_p_value_of_the_most_extreme_outcome_is_not_zero():
    # Found by test_properties.py (hypothesis): three classes, every discordant clip favours b.
    y = np.array(list("abccaccc"))
    classes = np.unique(y, return_inverse=True)[1]
    a = np.array([False] * 7 + [True])
    b = np.array([True] * 5 + [False, False, True])
    p, test = paired_p_value(Outcomes(a, classes), Outcomes(b, classes), "balanced_accuracy")
    assert test == "stratified-mcnemar-exact"
    assert p == pytest.approx(2 * (1 / 4) * (1 / 2) * (1 / 4))  # both tails of the extreme


def test_sign_flips_estimate_the_same_null_and_are_never_zero():
    per_class = [(0.25, 3), (0.1, 2), (0.05, 4)]
    exact = brute_force_stratified(per_class, 0.55)
    mc = _stratified_sign_flips(per_class, 0.55, draws=20_000)
    assert mc == pytest.approx(exact, abs=0.01)
    assert _stratified_sign_flips(per_class, 100.0, draws=99) == 1 / 100
    assert _stratified_sign_flips([], 0.0, draws=9) == 1.0
    # Default draws: 100,000, from RandomState(0).
    assert _stratified_sign_flips([(0.5, 1)], 0.5) == pytest.approx(1.0)
    rng = np.random.RandomState(0)
    total = 0.2 * (2 * rng.binomial(5, 0.5, size=100_000) - 5)
    hits = np.sum(np.abs(total) >= 0.6 - 1e-12)
    assert _stratified_sign_flips([(0.2, 5)], 0.6) == (1 + hits) / 100_001


def test_p_value_falls_back_to_monte_carlo_when_the_null_is_too_large():
    rng = np.random.RandomState(0)
    n_classes = 7
    y = np.repeat(np.arange(n_classes), [41 + 3 * c for c in range(n_classes)])
    a = Outcomes(rng.rand(len(y)) < 0.5, y)
    b = Outcomes(rng.rand(len(y)) < 0.5, y)
    p, test = paired_p_value(a, b, "balanced_accuracy")
    assert test == "stratified-mcnemar-monte-carlo"
    assert 0 < p <= 1


def test_format_p_value_has_four_significant_digits():
    assert format_p_value(0.123456) == "0.1235"
    assert format_p_value(1.0) == "1"
    assert format_p_value(3.2e-7) == "3.2e-07"
