"""Decode, mix down and resample: every file reaches an embedder as float32 mono in [-1, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from noss_eval.errors import AudioError

# Bump when decoding or resampling changes: it is part of every cache key.
PREPROCESSING_VERSION = "audio-v2:soundfile+soxr-vhq"
_PCM16_SCALE = np.float32(2.0**-15)


def read_audio(
    path: Path, start: float = 0.0, duration: float | None = None
) -> tuple[np.ndarray, int]:
    """Read `path` (wav/flac/ogg/mp3 via libsndfile) as float32 mono and its sample rate.

    Integer PCM is scaled to [-1, 1] by libsndfile. `start`/`duration` (seconds) cut a segment.
    """
    if not Path(path).exists():
        raise AudioError(f"{path}: no such file")
    try:
        with sf.SoundFile(str(path)) as f:  # opened once: `sf.info` + `sf.read` open it twice
            rate = f.samplerate
            first, end, _ = slice(int(round(start * rate)), None).indices(f.frames)
            if first:
                f.seek(first)
            frames = end - first if duration is None else int(round(duration * rate))
            pcm16 = f.subtype == "PCM_16"
            data = f.read(frames, dtype="int16" if pcm16 else "float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:
        raise AudioError(f"{path}: cannot decode audio ({_first_line(exc)})") from None
    if data.size == 0:
        raise AudioError(f"{path}: audio file holds no samples")
    if pcm16:  # libsndfile's own float32 scaling (x * 2**-15, exact), at a fraction of its cost
        data = np.multiply(data, _PCM16_SCALE, dtype=np.float32)
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    if not (pcm16 or np.all(np.isfinite(mono))):
        raise AudioError(f"{path}: audio holds NaN or infinite samples")
    return mono, int(rate)


def resample(waveform: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling with libsoxr at its very-high-quality setting."""
    if rate == target_rate:
        return waveform.astype(np.float32, copy=False)
    return soxr.resample(waveform.astype(np.float32, copy=False), rate, target_rate, quality="VHQ")


def load_audio(
    path: Path, target_rate: int, start: float = 0.0, duration: float | None = None
) -> np.ndarray:
    """Decoded, mono, resampled waveform of `path` at `target_rate`."""
    waveform, rate = read_audio(path, start, duration)
    return resample(waveform, rate, target_rate)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
