"""`--protocol noss` is Google's NOSS sklearn recipe: its models, its normalisations, its
best-test reporting. The oracle is upstream's code re-typed here."""

import csv

import numpy as np
import pytest
from sklearn import discriminant_analysis, ensemble, linear_model
from testlib import extraction, upstream_speaker_normalization

from noss_eval import synthetic
from noss_eval.cli import main
from noss_eval.errors import NossError
from noss_eval.probes import PROTOCOLS, choose_solver, make_classifier, noss_grid
from noss_eval.probing import evaluate_task


def upstream_models():
    """Re-typed from google-research non_semantic_speech_benchmark/eval_embedding/sklearn/
    models.py `get_sklearn_models` (less multi_class='multinomial', which sklearn >= 1.8 removed:
    lbfgs is multinomial for three or more classes, as in this file's `case`; two classes are
    `upstream_binary_multinomial`'s)."""
    return {
        "LogisticRegression": lambda: linear_model.LogisticRegression(C=1e5, solver="lbfgs"),
        "LogisticRegression_balanced": lambda: linear_model.LogisticRegression(
            C=1e5, solver="lbfgs", class_weight="balanced"
        ),
        "LDA_LSQR_AUTO": lambda: discriminant_analysis.LinearDiscriminantAnalysis(
            solver="lsqr", shrinkage="auto"
        ),
        "Forest_balanced_100": lambda: ensemble.RandomForestClassifier(
            class_weight="balanced", n_estimators=100
        ),
        "Forest_unbalanced_100": lambda: ensemble.RandomForestClassifier(
            class_weight=None, n_estimators=100
        ),
    }


def upstream_features(x, speakers, l2_normalization, speaker_norm):
    """Re-typed from upstream sklearn_utils.py `tfexamples_to_nps`: float32, L2 first, then
    `_speaker_normalization`."""
    x = np.array(x, np.float32)
    if l2_normalization:
        x /= np.linalg.norm(x, ord=2, axis=1, keepdims=True)
    return upstream_speaker_normalization(x, speakers) if speaker_norm else x


def _params(model):
    return {k: v for k, v in model.get_params().items() if k != "random_state"}


def test_noss_grid_is_upstreams_models_times_normalisations():
    grid = noss_grid(with_speakers=True)
    ours = [_params(make_classifier(c, 0)) for c in grid]
    for name, build in upstream_models().items():
        expected = _params(build())
        matching = [c for c, p in zip(grid, ours, strict=True) if p == expected]
        assert {(c.l2, c.speaker_norm) for c in matching} == {
            (a, b) for a in (False, True) for b in (False, True)
        }, name
    assert len(grid) == 5 * 4
    assert len(noss_grid(with_speakers=False)) == 5 * 2
    assert not any(c.speaker_norm for c in noss_grid(with_speakers=False))


def test_paper_mode_is_always_sklearn_lbfgs_with_its_default_max_iter():
    huge = choose_solver(noss_grid(False), 150_000, 1251, 2048, "auto", PROTOCOLS["noss"])
    logistic = [make_classifier(c, 0) for c in huge if c.family == "logistic"]
    assert all(isinstance(m, linear_model.LogisticRegression) for m in logistic)
    assert {m.max_iter for m in logistic} == {linear_model.LogisticRegression().max_iter}
    with pytest.raises(NossError, match="paper's sklearn lbfgs"):
        choose_solver(noss_grid(False), 10, 2, 2, "adam", PROTOCOLS["noss"])
    # the default protocol may switch to the mini-batch solver at that size
    fast = choose_solver(PROTOCOLS["noss-eval"].grid(False), 150_000, 1251, 2048, "auto")
    assert {c.solver for c in fast if c.family == "logistic"} == {"adam"}


def case(seed=0, n_speakers=12):
    r = np.random.RandomState(seed)
    xs, ys, splits, spk = [], [], [], []
    for s in range(n_speakers):
        split = ("train",) * 3 + ("validation", "test")
        y = np.arange(30) % 3
        xs.append(r.randn(30, 6) + 0.8 * np.eye(6)[y] + 1.5 * r.randn(6))
        ys += [str(v) for v in y]
        splits += [split[s % 5]] * 30
        spk += [f"spk{s}"] * 30
    return extraction(np.vstack(xs), ys, splits, spk)


def test_paper_mode_reproduces_upstream_recipe_config_by_config():
    """Every configuration fitted the upstream way; our per-family numbers are the best test
    accuracy over upstream's configurations of that family, `best` the best over all."""
    task, ex = case()
    labels = np.array([task.labels.index(c.label) for c in ex.clips], np.int16)  # as upstream
    splits = np.array([c.split for c in ex.clips])
    speakers = np.array([c.speaker for c in ex.clips])
    upstream = {}
    for name, build in upstream_models().items():
        for l2 in (True, False):
            for spk in (True, False):
                x = upstream_features(ex.embeddings, speakers, l2, spk)
                model = build()
                if "Forest" in name:
                    model.set_params(random_state=0)  # upstream leaves it unseeded
                model.fit(x[splits == "train"], labels[splits == "train"])
                upstream[(name, l2, spk)] = model.score(
                    x[splits == "test"], labels[splits == "test"]
                )
    family = {"LogisticRegression": "logistic", "LDA_LSQR_AUTO": "lda", "Forest": "forest"}
    results = {r.probe: r for r in evaluate_task(task, ex, 0, PROTOCOLS["noss"])}
    assert set(results) == {"logistic", "lda", "forest", "best"}
    for prefix, probe in family.items():
        best = max(v for (name, _, _), v in upstream.items() if name.startswith(prefix))
        assert results[probe].metrics["accuracy"] == pytest.approx(best, abs=1e-6), probe
    assert results["best"].metrics["accuracy"] == pytest.approx(max(upstream.values()), abs=1e-6)
    assert results["best"].config in {results[p].config for p in ("logistic", "lda", "forest")}


def test_protocols_are_separate_rows_and_never_cross_referenced(tmp_path):
    synthetic.write_crema_d(tmp_path / "data" / "crema_d")
    board = tmp_path / "b.csv"
    base = [
        "--embedder",
        "dsp",
        "--data-dir",
        str(tmp_path / "data"),
        "--cache-dir",
        str(tmp_path / "c"),
        "--leaderboard",
        str(board),
        "--reference",
        "dsp",
        "--reference-option",
        "name=dsp-ref",
    ]
    assert main(base) == 0 and main([*base, "--protocol", "noss"]) == 0
    rows = list(csv.DictReader(board.open()))
    probes = {
        p: sorted({r["probe"] for r in rows if r["protocol"] == p}) for p in ("noss-eval", "noss")
    }
    assert probes == {
        "noss-eval": ["best", "lda", "logistic"],
        "noss": ["best", "forest", "lda", "logistic"],
    }
    assert len(rows) == 2 * (3 + 4)
    for r in rows:
        if r["embedder"] == "dsp":
            assert r["reference"] == "dsp-ref" and r["reference_protocol"] == r["protocol"]
            assert float(r["delta"]) == 0.0 and float(r["delta_p_value"]) == 1.0
        else:  # the reference's own rows: on 144 generated clips no published number applies
            assert r["reference"] == r["delta"] == "" and "official clips" in r["reference_note"]


def binary_cases():
    """Two seeded binary sets as upstream feeds them (float32 embeddings, int16 label indices):
    one lbfgs converges on, and one of unscaled, correlated features that it stops on at
    sklearn's max_iter=100 (as paper mode's unstandardised 1e5-C fits often do)."""
    r = np.random.RandomState(7)
    x = r.randn(240, 5)
    y = x @ np.array([1.0, -0.5, 0.25, 0.0, 2.0]) + 0.8 + 1.5 * r.randn(240) > 0
    overlap = (x.astype(np.float32), y.astype(np.int16))
    r = np.random.RandomState(0)
    z = r.randn(400, 64)
    y = z[:, :3].sum(1) + r.randn(400) > 0
    x = z @ (np.eye(64) + 0.3 * r.randn(64, 64)) * np.logspace(-2, 1, 64)
    return {"overlap": overlap, "stopped": (x.astype(np.float32), y.astype(np.int16))}


def upstream_binary_multinomial(x, y, C=1e5, class_weight=None, max_iter=100, tol=1e-4):
    """Upstream's `LogisticRegression(C=1e5, solver='lbfgs', multi_class='multinomial')` on two
    classes, re-typed from scikit-learn 1.7.2 sklearn/linear_model/_logistic.py (the last release
    that accepts multi_class): `_logistic_regression_path`'s multinomial lbfgs branch, `fit`'s
    coef_/intercept_ split, and `predict_proba`'s "multi_class='multinomial' and binary outcomes"
    workaround. Returns (coef_, intercept_, n_iter, predict_proba)."""
    from scipy import optimize
    from sklearn._loss.loss import HalfMultinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import compute_class_weight
    from sklearn.utils.extmath import softmax

    X = np.asarray(x, dtype=np.float64, order="C")
    n_samples, n_features = X.shape
    classes = np.unique(y)
    sample_weight = None
    if class_weight is not None:
        sample_weight = np.ones(n_samples, dtype=X.dtype)
    le = LabelEncoder()
    if class_weight is not None:
        class_weight_ = compute_class_weight(
            class_weight, classes=classes, y=y, sample_weight=sample_weight
        )
        sample_weight *= class_weight_[le.fit_transform(y)]
    le = LabelEncoder()
    Y_multi = le.fit_transform(y).astype(X.dtype, copy=False)
    w0 = np.zeros((classes.size, n_features + 1), order="F", dtype=X.dtype)
    sw_sum = n_samples if sample_weight is None else np.sum(sample_weight)
    w0 = w0.ravel(order="F")
    loss = LinearModelLoss(
        base_loss=HalfMultinomialLoss(n_classes=classes.size), fit_intercept=True
    )
    l2_reg_strength = 1.0 / (C * sw_sum)
    opt_res = optimize.minimize(
        loss.loss_gradient,
        w0,
        method="L-BFGS-B",
        jac=True,
        args=(X, Y_multi, sample_weight, l2_reg_strength, 1),
        options={
            "maxiter": max_iter,
            "maxls": 50,  # default is 20
            "gtol": tol,
            "ftol": 64 * np.finfo(float).eps,
        },
    )
    n_iter = min(opt_res.nit, max_iter)  # _check_optimize_result
    n_classes = max(2, classes.size)
    multi_w0 = np.reshape(opt_res.x, (n_classes, -1), order="F")
    if n_classes == 2:
        multi_w0 = multi_w0[1][np.newaxis, :]
    coef_, intercept_ = multi_w0[:, :-1], multi_w0[:, -1]
    decision = (X @ coef_.T + intercept_).ravel()  # decision_function, binary
    decision_2d = np.c_[-decision, decision]
    return coef_, intercept_, n_iter, softmax(decision_2d, copy=False)


# Upstream's call run on scikit-learn 1.7.2 (numpy 2.4.6, scipy 1.17.1) on `binary_cases`:
# n_iter_, intercept_, coef_[0, :3], sum |coef_|, predict_proba[:3, 1], predictions of class 1.
UPSTREAM_1_7_2 = {
    ("overlap", None): (
        8, 0.2831550611360253, [0.5816687307151858, -0.18077770358203904, 0.02307046201059997],
        2.4465094488947328, [0.608452142262222, 0.9313728501526392, 0.2915387380854242], 135,
    ),
    ("overlap", "balanced"): (
        7, 0.19191416857219085, [0.5753722905344185, -0.18833209905528991, 0.023646303653979427],
        2.4486717081805716, [0.5620140818241774, 0.918777546955305, 0.2573852828720612], 130,
    ),
    ("stopped", None): (
        100, 0.07230543689241217, [0.07892470877993187, 0.04075436437196682, -0.05300336094068062],
        11.602841557129771, [0.9972337145321057, 0.0009471504811547634, 0.4504004804614634], 191,
    ),
    ("stopped", "balanced"): (
        100, 0.06539568381289215, [0.07119801370219957, 0.037032452877463394, -0.04965211605424365],
        10.206484612713982, [0.9924802517431548, 0.0029357969270142567, 0.4502888225374962], 192,
    ),
}  # fmt: skip


def _paper_logistic(class_weight):
    (cfg,) = [
        c
        for c in noss_grid(with_speakers=False)
        if c.family == "logistic" and c.class_weight == class_weight and not c.l2
    ]
    return make_classifier(cfg, 0)


@pytest.mark.parametrize("class_weight", [None, "balanced"])
@pytest.mark.parametrize("name", ["overlap", "stopped"])
def test_binary_paper_logistic_is_upstreams_two_class_softmax(name, class_weight):
    """On two classes paper mode fits upstream's softmax over both classes, not sklearn's
    binomial loss (whose optimum is at twice the C and whose lbfgs stops elsewhere at
    max_iter): the same coefficients, iterations and probabilities as upstream's call."""
    x, y = binary_cases()[name]
    ours = _paper_logistic(class_weight).fit(x, y)
    coef, intercept, n_iter, proba = upstream_binary_multinomial(x, y, class_weight=class_weight)
    np.testing.assert_array_equal(ours.coef_, coef)
    np.testing.assert_array_equal(ours.intercept_, intercept)
    assert ours.n_iter_.tolist() == [n_iter]
    np.testing.assert_allclose(ours.predict_proba(x), proba, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(ours.predict(x), proba.argmax(axis=1))
    known = UPSTREAM_1_7_2[(name, class_weight)]
    tight = 1e-9 if name == "overlap" else 1e-6  # the stopped fit amplifies last-bit noise
    assert ours.n_iter_.tolist() == [known[0]]
    assert ours.intercept_[0] == pytest.approx(known[1], rel=tight)
    np.testing.assert_allclose(ours.coef_[0, :3], known[2], rtol=tight)
    assert np.abs(ours.coef_).sum() == pytest.approx(known[3], rel=tight)
    np.testing.assert_allclose(ours.predict_proba(x)[:3, 1], known[4], rtol=tight)
    assert int(ours.predict(x).sum()) == known[5]


def test_binary_paper_logistic_differs_from_sklearns_binomial_fit():
    """Where lbfgs stops at max_iter, sklearn's binomial fit at C (or at the equivalent 2C)
    is a different classifier: the reason paper mode does not use it."""
    x, y = binary_cases()["stopped"]
    ours = _paper_logistic(None).fit(x, y)
    for C in (1e5, 2e5):
        binomial = linear_model.LogisticRegression(C=C, solver="lbfgs").fit(x, y)
        assert np.abs(binomial.predict_proba(x) - ours.predict_proba(x)).max() > 0.05
    three = (x[:, 0] > 0).astype(int) + (x[:, 2] > 0)  # three classes: sklearn's own fit
    np.testing.assert_array_equal(
        _paper_logistic(None).fit(x, three).coef_,
        linear_model.LogisticRegression(C=1e5, solver="lbfgs").fit(x, three).coef_,
    )
