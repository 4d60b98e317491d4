"""Distillation training throughput: `noss_eval.distill.train.train_student` (shuffle, per-epoch
held-out evaluation, checkpoint and best-weights files, progress) against a bare Keras fit loop
on the same in-memory arrays and the same student, measured in the same run.

    python benchmarks/bench_distill.py [--windows 1024] [--epochs 3]

Inputs are random log-mel-shaped windows and 1024-d targets: throughput does not depend on
their content. The first epoch (graph tracing) is excluded from both rates.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    import keras
    import numpy as np

    from noss_eval.distill.grid import Architecture, Training
    from noss_eval.distill.students import build_student
    from noss_eval.distill.train import train_student
    from noss_eval.progress import Meter

    p = argparse.ArgumentParser()
    p.add_argument("--windows", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    rng = np.random.RandomState(0)
    x = rng.randn(args.windows, 96, 64, 1).astype(np.float32) * 2.5 - 5.0
    y = np.abs(rng.randn(args.windows, 1024)).astype(np.float32) * 0.1
    n_held = args.windows // 10
    arch = Architecture("small", 0.5, False, "avg", 0)
    settings = Training(epochs=args.epochs + 1, batch_size=64, patience=100)

    model = build_student(arch, 1024, 0, settings.bn_momentum)
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=False)
    train_x, train_y = x[n_held:], y[n_held:]
    model.fit(train_x, train_y, batch_size=64, epochs=1, verbose=0)  # tracing
    start = time.perf_counter()
    model.fit(train_x, train_y, batch_size=64, epochs=args.epochs, verbose=0)
    bare = args.epochs * len(train_x) / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        meter = Meter(settings.epochs, "bench", "epoch", enabled=False)
        _, result = train_student(
            arch, (train_x, train_y, x[:n_held], y[:n_held]), settings, 0, Path(tmp), meter
        )
    steady = [h["seconds"] for h in result.history[1:]]
    ours = len(steady) * len(train_x) / sum(steady)
    print(f"## Distillation training throughput ({len(train_x)} windows, MobileNetV3-Small a0.5)")
    print()
    print("| loop | training windows/s | ratio |")
    print("|---|---|---|")
    print(f"| bare `model.fit` on in-memory arrays | {bare:.0f} | 1.00 |")
    print(
        f"| `noss-eval distill` trainer (eval, checkpoint, best weights per epoch) | {ours:.0f} "
        f"| **{ours / bare:.2f}** |"
    )
    print()


if __name__ == "__main__":
    main()
