"""Any `.tflite` model as an embedder, run by the LiteRT interpreter (ai-edge-litert).

Dynamic-length inputs (`[1, -1]`) are resized per clip; fixed-length inputs (YAMNet's `[1, 15600]`)
get the clip framed into windows whose outputs are stacked as frames. Models that take NOSS log-mel
windows (`frontend: noss-logmel`) get `[F, 96, 64, 1]`. int8/uint8 tensors are (de)quantised with
their own scale and zero point. The output is chosen by index or by tensor name; a name that is
not an output (an intermediate tensor) is made one in a re-exported copy of the model
(`reexport.py`), or, where that cannot be done, read with `experimental_preserve_all_tensors`.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from noss_eval.embedder import sha256_file
from noss_eval.embedders.reexport import with_output
from noss_eval.errors import NossError
from noss_eval.frontend import LOGMEL_VERSION, log_mel_windows

log = logging.getLogger(__name__)
BATCH_WINDOWS = 32  # windows per invoke when clips share invokes (see `infer_many`)


class TFLiteEmbedder:
    def __init__(
        self,
        path: str | Path,
        name: str | None = None,
        sample_rate: int = 16000,
        output: int | str = 0,
        threads: int | None = None,
        hop: float = 0.5,
        input_gain: float = 1.0,
        frontend: str | None = None,
        min_seconds: float = 0.975,
    ) -> None:
        """`hop`: window step of fixed-length models, as a fraction of the window.
        `input_gain`: multiplies the waveform (32768 for models that expect int16-scale audio).
        `threads`: interpreter threads, all cores by default.
        `min_seconds`: dynamic-length inputs shorter than this are zero-padded to it (default:
        one NOSS window, 96 frames of 10 ms plus the 25 ms STFT window); models with an
        in-graph frontend get no window at all from shorter audio, and LiteRT crashes on that."""
        self.path = Path(path)
        self.name = name or self.path.stem
        self.sample_rate = int(sample_rate)
        self.model_sha256 = sha256_file(self.path)
        if frontend not in (None, "noss-logmel"):
            raise NossError(f"--embedder-option frontend: unknown frontend '{frontend}'")
        if not 0 < hop <= 1:
            raise NossError(f"--embedder-option hop: must be in (0, 1], got {hop}")
        self.settings: dict[str, Any] = {
            "kind": "tflite",
            "output": output,
            "hop": hop,
            "input_gain": input_gain,
            "frontend": frontend and f"{frontend}:{LOGMEL_VERSION}",
            "min_seconds": min_seconds,
        }
        self._interpreter, self._output, intermediate = _open(
            self.path, self.model_sha256, output, threads
        )
        inputs = self._interpreter.get_input_details()
        self.calling_convention = check_signature(self.path, inputs, self._output, frontend, hop)
        outputs = [
            d
            for d in self._interpreter.get_output_details()
            if not (intermediate and d["name"] == self._output["name"])
        ]
        if output == 0 and len(outputs) > 1:
            log.warning(
                "%s: %d outputs, using output 0 '%s' %s (YAMNet-like models put class scores "
                "there); choose with --embedder-option output=NAME|INDEX",
                self.path.name,
                len(outputs),
                self._output["name"],
                _shape(self._output),
            )
        self.settings["output_tensor"] = self._output["name"]
        self.tensors = [
            f"input  '{d['name']}' {_shape(d)} {np.dtype(d['dtype']).name}" for d in inputs
        ] + [
            f"output '{d['name']}' {_shape(d)} {np.dtype(d['dtype']).name}"
            + ("  <- used" if d["name"] == self._output["name"] else "")
            for d in outputs
        ]
        if self._output["name"] not in {d["name"] for d in outputs}:
            self.tensors.append(
                f"tensor '{self._output['name']}' {_shape(self._output)}  <- used ({intermediate})"
            )
        self._input = inputs[0]
        self._shape = tuple(int(d) for d in self._input["shape_signature"])
        self._hop, self._gain, self._frontend = hop, input_gain, frontend
        self._min_samples = int(round(min_seconds * self.sample_rate))
        self._allocated = False

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def window_seconds(self) -> float:
        """The audio one model window covers; shorter clips are padded."""
        if self._frontend or self._shape[-1] == -1:
            return self._min_samples / self.sample_rate
        return self._shape[-1] / self.sample_rate

    def parameter_count(self) -> int:
        """Elements of the model's constant tensors (weights, biases; shape constants too)."""
        it = self._interpreter
        produced = {i for op in it._get_ops_details() for i in op["outputs"]}
        inputs = {d["index"] for d in it.get_input_details()}
        return int(
            sum(
                np.prod(t["shape"])
                for t in it.get_tensor_details()
                if t["index"] not in produced and t["index"] not in inputs and len(t["shape"]) > 0
            )
        )

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        return self.infer(self.prepare(waveform))

    def prepare(self, waveform: np.ndarray) -> list[np.ndarray]:
        """Model-shaped inputs for one clip (gain, frontend, framing): no interpreter needed,
        so it can run on another thread while `infer` works on the previous clip."""
        return list(self._batches(waveform * self._gain))

    def infer(self, batches: list[np.ndarray]) -> np.ndarray:
        outputs = [self._invoke(batch) for batch in batches]
        return np.concatenate([o.reshape(-1, o.shape[-1]) for o in outputs]).astype(np.float32)

    @property
    def batch_windows(self) -> int:
        """Windows per `invoke` when several clips' windows can share one (the input has a
        dynamic batch dimension and noss-eval frames the audio); 0 when they cannot."""
        windowed = self._frontend or self._shape[-1] != -1
        return BATCH_WINDOWS if windowed and self._shape[0] == -1 else 0

    def infer_many(self, prepared: list[list[np.ndarray]]) -> list[np.ndarray]:
        """`infer` for several clips at once: their windows stacked and run `batch_windows` at a
        time (the last batch zero-padded, so the interpreter keeps one input shape and never
        re-allocates), the padding's outputs dropped. Equal to `infer` per clip to float32
        rounding (kernels may block a batch differently)."""
        size = self.batch_windows
        windows = [np.concatenate(p) for p in prepared]
        stacked = np.concatenate(windows)
        n = len(stacked)
        padded = np.concatenate([stacked, np.zeros((-n % size, *stacked.shape[1:]), np.float32)])
        outputs = [self._invoke(padded[i : i + size]) for i in range(0, len(padded), size)]
        out = np.concatenate([o.reshape(size, -1, o.shape[-1]) for o in outputs])[:n]
        ends = np.cumsum([len(w) for w in windows])
        return [
            frames.reshape(-1, frames.shape[-1]).astype(np.float32)
            for frames in np.split(out, ends[:-1])
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

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        it, detail = self._interpreter, self._input
        try:
            if tuple(detail["shape"]) != batch.shape:
                it.resize_tensor_input(detail["index"], list(batch.shape), strict=True)
                self._allocated = False
            if not self._allocated:
                with _silenced_stderr():  # LiteRT prints an INFO line for its CPU delegate
                    it.allocate_tensors()
                self._input = detail = it.get_input_details()[0]
                self._allocated = True
            it.set_tensor(detail["index"], quantize(batch, detail))
            it.invoke()
        except (ValueError, RuntimeError) as exc:
            raise NossError(
                f"{self.path}: inference failed on input {batch.shape} ({_first_line(exc)})"
            ) from None
        return dequantize(it.get_tensor(self._output["index"]), self._output)


def _open(path: Path, sha256: str, output: int | str, threads: int | None) -> tuple[Any, dict, str]:
    """The interpreter, the output's tensor detail, and how an intermediate tensor is read
    ("" for a model output)."""
    from ai_edge_litert.interpreter import Interpreter

    def load(preserve: bool, model: Path = path) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # preserve_all_tensors warns that it is for debugging
            it = Interpreter(
                model_path=str(model),
                num_threads=threads or os.cpu_count() or 1,
                experimental_preserve_all_tensors=preserve,
            )
        return it

    try:
        it = load(preserve=False)
    except (ValueError, RuntimeError) as exc:
        raise NossError(
            f"{path}: not a loadable TFLite model ({str(exc).splitlines()[0]})"
        ) from None
    outputs = it.get_output_details()
    if isinstance(output, int):
        if not 0 <= output < len(outputs):
            raise NossError(
                f"--embedder-option output: {path} has {len(outputs)} outputs, not {output}"
            )
        return it, outputs[output], ""
    by_name = {o["name"]: o for o in outputs}
    if output in by_name:
        return it, by_name[output], ""
    if output not in {t["name"] for t in it.get_tensor_details()}:
        raise NossError(f"--embedder-option output: {path} has no tensor named '{output}'")
    reexported = with_output(path, sha256, output)
    if reexported is not None:
        it = load(preserve=False, model=reexported)
        detail = {o["name"]: o for o in it.get_output_details()}[output]
        return it, detail, "re-exported as an output"
    it = load(preserve=True)
    detail = {t["name"]: t for t in it.get_tensor_details()}[output]
    return it, detail, "read with preserve_all_tensors"


@contextmanager
def _silenced_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the block (C++ logging bypasses Python's streams)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _shape(detail: dict) -> list[int]:
    return [int(d) for d in detail.get("shape_signature", detail["shape"])]


def check_signature(
    path: Path, inputs: list[dict], output: dict, frontend: str | None, hop: float
) -> str:
    """How noss-eval will feed the model, or a one-line refusal naming the tensor it cannot feed
    (a second input would silently never be set; other ranks would fail deep inside LiteRT)."""
    if len(inputs) != 1:
        extra = inputs[1]
        raise NossError(
            f"{path}: has {len(inputs)} inputs; noss-eval feeds one (audio or NOSS log-mel), so "
            f"input '{extra['name']}' {_shape(extra)} would never be set"
        )
    name, shape = inputs[0]["name"], _shape(inputs[0])
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
    out_shape = _shape(output)
    if not out_shape or out_shape[-1] == 0:
        raise NossError(
            f"{path}: output '{output['name']}' is {out_shape or 'a scalar'}, not [..., dim]; "
            "pick another with --embedder-option output=NAME|INDEX"
        )
    return f"{convention}; output '{output['name']}' {out_shape}"


def frame(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """`[W, size]` windows covering all of `x`; the last one ends at the clip's end, short
    clips are zero-padded to one window."""
    if x.size <= size:
        return np.pad(x, (0, size - x.size))[None, :].astype(np.float32)
    starts = list(range(0, x.size - size + 1, hop))
    if starts[-1] + size < x.size:
        starts.append(x.size - size)
    return np.stack([x[s : s + size] for s in starts]).astype(np.float32)


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return x.astype(dtype)
    scale, zero_point = detail["quantization"]
    if not scale:
        raise NossError(
            f"input tensor '{detail['name']}' is {np.dtype(dtype).name} without a scale"
        )
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if np.issubdtype(q.dtype, np.floating) or not scale:
        return q.astype(np.float32)
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
