"""A trained student as a TFLite file: float32, or post-training quantised (`dynamic`: int8
weights; `int8`: int8 weights and activations, calibrated on a representative set of training
windows, float input and output), optionally with the NOSS frontend in the graph (audio `[1, n]`
in, `[F, dim]` out, as the published FRILL TFLite). Then its agreement with the Keras model,
measured through noss-eval's own TFLite embedder on held-out audio.

Quantisation-aware training is not offered: `tensorflow-model-optimization` 0.8 rewrites only
tf-keras (Keras 2) models; it refuses a Keras 3 model ("`to_quantize` can only either be a keras
Sequential or Functional model"), and on tf-keras' own MobileNetV3 it fails inside the
hard-swish op lambdas (checked with TensorFlow 2.21).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from noss_eval.distill.train import r2_score

# Stated tolerances of a TFLite export against its Keras model (relative RMS difference of the
# embeddings); int8 is measured and recorded, not held to a bound.
TOLERANCE = {"float32": 1e-4, "dynamic": 0.1}
AUDIO_TOLERANCE = 1e-2  # the in-graph frontend is float32 TF ops vs noss-eval's NumPy frontend
CALIBRATION_FILES = 100  # training clips decoded for an audio-in int8 model's calibration


@dataclass(frozen=True)
class Agreement:
    max_abs_diff: float
    rel_rmse: float  # ||tflite - keras|| / ||keras||
    r2_vs_keras: float


def embedding_model(student):
    """What the TFLite computes: as upstream `get_keras_model(tflite=True)`, a student with a
    bottleneck gives the bottleneck layer's output (FRILL's embedding); one without gives its
    regression of the teacher."""
    import keras

    names = {layer.name for layer in student.layers}
    if "distilled_output" not in names:
        return student
    return keras.Model(student.inputs, student.get_layer("distilled_output").output)


def exported_parameters(embedding) -> int:
    """The parameters of `embedding` that its TFLite holds: a compressed bottleneck keeps its
    factors and bias, not the kernel it was trained from (nor its schedule's two scalars)."""
    from noss_eval.distill.compression import compressed_layers

    unused = sum(int(np.prod(layer.kernel.shape)) + 2 for layer in compressed_layers(embedding))
    return int(embedding.count_params()) - unused


def audio_model(student):
    """`[1, n]` audio at 16 kHz -> `[F, dim]`: the NOSS frontend in TF ops, then the student."""
    import keras

    from noss_eval.frontend import tf_log_mel_windows

    class NossLogMelWindows(keras.layers.Layer):
        def call(self, audio):  # [1, n] -> [F, 96, 64, 1]
            return tf_log_mel_windows(audio[0])

    inputs = keras.Input(shape=(None,), batch_size=1, name="audio_samples")
    return keras.Model(inputs, student(NossLogMelWindows()(inputs)), name="student_with_frontend")


def to_tflite(
    student, quantize: str, frontend: bool, representative: Sequence[np.ndarray] = ()
) -> bytes:
    import tensorflow as tf

    model = audio_model(student) if frontend else student
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize in ("dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "int8":

        def samples() -> Iterator[list[np.ndarray]]:
            for x in representative:
                yield [np.asarray(x, np.float32)]

        converter.representative_dataset = samples
        if not frontend:  # the frontend's RFFT has no int8 kernel: it stays float
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints its export's signature
        return converter.convert()


def representative_set(
    windows: np.ndarray, audio: Sequence[np.ndarray], frontend: bool, seed: int, n: int = 100
) -> list[np.ndarray]:
    """Calibration inputs drawn from the training audio: `[1, 96, 64, 1]` windows, or `[1, n]`
    clips for a model with the frontend inside."""
    rng = np.random.RandomState(seed)
    if frontend:
        picks = rng.permutation(len(audio))[:n]
        return [audio[i][None, :] for i in picks]
    picks = rng.permutation(len(windows))[:n]
    return [windows[i : i + 1] for i in picks]


def agreement(tflite_path, student, frontend: bool, audio: Sequence[np.ndarray]) -> Agreement:
    """TFLite (through `TFLiteEmbedder`, as `noss-eval --embedder` runs it) vs Keras on the
    windows of `audio` (16 kHz clips)."""
    from noss_eval.embedders.tflite import TFLiteEmbedder
    from noss_eval.frontend import log_mel_windows

    embedder = TFLiteEmbedder(tflite_path, frontend=None if frontend else "noss-logmel", threads=1)
    got = np.concatenate([embedder.embed(x) for x in audio])
    want = np.concatenate(
        [student.predict(log_mel_windows(x), batch_size=256, verbose=0) for x in audio]
    )
    diff = got - want
    return Agreement(
        float(np.max(np.abs(diff))),
        float(np.sqrt(np.sum(diff**2) / max(np.sum(want**2), 1e-30))),
        r2_score(want, got),
    )
