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
from noss_eval.task import OFFICIAL, UNKNOWN

STAMP = RunStamp(0, "layout", "r1", "0.1.0", "2026-01-01T00:00:00+00:00")


def result(
    task="crema_d",
    probe="logistic",
    accuracy=0.7,
    uar=None,
    embedder="m",
    seed=0,
    n=40,
    protocol="noss-eval",
    data=OFFICIAL,
):
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
        protocol=protocol,
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
        data=data,
    )


def paper(task="crema_d", **kwargs):
    """A row produced as the published numbers were: paper mode, best probe, official data."""
    return result(task, probe="best", protocol="noss", **kwargs)


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
            [paper("crema_d", accuracy=0.70), paper("mask", accuracy=0.80, uar=0.70)],
            published_reference(),
        )
    )
    crema, mask = out
    assert crema["delta"] == pytest.approx(70.0 - 65.9)
    assert mask["headline_metric"] == "balanced_accuracy" and mask["headline_score"] == 70.0
    assert mask["delta"] == pytest.approx(70.0 - 65.8)  # UAR, not the 80 % accuracy
    assert mask["reference_score"] == 65.8 and mask["reference_protocol"] == "noss"
    assert average_delta(out, "best") == (pytest.approx((4.1 + 4.2) / 2), 2)
    assert "average delta vs reference (best): +4.15 points over 2 tasks" in format_table(out)
    assert all(r["reference_note"] == "" for r in out)


@pytest.mark.parametrize(
    "made, why",
    [
        (result("crema_d", probe="best"), "use protocol noss"),
        (result("crema_d", probe="logistic"), "use protocol noss"),
        (result("crema_d", "lda", protocol="noss"), "the best over the grid"),
        (paper("crema_d", data="120 of 7,438 official clips"), "data: 120 of 7,438 official"),
        (paper("crema_d", data=UNKNOWN), "data: no official counts"),
        (paper("voxceleb1"), "privacy-filtered subset"),
    ],
)
def test_a_published_number_gets_a_delta_only_on_a_row_made_as_it_was(made, why):
    """The published numbers are paper mode's best probe on the complete official data: any
    other row (the default protocol, one probe family, a stand-in or partial dataset, and
    VoxCeleb1, whose published number used a privacy-filtered subset) gets no reference score
    and no delta, but a note saying why; the table says it once and averages nothing."""
    for reference in (
        published_reference("trill-published"),
        published_reference("frill-published"),
    ):
        (row,) = rows(compare_published([made], reference))
        assert row.get("delta", "") == "" and row.get("reference_score", "") == ""
        assert row.get("reference", "") == ""
        assert why in row["reference_note"] and reference.name in row["reference_note"]
        table = format_table([row])
        assert "average delta" not in table and why in table


def test_the_same_numbers_as_paper_mode_best_on_official_data_get_the_delta():
    (row,) = rows(compare_published([paper("crema_d", accuracy=0.7)], published_reference()))
    assert row["delta"] == pytest.approx(70.0 - 65.9) and row["reference_note"] == ""


def test_chance_is_the_majority_share_for_accuracy_and_one_over_k_for_uar():
    """Every row knows its task's chance level on its test clips; an interval that reaches it
    is flagged in the CSV and marked in the table."""
    r = result(n=40)
    y = np.array(["a"] * 30 + ["b"] * 6 + ["c"] * 4)
    skewed = replace(r, predictions=Predictions(r.predictions.clip_ids, y, y))
    assert skewed.chance == pytest.approx(0.75)
    assert replace(skewed, headline_metric="balanced_accuracy").chance == pytest.approx(1 / 3)
    low = replace(skewed, headline_ci=(0.70, 0.80), metrics={**skewed.metrics, "accuracy": 0.75})
    high = replace(skewed, headline_ci=(0.76, 0.90), metrics={**skewed.metrics, "accuracy": 0.83})
    (flagged,), (clear,) = rows([low]), rows([high])
    assert flagged["chance"] == 75.0 and flagged["at_chance"] == "yes"
    assert clear["chance"] == 75.0 and clear["at_chance"] == ""
    table = format_table([flagged, clear])
    assert "75.00*" in table and "83.00*" not in table and "reaches chance level" in table


def test_a_measured_reference_on_a_uar_task_is_paired_on_uar():
    """On an imbalanced task whose headline is UAR, the delta, its paired interval, its p-value
    and its test are all on UAR: here accuracy says the reference is better and UAR says the
    embedder is (it gets the rare class right)."""
    from noss_eval.stats import Outcomes, paired_comparison

    n = 200
    y = np.array(["clear"] * 180 + ["mask"] * 20)
    mine_pred = y.copy()
    mine_pred[:30] = "mask"  # 30 majority clips wrong, every minority clip right
    ref_pred = np.array(["clear"] * n)  # the majority class everywhere
    ids = tuple(f"c{i}" for i in range(n))

    def made(embedder, pred):
        o = Outcomes.of(y, pred)
        metrics = {
            "accuracy": o.score("accuracy"),
            "balanced_accuracy": o.score("balanced_accuracy"),
        }
        return replace(
            result("mask", embedder=embedder, n=n),
            metrics={**metrics, "macro_f1": 0.5},
            headline_metric="balanced_accuracy",
            predictions=Predictions(ids, y, pred),
        )

    mine, ref = made("m", mine_pred), made("ref", ref_pred)
    assert mine.metrics["accuracy"] < ref.metrics["accuracy"]
    assert mine.metrics["balanced_accuracy"] > ref.metrics["balanced_accuracy"]
    (row,) = rows(compare_measured([mine], [ref]))
    uar = paired_comparison(
        Outcomes.of(y, mine_pred), Outcomes.of(y, ref_pred), "balanced_accuracy"
    )
    assert row["delta"] == pytest.approx(100 * uar.difference, abs=1e-3) and row["delta"] > 0
    assert (row["delta_ci_low"], row["delta_ci_high"]) == (
        pytest.approx(100 * uar.ci_low, abs=1e-3),
        pytest.approx(100 * uar.ci_high, abs=1e-3),
    )
    assert row["delta_ci_low"] > 0  # on accuracy the whole interval would be below 0
    assert row["delta_test"].startswith("stratified-mcnemar")
    assert float(row["delta_p_value"]) == pytest.approx(uar.p_value, rel=1e-2)


def test_task_without_published_number_has_no_delta():
    (row,) = rows(compare_published([paper("dementiabank")], published_reference()))
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
