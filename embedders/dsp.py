"""A model-free baseline: statistics of the NOSS log-mel spectrogram; needs no model file."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from noss_eval.frontend import NOSS_LOGMEL, log_mel


class DspEmbedder:
    """One 256-d frame per clip: mean and std of the 64 log-mel bins and of their deltas.
    (`threads` is accepted for interface symmetry; numpy decides its own threading.)"""

    def __init__(self, name: str = "dsp", threads: int | None = None) -> None:
        self.name = name
        self.sample_rate = NOSS_LOGMEL.sample_rate
        self.calling_convention = "no model: mean and std of the NOSS log-mel and its deltas"
        self.settings: dict[str, Any] = {"kind": "dsp", "features": "logmel64-mean-std-delta-v1"}
        blob = json.dumps({**self.settings, "logmel": repr(NOSS_LOGMEL)}, sort_keys=True)
        self.model_sha256 = hashlib.sha256(blob.encode()).hexdigest()

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        mel = log_mel(waveform)
        delta = np.diff(mel, axis=0) if mel.shape[0] > 1 else np.zeros_like(mel)
        stats = [mel.mean(0), mel.std(0), delta.mean(0), delta.std(0)]
        return np.concatenate(stats)[None, :].astype(np.float32)
