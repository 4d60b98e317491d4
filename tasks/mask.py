"""ComParE 2020 Mask: clear vs mask-wearing speech, `wav/*.wav` + `lab/*.csv`.

Splits come from the file name prefix (`train_`, `devel_`, `test_`). ComParE withholds test labels
(`?` in the label file): then the devel partition is reported as test, and validation is a fixed
10% of train (sorted names, RandomState(0)); the challenge gives no speaker ids to split on. Paper
mode, which never selects on validation, trains on the whole train partition.
"""

from pathlib import Path

import numpy as np

from noss_eval.errors import NossError
from noss_eval.layout import clip_id, pick_column, read_csv, require
from noss_eval.task import Clip, OfficialData, Task

PARTITIONS = {"train": "train", "devel": "validation", "test": "test"}
WITHHELD = ("", "?")


def _labels(root: Path) -> dict[str, str]:
    labels: dict[str, str] = {}
    for csv_path in sorted(require(root / "lab", "ComParE lab/ folder").glob("*.csv")):
        rows = read_csv(csv_path)
        name_col = pick_column(csv_path, rows[0], "file_name", "filename", "file")
        label_col = pick_column(csv_path, rows[0], "label", "mask")
        labels.update({r[name_col]: r[label_col] for r in rows})
    if not labels:
        raise NossError(f"{root / 'lab'}: no label CSV found")
    return labels


def read(root: Path) -> list[Clip]:
    labels = _labels(root)
    labelled = {name: lab for name, lab in labels.items() if lab not in WITHHELD}
    test_withheld = not any(name.startswith("test_") for name in labelled)
    clips = []
    for name, label in sorted(labelled.items()):
        partition = name.split("_")[0]
        if partition not in PARTITIONS:
            raise NossError(f"{root / 'lab'}: '{name}' does not start with train_, devel_ or test_")
        split = PARTITIONS[partition]
        if test_withheld and split == "validation":
            split = "test"
        clips.append(Clip(clip_id(root, root / "wav" / name), root / "wav" / name, label, split))
    if test_withheld:
        clips = _carve_validation(clips)
    return clips


def _carve_validation(clips: list[Clip]) -> list[Clip]:
    train = [c.clip_id for c in clips if c.split == "train"]
    order = np.random.RandomState(0).permutation(len(train))
    held = {train[i] for i in order[: max(1, len(train) // 10)]}
    return [
        Clip(c.clip_id, c.path, c.label, "validation", carved_from="train")
        if c.clip_id in held
        else c
        for c in clips
    ]


def scored_partition(clips) -> str:
    """"devel" when the test labels are withheld (then devel is scored as test), else "test"."""
    devel = any(c.split == "test" and c.path.name.startswith("devel_") for c in clips)
    return "devel (ComParE withholds the test labels)" if devel else "test"


TASK = Task(
    name="mask",
    title="ComParE 2020 Mask (clear / mask)",
    dataset_dir="mask",
    labels=("clear", "mask"),
    read=read,
    layout="wav/{train,devel,test}_*.wav and lab/*.csv (file_name,label)",
    headline="balanced_accuracy",
    scored_partition=scored_partition,
    # ComParE 2020 (Schuller et al., Interspeech 2020), Table 1, the Mask Augsburg Speech Corpus:
    # train, devel (our validation) and test chunks, 36,554 in all; no speaker ids are given.
    official=OfficialData(
        {"train": 10_895, "validation": 14_647, "test": 11_012},
        2,
        None,
        "ComParE 2020 paper (Schuller et al.), Table 1: Mask partitions",
    ),
    notes="test labels withheld by ComParE -> devel is reported as test, validation = 10% of train",
)
