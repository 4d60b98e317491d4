"""FRILL's bottleneck compression: a dense layer trained towards a low-rank factorisation.

After upstream google-research `non_semantic_speech_benchmark/distillation/compression_lib/
compression_op.py` (`CompressionOp`, `LowRankDecompMatrixCompressor`) and `layers.py`
(`CompressedDense`), with `train_keras.py`'s defaults (rank 100, every 10 steps, alpha -0.01):
in training the layer computes `x (alpha A + (1 - alpha) B C) + b`; every `frequency` steps
(from step 0, never ending) `B, C` become the rank-r SVD factors of `A`
(`B = U_r sqrt(S_r)`, `C = sqrt(S_r) V_r^T`) and `alpha` drops by `decrement` (not below 0);
in inference, and so in the exported TFLite, only `x B C + b` remains. The schedule runs in
Python between batches (upstream's `update_option=1`), on the optimizer's step count.

Inference as upstream's later `compressed_matmul_keras(training=False)`; its 2021 form blended
in inference too, and the export dropped `A` (`tflite=True` in `models.py`), so the TFLite is
`x B C` either way. Not copied: the later `CompressedDense.call` never passes `training` (so
training, too, would run `x B C`, with no gradient to `A`), and `train_keras.py` formats
`alpha_decrement_value` with `%d`, turning 0.01 into 0 (alpha never falls; the export is then
a rank-r SVD truncation of the trained kernel).
"""

from __future__ import annotations

import keras
import numpy as np


def low_rank_factors(a: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """`B [m, r], C [r, n]` with `B C` the best rank-r approximation of `a` (as upstream,
    the singular values split evenly between the two)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    r = max(min(min(a.shape), rank), 1)
    root = np.sqrt(s[:r])
    return u[:, :r] * root, root[:, None] * vh[:r]


@keras.saving.register_keras_serializable(package="noss_eval")
class LowRankDense(keras.layers.Layer):
    """`Dense(units)` whose kernel is blended into rank-`rank` factors during training."""

    def __init__(self, units: int, rank: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.rank = int(units), int(rank)

    def build(self, input_shape) -> None:
        m, n = int(input_shape[-1]), self.units
        r = max(min(m, n, self.rank), 1)
        glorot = keras.initializers.GlorotUniform
        self.kernel = self.add_weight(name="kernel", shape=(m, n), initializer=glorot())
        self.bias = self.add_weight(name="bias", shape=(n,), initializer="zeros")
        self.b_matrix = self.add_weight(name="b_matrix", shape=(m, r), initializer=glorot())
        self.c_matrix = self.add_weight(name="c_matrix", shape=(r, n), initializer=glorot())
        self.alpha = self.add_weight(name="alpha", shape=(), initializer="ones", trainable=False)
        self.last_update = self.add_weight(
            name="last_update", shape=(), initializer=keras.initializers.Constant(-1.0),
            trainable=False,
        )  # fmt: skip

    def call(self, inputs, training=None):
        ops = keras.ops
        if training:
            low = ops.matmul(self.b_matrix, self.c_matrix)
            kernel = self.alpha * self.kernel + (1.0 - self.alpha) * low
            return ops.matmul(inputs, kernel) + self.bias
        return ops.matmul(ops.matmul(inputs, self.b_matrix), self.c_matrix) + self.bias

    def compress(self, step: int, decrement: float) -> None:
        """One compression update at optimizer step `step`."""
        b, c = low_rank_factors(np.asarray(self.kernel.numpy(), np.float64), self.rank)
        self.b_matrix.assign(b.astype(np.float32))
        self.c_matrix.assign(c.astype(np.float32))
        self.alpha.assign(max(float(self.alpha.numpy()) - decrement, 0.0))
        self.last_update.assign(float(step))

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "rank": self.rank}


class CompressionSchedule(keras.callbacks.Callback):
    """Before each training batch: every `frequency` optimizer steps since the last update,
    `compress` every `LowRankDense` of the model (upstream `maybe_run_update_step`)."""

    def __init__(self, frequency: int, decrement: float) -> None:
        super().__init__()
        self.frequency, self.decrement = frequency, decrement

    def on_train_batch_begin(self, batch, logs=None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        for layer in compressed_layers(self.model):
            if float(layer.last_update.numpy()) + self.frequency <= step:
                layer.compress(step, self.decrement)


def compressed_layers(model) -> list[LowRankDense]:
    return [layer for layer in model.layers if isinstance(layer, LowRankDense)]
