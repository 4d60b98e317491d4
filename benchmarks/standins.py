"""Stand-in models with the published architectures (random weights: for speed, not quality).

- `frill`: the NOSS log-mel frontend in the graph (audio [1, n] in, as the FRILL TFLite takes it),
  MobileNetV3-Small backbone, 2048-d output per 0.96 s window.
- `frill-nofrontend`: the same backbone on log-mel windows [F, 96, 64, 1] (noss-eval computes them).
- `trill`: the same frontend, ResNet50 backbone (TRILL is "ResNet50-ish"), 2048-d.
Keras models converted with TFLiteConverter.from_keras_model; only TFLite builtin ops.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MODELS = Path(__file__).resolve().parent / ".models"
BACKBONES = {
    "frill": "mobilenet_v3_small",
    "frill-nofrontend": "mobilenet_v3_small",
    "trill": "resnet50",
}


def _build(name: str):
    import keras

    from noss_eval.frontend import tf_log_mel_windows

    class LogMelWindows(keras.layers.Layer):
        def call(self, audio):  # [1, n] -> [F, 96, 64, 1]
            return tf_log_mel_windows(audio[0])

    keras.utils.set_random_seed(0)
    if BACKBONES[name] == "mobilenet_v3_small":
        trunk = keras.applications.MobileNetV3Small(
            input_shape=(96, 64, 1),
            include_top=False,
            weights=None,
            pooling="avg",
            include_preprocessing=False,
        )
    else:
        trunk = keras.applications.ResNet50(
            input_shape=(96, 64, 1), include_top=False, weights=None, pooling="avg"
        )
    if name == "frill-nofrontend":
        inputs = keras.Input(shape=(96, 64, 1), name="logmel")
        windows = inputs
    else:
        inputs = keras.Input(shape=(None,), batch_size=1, name="audio")
        windows = LogMelWindows()(inputs)
    return keras.Model(inputs, keras.layers.Dense(2048, name="embedding")(trunk(windows)))


def standin(name: str) -> Path:
    """Path of a stand-in TFLite file, built on first use."""
    path = MODELS / f"{name}_standin.tflite"
    if not path.exists():
        import tensorflow as tf

        MODELS.mkdir(parents=True, exist_ok=True)
        blob = tf.lite.TFLiteConverter.from_keras_model(_build(name)).convert()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(blob)
        tmp.rename(path)
    return path


if __name__ == "__main__":
    for name in BACKBONES:
        p = standin(name)
        print(f"{name}: {p} ({p.stat().st_size / 1e6:.1f} MB)")
