"""VoxCeleb1 speaker identification (1,251 celebrities) with the official `iden_split.txt`."""

from pathlib import Path

from noss_eval.errors import NossError
from noss_eval.layout import require
from noss_eval.task import Clip, Task, TfdsSpec

SPLIT_CODES = {"1": "train", "2": "validation", "3": "test"}


def read(root: Path) -> list[Clip]:
    clips = []
    split_file = require(root / "iden_split.txt", "VoxCeleb1 iden_split.txt")
    for n, line in enumerate(split_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        code, _, rel = line.strip().partition(" ")
        if code not in SPLIT_CODES or rel.count("/") != 2:
            raise NossError(f"{split_file}:{n}: expected '<1|2|3> idXXXXX/<video>/<n>.wav'")
        speaker = rel.split("/")[0]
        # The label is the speaker, so splits share speakers by design (split by video).
        clips.append(Clip(rel, root / "wav" / rel, speaker, SPLIT_CODES[code.strip()]))
    return clips


def tfds_label(label: str) -> str:
    """TFDS `voxceleb` stores `int(speaker_id[3:])`: 1 for id10001."""
    return f"id1{int(label):04d}"


TASK = Task(
    name="voxceleb1",
    title="VoxCeleb1 speaker identification",
    dataset_dir="voxceleb1",
    labels=tuple(f"id{10001 + i}" for i in range(1251)),
    read=read,
    layout="wav/idXXXXX/<video>/<n>.wav and iden_split.txt (1 train, 2 validation, 3 test)",
    tfds=TfdsSpec("voxceleb", speaker_key=None, label=tfds_label),
    notes="speaker id: every split holds the same speakers, split by video as in iden_split.txt",
)
