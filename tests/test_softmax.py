"""The mini-batch multinomial logistic regression against sklearn's lbfgs on the same objective."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from noss_eval.evaluate import evaluate_task
from noss_eval.extract import Extraction
from noss_eval.probes import ProbeConfig, choose_solver, default_grid, make_classifier
from noss_eval.softmax import SoftmaxRegression
from noss_eval.task import Clip, Task


def blobs(n, k=40, d=64, noise=2.2, seed=0):
    rng = np.random.RandomState(seed)
    means = np.random.RandomState(99).randn(k, d)
    y = rng.randint(0, k, n)
    return means[y] + noise * rng.randn(n, d), y.astype(str)


def test_accuracy_matches_sklearn_within_a_point():
    (x, y), (xt, yt) = blobs(4000), blobs(2000, seed=1)
    scaler = StandardScaler().fit(x)
    x, xt = scaler.transform(x), scaler.transform(xt)
    ours = SoftmaxRegression(C=1.0).fit(x, y).score(xt, yt)
    theirs = LogisticRegression(C=1.0, max_iter=2000).fit(x, y).score(xt, yt)
    assert 0.3 < theirs < 0.95  # a problem where the optimiser matters
    assert abs(ours - theirs) < 0.01


def test_probabilities_classes_and_balanced_weights():
    x, y = blobs(600, k=3)
    model = SoftmaxRegression(class_weight="balanced").fit(x, y)
    proba = model.predict_proba(x[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert list(model.classes_) == ["0", "1", "2"] and model.predict(x).dtype.kind == "U"
    with pytest.raises(ValueError, match="class_weight"):
        SoftmaxRegression(class_weight="nope").fit(x, y)


def test_auto_solver_switches_only_for_large_problems():
    grid = default_grid(False)
    small = choose_solver(grid, 5000, 6, 2048)
    large = choose_solver(grid, 140_000, 1251, 2048)
    assert {c.solver for c in small if c.family == "logistic"} == {"lbfgs"}
    assert {c.solver for c in large if c.family == "logistic"} == {"adam"}
    assert isinstance(make_classifier(large[0], 0)[-1], SoftmaxRegression)
    assert all(c.solver == "lbfgs" for c in large if c.family == "lda")
    assert ProbeConfig("logistic", solver="adam").label == "logistic+C=1+adam"


def test_forced_adam_runs_through_evaluation():
    x, y = blobs(900, k=5, noise=0.5)
    splits = ["train"] * 600 + ["validation"] * 150 + ["test"] * 150
    clips = [Clip(str(i), None, y[i], s) for i, s in enumerate(splits)]
    task = Task("blobs", "blobs", "blobs", tuple(sorted(set(y))), lambda root: clips, "")
    ex = Extraction(clips=clips, embeddings=x.astype(np.float32))
    outcome = evaluate_task(task, ex, seed=0, solver="adam")[0]
    assert outcome.probe == "logistic" and "adam" in outcome.config
    assert outcome.metrics["accuracy"] > 0.95
