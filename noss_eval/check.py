"""`noss-eval check MODEL`, and the same check on one real clip before every run: the model
loads, takes what noss-eval feeds it, and gives finite `[frames, dim]` vectors, in how long."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from noss_eval.embedder import Embedder
from noss_eval.errors import NossError, no_exit


@dataclass(frozen=True)
class CheckReport:
    embedder: str
    kind: str
    sample_rate: int
    calling_convention: str
    seconds: float  # audio fed
    frames: int
    dim: int
    milliseconds: float  # one embed() call on that audio, after a warm-up call
    tensors: tuple[str, ...] = ()  # the model's inputs and outputs, where the kind knows them
    candidates: tuple[str, ...] = ()  # every tensor `--embedder-option output=` may name

    def describe(self) -> str:
        rtf = self.milliseconds / 1000.0 / self.seconds
        return "\n".join(
            [
                f"embedder:   {self.embedder} ({self.kind}) at {self.sample_rate} Hz",
                *(f"tensor:     {t}" for t in self.tensors),
                *(f"candidate:  {t}" for t in self.candidates),
                f"calling:    {self.calling_convention}",
                f"output:     {self.frames} frames x {self.dim} dims for {self.seconds:.2f} s "
                "of audio (mean-pooled over frames), all finite",
                f"time:       {self.milliseconds:.1f} ms per call ({rtf:.3f} x real time)",
            ]
        )


def probe_audio(sample_rate: int, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Speech-like test audio: a gliding harmonic tone in light noise, at [-0.5, 0.5]."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    f0 = 120.0 + 40.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    x = sum(0.5**h * np.sin((h + 1) * phase) for h in range(6))
    x = x + 0.02 * np.random.RandomState(seed).randn(t.size)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def check_embedder(
    embedder: Embedder, waveform: np.ndarray | None = None, where: str = "generated audio"
) -> CheckReport:
    """Embed `waveform` (default: 2 s of generated audio) twice, check the output, time it."""
    x = probe_audio(embedder.sample_rate) if waveform is None else waveform
    try:
        with no_exit(embedder.name):
            embedder.embed(x)  # warm-up: allocation, graph tracing
            start = time.perf_counter()
            out = np.asarray(embedder.embed(x))
            elapsed = time.perf_counter() - start
    except NossError:
        raise
    except Exception as exc:
        raise NossError(
            f"{embedder.name}: failed on {where} ({type(exc).__name__}: {exc}); "
            "run `noss-eval check` on the model for details"
        ) from None
    if out.ndim != 2 or 0 in out.shape:
        raise NossError(
            f"{embedder.name}: gave an array of shape {list(out.shape)} on {where}; an embedder "
            "must give [frames, dim] (pick another output with --embedder-option output=...)"
        )
    if not np.all(np.isfinite(out)):
        raise NossError(
            f"{embedder.name}: gave NaN or infinite values on {where}; check the input scaling "
            "(--embedder-option input_gain=...) and the output tensor"
        )
    return CheckReport(
        embedder=embedder.name,
        kind=str(embedder.settings.get("kind", type(embedder).__name__)),
        sample_rate=embedder.sample_rate,
        calling_convention=getattr(embedder, "calling_convention", "embed(waveform)"),
        seconds=len(x) / embedder.sample_rate,
        frames=int(out.shape[0]),
        dim=int(out.shape[1]),
        milliseconds=1000.0 * elapsed,
        tensors=tuple(getattr(embedder, "tensors", ())),
        candidates=tuple(getattr(embedder, "candidate_outputs", list)()),
    )
