"""Custom tasks from a YAML file + CSV: same split rules and checks as built-in tasks."""

import csv

import numpy as np
import pytest

from noss_eval.cli import main
from noss_eval.custom_task import load_task_file
from noss_eval.errors import NossError
from noss_eval.synthetic import _write, class_signal
from noss_eval.task import validate_clips


def make_folder(root, extra_columns=lambda i, speaker: {}):
    import numpy as np

    rng = np.random.RandomState(0)
    rows = []
    for s in range(10):
        for k, word in enumerate(("alpha", "beta", "gamma")):
            rel = f"clips/spk{s}_{word}.wav"
            _write(root / "audio" / rel, class_signal(rng, k, 3, 16000, 0.8), 16000)
            rows.append(
                {"file": rel, "word": word, "talker": f"spk{s}", **extra_columns(s, f"spk{s}")}
            )
    with open(root / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


SPEC = """name: words
audio_dir: audio
csv: labels.csv
columns: {path: file, label: word, speaker: talker}
split_probs: {train: 0.6, validation: 0.2, test: 0.2}
"""


def test_speakers_are_split_disjointly_and_the_task_runs(tmp_path, dynamic_tflite):
    make_folder(tmp_path)
    (tmp_path / "words.yaml").write_text(SPEC)
    task = load_task_file(tmp_path / "words.yaml")
    clips = task.read(task.root)
    validate_clips(task, clips)
    assert task.labels == ("alpha", "beta", "gamma")
    split_speakers = {
        s: {c.speaker for c in clips if c.split == s} for s in ("train", "validation", "test")
    }
    assert [len(v) for v in split_speakers.values()] == [6, 2, 2]
    board = tmp_path / "b.csv"
    assert (
        main(
            [
                "--embedder",
                str(dynamic_tflite),
                "--task-file",
                str(tmp_path / "words.yaml"),
                "--cache-dir",
                str(tmp_path / "c"),
                "--leaderboard",
                str(board),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(board.open()))
    assert {r["task"] for r in rows} == {"words"} and all(float(r["accuracy"]) > 90 for r in rows)


def test_explicit_split_column_with_speaker_overlap_is_refused(tmp_path):
    make_folder(tmp_path, lambda s, spk: {"split": ("train", "validation", "test")[s % 3]})
    path = tmp_path / "labels.csv"
    text = path.read_text().splitlines()
    text[1] = text[1].replace(",train", ",test")  # spk0 now in train and test
    path.write_text("\n".join(text) + "\n")
    (tmp_path / "t.yaml").write_text(SPEC)
    task = load_task_file(tmp_path / "t.yaml")
    with pytest.raises(NossError, match="speaker 'spk0' appears in splits test, train"):
        validate_clips(task, task.read(task.root))


def test_fold_column_means_cross_validation(tmp_path):
    make_folder(tmp_path, lambda s, spk: {"fold": f"f{s % 5}"})
    (tmp_path / "t.yaml").write_text(SPEC)
    task = load_task_file(tmp_path / "t.yaml")
    assert task.folds == ("f0", "f1", "f2", "f3", "f4")
    validate_clips(task, task.read(task.root))


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: x\ncsv: labels.csv\ncolour: red\n", "unknown key 'colour'"),
        ("csv: labels.csv\n", "needs 'name' and 'csv'"),
        ("name: [unclosed\n", "--task-file"),
        ("name: x\ncsv: missing.csv\n", "missing.csv: missing"),
        ("name: x\ncsv: labels.csv\ncolumns: {path: file, label: nope}\n", "no column .nope."),
        ("name: x\ncsv: labels.csv\nheadline: f1\n", "headline 'f1' is not one of accuracy"),
    ],
)
def test_bad_task_files_are_one_line_errors(tmp_path, text, message):
    make_folder(tmp_path)
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(NossError, match=message):
        load_task_file(tmp_path / "t.yaml")


def _speakers_folder(root, n_speakers):
    rows = ["file,word,talker"]
    for s in range(n_speakers):
        for k, word in enumerate(("yes", "no")):
            rel = f"s{s}_{word}.wav"
            audio = class_signal(np.random.RandomState(s), k, 2, 16000, 0.3)
            _write(root / "audio" / rel, audio, 16000)
            rows.append(f"{rel},{word},spk{s}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "t.yaml").write_text(
        "name: yn\naudio_dir: audio\ncsv: labels.csv\n"
        "columns: {path: file, label: word, speaker: talker}\nlabels: [yes, no]\n"
    )


@pytest.mark.parametrize("n_speakers", [3, 5, 6, 10])
def test_few_speakers_still_fill_every_split(tmp_path, n_speakers):
    """TFDS' 70/10/20 leaves validation empty for 3, 5, 6 and 10 speakers (float boundaries);
    a custom task gets at least one speaker per split instead."""
    _speakers_folder(tmp_path, n_speakers)
    task = load_task_file(tmp_path / "t.yaml")
    clips = task.read(task.root)
    validate_clips(task, clips)
    per_split = {
        s: {c.speaker for c in clips if c.split == s} for s in ("train", "validation", "test")
    }
    assert all(per_split.values()) and sum(map(len, per_split.values())) == n_speakers
    assert task.labels == ("yes", "no")  # YAML 1.1 would read these as booleans


def test_too_few_speakers_is_a_clear_error(tmp_path):
    _speakers_folder(tmp_path, 2)
    task = load_task_file(tmp_path / "t.yaml")
    with pytest.raises(NossError, match="2 speakers cannot fill 3 splits.*add speakers or a split"):
        task.read(task.root)


def test_bom_csv_is_read_and_non_utf8_is_a_one_line_error(tmp_path):
    make_folder(tmp_path)
    csv_path = tmp_path / "labels.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())  # Excel's UTF-8 with BOM
    (tmp_path / "t.yaml").write_text(SPEC)
    task = load_task_file(tmp_path / "t.yaml")
    assert len(task.read(task.root)) == 30
    csv_path.write_bytes(csv_path.read_bytes().replace(b"alpha", "\u00e4lpha".encode("latin-1")))
    with pytest.raises(NossError, match="labels.csv: not UTF-8 text"):
        load_task_file(tmp_path / "t.yaml")
    (tmp_path / "t.yaml").write_bytes("name: x\ncsv: labels.csv\ntitle: \u00e9\n".encode("latin-1"))
    with pytest.raises(NossError, match="--task-file"):
        load_task_file(tmp_path / "t.yaml")


def test_paths_outside_audio_dir_are_refused_unless_allowed(tmp_path):
    make_folder(tmp_path)
    path = tmp_path / "labels.csv"
    path.write_text(path.read_text().replace("clips/spk0_alpha.wav", "../labels.csv", 1))
    (tmp_path / "t.yaml").write_text(SPEC)
    task = load_task_file(tmp_path / "t.yaml")
    with pytest.raises(NossError, match=r"labels.csv:2: path '\.\./labels.csv' is outside"):
        task.read(task.root)
    (tmp_path / "t.yaml").write_text(SPEC + "allow_outside_paths: true\n")
    task = load_task_file(tmp_path / "t.yaml")
    assert any(c.clip_id == "../labels.csv" for c in task.read(task.root))


@pytest.mark.parametrize("folds", [1, 2])
def test_fewer_than_three_folds_are_refused_at_load(tmp_path, folds):
    """Each round tests on one fold and picks the probe by cross-validation over the others,
    which needs two of them (with 2 folds the inner fit had 0 clips: a traceback)."""
    make_folder(tmp_path, lambda s, spk: {"fold": f"f{s % folds}"})
    (tmp_path / "t.yaml").write_text(SPEC)
    with pytest.raises(NossError, match=f"holds {folds} fold.*needs at least 3"):
        load_task_file(tmp_path / "t.yaml")


@pytest.mark.parametrize(
    "extra, message",
    [(lambda s, spk: {"split": ("train", "validation", "test")[s % 3]}, None)],
)
def test_one_class_is_a_one_line_error(tmp_path, extra, message):
    make_folder(tmp_path, extra)
    (tmp_path / "t.yaml").write_text(SPEC)
    task = load_task_file(tmp_path / "t.yaml")
    clips = task.read(task.root)
    if message is None:  # one class left in train
        clips = [
            c if c.split != "train" else type(c)(c.clip_id, c.path, "alpha", "train", c.speaker)
            for c in clips
        ]
        message = "split 'train' holds 1 class"
    with pytest.raises(NossError, match=message):
        validate_clips(task, clips)


def test_blank_speaker_when_splitting_by_speaker_names_the_row(tmp_path):
    make_folder(tmp_path)
    path = tmp_path / "labels.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ","
    path.write_text("\n".join(lines) + "\n")
    (tmp_path / "t.yaml").write_text(SPEC)
    task = load_task_file(tmp_path / "t.yaml")
    with pytest.raises(NossError, match=r"labels.csv:4: empty speaker"):
        task.read(task.root)


def test_split_probs_map_each_name_to_its_own_share_in_any_order(tmp_path):
    """TFDS' rule, re-typed: shuffle the sorted speakers with RandomState(0), then cut train,
    validation, test in that order (whatever the YAML order) at 50 / 20 / 30 % of 10."""
    make_folder(tmp_path)
    (tmp_path / "t.yaml").write_text(
        SPEC.replace(
            "{train: 0.6, validation: 0.2, test: 0.2}", "{test: 0.3, validation: 0.2, train: 0.5}"
        )
    )
    task = load_task_file(tmp_path / "t.yaml")
    clips = task.read(task.root)
    speakers = sorted(f"spk{s}" for s in range(10))
    np.random.RandomState(0).shuffle(speakers)
    expected = {"train": speakers[:5], "validation": speakers[5:7], "test": speakers[7:]}
    for split, names in expected.items():
        assert {c.speaker for c in clips if c.split == split} == set(names), split


@pytest.mark.parametrize(
    "probs, message",
    [
        ("{train: 0.7, valid: 0.1, test: 0.2}", "needs train, validation and test"),
        ("{train: 0.7, validation: 0.2, test: 0.2}", "must sum to 1, not 1.1"),
        ("{train: 1.0, validation: 0.0, test: 0.0}", "each between 0 and 1"),
    ],
)
def test_split_probs_are_checked_when_the_task_is_loaded(tmp_path, probs, message):
    make_folder(tmp_path)
    (tmp_path / "t.yaml").write_text(
        SPEC.replace("{train: 0.6, validation: 0.2, test: 0.2}", probs)
    )
    with pytest.raises(NossError, match=message):
        load_task_file(tmp_path / "t.yaml")
