"""`--protocol noss` reproduces Google's grid and its best-test-accuracy reporting."""

import csv

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression

from noss_eval import synthetic
from noss_eval.cli import main
from noss_eval.probes import (
    PROTOCOLS,
    Part,
    make_classifier,
    normalise,
    noss_grid,
    select_and_test,
)


def test_noss_grid_is_googles_sklearn_grid():
    grid = noss_grid(with_speakers=True)
    assert len(grid) == 3 * 4
    logistic = [make_classifier(c, 0) for c in grid if c.family == "logistic"]
    assert all(
        isinstance(m, LogisticRegression) and m.C == 1e5 and m.solver == "lbfgs" for m in logistic
    )
    assert sorted(str(m.class_weight) for m in logistic) == ["None"] * 4 + ["balanced"] * 4
    lda = [make_classifier(c, 0) for c in grid if c.family == "lda"]
    assert all(
        isinstance(m, LinearDiscriminantAnalysis) and m.solver == "lsqr" and m.shrinkage == "auto"
        for m in lda
    )
    assert {(c.l2, c.speaker_norm) for c in grid} == {(a, b) for a in (0, 1) for b in (0, 1)}
    assert not any(c.speaker_norm for c in noss_grid(with_speakers=False))


def test_speaker_norm_applies_after_l2():
    x = np.random.RandomState(0).rand(6, 3) + 1
    cfg = noss_grid(True)[-1]
    assert cfg.l2 and cfg.speaker_norm
    out = normalise(x, ["a"] * 3 + ["b"] * 3, cfg)
    l2 = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(out[:3], (l2[:3] - l2[:3].mean(0)) / l2[:3].std(0))


def test_paper_mode_reports_the_best_test_accuracy_over_the_grid():
    def part(n, seed):
        r = np.random.RandomState(seed)
        y = np.arange(n) % 3
        return Part(r.randn(n, 8) + y[:, None] * 0.7, y.astype(str), tuple(["s"] * n))

    train, val, test = part(90, 1), part(30, 2), part(60, 3)
    grid = [c for c in noss_grid(False) if c.family == "logistic"]
    chosen = select_and_test(grid, train, val, test, seed=0, select_on="test")
    by_hand = []
    for cfg in grid:
        model = make_classifier(cfg, 0).fit(train.prepared(cfg), train.y)
        by_hand.append(np.mean(model.predict(test.prepared(cfg)) == test.y))
    assert chosen.test.metrics["accuracy"] == pytest.approx(max(by_hand))
    assert chosen.validation_accuracy is None
    assert (
        PROTOCOLS["noss"].select_on == "test" and PROTOCOLS["noss-eval"].select_on == "validation"
    )


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
    assert len(rows) == 8  # 2 embedders x 2 probes x 2 protocols
    for r in rows:
        if r["embedder"] == "dsp":
            assert r["reference"] == "dsp-ref" and r["reference_protocol"] == r["protocol"]
            assert float(r["delta"]) == 0.0 and float(r["delta_p_value"]) == 1.0
        else:
            assert r["reference_protocol"] == "noss" and "published" in r["reference_source"]
