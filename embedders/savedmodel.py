"""A TensorFlow SavedModel (a local directory or a TF Hub handle) as an embedder.

Handles resolve through `tensorflow_hub`, so they are fetched once into `TFHUB_CACHE_DIR` and
read from there afterwards. `call` names the model's calling convention:

- `samples_and_rate`: `model(samples=[n], sample_rate=16000)[output]` (TRILL, TRILL-distilled);
- `batched_samples`: `model([1, n])[output]` (FRILL, TRILLsson);
- `logmel_windows`: `model([F, 96, 64, 1])[output]` on NOSS log-mel windows (FRILL-nofrontend).

An output of rank > 2 is flattened as upstream's extraction does: its first axis is the frames,
the rest the features.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from noss_eval.embedder import is_hub_handle, sha256_tree
from noss_eval.errors import NossError
from noss_eval.frontend import LOGMEL_VERSION, log_mel_windows

CALLS = {
    "samples_and_rate": "model(samples=[n], sample_rate=rate)[output] (TRILL)",
    "batched_samples": "model([1, n])[output] (FRILL, TRILLsson)",
    "logmel_windows": "model(NOSS log-mel [F, 96, 64, 1])[output] (FRILL-nofrontend)",
}


def resolve_location(location: str) -> Path:
    """Local directory of a SavedModel: a path as is, a TF Hub handle via the hub cache."""
    if not is_hub_handle(location):
        path = Path(location).expanduser()
        if not (path / "saved_model.pb").is_file():
            raise NossError(f"--embedder: {path} is not a SavedModel directory (no saved_model.pb)")
        return path
    import tensorflow_hub as hub

    try:
        return Path(hub.resolve(location))
    except Exception as exc:
        raise NossError(
            f"--embedder: cannot fetch TF Hub handle {location} ({str(exc).splitlines()[0]}); "
            "download it elsewhere and pass the directory, or pre-fill TFHUB_CACHE_DIR"
        ) from None


class SavedModelEmbedder:
    def __init__(
        self,
        location: str,
        name: str | None = None,
        call: str = "samples_and_rate",
        output: str = "embedding",
        sample_rate: int = 16000,
        threads: int | None = None,
    ) -> None:
        if call not in CALLS:
            raise NossError(f"--embedder-option call: '{call}' is not one of {', '.join(CALLS)}")
        self.location = location
        self.calling_convention = CALLS[call].replace("[output]", f"['{output}']")
        self.directory = resolve_location(location)
        self.name = name or (
            location.rstrip("/").split("/")[-1] if is_hub_handle(location) else self.directory.name
        )
        self.sample_rate = int(sample_rate)
        self.model_sha256 = sha256_tree(self.directory)
        self.settings: dict[str, Any] = {"kind": "savedmodel", "call": call, "output": output}
        if call == "logmel_windows":
            self.settings["frontend"] = LOGMEL_VERSION
        self._call, self._output, self._threads = call, output, threads

    @cached_property
    def _model(self) -> Any:
        """Loaded on first use: a run whose every vector is cached never imports TensorFlow."""
        import tensorflow as tf

        if self._threads:
            _limit_tf_threads(tf, self._threads)
        try:
            return tf.saved_model.load(str(self.directory))
        except Exception as exc:
            raise NossError(
                f"{self.directory}: cannot load SavedModel ({str(exc).splitlines()[0]})"
            ) from None

    def parameter_count(self) -> int:
        return int(sum(np.prod(v.shape) for v in getattr(self._model, "variables", ())))

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        x = np.asarray(waveform, dtype=np.float32)
        if self._call == "samples_and_rate":
            result = self._model(samples=tf.constant(x), sample_rate=self.sample_rate)
        elif self._call == "batched_samples":
            result = self._model(tf.constant(x[None, :]))
        else:
            result = self._model(tf.constant(log_mel_windows(x)))
        if isinstance(result, dict):
            if self._output not in result:
                raise NossError(
                    f"--embedder-option output: {self.name} has no output '{self._output}' "
                    f"(it has {', '.join(sorted(result))})"
                )
            result = result[self._output]
        out = np.asarray(result, dtype=np.float32)
        if out.ndim > 2:
            # Upstream's batch-flatten (google-research non_semantic_speech_benchmark/data_prep/
            # data_prep_utils.py `samples_to_embedding_tfhub`): the first axis stays the frames,
            # every other axis goes into the features ([F, a, b] -> [F, a*b]).
            return out.reshape(out.shape[0], -1)
        return out.reshape(-1, out.shape[-1])  # [F, d] as is; a single vector [d] is one frame


def _limit_tf_threads(tf, threads: int) -> None:
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already started its thread pools in this process
