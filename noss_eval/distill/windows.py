"""Audio folders -> NOSS windows: the student's input (96x64 log-mel) and the teacher's target
(its embedding of the same 0.975 s of audio), both for every window of every file but silence.

Window `w` of a file covers log-mel frames `[17 w, 17 w + 96)` of `noss_eval.frontend`, i.e.
audio samples `[2720 w, 2720 w + 15600)` at 16 kHz (files shorter than 1 s are zero-padded to
1 s first, as the frontend does). The teacher sees exactly that audio, resampled to its own rate,
and its `[frames, dim]` output is time-averaged by the extraction engine. Targets are computed
once through `noss_eval.extract` and cached under the teacher's fingerprint: each window is a
`Clip` whose id is the file's absolute path plus `#w`, and whose cache key includes the file's
size and mtime, so a re-run (or a killed run) recomputes nothing that is already there.

Silent windows (peak below the grid's `data.silence_dbfs`, -45 dBFS by default) are left out
before the teacher runs: a teacher's answer to silence can lie far from everything else. YAMNet's
embedding of a window of digital silence, or of one peaking below about -47 dBFS, is ~500x
farther from the mean (squared distance) than a typical window's: on FSDD + Hedgewars 1 % of the
windows held 69 % of the targets' variance. Under MSE the students spent themselves on those
windows: on FSDD speaker id an a0.25 student scored 73 % with them and 92 % without (same audio
and seed; 76 % at random init). Speech at any usable level peaks far above -45 dBFS. A teacher
with another such cliff is caught by `outlier_share`, which `add_targets` reports.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noss_eval.audio import load_audio, resample
from noss_eval.cache import EmbeddingCache
from noss_eval.embedder import Embedder
from noss_eval.errors import AudioError, NossError
from noss_eval.extract import extract
from noss_eval.frontend import NOSS_LOGMEL, log_mel_windows
from noss_eval.sources import Decoded
from noss_eval.task import Clip

log = logging.getLogger(__name__)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
RATE = NOSS_LOGMEL.sample_rate
HOP_SAMPLES = NOSS_LOGMEL.window_hop_frames * NOSS_LOGMEL.frame_step  # 2720
WINDOW_SAMPLES = (NOSS_LOGMEL.frames_per_window - 1) * NOSS_LOGMEL.frame_step + (
    NOSS_LOGMEL.frame_length
)  # 15600: 0.975 s
CACHE_NAMESPACE = "distill-windows-v1"  # bump when the window definition changes
OUTLIER_SHARE = 0.2  # warn when the 1 % farthest targets hold more of their variance than this
OUTLIER_MIN_WINDOWS = 200  # below this "1 %" is one or two windows: the share says nothing


@dataclass
class Windows:
    """Every window of the files that could be read that is not silence: inputs
    `[n, 96, 64, 1]`, targets `[n, dim]`, the index of the file each window came from and its
    window number in that file; and how many windows were left out as silence."""

    files: list[Path]
    inputs: np.ndarray
    targets: np.ndarray
    file_index: np.ndarray
    window_index: np.ndarray
    failed: list[str]
    silent: int = 0

    def subset(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.inputs[mask], self.targets[mask]

    def of_file(self, i: int) -> np.ndarray:
        """The window numbers kept from file `i`, in order."""
        return self.window_index[self.file_index == i]


def list_audio(dirs: Sequence[Path]) -> list[Path]:
    """Audio files below each folder (recursively; hidden and macOS `._*` files skipped)."""
    files: list[Path] = []
    for d in dirs:
        d = Path(d).expanduser()
        if not d.is_dir():
            raise NossError(f"--audio: no such folder: {d}")
        found = sorted(
            p.resolve()
            for p in d.rglob("*")
            if p.suffix.lower() in AUDIO_SUFFIXES
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(d).parts)
        )
        if not found:
            raise NossError(
                f"--audio: {d} holds no audio file ({', '.join(AUDIO_SUFFIXES)}); "
                "give a folder of recordings"
            )
        files += found
    return list(dict.fromkeys(files))


def pick_files(files: list[Path], max_files: int | None, seed: int) -> list[Path]:
    """At most `max_files`, chosen by a seeded shuffle (all of them, in order, without a cap)."""
    if max_files is None or len(files) <= max_files:
        return files
    order = np.random.RandomState(seed).permutation(len(files))[:max_files]
    return [files[i] for i in sorted(order)]


def split_files(n_files: int, holdout: float, seed: int) -> np.ndarray:
    """Boolean mask over files: True = held out (a seeded `holdout` fraction, at least one)."""
    if n_files < 2:
        raise NossError("--audio: need at least 2 readable files (one is held out)")
    n_held = min(n_files - 1, max(1, int(round(holdout * n_files))))
    held = np.zeros(n_files, bool)
    held[np.random.RandomState(seed + 1).permutation(n_files)[:n_held]] = True
    return held


def padded(waveform: np.ndarray) -> np.ndarray:
    if waveform.size < NOSS_LOGMEL.min_samples:
        return np.pad(waveform, (0, NOSS_LOGMEL.min_samples - waveform.size))
    return waveform


def window_audio(waveform: np.ndarray, w: int) -> np.ndarray:
    """The 0.975 s of (padded) 16 kHz audio that log-mel window `w` is computed from."""
    x = padded(waveform)
    return x[w * HOP_SAMPLES : w * HOP_SAMPLES + WINDOW_SAMPLES]


def window_peaks_dbfs(waveform: np.ndarray, n_windows: int) -> np.ndarray:
    """Peak level (dBFS, -inf for digital silence) of each window's 0.975 s of audio."""
    x = np.abs(padded(waveform))
    peaks = np.array([window_audio(x, w).max() for w in range(n_windows)])
    with np.errstate(divide="ignore"):
        return 20 * np.log10(peaks)


def outlier_share(targets: np.ndarray) -> float:
    """The share of the targets' total variance (sum of squared distances to their mean) held
    by the 1 % of windows farthest from the mean: about 0.01-0.05 for well-spread targets."""
    distance = np.sum((targets - targets.mean(axis=0)) ** 2, axis=1)
    top = np.sort(distance)[::-1][: max(1, len(distance) // 100)]
    total = float(distance.sum())
    return float(top.sum()) / total if total > 0 else 0.0


def outlier_warning(targets: np.ndarray) -> str | None:
    """What to tell the user when a few windows' targets hold most of the variance."""
    if len(targets) < OUTLIER_MIN_WINDOWS:
        return None
    share = outlier_share(targets)
    if share <= OUTLIER_SHARE:
        return None
    return (
        f"teacher targets: the 1 % farthest windows hold {100 * share:.0f} % of their "
        "variance, so they dominate the students' MSE; if they are quiet windows, set or "
        "raise data.silence_dbfs in the grid file"
    )


def window_stream(clips: Sequence[Clip], rate: int) -> Iterator[tuple[Clip, Decoded]]:
    """The engine's audio stream for window clips: each file decoded once (clips of one file
    are consecutive), the window cut at 16 kHz and resampled to the teacher's `rate`."""
    current: tuple[Path | None, Decoded | None] = (None, None)
    for clip in clips:
        if current[0] != clip.path:
            try:
                current = (clip.path, load_audio(clip.path, RATE))
            except AudioError as exc:
                current = (clip.path, exc)
        audio = current[1]
        if isinstance(audio, AudioError):
            yield clip, audio
            continue
        w = int(clip.clip_id.rsplit("#", 1)[1])
        yield clip, resample(window_audio(audio, w), RATE, rate)


@dataclass
class Gated:
    """Per file: its log-mel windows `[F, 96, 64, 1]` and the numbers of those that are not
    silence (both None if the file could not be read); and the read errors. What the silence
    gate leaves is known here, before the teacher runs."""

    files: list[Path]
    inputs: list[np.ndarray | None]
    kept: list[np.ndarray | None]
    failed: list[str]

    @property
    def silent(self) -> int:
        pairs = zip(self.inputs, self.kept, strict=True)
        return sum(len(x) - len(k) for x, k in pairs if k is not None)

    def file_index(self) -> np.ndarray:
        """The file of each kept window, in order."""
        sizes = [0 if k is None else len(k) for k in self.kept]
        return np.repeat(np.arange(len(self.files)), sizes)

    def clips(self) -> list[Clip]:
        return [
            Clip(f"{path}#{w}", path, "", "all")
            for path, keep in zip(self.files, self.kept, strict=True)
            if keep is not None
            for w in keep
        ]


def gate_windows(files: list[Path], silence_dbfs: float | None, progress: bool = True) -> Gated:
    """Log-mel windows of every file, with those whose peak is below `silence_dbfs` (None:
    none) marked to be left out; an error if no file can be read or every window is silence."""
    from noss_eval.progress import track

    gated = Gated(files, [], [], [])
    for path in track(files, len(files), "distill: log-mel", "file", progress):
        try:
            audio = load_audio(path, RATE)
        except AudioError as exc:
            log.warning("unreadable audio skipped: %s", exc)
            gated.failed.append(str(exc))
            gated.inputs.append(None)
            gated.kept.append(None)
            continue
        wins = log_mel_windows(audio)
        keep = np.arange(len(wins))
        if silence_dbfs is not None:
            keep = keep[window_peaks_dbfs(audio, len(wins)) >= silence_dbfs]
        gated.inputs.append(wins)
        gated.kept.append(keep)
    if all(k is None for k in gated.kept):
        raise NossError("--audio: no file could be read")
    if gated.silent:
        log.info(
            "distill: %d silent windows (peak below %g dBFS) left out", gated.silent, silence_dbfs
        )
    if not gated.file_index().size:
        raise NossError(
            f"--audio: every window is silence (peak below {silence_dbfs:g} dBFS); "
            "give louder audio or lower data.silence_dbfs in the grid file"
        )
    return gated


def add_targets(
    gated: Gated, teacher: Embedder, cache: EmbeddingCache, progress: bool = True,
    flush_seconds: float = 30.0,
) -> Windows:  # fmt: skip
    """The teacher's target for every window the gate kept (computed once, then cached)."""
    clips = gated.clips()
    ex = extract(
        teacher,
        CACHE_NAMESPACE,
        clips,
        cache,
        stream=window_stream,
        progress=progress,
        flush_seconds=flush_seconds,
    )
    log.info(
        "teacher %s: %d windows of %d files; cache hits %d, computed %d",
        teacher.name,
        len(clips),
        sum(k is not None for k in gated.kept),
        ex.cache_hits,
        ex.computed,
    )
    targets = dict(zip((c.clip_id for c in ex.clips), ex.embeddings, strict=True))
    inputs, tgt, index, number = [], [], [], []
    for i, (path, wins, keep) in enumerate(zip(gated.files, gated.inputs, gated.kept, strict=True)):
        for w in () if keep is None else keep:
            vector = targets.get(f"{path}#{w}")
            if vector is not None:
                inputs.append(wins[w])
                tgt.append(vector)
                index.append(i)
                number.append(w)
    targets_array = np.stack(tgt).astype(np.float32, copy=False)
    warning = outlier_warning(targets_array)
    if warning:
        log.warning("%s", warning)
    return Windows(
        gated.files,
        np.stack(inputs).astype(np.float32, copy=False),
        targets_array,
        np.asarray(index),
        np.asarray(number),
        gated.failed + [msg for _, msg in ex.failed],
        gated.silent,
    )


def build_windows(
    files: list[Path],
    teacher: Embedder,
    cache: EmbeddingCache,
    silence_dbfs: float | None,
    progress: bool = True,
    flush_seconds: float = 30.0,
) -> Windows:
    """Student inputs and teacher targets for every window of `files` whose peak reaches
    `silence_dbfs` (None: every window)."""
    gated = gate_windows(files, silence_dbfs, progress)
    return add_targets(gated, teacher, cache, progress, flush_seconds)
