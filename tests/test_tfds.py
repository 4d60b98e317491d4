"""TFDS sources for real: small datasets written under the real builders' names, versions and
feature specs, read back through those builders (download=False) and evaluated by noss-eval."""

import csv

import numpy as np
import pytest
from testlib import write_tfds

from noss_eval.cli import main
from noss_eval.errors import NossError
from noss_eval.extract import Extraction
from noss_eval.probes import PROTOCOLS
from noss_eval.probing import probe_grid
from noss_eval.sources import open_layout, open_tfds
from noss_eval.synthetic import class_signal, write_speech_commands
from noss_eval.tasks import BUILTIN_TASKS

# task -> (TFDS builder, labels as TFDS stores them, speakers per split or None, sample rate)
CASES = {
    "crema_d": ("crema_d", ["NEU", "HAP", "SAD", "ANG", "FEA", "DIS"], 3, 16000),
    "speech_commands": (
        "speech_commands",
        ["yes", "no", "up", "_silence_", "_unknown_"],
        None,
        16000,
    ),
    "voxceleb1": ("voxceleb", [1, 2, 3, 4], None, 16000),
    "savee": (
        "savee",
        ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"],
        1,
        44100,
    ),
    "voxforge": ("voxforge", ["de", "en", "es", "fr", "it", "ru"], 2, 16000),
    "dementiabank": ("dementiabank", ["dementia", "control"], 3, 44100),
}
PER_LABEL = {"train": 6, "validation": 3, "test": 3}


def make_examples(builder_name, labels, speakers, rate, seed=0):
    rng = np.random.RandomState(seed)
    dtype = np.int16 if builder_name == "speech_commands" else np.int64
    splits = {}
    for split, per_label in PER_LABEL.items():
        examples = []
        for k, label in enumerate(labels):
            for n in range(per_label):
                audio = (class_signal(rng, k, len(labels), rate, 0.8) * 32767).astype(dtype)
                example = {"audio": audio, "label": label}
                if builder_name == "voxceleb":
                    example["youtube_id"] = f"yt{n}"
                if speakers is not None:
                    example["speaker_id"] = f"{split}-spk{n % speakers}"
                examples.append(example)
        splits[split] = examples
    return splits


@pytest.mark.parametrize("task_name", list(CASES))
def test_tfds_dataset_is_read_and_evaluated(task_name, tmp_path, dynamic_tflite):
    builder_name, labels, speakers, rate = CASES[task_name]
    write_tfds(builder_name, tmp_path / "tfds", make_examples(builder_name, labels, speakers, rate))

    data = open_tfds(BUILTIN_TASKS[task_name], tmp_path / "tfds")
    sizes = {s: sum(c.split == s for c in data.clips) for s in PER_LABEL}
    assert sizes == {s: n * len(labels) for s, n in PER_LABEL.items()}
    expected = {f"id1{n:04d}" for n in labels} if task_name == "voxceleb1" else set(labels)
    assert {c.label for c in data.clips} == expected
    assert all((c.speaker is not None) == (speakers is not None) for c in data.clips)
    first = next(iter(data.stream(data.clips[:1], 16000)))[1]
    assert first.dtype == np.float32 and 0.05 < np.abs(first).max() <= 1.0
    assert abs(first.size - 0.8 * 16000) <= 2

    board = tmp_path / "board.csv"
    args = [
        "--embedder",
        str(dynamic_tflite),
        "--source",
        "tfds",
        "--tfds-data-dir",
        str(tmp_path / "tfds"),
        "--tasks",
        task_name,
        "--cache-dir",
        str(tmp_path / "c"),
        "--leaderboard",
        str(board),
        "--no-progress",
    ]
    assert main(args) == 0
    rows = list(csv.DictReader(board.open()))
    assert {r["data_source"] for r in rows} == {"tfds"} and len(rows) == 3
    assert all(float(r["accuracy"]) >= 80 for r in rows), rows
    assert main([*args, "--protocol", "noss"]) == 0
    assert {r["protocol"] for r in csv.DictReader(board.open())} == {"noss-eval", "noss"}


@pytest.mark.parametrize(
    "task, hint",
    [
        ("crema_d", "TFDS dataset 'crema_d' is not prepared"),
        ("mask", "skip mask: TFDS has no builder"),
    ],
)
def test_missing_tfds_datasets_are_skipped_with_a_hint(tmp_path, caplog, task, hint):
    args = ["--embedder", "dsp", "--source", "tfds", "--tfds-data-dir", str(tmp_path)]
    assert main([*args, "--tasks", task]) == 2  # nothing left to run
    assert hint in caplog.text


def test_tfds_dataset_with_a_shared_speaker_is_refused(tmp_path):
    splits = make_examples("crema_d", ["NEU", "HAP"], 2, 16000)
    splits["test"][0]["speaker_id"] = splits["train"][0]["speaker_id"]
    write_tfds("crema_d", tmp_path / "tfds", splits)
    with pytest.raises(NossError, match="speaker 'train-spk0' appears in splits test, train"):
        open_tfds(BUILTIN_TASKS["crema_d"], tmp_path / "tfds")


@pytest.mark.parametrize("protocol", ["noss-eval", "noss"])
def test_layout_and_tfds_sources_of_speech_commands_run_the_same_grid(tmp_path, protocol):
    """The layout reader knows the `_nohash_` speakers of word clips, TFDS knows none; with
    speaker-less `_silence_` clips in the layout, neither may z-score by speaker."""
    task = BUILTIN_TASKS["speech_commands"]
    write_speech_commands(tmp_path / "layout" / "speech_commands")
    builder, labels, speakers, rate = CASES["speech_commands"]
    write_tfds(builder, tmp_path / "tfds", make_examples(builder, labels, speakers, rate))
    grids = []
    for data in (open_layout(task, tmp_path / "layout"), open_tfds(task, tmp_path / "tfds")):
        ex = Extraction(data.clips, np.zeros((len(data.clips), 4), np.float32))
        grids.append(probe_grid(ex, PROTOCOLS[protocol], "auto", 100))
    assert grids[0] == grids[1] and not any(c.speaker_norm for c in grids[0])
