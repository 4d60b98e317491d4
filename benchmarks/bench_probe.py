"""Probe benchmarks at VoxCeleb1 scale (1,251 classes, 2048-d embeddings), ratios in one run.

    python benchmarks/bench_probe.py [--subset 20000] [--train 138361]

1. On a subset sklearn can fit: sklearn LogisticRegression(lbfgs) vs noss-eval's SoftmaxRegression
   (same objective), accuracy difference (goal: within 1 point) and speed ratio.
2. At full VoxCeleb1 size (138,361 train / 6,904 validation / 8,251 test, iden_split sizes): one
   SoftmaxRegression fit, and the whole default logistic probe (3 C values x L2 on/off, picked
   on validation, test scored once) - goal: under 10 minutes on this machine.
Data: a synthetic 1,251-speaker mixture tuned so lbfgs reaches ~45% (TRILL's VoxCeleb1 regime).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from noss_eval.extract import Extraction
from noss_eval.probes import Protocol, default_grid
from noss_eval.probing import evaluate_task
from noss_eval.softmax import SoftmaxRegression
from noss_eval.task import Clip, Task

K, D, LATENT = 1251, 2048, 256


def speakers(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n embeddings: a speaker's mean in a 256-d latent space, projected to 2048-d, plus noise."""
    structure = np.random.RandomState(0)
    projection = structure.randn(LATENT, D).astype(np.float32) / np.sqrt(LATENT)
    means = structure.randn(K, LATENT).astype(np.float32)
    rng = np.random.RandomState(seed)
    y = rng.randint(0, K, n)
    latent = means[y] + 3.3 * rng.randn(n, LATENT).astype(np.float32)
    x = np.maximum(latent @ projection + 0.75 * rng.randn(n, D).astype(np.float32), 0)
    return x, np.char.add("id", y.astype(str))


def subset_comparison(n: int) -> None:
    (x, y), (xt, yt) = speakers(n, 1), speakers(5000, 2)
    scaler = StandardScaler().fit(x)
    x, xt = scaler.transform(x).astype(np.float32), scaler.transform(xt).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        ref = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
        t_ref = time.perf_counter() - start
    start = time.perf_counter()
    ours = SoftmaxRegression(C=1.0).fit(x, y)
    t_ours = time.perf_counter() - start
    a_ref, a_ours = 100 * ref.score(xt, yt), 100 * ours.score(xt, yt)
    print(f"## Logistic probe vs sklearn ({n} train rows, 5,000 test, {K} classes, {D}-d)\n")
    print("| solver | test accuracy % | fit time s |\n|---|---|---|")
    print(f"| sklearn LogisticRegression(C=1, lbfgs) | {a_ref:.2f} | {t_ref:.1f} |")
    print(f"| noss-eval SoftmaxRegression(C=1) | {a_ours:.2f} | {t_ours:.1f} |\n")
    print(
        f"difference **{a_ours - a_ref:+.2f} points** (goal: within 1); speed ratio sklearn / "
        f"noss-eval **{t_ref / t_ours:.1f}x**\n"
    )


def full_scale(n_train: int) -> None:
    (x, y), (xv, yv), (xt, yt) = speakers(n_train, 3), speakers(6904, 4), speakers(8251, 5)
    scaler = StandardScaler().fit(x)
    xs, xts = scaler.transform(x).astype(np.float32), scaler.transform(xt).astype(np.float32)
    start = time.perf_counter()
    ours = SoftmaxRegression(C=1.0).fit(xs, y)
    one_fit = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        ref = LogisticRegression(C=1.0, max_iter=1000).fit(xs, y)
        ref_fit = time.perf_counter() - start
    task, ex = as_extraction([(x, y, "train"), (xv, yv, "validation"), (xt, yt, "test")])
    logistic = Protocol(
        "noss-eval", lambda s: [c for c in default_grid(s) if c.family == "logistic"], "validation"
    )
    start = time.perf_counter()
    (chosen, _) = evaluate_task(task, ex, seed=0, protocol=logistic)
    whole = time.perf_counter() - start
    n_configs = len([c for c in default_grid(False) if c.family == "logistic"])
    print(f"## VoxCeleb1-sized logistic probe ({n_train:,} train x {D}-d, {K} classes)\n")
    print(
        f"- one fit, C=1: noss-eval {one_fit:.0f} s ({100 * ours.score(xts, yt):.2f}% test), "
        f"sklearn lbfgs {ref_fit:.0f} s ({100 * ref.score(xts, yt):.2f}%, "
        f"{int(ref.n_iter_[0])} iterations): ratio **{ref_fit / one_fit:.1f}x**"
    )
    print(
        f"- whole logistic probe, {n_configs} configurations selected on validation, test "
        f"once: **{whole / 60:.1f} min** (goal < 10 min); picked {chosen.config}, "
        f"test accuracy {100 * chosen.metrics['accuracy']:.2f}%\n"
    )


def as_extraction(parts) -> tuple[Task, Extraction]:
    """A task whose splits are the given (embeddings, labels, split) parts."""
    clips, xs = [], []
    for x, y, split in parts:
        clips += [
            Clip(f"{split}/{i}", Path(f"{split}/{i}.wav"), str(v), split) for i, v in enumerate(y)
        ]
        xs.append(x)
    labels = tuple(sorted({c.label for c in clips}))
    task = Task("voxceleb1-sized", "synthetic", "none", labels, lambda root: clips, "")
    return task, Extraction(clips, np.vstack(xs).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=20000)
    parser.add_argument("--train", type=int, default=138361)
    args = parser.parse_args()
    subset_comparison(args.subset)
    full_scale(args.train)


if __name__ == "__main__":
    main()
