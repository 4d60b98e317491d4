"""SAVEE emotion (7 classes, 4 male speakers, 44.1 kHz), split by speaker as TFDS `savee`."""

import re
from pathlib import Path

from noss_eval.errors import NossError
from noss_eval.layout import audio_files, require, split_by_speaker
from noss_eval.task import Clip, OfficialData, Task, TfdsSpec

CODES = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happiness",
    "n": "neutral",
    "sa": "sadness",
    "su": "surprise",
}


def read(root: Path) -> list[Clip]:
    entries = []
    audio = require(root / "AudioData", "SAVEE AudioData/ folder")
    for speaker_dir in sorted(d for d in audio.iterdir() if d.is_dir()):
        for f in audio_files(speaker_dir):
            code = re.match("^([a-zA-Z]+)", f.name)
            if code is None or code.group(1) not in CODES:
                raise NossError(f"{f}: expected <emotion code><nn>.wav, code one of {list(CODES)}")
            entries.append((f, CODES[code.group(1)], speaker_dir.name))
    return split_by_speaker(root, entries, (("train", 0.6), ("validation", 0.2), ("test", 0.2)))


TASK = Task(
    name="savee",
    title="SAVEE emotion recognition (7 classes)",
    dataset_dir="savee",
    labels=tuple(CODES.values()),
    read=read,
    layout="AudioData/<speaker>/<code><nn>.wav (codes a d f h n sa su)",
    tfds=TfdsSpec("savee"),
    official=OfficialData(
        {"train": 240, "validation": 120, "test": 120},
        7,
        4,
        "TFDS catalog, savee 1.0.0 (tensorflow/datasets docs/catalog/savee.md)",
    ),
    notes="4 speakers, split by speaker 60/20/20 with RandomState(0) (as tfds savee)",
)
