"""VoxForge language identification (de en es fr it ru), as TFDS `voxforge`
(`tensorflow_datasets/audio/voxforge.py`).

The archives listed in TFDS' `voxforge_urls.txt` (`wget -i voxforge_urls.txt -x`) extracted in
place: `.../<lang>/Trunk/Audio/Main/16kHz_16bit/<archive>/...`. As TFDS: the speaker is the
archive name before its first `-` (whatever the rest of the name looks like), every archive's
speaker takes part in the 70/10/20 `RandomState(0)` shuffle, and only `.wav` members are read, so
archives that ship `flac/` add a speaker but no clip. `voxforge_all` is the opt-in variant that
also reads `.flac` (more clips than TFDS has).
"""

import logging
from pathlib import Path

from noss_eval.layout import clip_id
from noss_eval.splits import group_split
from noss_eval.task import Clip, Task, TfdsSpec

log = logging.getLogger(__name__)
LANGUAGES = ("de", "en", "es", "fr", "it", "ru")


def archives(root: Path) -> list[tuple[Path, str]]:
    """Every extracted archive folder and its language, sorted."""
    found = []
    for folder in sorted(p for p in root.glob("**/Trunk/Audio/Main/*/*") if p.is_dir()):
        language = folder.parents[4].name  # <lang>/Trunk/Audio/Main/<rate>/<archive>
        if language not in LANGUAGES:
            log.warning(
                "voxforge: skipped %s (language '%s' is not one of %s)",
                folder,
                language,
                ", ".join(LANGUAGES),
            )
            continue
        found.append((folder, language))
    return found


def archive_speaker(folder: Path) -> str:
    """TFDS: `archive_name.split('-')[0]` of the `.tgz` name the folder was extracted from."""
    return f"{folder.name}.tgz".split("-")[0]


def _read(root: Path, suffixes: tuple[str, ...]) -> list[Clip]:
    found = archives(root)
    split_of = group_split(archive_speaker(folder) for folder, _ in found)
    clips, skipped = [], 0
    for folder, language in found:
        speaker = archive_speaker(folder)
        for f in sorted(p for p in folder.rglob("*") if p.is_file() and p.name[0] != "."):
            if f.name.endswith(suffixes):
                clips.append(Clip(clip_id(root, f), f, language, split_of[speaker], speaker))
            elif f.suffix.lower() == ".flac":
                skipped += 1
    if skipped:
        log.warning(
            "voxforge: %d .flac files not read, as TFDS voxforge reads only .wav "
            "(--tasks voxforge_all reads them too)",
            skipped,
        )
    return clips


def read(root: Path) -> list[Clip]:
    return _read(root, (".wav",))


def read_all(root: Path) -> list[Clip]:
    return _read(root, (".wav", ".flac"))


LAYOUT = (
    "<lang>/Trunk/Audio/Main/16kHz_16bit/<archive>/wav/*.wav "
    "(the TFDS archive list, extracted in place)"
)
TASK = Task(
    name="voxforge",
    title="VoxForge language identification (6 languages)",
    dataset_dir="voxforge",
    labels=LANGUAGES,
    read=read,
    layout=LAYOUT,
    tfds=TfdsSpec("voxforge"),
    notes="speaker = archive name before the first '-'; 70/10/20 by speaker (as tfds voxforge)",
)
ALL_AUDIO_TASK = Task(
    name="voxforge_all",
    title="VoxForge language identification, .wav and .flac archives",
    dataset_dir="voxforge",
    labels=LANGUAGES,
    read=read_all,
    layout=LAYOUT + "; flac/*.flac archives too",
    notes="opt-in variant: also the .flac archives TFDS does not read; same speaker split",
    default=False,
    cache_group="voxforge",
)
