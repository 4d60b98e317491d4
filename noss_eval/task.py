"""What a task is: a declarative definition plus the clips its reader finds on disk."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from noss_eval.errors import NossError

SPLITS = ("train", "validation", "test")
OFFICIAL = "official"  # the data status of clips that are exactly a task's official set
UNKNOWN = "no official counts"  # the data status of a task with no official set to check


@dataclass(frozen=True)
class Clip:
    """One labelled recording (or a segment of one, in seconds)."""

    clip_id: str
    path: Path
    label: str
    split: str  # "train" | "validation" | "test", or a fold name for cross-validated tasks
    speaker: str | None = None
    start: float = 0.0
    duration: float | None = None
    carved_from: str | None = None  # a validation clip taken out of this split (e.g. "train")


def _same(label: str) -> str:
    return label


@dataclass(frozen=True)
class TfdsSpec:
    """How the TFDS builder of the same dataset maps onto the task."""

    name: str
    speaker_key: str | None = "speaker_id"
    label: Callable[[str], str] = _same  # ClassLabel string -> task label


@dataclass(frozen=True)
class OfficialData:
    """What the complete official dataset holds, as its TFDS builder (or its distributor)
    documents it: a published number is comparable only on exactly this data."""

    clips: Mapping[str, int]  # per split (or fold), before any validation is carved from train
    classes: int
    speakers: int | None
    source: str  # where these counts are documented

    @property
    def total(self) -> int:
        return sum(self.clips.values())

    def compare(self, clips: Sequence[Clip], failed: int = 0) -> str:
        """ "" when `clips` (less `failed` unreadable ones) are the official set, else one
        phrase saying how they differ (for the row's `data` column)."""
        found = len(clips) - failed
        if found != self.total:
            return f"{found:,} of {self.total:,} official clips"
        splits = Counter(c.carved_from or c.split for c in clips)
        if dict(splits) != dict(self.clips):
            official = "/".join(f"{n:,}" for n in self.clips.values())
            return f"{found:,} clips, not the official splits ({official})"
        classes = len({c.label for c in clips})
        if classes != self.classes:
            return f"{classes} of {self.classes} official classes"
        speakers = {c.speaker for c in clips if c.speaker is not None}
        if self.speakers is not None and len(speakers) != self.speakers:
            return f"{len(speakers):,} of {self.speakers:,} official speakers"
        return ""


def _test_partition(clips: Sequence[Clip]) -> str:
    return "test"


@dataclass(frozen=True)
class Task:
    """A benchmark task. `read(root)` lists the clips of the dataset unpacked at `root`."""

    name: str
    title: str
    dataset_dir: str
    labels: tuple[str, ...]
    read: Callable[[Path], list[Clip]]
    layout: str  # what a user must put under --data-dir/<dataset_dir>, one line
    folds: tuple[str, ...] = ()  # non-empty: cross-validation over these folds
    headline: str = "accuracy"
    notes: str = ""
    tfds: TfdsSpec | None = None
    root: Path | None = None  # fixed location (custom tasks); else <data-dir>/<dataset_dir>
    default: bool = True  # False: a variant, run only when named in --tasks
    cache_group: str | None = None  # a variant shares its base task's cached embeddings
    official: OfficialData | None = None  # None: no official set (custom tasks)
    scored_partition: Callable[[Sequence[Clip]], str] = _test_partition  # what "test" is

    @property
    def split_names(self) -> tuple[str, ...]:
        return self.folds or SPLITS

    @property
    def cache_namespace(self) -> str:
        return self.cache_group or self.name

    def data_status(self, clips: Sequence[Clip], failed: int = 0) -> str:
        """OFFICIAL when `clips`, less `failed` unreadable ones, are the official set; else how
        they differ ("120 of 148,642 official clips"); UNKNOWN without official counts (custom
        tasks, and built-in ones whose counts are documented nowhere we could read)."""
        if self.official is None:
            return UNKNOWN
        return self.official.compare(clips, failed) or OFFICIAL

    def scored_on(self, clips: Sequence[Clip]) -> str:
        """The partition the test numbers come from, as the row's `scored_on` column says it."""
        if self.folds:
            return f"{len(self.folds)}-fold cross-validation"
        return self.scored_partition(clips)


def validate_clips(task: Task, clips: Sequence[Clip]) -> None:
    """Refuse a manifest that would give a wrong number: unknown labels or splits, empty splits,
    duplicate ids, or a speaker in two splits."""
    if not clips:
        raise NossError(f"{task.name}: the reader found no clips")
    known = set(task.labels)
    for clip in clips:
        if clip.label not in known:
            raise NossError(f"{clip.path}: label '{clip.label}' is not in {task.name}'s label set")
        if clip.split not in task.split_names:
            raise NossError(f"{clip.path}: split '{clip.split}' is not one of {task.split_names}")
    dupes = [cid for cid, n in Counter(c.clip_id for c in clips).items() if n > 1]
    if dupes:
        raise NossError(f"{task.name}: clip id '{dupes[0]}' appears more than once")
    present = {c.split for c in clips}
    missing = [s for s in task.split_names if s not in present]
    if missing:
        raise NossError(f"{task.name}: no clips in split(s) {', '.join(missing)}")
    assert_speaker_disjoint(task.name, clips)
    if task.folds and len(task.folds) < 2:
        raise NossError(f"{task.name}: cross-validation needs at least 2 folds, got {task.folds}")
    for split in task.folds or ("train",):
        labels = {c.label for c in clips if c.split == split}
        if len(labels) < 2:
            raise NossError(
                f"{task.name}: split '{split}' holds {len(labels)} class ({', '.join(labels)}); "
                "a probe needs at least 2"
            )


def assert_speaker_disjoint(task_name: str, clips: Sequence[Clip]) -> None:
    splits_of: dict[str, set[str]] = {}
    for clip in clips:
        if clip.speaker is not None:
            splits_of.setdefault(clip.speaker, set()).add(clip.split)
    for speaker, splits in sorted(splits_of.items()):
        if len(splits) > 1:
            raise NossError(
                f"{task_name}: speaker '{speaker}' appears in splits {', '.join(sorted(splits))}; "
                "splits must be speaker-disjoint"
            )
