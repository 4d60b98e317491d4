"""One case per task: a tiny dataset in the official layout, read and run through the real path
(reader -> real TFLite model -> cache -> probes -> leaderboard CSV)."""

import csv
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
from tensorflow_datasets.audio.crema_d import _get_inter_splits_by_group

from noss_eval import synthetic
from noss_eval.errors import NossError
from noss_eval.runner import RunConfig, run
from noss_eval.task import Clip, Task, validate_clips
from noss_eval.tasks import BUILTIN_TASKS

CASES = {
    # task: (writer, expected split sizes, expected label set)
    "voxceleb1": (
        synthetic.write_voxceleb1,
        {"train": 36, "validation": 18, "test": 18},
        {f"id{10001 + i}" for i in range(6)},
    ),
    "crema_d": (
        synthetic.write_crema_d,
        {"train": 96, "validation": 12, "test": 36},
        {"NEU", "HAP", "SAD", "ANG", "FEA", "DIS"},
    ),
    "speech_commands": (
        synthetic.write_speech_commands,
        {"train": 72 + 6, "validation": 24 + 6, "test": 24},
        {
            "yes",
            "no",
            "up",
            "down",
            "left",
            "right",
            "on",
            "off",
            "stop",
            "go",
            "_unknown_",
            "_silence_",
        },
    ),
    "mask": (synthetic.write_mask, {"train": 27, "validation": 3, "test": 30}, {"clear", "mask"}),
    "esc50_hs": (
        synthetic.write_esc50,
        {f"fold{i}": 20 for i in range(1, 6)},
        {
            "crying_baby",
            "sneezing",
            "clapping",
            "breathing",
            "coughing",
            "footsteps",
            "laughing",
            "brushing_teeth",
            "snoring",
            "drinking_sipping",
        },
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_task_end_to_end(name, tmp_path, dynamic_tflite):
    writer, sizes, labels = CASES[name]
    task = BUILTIN_TASKS[name]
    writer(tmp_path / "data" / task.dataset_dir)
    clips = task.read(tmp_path / "data" / task.dataset_dir)
    validate_clips(task, clips)  # raises on speaker overlap, unknown labels, empty splits
    assert dict(Counter(c.split for c in clips)) == sizes
    assert {c.label for c in clips} == labels

    board = tmp_path / "board.csv"
    config = RunConfig(
        embedder=str(dynamic_tflite),
        data_dir=tmp_path / "data",
        tasks=(name,),
        cache_dir=tmp_path / "cache",
        leaderboard=board,
        progress=False,
    )
    rows = run(config)
    assert [r["probe"] for r in rows] == ["logistic", "lda", "best"]
    for row in rows:  # chance is at most 50%
        assert row["accuracy"] >= 85.0, row
        assert (
            row["headline_metric"]
            == task.headline
            == ("balanced_accuracy" if name == "mask" else "accuracy")
        )
        assert row["headline_score"] == row[task.headline]
        assert row["n_test"] == (sum(sizes.values()) if task.folds else sizes["test"])
    with open(board) as fh:
        written = list(csv.DictReader(fh))
    assert {(r["task"], r["probe"]) for r in written} == {
        (name, "logistic"),
        (name, "lda"),
        (name, "best"),
    }


def test_crema_d_split_is_exactly_tfds(tmp_path):
    synthetic.write_crema_d(tmp_path, n_actors=91, sentences=("DFA",))
    clips = BUILTIN_TASKS["crema_d"].read(tmp_path)
    items = [((c.clip_id,), c.speaker) for c in clips]
    tfds_splits = _get_inter_splits_by_group(
        items, [("train", 0.7), ("validation", 0.1), ("test", 0.2)], 0
    )
    ours = {split: {(c.clip_id,) for c in clips if c.split == split} for split in tfds_splits}
    assert ours == dict(tfds_splits)
    assert len({c.speaker for c in clips if c.split == "validation"}) == 9


def test_voxceleb_reads_the_official_split_file(tmp_path):
    for rel in ("id10001/abc/00001.wav", "id10001/abc/00002.wav", "id10002/xyz/00001.wav"):
        (tmp_path / "wav" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "wav" / rel).touch()
    (tmp_path / "iden_split.txt").write_text(
        "1 id10001/abc/00001.wav\n2 id10001/abc/00002.wav\n3 id10002/xyz/00001.wav\n"
    )
    clips = BUILTIN_TASKS["voxceleb1"].read(tmp_path)
    assert [(c.split, c.label) for c in clips] == [
        ("train", "id10001"),
        ("validation", "id10001"),
        ("test", "id10002"),
    ]
    (tmp_path / "iden_split.txt").write_text("4 id10001/abc/00001.wav\n")
    with pytest.raises(NossError, match="iden_split.txt:1"):
        BUILTIN_TASKS["voxceleb1"].read(tmp_path)


def test_speech_commands_silence_is_cut_from_background_noise(tmp_path):
    synthetic.write_speech_commands(tmp_path)
    clips = BUILTIN_TASKS["speech_commands"].read(tmp_path)
    silence = [c for c in clips if c.label == "_silence_" and "test_set" not in c.clip_id]
    assert {c.split for c in silence if "running_tap" in c.clip_id} == {"validation"}
    assert [c.start for c in silence if "white_noise" in c.clip_id] == [0, 0.5, 1, 1.5, 2, 2.5]
    assert all(c.duration == 1.0 for c in silence)
    assert {c.label for c in clips if c.path.parent.name in ("bed", "cat")} == {"_unknown_"}


def test_mask_with_published_test_labels_keeps_official_partitions(tmp_path):
    synthetic.write_mask(tmp_path, per_partition=4)
    lab = tmp_path / "lab" / "labels.csv"
    lab.write_text(lab.read_text().replace(",?", ",mask"))
    splits = Counter(c.split for c in BUILTIN_TASKS["mask"].read(tmp_path))
    assert splits == {"train": 4, "validation": 4, "test": 4}


def test_esc50_accepts_the_category_name_header(tmp_path):
    synthetic.write_esc50(tmp_path, per_fold=1)
    meta = tmp_path / "meta" / "esc50.csv"
    rows = list(csv.reader(meta.open()))
    rows[0] = ["filename", "fold", "category", "category_name", "esc10", "src_file", "take"]
    with meta.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    clips = BUILTIN_TASKS["esc50_hs"].read(tmp_path)
    assert len(clips) == 50 and "dog" not in {c.label for c in clips}


def test_label_outside_the_label_set_names_the_file(tmp_path):
    synthetic.write_crema_d(tmp_path)
    sf.write(str(tmp_path / "AudioWAV" / "1001_DFA_BOR_XX.wav"), np.zeros(1600), 16000)
    task = BUILTIN_TASKS["crema_d"]
    with pytest.raises(NossError, match="1001_DFA_BOR_XX.wav: label 'BOR'"):
        validate_clips(task, task.read(tmp_path))


def test_speaker_in_two_splits_is_refused(tmp_path):
    synthetic.write_speech_commands(tmp_path)
    clips = BUILTIN_TASKS["speech_commands"].read(tmp_path)
    train_file = next(c.clip_id for c in clips if c.split == "train" and c.speaker)
    leaked = train_file.replace("yes/", "no/")
    with (tmp_path / "validation_list.txt").open("a") as fh:
        fh.write(leaked + "\n")
    task = BUILTIN_TASKS["speech_commands"]
    with pytest.raises(NossError, match="speaker '.*' appears in splits train, validation"):
        validate_clips(task, task.read(tmp_path))


def _clips(*rows):
    return [Clip(cid, None, label, split) for cid, label, split in rows]


@pytest.mark.parametrize(
    "clips, folds, message",
    [
        (_clips(("a", "x", "train"), ("b", "y", "train"), ("c", "x", "validation"),
                ("a", "y", "test")), (), "clip id 'a' appears more than once"),
        (_clips(("a", "x", "train"), ("b", "y", "train"), ("c", "x", "validation")), (),
         r"no clips in split\(s\) test$"),
        (_clips(("a", "x", "train"), ("b", "y", "train")), (),
         r"no clips in split\(s\) validation, test$"),
        (_clips(("a", "x", "f1"), ("b", "y", "f1"), ("c", "x", "f2")), ("f1", "f2", "f3"),
         r"no clips in split\(s\) f3$"),
        ([], (), "the reader found no clips"),
    ],
)  # fmt: skip
def test_duplicate_ids_and_empty_splits_are_one_line_errors(clips, folds, message):
    task = Task("t", "t", "t", ("x", "y"), lambda root: clips, "", folds=folds)
    with pytest.raises(NossError, match=f"^t: {message}") as info:
        validate_clips(task, clips)
    assert "\n" not in str(info.value)


def test_every_task_documents_its_layout():
    for task in BUILTIN_TASKS.values():
        assert task.layout and task.title and len(set(task.labels)) == len(task.labels)


def test_speech_commands_tests_on_the_official_test_archive(tmp_path):
    synthetic.write_speech_commands(tmp_path)
    task = BUILTIN_TASKS["speech_commands"]
    clips = task.read(tmp_path)
    validate_clips(task, clips)
    test = [c for c in clips if c.split == "test"]
    assert all(c.clip_id.startswith("test_set/") for c in test)
    assert {c.label for c in test} == set(task.labels)  # _silence_ included, as in TFDS
    listed = set((tmp_path / "testing_list.txt").read_text().split())
    assert not listed & {c.clip_id for c in clips}  # listed files are not used at all (TFDS)


def test_speech_commands_without_the_test_archive_is_refused(tmp_path):
    synthetic.write_speech_commands(tmp_path, test_set=False)
    with pytest.raises(NossError, match="test_set: missing.*speech_commands_test_set_v0.02"):
        BUILTIN_TASKS["speech_commands"].read(tmp_path)
    lists = BUILTIN_TASKS["speech_commands_lists"]  # the opt-in variant, under its own name
    clips = lists.read(tmp_path)
    validate_clips(lists, clips)
    listed = set((tmp_path / "testing_list.txt").read_text().split())
    assert {c.clip_id for c in clips if c.split == "test"} == listed
    assert not lists.default and lists.cache_namespace == "speech_commands"


def test_variants_run_only_when_named(tmp_path):
    from noss_eval.runner import select_tasks

    assert {t.name for t in select_tasks(())} == {
        "voxceleb1",
        "crema_d",
        "speech_commands",
        "mask",
        "esc50_hs",
        "voxforge",
        "savee",
        "dementiabank",
    }
    assert [t.name for t in select_tasks(("speech_commands_lists",))] == ["speech_commands_lists"]


def _voxceleb(tmp_path, speakers):
    lines = []
    for i, speaker in enumerate(speakers):
        for code in (1, 2, 3):
            rel = f"{speaker}/v{code}/{i:05d}.wav"
            lines.append(f"{code} {rel}")
    (tmp_path / "iden_split.txt").write_text("\n".join(lines) + "\n")


def test_voxceleb1_is_the_tfds_dev_speaker_set(tmp_path):
    _voxceleb(tmp_path, ["id10001", "id10269", "id10270", "id10309", "id10310", "id11251"])
    task, everyone = BUILTIN_TASKS["voxceleb1"], BUILTIN_TASKS["voxceleb1_1251"]
    # without vox1_meta.csv: all but the 40 speakers of the VoxCeleb1 test set (id10270-id10309)
    assert {c.label for c in task.read(tmp_path)} == {"id10001", "id10269", "id10310", "id11251"}
    assert len({c.label for c in everyone.read(tmp_path)}) == 6
    # vox1_meta.csv (tab-separated as distributed) decides when present
    (tmp_path / "vox1_meta.csv").write_text(
        "VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\n"
        "id10001\tA\tm\tIreland\tdev\nid10269\tB\tf\tUSA\ttest\n"
        "id10270\tC\tm\tUSA\tdev\n"
    )
    assert {c.label for c in task.read(tmp_path)} == {"id10001", "id10270"}
    assert len(BUILTIN_TASKS["voxceleb1"].labels) == 1251


def _voxforge_archive(root, lang, name, folder="wav", suffix=".wav", n=2):
    archive = root / lang / "Trunk/Audio/Main/16kHz_16bit" / name
    for k in range(n):
        path = archive / folder / f"a{k}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), 0.1 * np.ones(1600), 16000, format=suffix[1:].upper())
    (archive / "etc").mkdir(exist_ok=True)
    (archive / "etc" / "README").write_text("x")


def test_voxforge_flac_archives_and_odd_names_as_tfds(tmp_path, caplog):
    from tensorflow_datasets.audio.voxforge import _get_inter_splits_by_group as tfds_split

    names = [f"spk{i}-20100101-s{i}" for i in range(12)] + ["oddname", "anonymous-x", "a-b-c-d"]
    for i, name in enumerate(names):
        _voxforge_archive(tmp_path, ("de", "en")[i % 2], name)
    _voxforge_archive(tmp_path, "fr", "flacker-20100101-abc", folder="flac", suffix=".flac")
    clips = BUILTIN_TASKS["voxforge"].read(tmp_path)
    validate_clips(BUILTIN_TASKS["voxforge"], clips)
    assert "1 .flac files not read" not in caplog.text and "2 .flac files not read" in caplog.text
    assert {c.speaker for c in clips} >= {"oddname.tgz", "anonymous", "a"}
    # TFDS' own split function over the archive names, flac-only archive included
    archive_names = [f"{n}.tgz" for n in [*names, "flacker-20100101-abc"]]
    expected = tfds_split(
        [(a, a.split("-")[0]) for a in archive_names],
        [("train", 0.7), ("validation", 0.1), ("test", 0.2)],
        0,
    )
    split_of_archive = {a: s for s, members in expected.items() for a in members}
    for c in clips:
        archive = c.path.parent.parent.name + ".tgz"
        assert c.split == split_of_archive[archive], c.clip_id
    everything = BUILTIN_TASKS["voxforge_all"].read(tmp_path)
    assert len(everything) == len(clips) + 2
    assert {c.split for c in everything if c.speaker == "flacker"} == {
        split_of_archive["flacker-20100101-abc.tgz"]
    }


@pytest.mark.parametrize("protocol", ["noss-eval", "noss"])
def test_all_eight_tasks_run_from_official_layouts(tmp_path, protocol):
    synthetic.write_all(tmp_path / "data")
    rows = run(
        RunConfig(
            embedder="dsp",
            data_dir=tmp_path / "data",
            cache_dir=tmp_path / "c",
            protocol=protocol,
            progress=False,
        )
    )
    defaults = {t.name for t in BUILTIN_TASKS.values() if t.default}
    probes = 3 if protocol == "noss-eval" else 4  # + forest in paper mode; + best in both
    assert {r["task"] for r in rows} == defaults and len(rows) == 8 * probes
    assert {r["protocol"] for r in rows} == {protocol}
    assert all(r["accuracy"] > 80 for r in rows), [
        (r["task"], r["probe"], r["accuracy"]) for r in rows if r["accuracy"] <= 80
    ]
