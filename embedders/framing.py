"""The runtime-agnostic core of every model-file kind (`tflite`, `onnx`): options, signature
checks on generic tensor descriptions, input preparation (gain, NOSS log-mel frontend, framing
into windows), inference over the adapter's `_run(batch) -> array`, and batching several clips'
windows into shared calls. An adapter opens the model, describes its tensors as `Tensor`s, calls
`_configure`, and implements `_run`; everything else (and so every output) is decided here.

Dynamic-length inputs (`[1, -1]`) get the whole clip, zero-padded to `min_seconds`; fixed-length
inputs (YAMNet's `[1, 15600]`) get windows stepped by `hop` of a window, the last one ending at the
clip's end, whose outputs are stacked as frames; `frontend=noss-logmel` feeds `[F, 96, 64, 1]`.
An input fed audio that does not look like audio (`audio_doubts`: an integer scale that cannot
hold it, a window shorter than `MIN_WINDOW_S`) is refused unless the user says `input=audio`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from noss_eval.embedder import sha256_file
from noss_eval.errors import NossError
from noss_eval.frontend import LOGMEL_VERSION, log_mel_windows

log = logging.getLogger(__name__)
BATCH_WINDOWS = 32  # windows per call when clips share calls (see `infer_many`)
MIN_WINDOW_S = 0.2  # a fixed window shorter than this is not a speech embedding's input


@dataclass(frozen=True)
class Tensor:
    """A model input or output as the runtime reports it; -1 marks a dynamic dimension."""

    name: str
    shape: tuple[int, ...]
    dtype: str = ""  # numpy dtype name; "" where the runtime does not say
    scale: float = 0.0  # of an integer tensor: real value = (q - zero_point) * scale
    zero_point: int = 0

    def line(self, role: str) -> str:
        quantised = f" (scale {self.scale:.3g}, zero point {self.zero_point})" if self.scale else ""
        dtype = f" {self.dtype}{quantised}" if self.dtype else ""
        return f"{role} '{self.name}' {list(self.shape)}{dtype}"


@dataclass(frozen=True)
class StackedWindows:
    """Several clips' model windows, stacked into whole calls; `counts`: each clip's windows."""

    batch: np.ndarray
    counts: tuple[int, ...]


class FramedEmbedder:
    """Base of the model-file kinds. `kind` names the kind in settings and messages."""

    kind = "model"

    def __init__(
        self,
        path: str | Path,
        name: str | None,
        sample_rate: int,
        output: int | str,
        hop: float,
        input_gain: float,
        frontend: str | None,
        min_seconds: float,
        input: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        self.sample_rate = int(sample_rate)
        self.model_sha256 = sha256_file(self.path)
        if frontend not in (None, "noss-logmel"):
            raise NossError(f"--embedder-option frontend: unknown frontend '{frontend}'")
        if input not in (None, "audio"):
            raise NossError(
                f"--embedder-option input: unknown convention '{input}'; give input=audio for a "
                "model that takes audio (or frontend=noss-logmel for one that takes NOSS log-mel)"
            )
        if input and frontend:
            raise NossError(
                "--embedder-option input=audio: contradicts frontend=noss-logmel (which feeds "
                "NOSS log-mel windows); give one of them"
            )
        if not 0 < hop <= 1:
            raise NossError(f"--embedder-option hop: must be in (0, 1], got {hop}")
        self.settings: dict[str, Any] = {
            "kind": self.kind,
            "output": output,
            "hop": hop,
            "input_gain": input_gain,
            "frontend": frontend and f"{frontend}:{LOGMEL_VERSION}",
            "min_seconds": min_seconds,
        }
        self._requested_output = output
        self._hop, self._gain, self._frontend = hop, input_gain, frontend
        self._stated_input = input
        self._min_samples = int(round(min_seconds * self.sample_rate))

    def _configure(
        self, inputs: list[Tensor], used: Tensor, outputs: list[Tensor], how: str = ""
    ) -> None:
        """Check the signature and describe the tensors. `outputs`: the model's own outputs;
        `how`: how `used` is read when it is not one of them (an intermediate tensor)."""
        self.calling_convention = check_signature(
            self.path, inputs, used, self._frontend, self._hop
        )
        if not self._frontend:
            doubts = audio_doubts(self.path, inputs[0], self.sample_rate, self._gain)
            if doubts and self._stated_input != "audio":
                raise NossError(
                    f"{self.path}: {inputs[0].line('input')} does not look like audio: "
                    f"{'; '.join(doubts)}; if it does take audio, say so with "
                    "--embedder-option input=audio"
                )
            if doubts:
                self.calling_convention += "; fed as audio (input=audio)"
        if self._requested_output == 0 and len(outputs) > 1:
            log.warning(
                "%s: %d outputs, using output 0 '%s' %s (YAMNet-like models put class scores "
                "there); choose with --embedder-option output=NAME|INDEX",
                self.path.name,
                len(outputs),
                used.name,
                list(used.shape),
            )
        self.settings["output_tensor"] = used.name
        self.tensors = [t.line("input ") for t in inputs] + [
            t.line("output") + ("  <- used" if t.name == used.name else "") for t in outputs
        ]
        if used.name not in {t.name for t in outputs}:
            self.tensors.append(f"tensor '{used.name}' {list(used.shape)}  <- used ({how})")
        self._shape = inputs[0].shape
        self._outputs = outputs

    def candidate_outputs(self) -> list[str]:
        """Every tensor `output=NAME` may name, one line each: here the model's outputs."""
        return [describe_candidate(t, f"output {i}") for i, t in enumerate(self._outputs)]

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """The model's output for one model-shaped float32 input (the adapter's runtime)."""
        raise NotImplementedError

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def window_seconds(self) -> float:
        """The audio one model window covers; shorter clips are padded."""
        if self._frontend or self._shape[-1] == -1:
            return self._min_samples / self.sample_rate
        return self._shape[-1] / self.sample_rate

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        return self.infer(self.prepare(waveform))

    def prepare(self, waveform: np.ndarray) -> list[np.ndarray]:
        """Model-shaped inputs for one clip (gain, frontend, framing): no runtime needed,
        so it can run on another thread while `infer` works on the previous clip."""
        return list(self._batches(waveform * self._gain if self._gain != 1 else waveform))

    def infer(self, batches: list[np.ndarray]) -> np.ndarray:
        outputs = [self._run(batch) for batch in batches]
        return np.concatenate([o.reshape(-1, o.shape[-1]) for o in outputs]).astype(np.float32)

    @property
    def batch_windows(self) -> int:
        """Windows per call when several clips' windows can share one (the input has a
        dynamic batch dimension and noss-eval frames the audio); 0 when they cannot."""
        windowed = self._frontend or self._shape[-1] != -1
        return BATCH_WINDOWS if windowed and self._shape[0] == -1 else 0

    def infer_many(self, prepared: list[list[np.ndarray]]) -> list[np.ndarray]:
        """`infer` for several clips at once (`stack_windows`, then `infer_stacked`). Equal to
        `infer` per clip to float32 rounding (kernels may block a batch differently)."""
        return self.infer_stacked(self.stack_windows(prepared))

    def stack_windows(self, prepared: list[list[np.ndarray]]) -> StackedWindows:
        """Several clips' windows in one array of whole `batch_windows` calls, the last one
        zero-padded (so the runtime keeps one input shape and never re-allocates). No runtime
        needed: the engine does it on the decode thread."""
        size = self.batch_windows
        counts = tuple(sum(len(b) for b in batches) for batches in prepared)
        n = sum(counts)
        first = prepared[0][0]
        stacked = np.zeros((n + -n % size, *first.shape[1:]), np.float32)
        row = 0
        for batches in prepared:
            for batch in batches:
                stacked[row : row + len(batch)] = batch
                row += len(batch)
        return StackedWindows(stacked, counts)

    def infer_stacked(self, windows: StackedWindows) -> list[np.ndarray]:
        """Each clip's frames from its stacked windows, `batch_windows` per call; the padding's
        outputs dropped."""
        size = self.batch_windows
        batch = windows.batch
        outputs = [self._run(batch[i : i + size]) for i in range(0, len(batch), size)]
        out = np.concatenate([o.reshape(size, -1, o.shape[-1]) for o in outputs])
        ends = np.cumsum(windows.counts)
        return [
            frames.reshape(-1, frames.shape[-1]).astype(np.float32)
            for frames in np.split(out[: ends[-1]], ends[:-1])
        ]

    def _batches(self, x: np.ndarray) -> Iterator[np.ndarray]:
        """Model-shaped input arrays for one clip."""
        batch_is_dynamic = self._shape[0] == -1
        if self._frontend:
            windows = log_mel_windows(x)
        elif self._shape[-1] == -1:
            if x.size < self._min_samples:
                x = np.pad(x, (0, self._min_samples - x.size))
            yield x[None, :].astype(np.float32)
            return
        else:
            windows = frame(x, self._shape[-1], max(1, int(self._shape[-1] * self._hop)))
            windows = windows.reshape((len(windows), *self._shape[1:]))
        if batch_is_dynamic:
            yield windows
        else:
            yield from (w[None] for w in windows)


def check_signature(
    path: Path, inputs: list[Tensor], output: Tensor, frontend: str | None, hop: float
) -> str:
    """How noss-eval will feed the model, or a one-line refusal naming the tensor it cannot feed
    (a second input would silently never be set; other ranks would fail deep in the runtime)."""
    if len(inputs) != 1:
        extra = inputs[1]
        raise NossError(
            f"{path}: has {len(inputs)} inputs; noss-eval feeds one (audio or NOSS log-mel), so "
            f"input '{extra.name}' {list(extra.shape)} would never be set"
        )
    name, shape = inputs[0].name, list(inputs[0].shape)
    if frontend:
        if len(shape) != 4 or shape[1:] != [96, 64, 1] or shape[0] not in (1, -1):
            raise NossError(
                f"{path}: input '{name}' is {shape}, not NOSS log-mel windows [F, 96, 64, 1] "
                "(frontend=noss-logmel)"
            )
        convention = "NOSS log-mel windows [F, 96, 64, 1]" + (
            ", one window per call" if shape[0] == 1 else ", all windows in one call"
        )
    elif len(shape) != 2 or shape[0] not in (1, -1) or not (shape[1] == -1 or shape[1] > 0):
        raise NossError(
            f"{path}: input '{name}' is {shape}; noss-eval feeds audio as [1, samples] "
            "(or NOSS log-mel windows [F, 96, 64, 1] with --embedder-option frontend=noss-logmel)"
        )
    elif shape[1] == -1:
        convention = "whole clip as audio [1, n] (resized per clip)"
    else:
        convention = f"audio windows of {shape[1]} samples, hop {max(1, int(shape[1] * hop))}"
    out_shape = list(output.shape)
    if not out_shape or out_shape[-1] == 0:
        raise NossError(
            f"{path}: output '{output.name}' is {out_shape or 'a scalar'}, not [..., dim]; "
            "pick another with --embedder-option output=NAME|INDEX"
        )
    return f"{convention}; output '{output.name}' {out_shape}"


def audio_doubts(path: Path, tensor: Tensor, sample_rate: int, gain: float) -> list[str]:
    """Why an input fed audio (scaled by `gain`) does not look like one; [] when it does. An
    integer input must dequantise audio in [-gain, gain] to a range reaching an eighth of that
    each side, in steps of at most a 32nd of it; a fixed window must span `MIN_WINDOW_S`."""
    doubts = []
    if tensor.dtype and np.issubdtype(np.dtype(tensor.dtype), np.integer):
        if not tensor.scale:
            raise NossError(
                f"{path}: {tensor.line('input')} has no quantisation scale, so noss-eval cannot "
                "map audio onto it (quantise inside the model instead)"
            )
        info, peak = np.iinfo(tensor.dtype), abs(gain)
        lo, hi = ((v - tensor.zero_point) * tensor.scale for v in (info.min, info.max))
        if lo > -peak / 8 or hi < peak / 8 or tensor.scale > peak / 32:
            doubts.append(
                f"its values dequantise to [{lo:.3g}, {hi:.3g}] in steps of {tensor.scale:.3g}, "
                f"which cannot hold audio in [-{peak:g}, {peak:g}]"
                + (" (input_gain)" if gain != 1 else "")
            )
    samples = tensor.shape[-1] if len(tensor.shape) == 2 else -1
    if 0 < samples < MIN_WINDOW_S * sample_rate:
        doubts.append(
            f"a window of {samples} samples is {samples / sample_rate:.2f} s at {sample_rate} Hz, "
            f"shorter than the {MIN_WINDOW_S:g} s any speech embedding takes"
        )
    return doubts


def describe_candidate(tensor: Tensor, what: str) -> str:
    return f"'{tensor.name}' {list(tensor.shape)} {tensor.dtype or '?'} ({what})"


def frame(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """`[W, size]` windows covering all of `x`; the last one ends at the clip's end, short
    clips are zero-padded to one window."""
    if x.size <= size:
        return np.pad(x, (0, size - x.size))[None, :].astype(np.float32)
    starts = list(range(0, x.size - size + 1, hop))
    if starts[-1] + size < x.size:
        starts.append(x.size - size)
    return np.stack([x[s : s + size] for s in starts]).astype(np.float32)


def pick_output(path: Path, outputs: list[Tensor], output: int | str) -> Tensor | None:
    """The output chosen by index or name; None for a name that is not an output (the adapter
    may read it as an intermediate tensor); a one-line error for an index out of range."""
    if isinstance(output, int):
        if not 0 <= output < len(outputs):
            raise NossError(
                f"--embedder-option output: {path} has {len(outputs)} outputs, not {output}"
            )
        return outputs[output]
    return {t.name: t for t in outputs}.get(output)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
