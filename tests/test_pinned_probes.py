"""Pinned behaviour of `noss_eval.probes`: the grids, the estimators each configuration builds
(compared with sklearn estimators built here, fitted on the same data), the normalisations and
the scoring, on small real fits."""

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from noss_eval.errors import NossError
from noss_eval.probes import (
    ADAM_THRESHOLD,
    BEST,
    FAMILIES,
    PROTOCOLS,
    Fitted,
    Part,
    ProbeConfig,
    choose_solver,
    concat,
    default_grid,
    fit,
    l2_normalise,
    make_classifier,
    normalise,
    noss_grid,
    score,
    speaker_normalise,
)
from noss_eval.softmax import SoftmaxRegression


def blobs(n=60, dim=5, classes=("a", "b"), seed=0, spread=1.0):
    rng = np.random.RandomState(seed)
    y = np.array([classes[i % len(classes)] for i in range(n)])
    centres = {c: rng.randn(dim) * 2 for c in classes}
    x = np.stack([centres[c] for c in y]) + spread * rng.randn(n, dim)
    speakers = tuple(f"s{i % 4}" for i in range(n))
    return Part(x, y, speakers)


def test_constants():
    assert FAMILIES == ("logistic", "lda", "forest")
    assert BEST == "best"
    assert ADAM_THRESHOLD == 1e10
    assert set(PROTOCOLS) == {"noss-eval", "noss"}
    assert PROTOCOLS["noss-eval"].select_on == "validation"
    assert PROTOCOLS["noss"].select_on == "test"
    assert PROTOCOLS["noss-eval"].grid is default_grid and PROTOCOLS["noss"].grid is noss_grid
    assert PROTOCOLS["noss"].name == "noss" and PROTOCOLS["noss-eval"].name == "noss-eval"


def test_probe_config_defaults():
    cfg = ProbeConfig("logistic")
    assert (cfg.l2, cfg.speaker_norm, cfg.C, cfg.class_weight) == (False, False, 1.0, None)
    assert (cfg.standardize, cfg.solver, cfg.max_iter) == (True, "lbfgs", 2000)


@pytest.mark.parametrize(
    "cfg, label",
    [
        (ProbeConfig("logistic", C=0.1), "logistic+C=0.1"),
        (
            ProbeConfig("logistic", True, True, 1e5, "balanced"),
            "logistic+C=100000+cw=balanced+l2+spk-norm",
        ),
        (ProbeConfig("logistic", C=10, solver="adam"), "logistic+C=10+adam"),
        (ProbeConfig("lda", l2=True), "lda+l2"),
        (ProbeConfig("lda", speaker_norm=True), "lda+spk-norm"),
        (ProbeConfig("forest", class_weight="balanced"), "forest+cw=balanced"),
        (ProbeConfig("forest", l2=True), "forest+cw=None+l2"),
    ],
)
def test_labels(cfg, label):
    assert cfg.label == label


def test_default_grid_order_and_contents():
    with_spk = default_grid(True)
    norms = [(False, False), (False, True), (True, False), (True, True)]
    expected = [("logistic", c, n) for c in (0.1, 1.0, 10.0) for n in norms]
    expected += [("lda", 1.0, n) for n in norms]
    assert [(c.family, c.C, (c.l2, c.speaker_norm)) for c in with_spk] == expected
    assert all(c.standardize and c.max_iter == 2000 and c.class_weight is None for c in with_spk)
    without = default_grid(False)
    assert [(c.family, c.C, c.l2, c.speaker_norm) for c in without] == [
        ("logistic", 0.1, False, False),
        ("logistic", 0.1, True, False),
        ("logistic", 1.0, False, False),
        ("logistic", 1.0, True, False),
        ("logistic", 10.0, False, False),
        ("logistic", 10.0, True, False),
        ("lda", 1.0, False, False),
        ("lda", 1.0, True, False),
    ]
    assert [c.C for c in default_grid(False, c_values=(2.0,))] == [2.0, 2.0, 1.0, 1.0]


def test_noss_grid_is_upstreams_five_models_in_order():
    grid = noss_grid(False)
    assert [(c.family, c.class_weight, c.l2) for c in grid] == [
        ("logistic", None, False),
        ("logistic", None, True),
        ("logistic", "balanced", False),
        ("logistic", "balanced", True),
        ("lda", None, False),
        ("lda", None, True),
        ("forest", "balanced", False),
        ("forest", "balanced", True),
        ("forest", None, False),
        ("forest", None, True),
    ]
    logistic = [c for c in grid if c.family == "logistic"]
    assert all(c.C == 1e5 and not c.standardize and c.max_iter is None for c in logistic)
    assert len(noss_grid(True)) == 20
    assert [(c.l2, c.speaker_norm) for c in noss_grid(True)[:4]] == [
        (False, False),
        (False, True),
        (True, False),
        (True, True),
    ]


def test_choose_solver():
    grid = default_grid(False)
    assert choose_solver(grid, 10, 2, 4, "adam") == [
        ProbeConfig(c.family, c.l2, c.speaker_norm, c.C, solver="adam")
        if c.family == "logistic"
        else c
        for c in grid
    ]
    assert all(c.solver == "lbfgs" for c in choose_solver(grid, 10, 2, 4, "lbfgs"))
    # auto: adam strictly above n_train * n_classes * dim = 1e10.
    at = choose_solver(grid, 10**5, 10, 10**4, "auto")
    above = choose_solver(grid, 10**5 + 1, 10, 10**4)
    assert {c.solver for c in at} == {"lbfgs"}
    assert {c.solver for c in above if c.family == "logistic"} == {"adam"}
    assert {c.solver for c in above if c.family == "lda"} == {"lbfgs"}
    # paper mode: the grid as given, whatever the size; adam refused.
    paper = noss_grid(False)
    assert choose_solver(paper, 10**9, 10**3, 10**3, protocol=PROTOCOLS["noss"]) is paper
    assert choose_solver(paper, 10**9, 10**3, 10**3, "lbfgs", PROTOCOLS["noss"]) is paper
    with pytest.raises(NossError, match="--protocol noss uses the paper's sklearn lbfgs"):
        choose_solver(paper, 10, 2, 2, "adam", PROTOCOLS["noss"])
    with pytest.raises(ValueError, match="unknown solver 'sgd'"):
        choose_solver(grid, 10, 2, 2, "sgd")


def assert_same_predictions(ours, reference, train, test):
    ours.fit(train.x, train.y)
    reference.fit(train.x, train.y)
    np.testing.assert_array_equal(ours.predict(test.x), reference.predict(test.x))
    np.testing.assert_allclose(ours.predict_proba(test.x), reference.predict_proba(test.x))


def test_classifiers_are_the_documented_sklearn_estimators():
    train, test = blobs(seed=1, spread=3.0), blobs(seed=2, spread=3.0)
    lr = make_classifier(ProbeConfig("logistic", C=0.5, class_weight="balanced"), seed=3)
    assert isinstance(lr, Pipeline) and isinstance(lr.steps[0][1], StandardScaler)
    params = lr.steps[1][1].get_params()
    assert (params["C"], params["class_weight"], params["solver"]) == (0.5, "balanced", "lbfgs")
    assert (params["max_iter"], params["random_state"]) == (2000, 3)
    plain = make_classifier(ProbeConfig("logistic", C=1e5, standardize=False, max_iter=None), 0)
    assert isinstance(plain, LogisticRegression)
    assert plain.get_params()["max_iter"] == LogisticRegression().get_params()["max_iter"]
    assert plain.get_params()["C"] == 1e5
    lda = make_classifier(ProbeConfig("lda"), 0)
    assert_same_predictions(
        lda, LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"), train, test
    )
    forest = make_classifier(ProbeConfig("forest", class_weight="balanced"), 7)
    assert_same_predictions(
        forest,
        RandomForestClassifier(n_estimators=100, class_weight="balanced", random_state=7),
        train,
        test,
    )
    adam = make_classifier(ProbeConfig("logistic", C=2.0, solver="adam"), 4)
    assert isinstance(adam, Pipeline) and isinstance(adam.steps[1][1], SoftmaxRegression)
    assert adam.steps[1][1].get_params()["C"] == 2.0
    assert adam.steps[1][1].get_params()["random_state"] == 4
    bare = make_classifier(ProbeConfig("logistic", solver="adam", class_weight="balanced"), 0)
    assert isinstance(bare, Pipeline)
    raw = make_classifier(ProbeConfig("logistic", solver="adam", standardize=False), 0)
    assert isinstance(raw, SoftmaxRegression) and raw.get_params()["class_weight"] is None
    raw_bal = make_classifier(
        ProbeConfig("logistic", solver="adam", standardize=False, class_weight="balanced"), 0
    )
    assert raw_bal.get_params()["class_weight"] == "balanced"
    with pytest.raises(ValueError, match="unknown probe family 'svm'"):
        make_classifier(ProbeConfig("svm"), 0)


def test_l2_normalise_known_answer_and_zero_rows():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    np.testing.assert_allclose(l2_normalise(x), [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]])
    tiny = np.array([[1e-13, 0.0]])
    np.testing.assert_allclose(l2_normalise(tiny), [[0.1, 0.0]])  # divided by the 1e-12 floor


def test_speaker_normalise_known_answer():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [10.0, 0.0], [20.0, 2.0], [30.0, 4.0]], np.float32)
    out = speaker_normalise(x, ["a", "a", "b", "b", "b"])
    s = np.sqrt(200 / 3)
    expected = [[-1.0, 0.0], [1.0, 0.0], [-10 / s, -2 / np.sqrt(8 / 3)], [0, 0], [10 / s, 1.2247]]
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(x[0], [1.0, 5.0])  # input untouched
    for bad in (["a", "", "a", "b", "b"], ["a", None, "a", "b", "b"]):
        with pytest.raises(
            ValueError, match="^speaker normalisation needs a speaker for every clip$"
        ):
            speaker_normalise(x, bad)
    x64 = x.astype(np.float64)
    before = x64.copy()
    out64 = speaker_normalise(x64, ["a", "a", "b", "b", "b"])
    np.testing.assert_array_equal(x64, before)  # a float64 input is not normalised in place
    assert out64 is not x64
    np.testing.assert_allclose(out64, expected, atol=1e-4)


def test_normalise_applies_l2_before_speaker_norm():
    part = blobs(n=12, dim=3)
    x, spk = part.x, part.speakers
    np.testing.assert_array_equal(normalise(x, spk, ProbeConfig("lda")), x)
    np.testing.assert_allclose(normalise(x, spk, ProbeConfig("lda", l2=True)), l2_normalise(x))
    np.testing.assert_allclose(
        normalise(x, spk, ProbeConfig("lda", speaker_norm=True)), speaker_normalise(x, spk)
    )
    both = normalise(x, spk, ProbeConfig("lda", l2=True, speaker_norm=True))
    np.testing.assert_allclose(both, speaker_normalise(l2_normalise(x), spk))
    np.testing.assert_allclose(part.prepared(ProbeConfig("lda", l2=True)), l2_normalise(x))


def test_fit_and_score_binary_against_a_reference_fit():
    train, test = blobs(seed=3, spread=2.5), blobs(seed=4, spread=2.5)
    cfg = ProbeConfig("logistic", C=1.0)
    fitted = fit(cfg, train, seed=0)
    np.testing.assert_array_equal(fitted.classes, ["a", "b"])
    ref = make_classifier(cfg, 0).fit(train.x, (train.y == "b").astype(int))
    scored = score(fitted, cfg, test)
    expected_pred = np.where(ref.predict(test.x) == 1, "b", "a")
    np.testing.assert_array_equal(scored.y_pred, expected_pred)
    assert scored.metrics["accuracy"] == pytest.approx(np.mean(expected_pred == test.y))
    proba = ref.predict_proba(test.x)[:, 1]
    assert scored.metrics["auc"] == pytest.approx(roc_auc_score(test.y == "b", proba))
    assert 0.5 < scored.metrics["auc"] < 1.0


def test_fit_and_score_multiclass_with_string_labels_and_balanced_forest():
    classes = ("x", "y", "z")
    train, test = blobs(90, classes=classes, seed=5), blobs(30, classes=classes, seed=5)
    cfg = ProbeConfig("forest", l2=True, class_weight="balanced")
    fitted = fit(cfg, train, seed=1)
    assert isinstance(fitted, Fitted)
    np.testing.assert_array_equal(fitted.classes, classes)
    scored = score(fitted, cfg, test)
    assert set(scored.metrics) == {"accuracy", "balanced_accuracy", "macro_f1"}
    ref = RandomForestClassifier(n_estimators=100, class_weight="balanced", random_state=1)
    ref.fit(l2_normalise(train.x), np.unique(train.y, return_inverse=True)[1])
    np.testing.assert_array_equal(
        scored.y_pred, np.array(classes)[ref.predict(l2_normalise(test.x))]
    )


def test_concat_keeps_row_order():
    a, b = blobs(4, seed=0), blobs(3, seed=1)
    joined = concat([a, b])
    np.testing.assert_array_equal(joined.x, np.vstack([a.x, b.x]))
    np.testing.assert_array_equal(joined.y, np.concatenate([a.y, b.y]))
    assert joined.speakers == a.speakers + b.speakers
