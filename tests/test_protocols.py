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
from noss_eval.evaluate import evaluate_task
from noss_eval.probes import PROTOCOLS, choose_solver, make_classifier, noss_grid


def upstream_models():
    """Re-typed from google-research non_semantic_speech_benchmark/eval_embedding/sklearn/
    models.py `get_sklearn_models` (less multi_class='multinomial', which sklearn >= 1.7 removed:
    lbfgs is multinomial by default)."""
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
    huge = choose_solver(noss_grid(False), 150_000, 1251, 2048, "auto", "noss")
    logistic = [make_classifier(c, 0) for c in huge if c.family == "logistic"]
    assert all(isinstance(m, linear_model.LogisticRegression) for m in logistic)
    assert {m.max_iter for m in logistic} == {linear_model.LogisticRegression().max_iter}
    with pytest.raises(NossError, match="paper's sklearn lbfgs"):
        choose_solver(noss_grid(False), 10, 2, 2, "adam", "noss")
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
        else:
            assert r["reference_protocol"] == "noss" and "published" in r["reference_source"]
