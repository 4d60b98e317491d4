"""Where a task's clips and audio come from: the official on-disk layout, or a prepared TFDS
dataset. Either way the result is a `Dataset`: validated clips plus a stream of their audio."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from noss_eval.audio import load_audio, resample
from noss_eval.errors import AudioError, NossError
from noss_eval.survey import survey
from noss_eval.task import Clip, Task, validate_clips

log = logging.getLogger(__name__)
Decoded = np.ndarray | AudioError
AudioStream = Callable[[Sequence[Clip], int], Iterator[tuple[Clip, Decoded]]]
SOURCES = ("layout", "tfds")


@dataclass(frozen=True)
class Dataset:
    task: Task
    clips: list[Clip]
    stream: AudioStream  # (clips wanted, sample rate) -> (clip, waveform or the error) in order
    source: str
    cache_namespace: str
    _surveys: dict[float, str] = field(default_factory=dict, compare=False, repr=False)

    def audio_warnings(self, window_seconds: float) -> str:
        """The `audio_warnings` column for embedders with this window, surveyed once per
        window (a reference embedder with the same window reuses it); "" for TFDS data."""
        if self.source != "layout":
            return ""
        if window_seconds not in self._surveys:
            self._surveys[window_seconds] = survey(self.task.name, self.clips, window_seconds)
        return self._surveys[window_seconds]

    @cached_property
    def fingerprint(self) -> str:
        """A hash of the clips (ids, splits, labels, segment, file sizes): another copy of the
        data, or another split of it, gets another fingerprint."""
        digest = hashlib.sha256()
        for c in sorted(self.clips, key=lambda c: c.clip_id):
            try:
                size = c.path.stat().st_size
            except OSError:
                size = -1
            digest.update(f"{c.clip_id}\t{c.split}\t{c.label}\t{c.start}\t{size}\n".encode())
        return digest.hexdigest()[:16]


class DecodedMemo:
    """Decoded waveforms kept for the next embedder of a multi-embedder run (in this process),
    keyed by file, size, mtime, segment and rate; at most `budget` bytes, oldest dropped."""

    def __init__(self, budget: int = 1 << 30) -> None:
        self.budget, self.used = budget, 0
        self.items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.hits = 0

    def get(self, key: tuple) -> np.ndarray | None:
        found = self.items.get(key)
        self.hits += found is not None
        return found

    def put(self, key: tuple, waveform: np.ndarray) -> None:
        if waveform.nbytes > self.budget:
            return
        self.items[key] = waveform
        self.used += waveform.nbytes
        while self.used > self.budget:
            self.used -= self.items.popitem(last=False)[1].nbytes


def decode(clip: Clip, rate: int) -> Decoded:
    """The clip's waveform at `rate`, or the AudioError that says why it cannot be read."""
    try:
        return load_audio(clip.path, rate, clip.start, clip.duration)
    except AudioError as exc:
        return exc


@dataclass(frozen=True)
class FileStream:
    """An `AudioStream` of audio files decoded in this process. With a `memo`, a file decoded
    for one embedder is not decoded again for the next at the same rate (engines that read the
    files in worker processes or on Beam decode on their own)."""

    memo: DecodedMemo | None = None

    def __call__(self, clips: Sequence[Clip], rate: int) -> Iterator[tuple[Clip, Decoded]]:
        for clip in clips:
            yield clip, self.decode(clip, rate)

    def decode(self, clip: Clip, rate: int) -> Decoded:
        if self.memo is None:
            return decode(clip, rate)
        try:
            st = clip.path.stat()
        except OSError:
            return decode(clip, rate)
        key = (str(clip.path), st.st_size, st.st_mtime_ns, clip.start, clip.duration, rate)
        found = self.memo.get(key)
        if found is not None:
            return found
        waveform = decode(clip, rate)
        if not isinstance(waveform, AudioError):
            self.memo.put(key, waveform)
        return waveform


file_stream = FileStream()


def require_file_stream(stream: AudioStream, option: str) -> None:
    """Engines that read files in other processes cannot take a TFDS stream."""
    if not isinstance(stream, FileStream):
        raise NossError(f"{option} reads audio files itself; use it with --source layout")


def open_layout(task: Task, data_dir: Path, stream: FileStream = file_stream) -> Dataset | None:
    """The task read from `data_dir/<dataset_dir>`, or None (logged) when that folder is absent."""
    root = task.root or data_dir / task.dataset_dir
    if not root.is_dir():
        log.info("skip %s: no dataset at %s (put %s there)", task.name, root, task.layout)
        return None
    clips = task.read(root)
    validate_clips(task, clips)
    return Dataset(task, clips, stream, "layout", task.cache_namespace)


def open_tfds(task: Task, tfds_data_dir: Path) -> Dataset | None:
    """The task read through the real TFDS builder from prepared data (never downloads)."""
    if task.tfds is None:
        log.info("skip %s: TFDS has no builder for it; use --source layout", task.name)
        return None
    import tensorflow_datasets as tfds

    builder = tfds.builder(task.tfds.name, data_dir=str(tfds_data_dir))
    if not builder.is_prepared():
        log.info(
            "skip %s: TFDS dataset '%s' is not prepared under %s",
            task.name,
            task.tfds.name,
            tfds_data_dir,
        )
        return None
    stamp = Path(builder.data_dir) / "dataset_info.json"  # rewritten when the data is re-prepared
    label_feature, spec = builder.info.features["label"], task.tfds
    clips = []
    for split in (s for s in task.split_names if s in builder.info.splits):
        skip_audio = {"audio": tfds.decode.SkipDecoding()}
        for i, ex in enumerate(
            tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False, decoders=skip_audio))
        ):
            speaker = ex[spec.speaker_key].decode() if spec.speaker_key else None
            label = spec.label(label_feature.int2str(int(ex["label"])))
            clips.append(Clip(f"{split}/{i:08d}", stamp, label, split, speaker))
    validate_clips(task, clips)

    def stream(wanted: Sequence[Clip], rate: int) -> Iterator[tuple[Clip, Decoded]]:
        source_rate = builder.info.features["audio"].sample_rate
        by_id = {c.clip_id: c for c in wanted}
        for split in sorted({c.split for c in wanted}):
            dataset = builder.as_dataset(split=split, shuffle_files=False)
            for i, ex in enumerate(tfds.as_numpy(dataset)):
                clip = by_id.get(f"{split}/{i:08d}")
                if clip is not None:
                    yield clip, _tfds_waveform(ex["audio"], source_rate, rate, clip)

    return Dataset(task, clips, stream, "tfds", f"{task.cache_namespace}-tfds")


def _tfds_waveform(audio: np.ndarray, source_rate: int, rate: int, clip: Clip) -> Decoded:
    x = np.asarray(audio)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size == 0:
        return AudioError(f"tfds {clip.clip_id}: no samples")
    x = x.astype(np.float32) / 32768.0 if np.issubdtype(x.dtype, np.integer) else x
    return resample(x.astype(np.float32), source_rate, rate)


def open_dataset(
    task: Task,
    source: str,
    data_dir: Path | None,
    tfds_data_dir: Path | None,
    decoded: DecodedMemo | None = None,
) -> Dataset | None:
    """The task's `Dataset`; with `decoded`, layout audio is decoded through that memo."""
    if source == "layout":
        if data_dir is None and task.root is None:
            raise NossError("--data-dir is required with --source layout")
        return open_layout(task, data_dir, FileStream(decoded))
    if source == "tfds":
        if tfds_data_dir is None:
            raise NossError("--tfds-data-dir is required with --source tfds")
        return open_tfds(task, tfds_data_dir)
    raise NossError(f"--source: '{source}' is not one of {', '.join(SOURCES)}")
