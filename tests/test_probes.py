"""Probe configurations, normalisations, rounds and selection: what each protocol reports."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from testlib import extraction, upstream_speaker_normalization

from noss_eval.probes import (
    PROTOCOLS,
    ProbeConfig,
    Protocol,
    default_grid,
    l2_normalise,
    make_classifier,
    speaker_normalise,
)
from noss_eval.probing import evaluate_task, plan_rounds, probe_grid


def test_speaker_normalisation_is_upstreams():
    rng = np.random.RandomState(0)
    x = np.vstack([rng.randn(20, 4) + 5, rng.randn(20, 4) * 3 - 2])
    x[:20, 2] = 7.0  # constant within a speaker: centred, not divided by ~0
    x[20:, 3] = 1e-3 * rng.randn(20)  # tiny but non-zero spread: scaled to 1, as upstream
    speakers = np.array(["a"] * 20 + ["b"] * 20)
    np.testing.assert_allclose(
        speaker_normalise(x, list(speakers)), upstream_speaker_normalization(x, speakers), atol=1e-9
    )
    out = speaker_normalise(x, list(speakers))
    np.testing.assert_allclose(out[:20, 2], 0.0)
    np.testing.assert_allclose(out[20:, 3].std(), 1.0, atol=1e-9)


def test_speaker_normalisation_refuses_speakerless_clips():
    with pytest.raises(ValueError, match="speaker for every clip"):
        speaker_normalise(np.ones((3, 2)), ["a", None, "a"])


def test_l2_normalisation():
    np.testing.assert_allclose(np.linalg.norm(l2_normalise(np.array([[3.0, 4.0]])), axis=1), 1)


def test_grid_has_speaker_norm_only_with_speakers():
    assert not any(c.speaker_norm for c in default_grid(False))
    assert {(c.family, c.l2, c.speaker_norm) for c in default_grid(True)} >= {
        ("logistic", True, True),
        ("lda", False, True),
    }


@pytest.mark.parametrize("protocol", ["noss-eval", "noss"])
def test_speaker_norm_needs_a_speaker_on_every_clip(protocol):
    """Speech Commands' `_silence_` clips have no speaker: grouping them as one pseudo-speaker
    would z-score by label. One speaker-less clip takes speaker norm out of the grid."""
    n = 40
    speakers = [f"s{i % 8}" for i in range(n)]
    x, y = np.random.RandomState(0).randn(n, 3), ["a", "b"] * (n // 2)
    splits = ["train"] * 24 + ["validation"] * 8 + ["test"] * 8
    _, full = extraction(x, y, splits, speakers)
    _, partial = extraction(x, y, splits, speakers[:-1] + [None])
    p = PROTOCOLS[protocol]
    assert any(c.speaker_norm for c in probe_grid(full, p, "auto", 24))
    assert not any(c.speaker_norm for c in probe_grid(partial, p, "auto", 24))


def two_config_case(seed=0):
    """Validation rewards speaker normalisation (per-speaker offsets along the class direction);
    the test split rewards raw features (no offsets, and each speaker says one class, so
    z-scoring per speaker erases it): best-on-validation != best-on-test."""
    r = np.random.RandomState(seed)
    xs, ys, splits, spk = [], [], [], []
    offsets = {"train": (0.0, 4.0), "validation": (4.0, 0.0), "test": (0.0, 0.0)}
    for split, n_speakers in (("train", 8), ("validation", 4), ("test", 4)):
        for s in range(n_speakers):
            y = np.full(20, s % 2) if split == "test" else np.tile([0, 1], 10)
            shift = np.array(offsets[split]) * r.randn(2)
            xs.append(y[:, None] * np.array([1.0, 0.0]) + 0.35 * r.randn(20, 2) + shift)
            ys += [str(v) for v in y]
            splits += [split] * 20
            spk += [f"{split}{s}"] * 20
    return extraction(np.vstack(xs), ys, splits, spk)


def test_each_protocol_reports_its_own_choice():
    task, ex = two_config_case()
    grid = [ProbeConfig("lda"), ProbeConfig("lda", speaker_norm=True)]
    by_validation = Protocol("v", lambda s: grid, "validation")
    by_test = Protocol("t", lambda s: grid, "test")
    default = {r.probe: r for r in evaluate_task(task, ex, 0, by_validation)}
    paper = {r.probe: r for r in evaluate_task(task, ex, 0, by_test)}
    assert default["lda"].config == "lda+spk-norm" and default["lda"].validation_score > 0.9
    assert paper["lda"].config == "lda" and paper["lda"].validation_score is None
    # paper mode reports the best test score over the grid: never below the default protocol's
    assert paper["lda"].headline_score > default["lda"].headline_score
    assert default["best"].config == default["lda"].config


def test_selection_is_on_the_headline_metric():
    """Mask reports UAR: a configuration that wins on accuracy but loses on UAR is not chosen."""
    r = np.random.RandomState(0)
    n_major, n_minor = 90, 10

    def part(split):
        y = np.array(["a"] * n_major + ["b"] * n_minor)
        x = (y == "b")[:, None] * 1.2 + r.randn(len(y), 2)
        return x, list(y), [split] * len(y)

    parts = [part(s) for s in ("train", "validation", "test")]
    x = np.vstack([p[0] for p in parts])
    y = sum((p[1] for p in parts), [])
    splits = sum((p[2] for p in parts), [])
    grid = [
        ProbeConfig("logistic", C=1.0, standardize=True),
        ProbeConfig("logistic", C=1.0, class_weight="balanced", standardize=True),
    ]
    protocol = Protocol("v", lambda s: grid, "validation")
    for headline, expected in (
        ("accuracy", "logistic+C=1"),
        ("balanced_accuracy", "logistic+C=1+cw=balanced"),
    ):
        task, ex = extraction(x, y, splits)
        task = type(task)(**{**task.__dict__, "headline": headline})
        chosen = {r.probe: r for r in evaluate_task(task, ex, 0, protocol)}["logistic"]
        assert chosen.config == expected, headline


def _imbalanced_case(headline: str):
    r = np.random.RandomState(0)

    def part(split):
        y = np.array(["a"] * 90 + ["b"] * 10)
        return (y == "b")[:, None] * 1.2 + r.randn(len(y), 2), list(y), [split] * len(y)

    parts = [part(s) for s in ("train", "validation", "test")]
    task, ex = extraction(np.vstack([p[0] for p in parts]), sum((p[1] for p in parts), []),
                          sum((p[2] for p in parts), []))  # fmt: skip
    return type(task)(**{**task.__dict__, "headline": headline}), ex


@pytest.mark.filterwarnings("ignore:A single label was found")  # a resample of one class
def test_headline_interval_is_the_bootstrap_of_the_headline_metric():
    """On an imbalanced task judged on UAR, `headline_ci` is the percentile bootstrap of
    sklearn's balanced accuracy over the same resamples of the test clips (not of accuracy)."""
    from sklearn.metrics import balanced_accuracy_score

    from noss_eval.stats import N_BOOTSTRAP

    task, ex = _imbalanced_case("balanced_accuracy")
    grid = [ProbeConfig("logistic", C=1.0, standardize=True)]
    result = evaluate_task(task, ex, 3, Protocol("v", lambda s: grid, "validation"))[0]
    y, pred = result.predictions.y_true, result.predictions.y_pred
    rng, boots = np.random.RandomState(3), []
    for start in range(0, N_BOOTSTRAP, 100):
        for idx in rng.randint(0, len(y), size=(min(100, N_BOOTSTRAP - start), len(y))):
            boots.append(balanced_accuracy_score(y[idx], pred[idx]))
    assert result.headline_ci == pytest.approx(tuple(np.percentile(boots, [2.5, 97.5])))
    assert result.metrics["accuracy"] > result.headline_ci[1]  # the two metrics differ here


def test_equal_validation_scores_choose_the_first_configuration_in_grid_order():
    """`lda` and `lda+l2` on rows of unit norm predict alike: the tie goes to whichever the
    grid lists first, in either order."""
    rng = np.random.RandomState(0)
    y = np.repeat(["a", "b", "c"], 40)
    x = rng.randn(120, 6) + 1.5 * np.eye(3, 6)[np.repeat([0, 1, 2], 40)]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    splits = ["train", "train", "validation", "test"] * 30
    task, ex = extraction(x, list(y), splits)
    pair = [ProbeConfig("lda"), ProbeConfig("lda", l2=True)]
    for grid in (pair, pair[::-1]):
        (lda, best) = evaluate_task(task, ex, 0, Protocol("v", lambda s, g=grid: g, "validation"))
        assert lda.config == best.config == grid[0].label


def test_balanced_class_weights_change_predictions():
    r = np.random.RandomState(0)
    y = np.array(["a"] * 180 + ["b"] * 20)
    x = (y == "b")[:, None] * 1.0 + r.randn(200, 3)
    plain = make_classifier(ProbeConfig("logistic", C=1e5, standardize=False), 0).fit(x, y)
    balanced = make_classifier(
        ProbeConfig("logistic", C=1e5, class_weight="balanced", standardize=False), 0
    ).fit(x, y)
    assert (balanced.predict(x) == "b").sum() > 2 * (plain.predict(x) == "b").sum()


def folds_case(n_per_fold=30, k=5, seed=0):
    r = np.random.RandomState(seed)
    y = np.tile(["a", "b", "c"], n_per_fold * k // 3)
    x = np.column_stack(
        [np.arange(len(y)), (y == "b") * 2.0 + r.randn(len(y)), (y == "c") * 2.0 + r.randn(len(y))]
    )
    folds = tuple(f"fold{i + 1}" for i in range(k))
    splits = [folds[i // n_per_fold] for i in range(len(y))]
    return extraction(x, list(y), splits, folds=folds, name="cv")


def _ids(part):
    return set(part.x[:, 0].astype(int))


@pytest.mark.parametrize("select_on", ["validation", "test"])
def test_cross_validation_trains_on_the_other_folds_and_never_selects_on_test(select_on):
    task, ex = folds_case()
    plan = plan_rounds(task, ex, select_on)
    assert len(plan) == 5
    everything = set(range(len(ex.clips)))
    for r in plan:
        test = _ids(r.test)
        assert len(test) == 30 and _ids(r.train) == everything - test  # 4 folds train
        if select_on == "test":
            assert r.selection == ()
        else:
            assert len(r.selection) == 4  # inner CV over the 4 training folds
            for fit_on, score_on in r.selection:
                assert not (_ids(fit_on) | _ids(score_on)) & test
                assert _ids(fit_on) | _ids(score_on) == _ids(r.train)
                assert not _ids(fit_on) & _ids(score_on)  # never scored on what it fitted
                assert len(_ids(score_on)) == 30


def test_paper_mode_picks_one_configuration_for_all_folds():
    task, ex = folds_case()
    grid = [ProbeConfig("lda"), ProbeConfig("lda", l2=True)]
    results = evaluate_task(task, ex, 0, Protocol("t", lambda s: grid, "test"))
    assert all(" x" not in r.config for r in results)
    # the reported score is that one configuration's mean over the five test folds, by hand
    by_hand = {}
    for cfg in grid:
        accs = []
        for r in plan_rounds(task, ex, "test"):
            model = make_classifier(cfg, 0).fit(r.train.prepared(cfg), r.train.y)
            accs.append(np.mean(model.predict(r.test.prepared(cfg)) == r.test.y))
        by_hand[cfg.label] = np.mean(accs)
    best = max(by_hand, key=by_hand.get)
    lda = {r.probe: r for r in results}["lda"]
    assert lda.config == best and lda.metrics["accuracy"] == pytest.approx(by_hand[best])
    assert lda.n_train == 120 and lda.n_test == 150


def test_default_protocol_on_folds_refits_on_all_training_folds():
    """The test fold is scored by a model trained on all four other folds (not three)."""
    task, ex = folds_case()
    cfg = ProbeConfig("logistic", C=1.0)
    result = {
        r.probe: r for r in evaluate_task(task, ex, 0, Protocol("v", lambda s: [cfg], "validation"))
    }["logistic"]
    preds = []
    for r in plan_rounds(task, ex, "validation"):
        model = make_classifier(cfg, 0).fit(r.train.prepared(cfg), r.train.y)
        preds.append(model.predict(r.test.prepared(cfg)))
    np.testing.assert_array_equal(result.predictions.y_pred, np.concatenate(preds))
    assert result.n_train == 120 and result.n_validation == 30


def test_best_row_is_the_best_family_on_validation():
    task, ex = two_config_case(seed=3)
    results = {r.probe: r for r in evaluate_task(task, ex, 0)}
    families = [results[f] for f in ("logistic", "lda")]
    top = max(r.validation_score for r in families)
    first = next(r for r in families if r.validation_score == top)  # grid order breaks ties
    assert results["best"].config == first.config
    assert results["best"].headline_score == first.headline_score


def test_default_logistic_is_standardised_and_converges():
    model = make_classifier(ProbeConfig("logistic", C=1.0), 0)
    assert (
        isinstance(model.steps[-1][1], LogisticRegression) and model.steps[-1][1].max_iter == 2000
    )


def test_auc_and_eer_point_the_right_way_through_the_probe():
    """The probability handed to AUC/EER is that of the second sorted class: a good probe on a
    binary task has AUC near 1 and EER near 0 (a flipped column gives AUC near 0)."""
    r = np.random.RandomState(0)
    y = np.array(["clear", "mask"] * 60)
    x = (y == "mask")[:, None] * 2.5 + r.randn(120, 3)
    splits = ["train"] * 60 + ["validation"] * 20 + ["test"] * 40
    task, ex = extraction(x, list(y), splits)
    for result in evaluate_task(task, ex, 0):
        assert result.metrics["auc"] > 0.95 and result.metrics["eer"] < 0.15, result.probe


def test_paper_mode_trains_on_the_validation_carved_out_of_train(tmp_path):
    """ComParE mask withholds test labels: validation is 10 % carved from train. Paper mode
    never selects on validation, so it trains on the whole official train partition."""
    from noss_eval import synthetic
    from noss_eval.tasks import BUILTIN_TASKS

    synthetic.write_mask(tmp_path, per_partition=30)
    task = BUILTIN_TASKS["mask"]
    clips = task.read(tmp_path)
    carved = [c for c in clips if c.split == "validation"]
    assert carved and all(c.carved_from == "train" for c in carved)
    from noss_eval.extract import Extraction

    ex = Extraction(clips, np.random.RandomState(0).randn(len(clips), 3).astype(np.float32))
    paper = plan_rounds(task, ex, "test")[0]
    default = plan_rounds(task, ex, "validation")[0]
    assert len(paper.train.y) == 30 and len(default.train.y) == 30 - len(carved)
