"""Audio folders -> NOSS windows: the student's input (96x64 log-mel) and the teacher's target
(its embedding of the same 0.975 s of audio), both for every window of every file.

Window `w` of a file covers log-mel frames `[17 w, 17 w + 96)` of `noss_eval.frontend`, i.e.
audio samples `[2720 w, 2720 w + 15600)` at 16 kHz (files shorter than 1 s are zero-padded to
1 s first, as the frontend does). The teacher sees exactly that audio, resampled to its own rate,
and its `[frames, dim]` output is time-averaged by the extraction engine. Targets are computed
once through `noss_eval.extract` and cached under the teacher's fingerprint: each window is a
`Clip` whose id is the file's absolute path plus `#w`, and whose cache key includes the file's
size and mtime, so a re-run (or a killed run) recomputes nothing that is already there.
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


@dataclass
class Windows:
    """Every window of the files that could be read: inputs `[n, 96, 64, 1]`, targets
    `[n, dim]`, and the index of the file each window came from."""

    files: list[Path]
    inputs: np.ndarray
    targets: np.ndarray
    file_index: np.ndarray
    failed: list[str]

    def subset(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.inputs[mask], self.targets[mask]


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


def student_inputs(files: list[Path], progress: bool) -> tuple[list, list[str]]:
    """Per file: its log-mel windows `[F, 96, 64, 1]` (or None if unreadable); and the errors."""
    from noss_eval.progress import track

    out, failed = [], []
    for path in track(files, len(files), "distill: log-mel", "file", progress):
        try:
            out.append(log_mel_windows(load_audio(path, RATE)))
        except AudioError as exc:
            log.warning("unreadable audio skipped: %s", exc)
            failed.append(str(exc))
            out.append(None)
    return out, failed


def build_windows(
    files: list[Path],
    teacher: Embedder,
    cache: EmbeddingCache,
    progress: bool = True,
    flush_seconds: float = 30.0,
) -> Windows:
    """Student inputs and teacher targets for every window of `files`."""
    per_file, failed = student_inputs(files, progress)
    clips = [
        Clip(f"{path}#{w}", path, "", "all")
        for path, wins in zip(files, per_file, strict=True)
        if wins is not None
        for w in range(len(wins))
    ]
    if not clips:
        raise NossError("--audio: no file could be read")
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
        sum(w is not None for w in per_file),
        ex.cache_hits,
        ex.computed,
    )
    targets = dict(zip((c.clip_id for c in ex.clips), ex.embeddings, strict=True))
    inputs, tgt, index = [], [], []
    for i, (path, wins) in enumerate(zip(files, per_file, strict=True)):
        for w in range(0 if wins is None else len(wins)):
            vector = targets.get(f"{path}#{w}")
            if vector is not None:
                inputs.append(wins[w])
                tgt.append(vector)
                index.append(i)
    return Windows(
        files,
        np.stack(inputs).astype(np.float32),
        np.stack(tgt).astype(np.float32),
        np.asarray(index),
        failed + [msg for _, msg in ex.failed],
    )
