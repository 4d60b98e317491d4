"""CREMA-D emotion (6 classes), split by speaker exactly as the TFDS `crema_d` builder, on the
clips it keeps."""

from pathlib import Path

from noss_eval.errors import NossError
from noss_eval.layout import audio_files, require, split_by_speaker
from noss_eval.task import Clip, OfficialData, Task, TfdsSpec

# The four clips the TFDS builder leaves out (tensorflow/datasets tensorflow_datasets/audio/
# crema_d.py, `bad_files`: "file names which do not exist in the github"); its 7,438 clips are
# CREMA-D's 7,442 less these, and its speaker split is drawn without them.
TFDS_EXCLUDED = frozenset(
    {"1040_ITH_SAD_XX", "1006_TIE_NEU_XX", "1013_WSI_DIS_XX", "1017_IWW_FEA_XX"}
)


def read(root: Path) -> list[Clip]:
    files = audio_files(require(root / "AudioWAV", "CREMA-D AudioWAV/ folder"))
    files = [f for f in files if f.stem not in TFDS_EXCLUDED]
    fields = [f.stem.split("_") for f in files]
    bad = next((f for f, parts in zip(files, fields, strict=True) if len(parts) != 4), None)
    if bad:
        raise NossError(f"{bad}: expected <actor>_<sentence>_<emotion>_<level>.wav")
    return split_by_speaker(
        root, [(f, parts[2], parts[0]) for f, parts in zip(files, fields, strict=True)]
    )


TASK = Task(
    name="crema_d",
    title="CREMA-D emotion recognition",
    dataset_dir="crema_d",
    labels=("NEU", "HAP", "SAD", "ANG", "FEA", "DIS"),
    read=read,
    layout="AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav",
    tfds=TfdsSpec("crema_d"),
    official=OfficialData(
        {"train": 5_144, "validation": 738, "test": 1_556},
        6,
        91,
        "TFDS catalog, crema_d 1.0.0 (tensorflow/datasets docs/catalog/crema_d.md)",
    ),
    notes="speakers sorted, RandomState(0) shuffle, 70/10/20 (as tfds crema_d)",
)
