"""ShrunkLDA against sklearn's LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").

Tolerances, each relative to the largest absolute value of sklearn's array: float64 input,
covariance_ 1e-12 and coef_/intercept_ 1e-8 (the lstsq solve amplifies rounding by the
covariance's condition number); float32 input (sklearn's per-class statistics are float32, ours
float64) 1e-5 and 1e-4. Predictions must be identical; predict_proba within 1e-6 absolute.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.covariance import OAS, empirical_covariance, ledoit_wolf, ledoit_wolf_shrinkage
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.preprocessing import StandardScaler

from noss_eval import lda
from noss_eval.lda import ShrunkLDA, ledoit_wolf_shrinkage_and_mu

TOL = {np.float64: (1e-12, 1e-8), np.float32: (1e-5, 1e-4)}


def clusters(seed, counts, d, dtype=np.float64):
    """Gaussian clusters: class k has counts[k] rows around its own mean, per-feature noise."""
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(y)
    x = 2 * rng.randn(len(counts), d)[y] + rng.randn(len(y), d) * rng.uniform(0.2, 2, d)
    return x.astype(dtype), np.char.add("spk", y.astype(str))


def sklearn_lda(x, y, **params):
    with warnings.catch_warnings():  # sklearn's ledoit_wolf warns on 1-row classes
        warnings.simplefilter("ignore")
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", **params).fit(x, y)


def assert_matches(x, y, **params):
    ref, ours = sklearn_lda(x, y, **params), ShrunkLDA(**params).fit(x, y)
    tol_cov, tol_coef = TOL[x.dtype.type]
    for name, tol in [
        ("covariance_", tol_cov),
        ("means_", tol_cov),
        ("coef_", tol_coef),
        ("intercept_", tol_coef),
    ]:
        a, b = getattr(ours, name), getattr(ref, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert np.abs(a - b).max() <= tol * np.abs(b).max(), name
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_array_equal(ours.priors_, ref.priors_)
    np.testing.assert_array_equal(ours.predict(x), ref.predict(x))
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), rtol=0, atol=1e-6)
    return ours


def counts(seed, k, low, high):
    return np.random.RandomState(seed).randint(low, high + 1, k)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_many_classes_few_rows(seed, monkeypatch):
    if seed == 2:  # the covariance summed over many small blocks of rows
        monkeypatch.setattr(lda, "BLOCK_ROWS", 7)
    assert_matches(*clusters(seed, counts(seed, 150, 1, 5), 40))


def test_classes_with_one_row():
    assert_matches(*clusters(3, [1, 1, 6, 1, 9, 4, 1, 7], 12))


def test_constant_feature_and_feature_constant_within_one_class():
    x, y = clusters(4, counts(4, 30, 2, 8), 20)
    x[:, 3] = 1.5
    x[y == y[0], 7] = -2.0
    x[y == y[1], :5] = 0.25
    assert_matches(x, y)


def test_more_rows_per_class_than_features():
    assert_matches(*clusters(5, [400, 350, 300, 500, 250], 8))


def test_binary():
    assert_matches(*clusters(6, [30, 45], 25))
    assert_matches(*clusters(7, [300, 200], 5))


def test_float32():
    x, y = clusters(8, counts(8, 60, 1, 12), 30, np.float32)
    assert_matches(x, y)
    assert_matches(*clusters(9, [40, 35], 10, np.float32))


def test_one_feature_explicit_priors_and_blocked_dimensions():
    assert_matches(*clusters(10, [20, 30, 5], 1))
    assert_matches(*clusters(11, [20, 30, 10, 40], 6), priors=[0.1, 0.2, 0.3, 0.4])
    assert_matches(*clusters(12, [30, 25], 1001))  # sklearn's ledoit_wolf blocks by 1000


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**16),
    k=st.integers(2, 25),
    low=st.integers(1, 6),
    spread=st.integers(0, 40),
    d=st.integers(1, 50),
)
def test_matches_sklearn_on_random_shapes(seed, k, low, spread, d):
    sizes = counts(seed, k, low, low + spread)
    sizes[0] += 1  # sklearn needs more rows than classes
    assert_matches(*clusters(seed, sizes, d))


@pytest.mark.parametrize("shape", [(1, 5), (2, 5), (3, 40), (30, 40), (40, 40), (200, 7), (9, 1)])
def test_shrinkage_is_ledoit_wolfs_on_standardised_class_rows(shape):
    rng = np.random.RandomState(shape[0])
    x = rng.randn(*shape) @ rng.randn(shape[1], shape[1])  # correlated features
    z = StandardScaler().fit_transform(x)
    z -= z.mean(axis=0)
    s, mu = ledoit_wolf_shrinkage_and_mu(z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isclose(s, ledoit_wolf_shrinkage(z, assume_centered=True), rtol=1e-10, atol=0)
        assert np.isclose(s, ledoit_wolf(z)[1], rtol=1e-10, atol=0)
        target = np.trace(empirical_covariance(z, assume_centered=True)) / shape[1]
    assert np.isclose(mu, target, rtol=1e-12, atol=0)
    if shape[0] > 2 and shape[1] > 1:  # 1 or 2 rows and 1 feature: exactly 0, as sklearn's
        assert 0 < s < 1


def test_fast_path_skips_sklearns_per_class_ledoit_wolf():
    x, y = clusters(13, [1, 5, 6], 4)  # sklearn's ledoit_wolf warns on the 1-row class
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ShrunkLDA().fit(x, y)
        with pytest.raises(UserWarning, match="Only one sample"):
            LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x, y)


@pytest.mark.parametrize(
    "params",
    [
        {"shrinkage": 0.3},
        {"shrinkage": None},
        {"shrinkage": None, "covariance_estimator": OAS()},
        {"solver": "eigen"},
        {"solver": "svd", "shrinkage": None},
    ],
)
def test_other_settings_are_sklearns_own(params):
    x, y = clusters(14, [20, 30, 25], 6)
    ref = LinearDiscriminantAnalysis(**{"solver": "lsqr", "shrinkage": "auto", **params})
    ours = ShrunkLDA(**params).fit(x, y)
    np.testing.assert_array_equal(ours.coef_, ref.fit(x, y).coef_)
    np.testing.assert_array_equal(ours.predict_proba(x), ref.predict_proba(x))


def test_is_a_plain_sklearn_estimator():
    est = ShrunkLDA()
    assert est.get_params() == {
        **LinearDiscriminantAnalysis().get_params(),
        "solver": "lsqr",
        "shrinkage": "auto",
    }
    copy = clone(est.set_params(priors=[0.5, 0.5]))
    assert type(copy) is ShrunkLDA and copy.get_params() == est.get_params()
    x, y = clusters(15, [10, 12], 3)
    assert copy.fit(x, y).score(x, y) == sklearn_lda(x, y, priors=[0.5, 0.5]).score(x, y)
