"""DementiaBank Pitt cookie-theft recordings: dementia vs control (mp3, 44.1 kHz), split by
speaker as TFDS `dementiabank`."""

from pathlib import Path

from noss_eval.errors import NossError
from noss_eval.layout import audio_files, require, split_by_speaker
from noss_eval.task import Clip, OfficialData, Task, TfdsSpec

FOLDERS = {"dementia": "Dementia", "control": "Control"}


def read(root: Path) -> list[Clip]:
    entries = []
    for label, folder in FOLDERS.items():
        cookie = require(
            root / "dementia" / "English" / "Pitt" / folder / "cookie",
            f"DementiaBank {folder}/cookie folder",
        )
        for f in audio_files(cookie):
            if "-" not in f.stem:
                raise NossError(f"{f}: expected <speaker>-<session>.mp3")
            entries.append((f, label, f.stem.split("-")[0]))
    return split_by_speaker(root, entries)


TASK = Task(
    name="dementiabank",
    title="DementiaBank (dementia / control)",
    dataset_dir="dementiabank",
    labels=tuple(FOLDERS),
    read=read,
    layout="dementia/English/Pitt/{Control,Dementia}/cookie/<speaker>-<session>.mp3",
    tfds=TfdsSpec("dementiabank"),
    official=OfficialData(
        {"train": 393, "validation": 57, "test": 102},
        2,
        None,  # not documented for the cookie-theft recordings alone
        "TFDS catalog, dementiabank 1.0.0 (tensorflow/datasets docs/catalog/dementiabank.md)",
    ),
    notes="70/10/20 by speaker with RandomState(0) (as tfds dementiabank)",
)
