"""Any `.tflite` model as an embedder, run by the LiteRT interpreter (ai-edge-litert): a small
adapter over the shared framing core (`framing.py`: options, framing, signature checks, batching).

What is LiteRT's own is here: the interpreter (threads, resize per input shape, allocation),
int8/uint8 tensors (de)quantised with their own scale and zero point, and the output chosen by
index or by tensor name; a name that is not an output (an intermediate tensor) is made one in a
re-exported copy of the model (`reexport.py`), or, where that cannot be done, read with
`experimental_preserve_all_tensors`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from noss_eval.atomic import atomic_write_text
from noss_eval.embedders.framing import (  # noqa: F401  (frame, check_signature: re-exported)
    BATCH_WINDOWS,
    FramedEmbedder,
    Tensor,
    check_signature,
    describe_candidate,
    first_line,
    frame,
)
from noss_eval.embedders.reexport import MODEL_CACHE, with_output
from noss_eval.errors import NossError

log = logging.getLogger(__name__)
MAX_LISTED = 12  # candidate output tensors a wrong output name's error lists


class TFLiteEmbedder(FramedEmbedder):
    kind = "tflite"

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
        input: str | None = None,
    ) -> None:
        """`hop`: window step of fixed-length models, as a fraction of the window.
        `input_gain`: multiplies the waveform (32768 for models that expect int16-scale audio).
        `threads`: interpreter threads, all cores by default.
        `min_seconds`: dynamic-length inputs shorter than this are zero-padded to it (default:
        one NOSS window, 96 frames of 10 ms plus the 25 ms STFT window); models with an
        in-graph frontend get no window at all from shorter audio, and LiteRT crashes on that.
        `input=audio`: feed audio to an input that does not look like audio (`audio_doubts`)."""
        super().__init__(
            path, name, sample_rate, output, hop, input_gain, frontend, min_seconds, input
        )
        self._threads, self._allocated = threads, False
        self._input: dict | None = None  # the input's details once tensors are allocated
        described = _description(self.path, self.model_sha256, output)
        if described is None:  # first use of this model and output: read it now
            _, _, _, described = self._loaded
        self._configure(*described)

    @cached_property
    def _loaded(self) -> tuple[Any, dict, dict, Description]:
        """The interpreter, the used tensor's and the input's details, the description. Built
        on first use: a run whose every vector is cached never loads the model (its tensors
        are described from `MODEL_CACHE`, recorded the first time it was read)."""
        it, used, how = _open(self.path, self.model_sha256, self._requested_output, self._threads)
        inputs = it.get_input_details()
        outputs = [d for d in it.get_output_details() if not (how and d["name"] == used["name"])]
        described = (
            [_tensor(d) for d in inputs],
            _tensor(used, dtype=False),
            [_tensor(d) for d in outputs],
            how,
        )
        _record(self.path, self.model_sha256, self._requested_output, described)
        return it, used, inputs[0], described

    @property
    def _interpreter(self) -> Any:
        return self._loaded[0]

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

    def candidate_outputs(self) -> list[str]:
        """The model's outputs, then the intermediate tensors that could be an embedding."""
        return _candidates(_open(self.path, self.model_sha256, 0, self._threads)[0])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        it, used, detail = self._loaded[:3]
        detail = self._input or detail
        try:
            if tuple(detail["shape"]) != batch.shape:
                it.resize_tensor_input(detail["index"], list(batch.shape), strict=True)
                self._allocated = False
            if not self._allocated:
                _allocate(it)
                self._input = detail = it.get_input_details()[0]
                self._allocated = True
            it.set_tensor(detail["index"], quantize(batch, detail))
            it.invoke()
        except (ValueError, RuntimeError) as exc:
            raise NossError(
                f"{self.path}: inference failed on input {batch.shape} ({first_line(exc)})"
            ) from None
        return dequantize(it.get_tensor(used["index"]), used)


Description = tuple[list[Tensor], Tensor, list[Tensor], str]  # inputs, used, outputs, how


def _description_path(sha256: str, output: int | str) -> Path:
    tag = hashlib.sha256(repr(("quantised", output)).encode()).hexdigest()[:12]
    return MODEL_CACHE / f"{sha256[:16]}-{tag}.tensors.json"


def _description(path: Path, sha256: str, output: int | str) -> Description | None:
    """The recorded tensors of this model (by content) and output option, if any."""
    try:
        d = json.loads(_description_path(sha256, output).read_text())
        tensor = lambda t: Tensor(  # noqa: E731
            t["name"], tuple(t["shape"]), t["dtype"], t["scale"], t["zero_point"]
        )
        return (
            [tensor(t) for t in d["inputs"]],
            tensor(d["used"]),
            [tensor(t) for t in d["outputs"]],
            d["how"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record(path: Path, sha256: str, output: int | str, described: Description) -> None:
    inputs, used, outputs, how = described
    plain = {"inputs": inputs, "used": used, "outputs": outputs, "how": how}
    try:
        atomic_write_text(
            _description_path(sha256, output), json.dumps(plain, default=lambda t: t.__dict__)
        )
    except OSError as exc:  # a read-only home: the model is read on every run instead
        log.info("%s: tensors not recorded (%s)", path.name, exc)


def _tensor(detail: dict, dtype: bool = True) -> Tensor:
    shape = tuple(int(d) for d in detail.get("shape_signature", detail["shape"]))
    scale, zero_point = detail.get("quantization", (0.0, 0))
    kind = np.dtype(detail["dtype"])
    if not dtype:
        return Tensor(detail["name"], shape)
    if kind.kind not in "iu":
        return Tensor(detail["name"], shape, kind.name)
    return Tensor(detail["name"], shape, kind.name, float(scale), int(zero_point))


def _candidates(it: Any) -> list[str]:
    """The graph outputs, then every tensor an op computes (not a weight's DEQUANTIZE) that
    could be an embedding: numeric (float, or quantised), `[batch, dim]` or `[batch, T, dim]`."""
    outputs = [d["index"] for d in it.get_output_details()]
    made = {
        i for op in it._get_ops_details() if op["op_name"] != "DEQUANTIZE" for i in op["outputs"]
    }
    details = {d["index"]: d for d in it.get_tensor_details()}

    def plausible(d: dict) -> bool:
        shape, kind = list(d.get("shape_signature", d["shape"])), np.dtype(d["dtype"]).kind
        numeric = kind == "f" or (kind in "iu" and d["quantization"][0])
        return bool(numeric) and len(shape) in (2, 3) and shape[0] in (1, -1) and shape[-1] > 1

    intermediate = [i for i in sorted(made - set(outputs)) if plausible(details[i])]
    return [
        describe_candidate(_tensor(details[i]), f"output {n}") for n, i in enumerate(outputs)
    ] + [describe_candidate(_tensor(details[i]), "intermediate") for i in intermediate]


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
        candidates = _candidates(it)
        shown = "; ".join(candidates[:MAX_LISTED])
        more = len(candidates) - MAX_LISTED
        raise NossError(
            f"--embedder-option output: {path} has no tensor named '{output}'; candidates: "
            + (
                f"{shown}; and {more} more (`noss-eval check {path}` lists all)"
                if more > 0
                else shown
            )
        )
    reexported = with_output(path, sha256, output)
    if reexported is not None:
        it = load(preserve=False, model=reexported)
        detail = {o["name"]: o for o in it.get_output_details()}[output]
        return it, detail, "re-exported as an output"
    it = load(preserve=True)
    detail = {t["name"]: t for t in it.get_tensor_details()}[output]
    return it, detail, "read with preserve_all_tensors"


_STARTING = threading.Lock()
_started = False  # an interpreter of this process has allocated its tensors


def _allocate(it: Any) -> None:
    """`allocate_tensors`, the process's first one with stderr quieted: LiteRT prints an INFO
    line for its CPU delegate then, and only then. Copies built on several threads at once wait
    for that one, so file descriptor 2 is swapped by one thread, once (two overlapping swaps
    left it at /dev/null for the rest of the run)."""
    global _started
    if not _started:
        with _STARTING:
            if not _started:
                with _silenced_stderr():
                    it.allocate_tensors()
                _started = True
                return
    it.allocate_tensors()


@contextmanager
def _silenced_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the block (C++ logging bypasses Python's streams);
    call it under `_STARTING` only."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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
