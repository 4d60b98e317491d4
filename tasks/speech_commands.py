"""Speech Commands v0.02, 12 classes, split as the TFDS `speech_commands` builder does
(`tensorflow_datasets/datasets/speech_commands/speech_commands_dataset_builder.py`).

Train and validation come from the main archive: `validation_list.txt` (plus
`_background_noise_/running_tap.wav`) validates, everything not in either list trains.
`_background_noise_/` is cut into 1 s `_silence_` clips with a 0.5 s hop. The test split is the
separate official test archive (`speech_commands_test_set_v0.02`, 4,890 clips with `_silence_`),
unpacked as `test_set/`; without it the task is refused. `speech_commands_lists` is the opt-in
variant that tests on `testing_list.txt` instead: a different task (no `_silence_`, mostly
`_unknown_`), never reported under the plain name.
"""

from pathlib import Path

import soundfile as sf

from noss_eval.errors import NossError
from noss_eval.layout import audio_files, clip_id, read_text, require
from noss_eval.task import Clip, OfficialData, Task, TfdsSpec

WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE, UNKNOWN, NOISE = "_silence_", "_unknown_", "_background_noise_"
VALIDATION_NOISE = "running_tap.wav"
TEST_SET = "test_set"


def _label(word: str) -> str:
    return word if word in WORDS or word == SILENCE else UNKNOWN


def _speaker(path: Path) -> str | None:
    return path.stem.split("_nohash_")[0] if "_nohash_" in path.stem else None


def _listed(root: Path, name: str) -> set[str]:
    lines = read_text(root / name, f"Speech Commands {name}").split()
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


def _main_archive(root: Path, test_on_lists: bool) -> list[Clip]:
    validation, testing = _listed(root, "validation_list.txt"), _listed(root, "testing_list.txt")
    clips = _silence_clips(root)
    for word_dir in sorted(d for d in root.iterdir() if d.is_dir()):
        if word_dir.name in (NOISE, TEST_SET):
            continue
        for f in audio_files(word_dir):
            rel = clip_id(root, f)
            if rel in testing and not test_on_lists:
                continue
            split = "test" if rel in testing else "validation" if rel in validation else "train"
            clips.append(Clip(rel, f, _label(word_dir.name), split, _speaker(f)))
    return clips


def read(root: Path) -> list[Clip]:
    test_set = root / TEST_SET
    if not test_set.is_dir():
        raise NossError(
            f"{test_set}: missing. TFDS speech_commands tests on the official test archive: "
            f"unpack speech_commands_test_set_v0.02.tar.gz into {test_set}/ (or run "
            "--tasks speech_commands_lists to test on testing_list.txt, a different task)"
        )
    clips = _main_archive(root, test_on_lists=False)
    for label_dir in sorted(d for d in test_set.iterdir() if d.is_dir()):
        label = _label(label_dir.name)
        for f in audio_files(label_dir):
            speaker = None if label == SILENCE else _speaker(f)  # noise has no speaker
            clips.append(Clip(clip_id(root, f), f, label, "test", speaker))
    return clips


def read_lists(root: Path) -> list[Clip]:
    return _main_archive(root, test_on_lists=True)


LAYOUT = (
    "<word>/*.wav, validation_list.txt, testing_list.txt, _background_noise_/, and test_set/ "
    "(the official test archive, <label>/*.wav)"
)
TASK = Task(
    name="speech_commands",
    title="Speech Commands v0.02 keyword spotting (12 classes)",
    dataset_dir="speech_commands",
    labels=(*WORDS, UNKNOWN, SILENCE),
    read=read,
    layout=LAYOUT,
    tfds=TfdsSpec("speech_commands", speaker_key=None),
    official=OfficialData(
        {"train": 85_511, "validation": 10_102, "test": 4_890},
        12,
        None,
        "TFDS catalog, speech_commands 0.0.3 (tensorflow.org/datasets/catalog/speech_commands)",
    ),
    notes="official lists for train/validation, the official test archive for test (as TFDS)",
)
LISTS_TASK = Task(
    name="speech_commands_lists",
    title="Speech Commands v0.02 tested on testing_list.txt (not the TFDS/NOSS test set)",
    dataset_dir="speech_commands",
    labels=(*WORDS, UNKNOWN, SILENCE),
    read=read_lists,
    layout=LAYOUT.replace(", and test_set/ (the official test archive, <label>/*.wav)", ""),
    notes="opt-in variant: test = testing_list.txt (11,005 clips, no _silence_)",
    default=False,
    cache_group="speech_commands",
)
