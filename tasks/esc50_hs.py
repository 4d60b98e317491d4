"""ESC-50 human non-speech sounds: classes 20-29, the 5 official folds as cross-validation."""

from pathlib import Path

from noss_eval.errors import NossError
from noss_eval.layout import clip_id, pick_column, read_csv, require
from noss_eval.task import Clip, OfficialData, Task

HUMAN_NON_SPEECH = {
    20: "crying_baby",
    21: "sneezing",
    22: "clapping",
    23: "breathing",
    24: "coughing",
    25: "footsteps",
    26: "laughing",
    27: "brushing_teeth",
    28: "snoring",
    29: "drinking_sipping",
}
FOLDS = tuple(f"fold{i}" for i in range(1, 6))


def read(root: Path) -> list[Clip]:
    meta = root / "meta" / "esc50.csv"
    rows = read_csv(meta)
    # Two header spellings exist: (target, category) and (category, category_name).
    if "category_name" in rows[0]:
        id_col, name_col = "category", "category_name"
    else:
        id_col, name_col = pick_column(meta, rows[0], "target"), "category"
    audio = require(root / "audio", "ESC-50 audio/ folder")
    clips = []
    for row in rows:
        try:
            class_id, fold = int(row[id_col]), f"fold{int(row['fold'])}"
        except (KeyError, ValueError):
            raise NossError(f"{meta}: bad row {row}") from None
        if class_id not in HUMAN_NON_SPEECH:
            continue
        if row.get(name_col) and row[name_col] != HUMAN_NON_SPEECH[class_id]:
            raise NossError(
                f"{meta}: class {class_id} is '{row[name_col]}', expected "
                f"'{HUMAN_NON_SPEECH[class_id]}'"
            )
        path = audio / row["filename"]
        clips.append(Clip(clip_id(root, path), path, HUMAN_NON_SPEECH[class_id], fold))
    return clips


TASK = Task(
    name="esc50_hs",
    title="ESC-50 human non-speech sounds (10 classes)",
    dataset_dir="esc50",
    labels=tuple(HUMAN_NON_SPEECH.values()),
    read=read,
    layout="audio/*.wav and meta/esc50.csv (the ESC-50 repository as cloned)",
    folds=FOLDS,
    # ESC-50's README and meta/esc50.csv (github.com/karolpiczak/ESC-50): 2,000 clips, 40 per
    # class, 8 per class in each of the 5 folds; no speaker ids.
    official=OfficialData(
        {fold: 80 for fold in FOLDS}, 10, None, "ESC-50 README, meta/esc50.csv (v2.0.0)"
    ),
    notes="5-fold CV on the official folds: each test fold scored by a probe fit on the other 4",
)
