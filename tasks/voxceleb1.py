"""VoxCeleb1 speaker identification with the official `iden_split.txt`.

TFDS `voxceleb` (`tensorflow_datasets/datasets/voxceleb/voxceleb_dataset_builder.py`) builds from
`vox_dev_wav.zip` only and skips the listed files it does not find there, so it holds the 1,211
speakers of VoxCeleb1's dev set, not all 1,251 of the identification split. `voxceleb1` is that
TFDS set (the one the published numbers use): the speakers whose `Set` is `dev` in
`vox1_meta.csv` when the file is there, otherwise all but the 40 speakers of the VoxCeleb1 test
set (id10270-id10309). `voxceleb1_1251` is the opt-in variant with every speaker.
"""

from pathlib import Path

from noss_eval.errors import NossError
from noss_eval.layout import read_rows, read_text
from noss_eval.task import Clip, OfficialData, Task, TfdsSpec

SPLIT_CODES = {"1": "train", "2": "validation", "3": "test"}
ALL_SPEAKERS = tuple(f"id{10001 + i}" for i in range(1251))
TEST_SET_SPEAKERS = frozenset(f"id{i}" for i in range(10270, 10310))
META = "vox1_meta.csv"


def _iden_split(root: Path) -> list[Clip]:
    clips = []
    split_file = root / "iden_split.txt"
    for n, line in enumerate(read_text(split_file, "VoxCeleb1 iden_split.txt").splitlines(), 1):
        if not line.strip():
            continue
        code, _, rel = line.strip().partition(" ")
        rel = rel.strip()
        if code not in SPLIT_CODES or rel.count("/") != 2:
            raise NossError(f"{split_file}:{n}: expected '<1|2|3> idXXXXX/<video>/<n>.wav'")
        speaker = rel.split("/")[0]
        # The label is the speaker, so splits share speakers by design (split by video).
        clips.append(Clip(rel, root / "wav" / rel, speaker, SPLIT_CODES[code]))
    return clips


def dev_speakers(root: Path) -> frozenset[str]:
    """The speakers of VoxCeleb1's dev set: from `vox1_meta.csv` (tab- or comma-separated,
    columns `VoxCeleb1 ID` and `Set`) if present, else every speaker but the test set's 40."""
    meta = root / META
    if not meta.is_file():
        return frozenset(ALL_SPEAKERS) - TEST_SET_SPEAKERS
    rows = read_rows(meta, "VoxCeleb1 vox1_meta.csv", delimiter=None)
    if not rows or "VoxCeleb1 ID" not in rows[0] or "Set" not in rows[0]:
        raise NossError(f"{meta}: expected columns 'VoxCeleb1 ID' and 'Set'")
    return frozenset(r.get("VoxCeleb1 ID", "") for r in rows if r.get("Set") == "dev")


def read(root: Path) -> list[Clip]:
    keep = dev_speakers(root)
    return [c for c in _iden_split(root) if c.label in keep]


def tfds_label(label: str) -> str:
    """TFDS `voxceleb` stores `int(speaker_id[3:])`: 1 for id10001."""
    return f"id1{int(label):04d}"


LAYOUT = "wav/idXXXXX/<video>/<n>.wav and iden_split.txt (1 train, 2 validation, 3 test)"
TASK = Task(
    name="voxceleb1",
    title="VoxCeleb1 speaker identification (the 1,211 dev-set speakers, as TFDS)",
    dataset_dir="voxceleb1",
    labels=ALL_SPEAKERS,
    read=read,
    layout=LAYOUT + f"; optional {META} (its Set column picks the dev speakers)",
    tfds=TfdsSpec("voxceleb", speaker_key=None, label=tfds_label),
    official=OfficialData(
        {"train": 134_000, "validation": 6_670, "test": 7_972},
        1_211,
        None,  # the label is the speaker
        "TFDS catalog, voxceleb 1.2.1 (tensorflow/datasets docs/catalog/voxceleb.md)",
    ),
    notes="iden_split.txt by video, dev-set speakers only (as tfds voxceleb)",
)
ALL_SPEAKERS_TASK = Task(
    name="voxceleb1_1251",
    title="VoxCeleb1 speaker identification, all 1,251 speakers of iden_split.txt",
    dataset_dir="voxceleb1",
    labels=ALL_SPEAKERS,
    read=_iden_split,
    layout=LAYOUT,
    notes="opt-in variant: every speaker of iden_split.txt (not the TFDS/NOSS set)",
    default=False,
    cache_group="voxceleb1",
)
