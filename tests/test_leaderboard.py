"""References, deltas and the leaderboard CSV: what each reference column means."""

import csv
from dataclasses import replace

import numpy as np
import pytest

from noss_eval.errors import NossError
from noss_eval.leaderboard import COLUMNS, merge_leaderboard, to_row
from noss_eval.references import compare_measured, compare_published, published_reference
from noss_eval.results import Predictions, ProbeResult, RunStamp
from noss_eval.table import average_delta, format_table

STAMP = RunStamp(0, "layout", "r1", "0.1.0", "2026-01-01T00:00:00+00:00")


def result(task="crema_d", probe="logistic", accuracy=0.7, uar=None, embedder="m", seed=0, n=40):
    rng = np.random.RandomState(seed)
    y = np.array(["a", "b"] * (n // 2))
    pred = np.where(rng.rand(n) < accuracy, y, np.where(y == "a", "b", "a"))
    metrics = {
        "accuracy": accuracy,
        "balanced_accuracy": accuracy if uar is None else uar,
        "macro_f1": accuracy,
    }
    return ProbeResult(
        embedder=embedder,
        embedder_sha256="ab" * 32,
        embedder_fingerprint="f" * 64,
        task=task,
        probe=probe,
        protocol="noss-eval",
        config="lda",
        headline_metric="balanced_accuracy" if task == "mask" else "accuracy",
        metrics=metrics,
        headline_ci=(accuracy - 0.1, accuracy + 0.1),
        validation_score=0.5,
        n_train=10,
        n_validation=5,
        n_test=n,
        failed_clips=0,
        predictions=Predictions(tuple(f"c{i}" for i in range(n)), y, pred),
    )


def rows(results):
    return [to_row(r, STAMP) for r in results]


def test_published_references_are_the_frill_paper_tables():
    trill, frill = published_reference("trill-published"), published_reference("frill-published")
    assert trill.scores == {
        "voxceleb1": 46.8,
        "speech_commands": 81.7,
        "crema_d": 65.9,
        "mask": 65.8,
        "esc50_hs": 86.4,
        "voxforge": 84.5,
        "savee": 70.0,
    }
    assert frill.scores == {
        "voxceleb1": 44.5,
        "voxforge": 76.9,
        "speech_commands": 79.7,
        "crema_d": 70.9,
        "savee": 67.5,
        "mask": 65.7,
        "esc50_hs": 86.4,
    }
    assert "FRILL" in trill.source and trill.protocol == frill.protocol == "noss"
    with pytest.raises(NossError, match="trill-published"):
        published_reference("trill")


def test_published_delta_is_on_the_headline_metric():
    out = rows(
        compare_published(
            [result("crema_d", accuracy=0.70), result("mask", accuracy=0.80, uar=0.70)],
            published_reference(),
        )
    )
    crema, mask = out
    assert crema["delta"] == pytest.approx(70.0 - 65.9)
    assert mask["headline_metric"] == "balanced_accuracy" and mask["headline_score"] == 70.0
    assert mask["delta"] == pytest.approx(70.0 - 65.8)  # UAR, not the 80 % accuracy
    assert mask["reference_score"] == 65.8 and mask["reference_protocol"] == "noss"
    assert average_delta(out, "logistic") == (pytest.approx((4.1 + 4.2) / 2), 2)
    assert "average delta vs reference (logistic): +4.15 points over 2 tasks" in format_table(out)


def test_task_without_published_number_has_no_delta():
    (row,) = rows(compare_published([result("dementiabank")], published_reference()))
    assert row["delta"] == "" if "delta" in row else True
    assert average_delta([row], "logistic") is None


def test_measured_delta_pairs_clips_by_id_not_by_position():
    mine, ref = (
        result(accuracy=0.8, seed=1, n=200),
        result(embedder="trill", accuracy=0.6, seed=2, n=200),
    )
    straight = rows(compare_measured([mine], [ref]))[0]
    order = np.random.RandomState(0).permutation(200)
    p = ref.predictions
    shuffled_ref = replace(
        ref,
        predictions=Predictions(
            tuple(np.array(p.clip_ids)[order]), p.y_true[order], p.y_pred[order]
        ),
    )
    shuffled = rows(compare_measured([mine], [shuffled_ref]))[0]
    for column in ("delta", "delta_ci_low", "delta_ci_high", "delta_p_value", "delta_test"):
        assert straight[column] == shuffled[column], column
    assert straight["reference"] == "trill" and straight["delta"] == pytest.approx(20.0)
    assert straight["delta_test"] == "mcnemar-exact"
    assert 0 < straight["delta_ci_low"] < straight["delta_ci_high"]
    assert 0 < float(straight["delta_p_value"]) < 0.05


def test_headline_interval_columns_are_the_bootstrap_interval_in_order():
    """`headline_ci_low/high` are the low and high ends of the result's interval, in percent,
    around the headline score (the interval of that clip set's own bootstrap)."""
    from noss_eval.stats import bootstrap_interval

    r = result(accuracy=0.7, n=200)
    ci = bootstrap_interval(r.predictions.outcomes(), "accuracy", seed=0)
    (row,) = rows([replace(r, headline_ci=ci)])
    assert (row["headline_ci_low"], row["headline_ci_high"]) == (
        pytest.approx(100 * ci[0], abs=1e-3),
        pytest.approx(100 * ci[1], abs=1e-3),
    )
    assert row["headline_ci_low"] < row["headline_score"] < row["headline_ci_high"]


def test_a_reference_that_disagrees_on_a_true_label_gets_no_paired_interval():
    """Shared clip ids with another true label are not the same clips: the delta is still
    given, but no paired interval or test (it would pair different clips)."""
    mine, ref = result(accuracy=0.8, seed=1, n=60), result(embedder="trill", seed=2, n=60)
    y = ref.predictions.y_true.copy()
    y[7] = "b" if y[7] == "a" else "a"
    relabelled = replace(ref, predictions=replace(ref.predictions, y_true=y))
    assert mine.predictions.aligned_with(relabelled.predictions) is None
    assert mine.predictions.aligned_with(ref.predictions) is not None
    (row,) = rows(compare_measured([mine], [relabelled]))
    assert row["delta"] == pytest.approx(100 * (0.8 - 0.7))
    assert all(row.get(c) in ("", None) for c in ("delta_ci_low", "delta_ci_high", "delta_p_value"))


def test_measured_reference_needs_the_same_task_probe_and_protocol():
    mine = result()
    other_protocol = replace(result(embedder="trill"), protocol="noss")
    (row,) = rows(compare_measured([mine], [other_protocol]))
    assert "delta" not in row or row["delta"] == ""


def test_merge_replaces_same_key_and_keeps_others(tmp_path):
    board = tmp_path / "board.csv"
    merge_leaderboard(board, rows([result(accuracy=0.5), result(task="mask")]))
    merge_leaderboard(board, rows([result(accuracy=0.55), result(embedder="other")]))
    got = list(csv.DictReader(board.open()))
    assert len(got) == 3
    assert [r["accuracy"] for r in got if r["embedder"] == "m" and r["task"] == "crema_d"] == [
        "55.0"
    ]
    assert list(got[0])[: len(COLUMNS)] == list(COLUMNS)


def test_foreign_csv_is_refused_and_left_untouched(tmp_path):
    board = tmp_path / "board.csv"
    board.write_text("a,b\n1,2\n")
    with pytest.raises(NossError, match="not a noss-eval leaderboard"):
        merge_leaderboard(board, rows([result()]))
    assert board.read_text() == "a,b\n1,2\n"
