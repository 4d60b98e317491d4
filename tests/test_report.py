"""Leaderboard rows, reference deltas, CSV merge without duplicates."""

import csv

import pytest

from noss_eval.errors import NossError
from noss_eval.report import (
    COLUMNS,
    attach_reference,
    average_delta,
    format_table,
    merge_leaderboard,
    published_reference,
)


def row(embedder="m", task="crema_d", probe="logistic", accuracy=70.0, **extra):
    base = {c: "" for c in COLUMNS}
    base.update(
        embedder=embedder,
        embedder_sha256="ab" * 32,
        embedder_fingerprint="f" * 64,
        task=task,
        probe=probe,
        protocol="noss-eval",
        accuracy=accuracy,
        balanced_accuracy=accuracy,
        n_test=10,
        config="lda",
    )
    base.update(extra)
    return base


def test_published_reference_is_the_frill_paper_table():
    acc, source = published_reference()
    assert acc == {
        "voxceleb1": 46.8,
        "speech_commands": 81.7,
        "crema_d": 65.9,
        "mask": 65.8,
        "esc50_hs": 86.4,
        "voxforge": 84.5,
        "savee": 70.0,
    }
    assert "FRILL" in source


def test_published_delta_and_average():
    rows = [row(task="crema_d", accuracy=70.0), row(task="voxceleb1", accuracy=40.0)]
    attach_reference(rows, None)
    assert [r["delta"] for r in rows] == [pytest.approx(4.1), pytest.approx(-6.8)]
    assert average_delta(rows, "logistic") == (pytest.approx(-1.35), 2)
    assert "average delta vs reference (logistic): -1.35 points over 2 tasks" in format_table(rows)
    no_reference = row(task="dementiabank")
    attach_reference([no_reference], None)
    assert average_delta([*rows, no_reference], "logistic") == (pytest.approx(-1.35), 2)


def test_measured_reference_wins_over_published():
    rows, ref = [row(accuracy=70.0)], [row(embedder="trill", accuracy=60.0)]
    attach_reference(rows, ref)
    assert rows[0]["reference"] == "trill" and rows[0]["delta"] == pytest.approx(10.0)
    assert rows[0]["reference_source"].startswith("measured in this run")


def test_merge_replaces_same_key_and_keeps_others(tmp_path):
    board = tmp_path / "board.csv"
    merge_leaderboard(board, [row(accuracy=50.0), row(task="mask")])
    merge_leaderboard(board, [row(accuracy=55.0), row(embedder="other")])
    rows = list(csv.DictReader(board.open()))
    assert len(rows) == 3
    assert [r["accuracy"] for r in rows if r["embedder"] == "m" and r["task"] == "crema_d"] == [
        "55.0"
    ]
    assert list(rows[0])[: len(COLUMNS)] == list(COLUMNS)


def test_foreign_csv_is_refused_and_left_untouched(tmp_path):
    board = tmp_path / "board.csv"
    board.write_text("a,b\n1,2\n")
    with pytest.raises(NossError, match="not a noss-eval leaderboard"):
        merge_leaderboard(board, [row()])
    assert board.read_text() == "a,b\n1,2\n"
