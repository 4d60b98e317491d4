"""A TFLite model re-exported with one of its intermediate tensors as an extra output, so the
interpreter can read it without `experimental_preserve_all_tensors` (which keeps every tensor
alive and costs ~13 % on YAMNet). The flatbuffer is edited with TensorFlow's own
`tensorflow.lite.tools.flatbuffer_utils`; the result is cached by the model's sha256 and the
tensor's name, so TensorFlow is imported once per model, not per run."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from noss_eval.atomic import atomic_writer

log = logging.getLogger(__name__)
MODEL_CACHE = Path("~/.cache/noss-eval/models").expanduser()


def with_output(path: Path, sha256: str, tensor: str, cache: Path = MODEL_CACHE) -> Path | None:
    """The re-exported model's path, or None (logged) when it cannot be made here."""
    tag = hashlib.sha256(tensor.encode()).hexdigest()[:12]
    target = cache / f"{sha256[:16]}-{tag}.tflite"
    if target.is_file():
        return target
    try:
        from tensorflow.lite.tools import flatbuffer_utils as fb

        model = fb.read_model(str(path))
        graph = model.subgraphs[0]
        names = [t.name.decode() if isinstance(t.name, bytes) else t.name for t in graph.tensors]
        index = names.index(tensor)
        if index not in list(graph.outputs):
            graph.outputs = [*graph.outputs, index]
        with atomic_writer(target, binary=True) as fh:
            fh.write(bytes(fb.convert_object_to_bytearray(model)))
    except Exception as exc:  # no TensorFlow, an unwritable cache, a graph it cannot edit
        log.info("%s: reading '%s' with preserve_all_tensors (%s)", path.name, tensor, exc)
        return None
    return target
