"""VoxForge language identification (de en es fr it ru), split by speaker as TFDS `voxforge`.

The archives listed in TFDS' `voxforge_urls.txt` (`wget -i voxforge_urls.txt -x`) extracted in
place: `.../<lang>/Trunk/Audio/Main/16kHz_16bit/<speaker>-<date>-<session>/wav/*.wav`.
"""

from pathlib import Path

from noss_eval.errors import NossError
from noss_eval.layout import AUDIO_SUFFIXES, split_by_speaker
from noss_eval.task import Clip, Task, TfdsSpec

LANGUAGES = ("de", "en", "es", "fr", "it", "ru")


def read(root: Path) -> list[Clip]:
    entries = []
    for f in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        parts = f.relative_to(root).parts
        if "Trunk" not in parts or parts.index("Trunk") == 0 or f.parent.name != "wav":
            raise NossError(f"{f}: expected <lang>/Trunk/.../<speaker>-<date>-<session>/wav/")
        language = parts[parts.index("Trunk") - 1]
        entries.append((f, language, f.parent.parent.name.split("-")[0]))
    return split_by_speaker(root, entries)


TASK = Task(
    name="voxforge",
    title="VoxForge language identification (6 languages)",
    dataset_dir="voxforge",
    labels=LANGUAGES,
    read=read,
    layout="<lang>/Trunk/Audio/Main/16kHz_16bit/<speaker>-<date>-<session>/wav/*.wav "
    "(the TFDS archive list, extracted in place)",
    tfds=TfdsSpec("voxforge"),
    notes="speaker = archive name before the first '-'; 70/10/20 by speaker (as tfds voxforge)",
)
