"""The NOSS log-mel frontend that `frill-nofrontend` and similar models expect as input.

As upstream `non_semantic_speech_benchmark/export_model/tf_frontend.py`
(`compute_frontend_features`): audio shorter than 1 s is zero-padded to 16,000 samples, then a
25 ms / 10 ms magnitude STFT (512-point FFT, periodic Hann), 64 HTK mel bins from 125 to 7500 Hz,
`log(max(mel, 1e-12) + 0.001)`, cut into 96-frame windows with a 17-frame hop -> `[F, 96, 64, 1]`.
Upstream computes in float64, this in float32 (tested against a re-typed upstream, to 2e-3). The
mel matrix reproduces `tf.signal.linear_to_mel_weight_matrix` (tested against it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class LogMelConfig:
    sample_rate: int = 16000
    window_s: float = 0.025
    hop_s: float = 0.010
    num_mel_bins: int = 64
    lower_hz: float = 125.0
    upper_hz: float = 7500.0
    log_offset: float = 0.001
    log_floor: float = 1e-12
    min_seconds: float = 1.0  # shorter audio is zero-padded to this length before framing
    frames_per_window: int = 96
    window_hop_frames: int = 17

    @property
    def frame_length(self) -> int:
        return int(round(self.sample_rate * self.window_s))

    @property
    def frame_step(self) -> int:
        return int(round(self.sample_rate * self.hop_s))

    @property
    def min_samples(self) -> int:
        return int(round(self.sample_rate * self.min_seconds))

    @property
    def fft_length(self) -> int:
        return 1 << (self.frame_length - 1).bit_length()


NOSS_LOGMEL = LogMelConfig()
# Part of the fingerprint of every embedder fed by this frontend: bump when its output changes.
LOGMEL_VERSION = "noss-logmel-v2"


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(hz / 700.0)


@lru_cache(maxsize=8)
def mel_matrix(cfg: LogMelConfig) -> np.ndarray:
    """`[fft_length // 2 + 1, num_mel_bins]` triangular HTK-mel weights, DC row zero."""
    n_bins = cfg.fft_length // 2 + 1
    linear_mel = _hz_to_mel(np.linspace(0.0, cfg.sample_rate / 2.0, n_bins)[1:])[:, None]
    edges = np.linspace(
        _hz_to_mel(np.float64(cfg.lower_hz)),
        _hz_to_mel(np.float64(cfg.upper_hz)),
        cfg.num_mel_bins + 2,
    )
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (linear_mel - lower) / (center - lower)
    falling = (upper - linear_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.vstack([np.zeros((1, cfg.num_mel_bins)), weights]).astype(np.float32)


@lru_cache(maxsize=8)
def _hann(length: int) -> np.ndarray:
    """Periodic Hann window, as `tf.signal.hann_window`."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)).astype(np.float32)


def log_mel(waveform: np.ndarray, cfg: LogMelConfig = NOSS_LOGMEL) -> np.ndarray:
    """`[frames, num_mel_bins]` log-mel spectrogram of a 1-D waveform at `cfg.sample_rate`."""
    x = np.asarray(waveform, dtype=np.float32)
    if x.size < cfg.frame_length:
        x = np.pad(x, (0, cfg.frame_length - x.size))
    frames = sliding_window_view(x, cfg.frame_length)[:: cfg.frame_step]
    padded, magnitude, mel = _scratch(len(frames), cfg)
    np.multiply(frames, _hann(cfg.frame_length), out=padded[:, : cfg.frame_length])
    np.abs(scipy.fft.rfft(padded, axis=1), out=magnitude)
    np.matmul(magnitude, mel_matrix(cfg), out=mel)
    np.maximum(mel, np.float32(cfg.log_floor), out=mel)
    return np.log(mel + np.float32(cfg.log_offset))


_SCRATCH_FRAMES = 3000  # 30 s: longer clips get fresh arrays, shorter reuse 10 MB at most
_scratch_space = threading.local()


def _scratch(frames: int, cfg: LogMelConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's work arrays for `frames` frames: zero-padded FFT-length rows (only their
    first `frame_length` columns are ever written), magnitudes, mel energies. Fresh arrays of
    this size come from the kernel page by page on some allocator paths (glibc hands the main
    thread's freed heap back and faults it in again): 2-3x the whole log-mel's time. `rfft(n=...)`
    would also pad in a copy of its own. Same bits either way (tested)."""
    widths = (cfg.fft_length, cfg.fft_length // 2 + 1, cfg.num_mel_bins)
    if frames > _SCRATCH_FRAMES:
        padded, magnitude, mel = (np.zeros((frames, n), np.float32) for n in widths)
        return padded, magnitude, mel
    key = (widths, cfg.frame_length)
    kept = getattr(_scratch_space, "arrays", {}).get(key)
    if kept is None or len(kept[0]) < frames:
        kept = tuple(np.zeros((max(frames, 300), n), np.float32) for n in widths)
        _scratch_space.arrays = {key: kept}
    return kept[0][:frames], kept[1][:frames], kept[2][:frames]


def log_mel_windows(waveform: np.ndarray, cfg: LogMelConfig = NOSS_LOGMEL) -> np.ndarray:
    """`[F, frames_per_window, num_mel_bins, 1]` model input. Audio shorter than
    `cfg.min_seconds` is zero-padded first (the *audio*, as upstream, not the log-mel frames)."""
    x = np.asarray(waveform, dtype=np.float32)
    if x.size < cfg.min_samples:
        x = np.pad(x, (0, cfg.min_samples - x.size))
    mel = log_mel(x, cfg)
    size, hop = cfg.frames_per_window, cfg.window_hop_frames
    if mel.shape[0] < size:
        raise ValueError(f"{cfg} gives {mel.shape[0]} frames for {cfg.min_seconds} s, need {size}")
    starts = range(0, mel.shape[0] - size + 1, hop)
    return np.stack([mel[s : s + size] for s in starts])[..., None]


def tf_log_mel_windows(audio, cfg: LogMelConfig = NOSS_LOGMEL):
    """The same frontend in TensorFlow ops, for building models that take audio: `[n]` ->
    `[F, 96, 64, 1]`. Converts to TFLite builtin ops only (STFT becomes RFFT2D)."""
    import tensorflow as tf

    audio = tf.pad(audio, [[0, tf.maximum(0, cfg.min_samples - tf.size(audio))]])
    stft = tf.signal.stft(audio, cfg.frame_length, cfg.frame_step, cfg.fft_length)
    mel = tf.maximum(tf.matmul(tf.abs(stft), tf.constant(mel_matrix(cfg))), cfg.log_floor)
    windows = tf.signal.frame(
        tf.math.log(mel + cfg.log_offset), cfg.frames_per_window, cfg.window_hop_frames, axis=0
    )
    return tf.expand_dims(windows, -1)
