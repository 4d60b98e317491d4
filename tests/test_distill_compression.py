"""FRILL's bottleneck compression (`noss_eval.distill.compression`) against upstream's
`compression_lib/compression_op.py` re-typed here: the factors, the alpha schedule, the
training and inference products, the export that keeps only the factors, and a resumed
training that keeps the schedule's state."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from noss_eval.distill.grid import Architecture, Training, load_grid


def upstream_factors(a: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """`LowRankDecompMatrixCompressor.static_matrix_compressor`, as upstream wrote it."""
    u, s, vh = np.linalg.svd(a)
    rank = max(min(np.min(a.shape), rank), 1)
    s_mat = np.diag(np.sqrt(s[:rank]))
    return np.matmul(u[:, :rank], s_mat), np.matmul(s_mat, vh[:rank, :])


def upstream_updates(steps: int, frequency: int) -> list[int]:
    """The steps at which upstream's `maybe_update_alpha` is true (begin 0, end -1)."""
    last, out = -1, []
    for step in range(steps):
        if last + frequency <= step:
            out.append(step)
            last = step
    return out


@pytest.mark.parametrize("shape, rank", [((40, 12), 5), ((12, 40), 3), ((6, 9), 20)])
def test_factors_are_upstreams_and_the_best_rank_r_approximation(shape, rank):
    from noss_eval.distill.compression import low_rank_factors

    a = np.random.RandomState(sum(shape)).randn(*shape)
    b, c = low_rank_factors(a, rank)
    want_b, want_c = upstream_factors(a, rank)
    np.testing.assert_allclose(np.abs(b), np.abs(want_b), atol=1e-10)  # SVD signs may differ
    np.testing.assert_allclose(b @ c, want_b @ want_c, atol=1e-10)
    s = np.linalg.svd(a, compute_uv=False)
    r = min(rank, *shape)
    assert np.isclose(np.linalg.norm(a - b @ c), np.sqrt(np.sum(s[r:] ** 2)))  # Eckart-Young


def _tiny_model(rank: int):
    from noss_eval.distill.compression import LowRankDense

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = LowRankDense(6, rank, name="distilled_output")(keras.layers.Dense(10)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", jit_compile=False)
    return model


def test_schedule_blends_towards_the_factors_as_upstream():
    """Fit 20 steps with updates every 3: alpha falls by the decrement at upstream's steps, each
    update sets the factors to those of the kernel of the moment, training mode computes
    `x (alpha A + (1 - alpha) B C) + b` and inference `x B C + b`."""
    from noss_eval.distill.compression import CompressionSchedule

    model = _tiny_model(rank=2)
    layer = model.get_layer("distilled_output")
    rng = np.random.RandomState(1)
    x, y = rng.randn(80, 8).astype("float32"), rng.randn(80, 3).astype("float32")
    kernels = {}

    class Record(keras.callbacks.Callback):  # the kernel each update factorised
        def on_train_batch_begin(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            if step == int(layer.last_update.numpy()):
                low = layer.b_matrix.numpy() @ layer.c_matrix.numpy()
                kernels[step] = (layer.kernel.numpy().copy(), low)

    schedule = CompressionSchedule(frequency=3, decrement=0.1)
    model.fit(
        x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[schedule, Record()]
    )
    updates = upstream_updates(20, 3)
    assert sorted(kernels) == updates and int(layer.last_update.numpy()) == updates[-1]
    assert np.isclose(float(layer.alpha.numpy()), 1 - 0.1 * len(updates))
    for kernel, low in kernels.values():
        b, c = upstream_factors(kernel.astype(np.float64), 2)
        np.testing.assert_allclose(low, b @ c, atol=1e-5)
    assert not np.allclose(layer.kernel.numpy(), kernels[updates[-1]][0])  # A trained on after it

    h = np.asarray(model.layers[1](x[:5]))
    a_, b_, c_, bias = (layer.kernel.numpy(), layer.b_matrix.numpy(), layer.c_matrix.numpy(),
                        layer.bias.numpy())  # fmt: skip
    alpha = float(layer.alpha.numpy())
    blended = h @ (alpha * a_ + (1 - alpha) * b_ @ c_) + bias
    np.testing.assert_allclose(np.asarray(layer(h, training=True)), blended, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer(h, training=False)), h @ b_ @ c_ + bias, atol=1e-5)


def test_alpha_stops_at_zero():
    model = _tiny_model(rank=2)
    layer = model.get_layer("distilled_output")
    for step in range(0, 60, 5):
        layer.compress(step, 0.3)
    assert float(layer.alpha.numpy()) == 0.0


def test_a_compressed_student_exports_only_its_factors(tmp_path):
    """Same trunk, bottleneck 64: the rank-8 student's TFLite lacks the 64-column kernel (it is
    smaller by that kernel less the factors, as its parameter count) and agrees with its Keras
    inference (B C)."""
    from noss_eval.distill import export
    from noss_eval.distill.students import build_student

    rng = np.random.RandomState(0)
    audio = [0.1 * rng.randn(16000 * 2).astype("float32")]
    sizes, params, trunk_dim = {}, {}, None
    for rank in (0, 8):
        arch = Architecture("small", 0.25, False, "avg", 64, rank)
        model = build_student(arch, 16, seed=3)
        embedding = export.embedding_model(model)
        path = tmp_path / f"r{rank}.tflite"
        path.write_bytes(export.to_tflite(embedding, "float32", False))
        sizes[rank] = path.stat().st_size
        params[rank] = export.exported_parameters(embedding)
        agree = export.agreement(path, embedding, False, audio)
        assert agree.rel_rmse < export.TOLERANCE["float32"], (rank, agree)
        trunk_dim = model.get_layer("distilled_output").input.shape[-1]
    saved = 4 * (trunk_dim * 64 - (trunk_dim * 8 + 8 * 64))
    assert params[0] - params[8] == saved // 4
    assert abs((sizes[0] - sizes[8]) - saved) < 0.05 * saved, (sizes, saved)


def test_training_compresses(tmp_path, caplog):
    """`train_student` runs the schedule: after it alpha has fallen, and while it is above 0
    the user is told that the export keeps only the factors."""
    from noss_eval.distill.train import train_student
    from noss_eval.progress import Meter

    rng = np.random.RandomState(0)
    x = rng.randn(48, 96, 64, 1).astype("float32")
    y = rng.randn(48, 12).astype("float32")
    arch = Architecture("small", 0.25, False, "avg", 16, 4)
    settings = Training(epochs=2, batch_size=8, patience=5, compression_frequency=2,
                        alpha_decrement=0.05)  # fmt: skip
    meter = Meter(2, "t", "epoch", enabled=False)
    model, _ = train_student(arch, (x[:40], y[:40], x[40:], y[40:]), settings, 0, tmp_path, meter)
    layer = model.get_layer("distilled_output")
    assert 0 < float(layer.alpha.numpy()) < 1 and float(layer.last_update.numpy()) >= 0
    assert "compression unfinished at the best epoch" in caplog.text


def test_a_checkpoint_resumes_the_schedule_where_it_was(tmp_path):
    """A `.keras` checkpoint (what a killed training resumes from) reloads the layer with its
    alpha, last update and optimizer step: the next epoch matches the uninterrupted run's."""
    from noss_eval.distill.compression import CompressionSchedule

    rng = np.random.RandomState(2)
    x, y = rng.randn(40, 8).astype("float32"), rng.randn(40, 3).astype("float32")
    model = _tiny_model(rank=2)

    def epoch(m):
        m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
              callbacks=[CompressionSchedule(frequency=3, decrement=0.1)])  # fmt: skip

    epoch(model)
    model.save(tmp_path / "checkpoint.keras")
    loaded = keras.models.load_model(tmp_path / "checkpoint.keras")
    for m in (model, loaded):
        epoch(m)
    a, b = model.get_layer("distilled_output"), loaded.get_layer("distilled_output")
    assert float(b.last_update.numpy()) == upstream_updates(20, 3)[-1]
    for name in ("alpha", "last_update", "kernel", "b_matrix", "c_matrix"):
        np.testing.assert_allclose(getattr(a, name).numpy(), getattr(b, name).numpy(), atol=1e-6)


def test_the_grid_builds_compression_only_below_a_bottleneck(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("students: {alpha: [0.5], bottleneck: [0, 64, 128], compression: [0, 100]}\n")
    names = sorted(s.name for s in load_grid(path).students)
    assert names == sorted(
        ["mnv3s-a0.5-avg-bn0-f32", "mnv3s-a0.5-avg-bn64-f32", "mnv3s-a0.5-avg-bn128-f32",
         "mnv3s-a0.5-avg-bn128-r100-f32"]
    )  # fmt: skip
    path.write_text("students: {alpha: [0.5], bottleneck: [0, 64], compression: [64]}\n")
    with pytest.raises(Exception, match="students.compression.*rank 64 is not below"):
        load_grid(path)
