"""The student: a MobileNetV3 trunk on one NOSS log-mel window, then an optional bottleneck and a
dense layer to the teacher's dimension.

As upstream google-research `non_semantic_speech_benchmark/distillation/models.py`
(`get_keras_model`): `tf.keras.applications.MobileNetV3Small|Large(input_shape=[96, 64, 1],
alpha=alpha, include_top=False, weights=None, pooling='avg' if avg_pool else None,
dropout_rate=0.0)`; the trunk's output flattened, an optional `Dense(bottleneck_dimension,
name='distilled_output')`, then `Dense(output_dimension, name='embedding_to_target')`. Trained
with MSE and Adam (`train_keras.py`). Differences: Keras 3 needs `include_preprocessing=False`
(its MobileNetV3 otherwise rescales inputs as if they were 0-255 pixels); Keras 3's
`include_top=False` ends before the global pooling and the 1x1 `Conv_2` (upstream asserts a
`[B, 1, 1, C]` trunk output, so its "flatten" students were pooled too; here flatten keeps the
3x2 map); a compressed bottleneck is `compression.LowRankDense` (upstream `CompressedDense`);
a fixed input scaling and an output layer that starts at the mean teacher vector
(below); `minimalistic` is exposed (upstream fixes it to False); batch-norm momentum is a
training setting (see `grid`) and the moving statistics are recalibrated each epoch (`train`).
The student's output is the regression to the teacher, and that is what the exported TFLite
gives: the embedding a user scores is the student's estimate of the teacher's.
"""

from __future__ import annotations

import numpy as np

from noss_eval.distill.grid import Architecture

INPUT_SHAPE = (96, 64, 1)


# NOSS log-mel (log(mel + 0.001)) lies in about [-6.9, 4.5], mean -5: a fixed affine map in the
# graph brings it near zero mean and unit scale (upstream feeds it raw; the first batch norm
# absorbs an offset, but not on the first steps of a short run).
INPUT_SCALE, INPUT_OFFSET = 0.4, 2.0


def build_student(
    arch: Architecture,
    output_dim: int,
    seed: int,
    bn_momentum: float = 0.9,
    target_mean=None,
):
    """A fresh Keras model `[B, 96, 64, 1] -> [B, output_dim]`, weights drawn from `seed`. With
    `target_mean` (the mean teacher vector) the output layer starts as that constant (zero
    kernel, bias the mean): training starts exactly at the R2 = 0 baseline, without a random
    projection of the (batch-normalised, unit-scale) trunk features added to it."""
    import keras

    keras.utils.set_random_seed(seed)
    trunk_cls = {
        "small": keras.applications.MobileNetV3Small,
        "large": keras.applications.MobileNetV3Large,
    }[arch.size]
    trunk = trunk_cls(
        input_shape=INPUT_SHAPE,
        alpha=arch.alpha,
        minimalistic=arch.minimalistic,
        include_top=False,
        weights=None,
        pooling="avg" if arch.pooling == "avg" else None,
        dropout_rate=0.0,
        include_preprocessing=False,
    )
    for layer in trunk.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    inputs = keras.Input(INPUT_SHAPE, name="log_mel_spectrogram")
    scaled = keras.layers.Rescaling(INPUT_SCALE, INPUT_OFFSET, name="logmel_scale")(inputs)
    x = keras.layers.Flatten()(trunk(scaled))
    if arch.bottleneck and arch.compression:
        from noss_eval.distill.compression import LowRankDense

        x = LowRankDense(arch.bottleneck, arch.compression, name="distilled_output")(x)
    elif arch.bottleneck:
        x = keras.layers.Dense(arch.bottleneck, name="distilled_output")(x)
    head = keras.layers.Dense(output_dim, name="embedding_to_target")
    outputs = head(x)
    if target_mean is not None:
        kernel, _ = head.get_weights()
        head.set_weights([np.zeros_like(kernel), np.asarray(target_mean, np.float32)])
    return keras.Model(inputs, outputs, name=arch.name.replace(".", "_"))


def parameter_count(model) -> int:
    return int(model.count_params())
