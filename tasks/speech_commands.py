"""Speech Commands v0.02, 12 classes, split as the TFDS `speech_commands` builder does.

Validation and test come from `validation_list.txt` / `testing_list.txt`, the rest is train.
`_background_noise_/` is cut into 1 s `_silence_` clips with a 0.5 s hop: `running_tap.wav` goes to
validation, the others to train. If the official test archive is unpacked as `test_set/`
(`<label>/*.wav`, with `_silence_/` and `_unknown_/`), it replaces the testing list, as in TFDS.
"""

from pathlib import Path

import soundfile as sf

from noss_eval.layout import audio_files, clip_id, require
from noss_eval.task import Clip, Task, TfdsSpec

WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE, UNKNOWN, NOISE = "_silence_", "_unknown_", "_background_noise_"
VALIDATION_NOISE = "running_tap.wav"


def _label(word: str) -> str:
    return word if word in WORDS or word == SILENCE else UNKNOWN


def _speaker(path: Path) -> str | None:
    return path.stem.split("_nohash_")[0] if "_nohash_" in path.stem else None


def _listed(root: Path, name: str) -> set[str]:
    lines = require(root / name, f"Speech Commands {name}").read_text().split()
    return {line.strip() for line in lines}


def _silence_clips(root: Path) -> list[Clip]:
    clips = []
    for f in audio_files(require(root / NOISE, "Speech Commands _background_noise_/")):
        seconds = sf.info(str(f)).duration
        split = "validation" if f.name == VALIDATION_NOISE else "train"
        start = 0.0
        while start + 1.0 < seconds:
            clips.append(Clip(clip_id(root, f, start), f, SILENCE, split, None, start, 1.0))
            start += 0.5
    return clips


def read(root: Path) -> list[Clip]:
    validation, testing = _listed(root, "validation_list.txt"), _listed(root, "testing_list.txt")
    test_set = root / "test_set"
    clips = _silence_clips(root)
    for word_dir in sorted(d for d in root.iterdir() if d.is_dir()):
        if word_dir.name in (NOISE, "test_set"):
            continue
        for f in audio_files(word_dir):
            rel = clip_id(root, f)
            if rel in testing and test_set.is_dir():
                continue
            split = "test" if rel in testing else "validation" if rel in validation else "train"
            clips.append(Clip(rel, f, _label(word_dir.name), split, _speaker(f)))
    if test_set.is_dir():
        for label_dir in sorted(d for d in test_set.iterdir() if d.is_dir()):
            for f in audio_files(label_dir):
                clips.append(Clip(clip_id(root, f), f, _label(label_dir.name), "test", _speaker(f)))
    return clips


TASK = Task(
    name="speech_commands",
    title="Speech Commands v0.02 keyword spotting (12 classes)",
    dataset_dir="speech_commands",
    labels=(*WORDS, UNKNOWN, SILENCE),
    read=read,
    layout="<word>/*.wav, validation_list.txt, testing_list.txt, _background_noise_/ "
    "(optional test_set/ from the official test archive)",
    tfds=TfdsSpec("speech_commands", speaker_key=None),
    notes="split by the official lists, which are speaker-disjoint by hashing",
)
