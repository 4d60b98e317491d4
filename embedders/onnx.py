"""Any `.onnx` model as an embedder, run by ONNX Runtime (`pip install 'noss-eval[onnx]'`): a small
adapter over the shared framing core (`framing.py`), so options, framing, pooling, fingerprint and
cache behave exactly as for the `tflite` kind.

What is ONNX Runtime's own is here: one CPU `InferenceSession` (`intra_op_num_threads` =
`threads`), dynamic dimensions (named or unnamed in the graph) read as -1, float inputs of any
width, and the output chosen by index or by graph-output name. An intermediate value of an ONNX
graph is not readable reliably (converters transpose layouts and fuse nodes, so a name may survive
on a different tensor): it is refused with what to do (convert with it as a graph output).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from noss_eval.embedders.framing import FramedEmbedder, Tensor, first_line, pick_output
from noss_eval.errors import NossError

# ONNX Runtime's element types (`NodeArg.type`) as numpy dtype names
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
}


class OnnxEmbedder(FramedEmbedder):
    kind = "onnx"

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
        """The options of the `tflite` kind (see `TFLiteEmbedder`); `threads`: ONNX Runtime's
        intra-op threads, all cores by default."""
        super().__init__(
            path, name, sample_rate, output, hop, input_gain, frontend, min_seconds, input
        )
        self._session = _session(self.path, threads)
        inputs = [_tensor(a) for a in self._session.get_inputs()]
        outputs = [_tensor(a) for a in self._session.get_outputs()]
        used = pick_output(self.path, outputs, output)
        if used is None:
            raise NossError(
                f"--embedder-option output: '{output}' is not an output of {self.path} "
                f"(outputs: {', '.join(t.name for t in outputs)}); an ONNX graph's intermediate "
                "values are not readable reliably, so convert the model with it as a graph output "
                "(tf2onnx: --outputs NAME)"
            )
        if inputs and inputs[0].dtype not in ("float32", "float16", "float64"):
            raise NossError(
                f"{self.path}: input '{inputs[0].name}' is {inputs[0].dtype or 'not a tensor'}; "
                "noss-eval feeds float audio or log-mel (quantise inside the graph instead)"
            )
        self._configure(inputs, used, outputs)
        self._feed, self._fetch = inputs[0], used

    def parameter_count(self) -> int:
        """Elements of the graph's initializers (weights, biases); 0 without the `onnx` package."""
        try:
            import onnx
        except ImportError:
            return 0
        graph = onnx.load(str(self.path), load_external_data=False).graph
        return int(sum(np.prod(t.dims) for t in graph.initializer))

    def _run(self, batch: np.ndarray) -> np.ndarray:
        feed = {self._feed.name: batch.astype(self._feed.dtype)}
        try:
            out = self._session.run([self._fetch.name], feed)[0]
        except Exception as exc:  # onnxruntime's own exception types (Fail, InvalidArgument...)
            raise NossError(
                f"{self.path}: inference failed on input {batch.shape} ({first_line(exc)})"
            ) from None
        return np.asarray(out, dtype=np.float32)


def _session(path: Path, threads: int | None):
    try:
        import onnxruntime as ort
    except ImportError:
        raise NossError(
            f"{path}: the onnx kind needs ONNX Runtime: pip install 'noss-eval[onnx]'"
        ) from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no per-session warnings on stderr
    # idle threads sleep instead of spinning (spinning steals the cores decoding runs on)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # InvalidProtobuf, Fail, NoSuchFile...: all one-line refusals
        raise NossError(f"{path}: not a loadable ONNX model ({first_line(exc)})") from None


def _tensor(arg) -> Tensor:
    """A NodeArg as a `Tensor`; a named (`'batch'`) or unknown (None) dimension is -1."""
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or []))
    return Tensor(arg.name, shape, _DTYPES.get(arg.type, arg.type))
