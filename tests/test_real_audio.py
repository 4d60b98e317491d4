"""Proof on real recordings from ../shared (CI always has them; there a missing file fails).

FSDD (6 real speakers, 8 kHz) laid out as VoxCeleb1 and as a speaker-disjoint keyword task;
Hedgewars voice packs (44.1 kHz Ogg Vorbis) as an ESC-50-style human-sounds task with folds by
voice pack. Each is evaluated with the real YAMNet TFLite model and with the dsp baseline."""

import csv

import pytest
from real_layouts import fsdd_as_voxceleb1, fsdd_keyword_task, hedgewars_as_esc50
from testlib import SHARED, require_shared, yamnet_args

from noss_eval.cli import main

VOLATILE = ("run_id", "created")
# task -> chance accuracy in percent. Hedgewars is imbalanced, so it is judged on balanced accuracy.
CHANCE = {"voxceleb1": 100 / 6, "fsdd_digits": 10.0, "hedgewars_hs": 100 / 6}


@pytest.fixture(scope="module")
def real_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    recordings = require_shared(SHARED / "data" / "fsdd" / "recordings")
    fsdd_as_voxceleb1(recordings, root / "data" / "voxceleb1")
    digits = fsdd_keyword_task(recordings, root / "fsdd")
    sounds = hedgewars_as_esc50(require_shared(SHARED / "data" / "hedgewars-voices"), root / "hw")
    return root, digits, sounds


def stable(path):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in csv.DictReader(path.open())]


@pytest.mark.slow
@pytest.mark.parametrize("embedder", ["dsp", "yamnet"])
def test_real_recordings_well_above_chance_and_reproducible(real_data, embedder, tmp_path):
    root, digits, sounds = real_data
    spec = yamnet_args() if embedder == "yamnet" else ["--embedder", "dsp"]
    board = tmp_path / "board.csv"
    args = [
        *spec,
        "--data-dir",
        str(root / "data"),
        "--task-file",
        str(digits),
        "--task-file",
        str(sounds),
        "--tasks",
        ",".join(CHANCE),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--leaderboard",
        str(board),
        "--no-progress",
    ]
    assert main(args) == 0
    first = stable(board)
    assert {(r["task"], r["probe"]) for r in first} == {
        (t, p) for t in CHANCE for p in ("logistic", "lda", "best")
    }
    for r in first:  # well above chance: the 95% interval's lower end clears 1.5x chance
        chance = CHANCE[r["task"]]
        if r["task"] == "hedgewars_hs":
            assert float(r["balanced_accuracy"]) > 2.5 * chance, r
        else:
            assert r["headline_metric"] == "accuracy"
            assert float(r["headline_ci_low"]) > 1.5 * chance, r
    hedgewars = [r for r in first if r["task"] == "hedgewars_hs"]
    assert all(r["n_test"] == "177" and r["failed_clips"] == "0" for r in hedgewars)
    assert main(args) == 0
    assert stable(board) == first
