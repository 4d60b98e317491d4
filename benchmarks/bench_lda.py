"""LDA probe benchmark at VoxCeleb1's class count: sklearn's LDA(lsqr, auto) vs noss_eval.lda.

    python benchmarks/bench_lda.py [--train 20000] [--test 5000] [--dim 1024] [--classes 1251]

Fits, with BLAS limited to one thread as noss-eval runs probes, sklearn's
LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"), noss-eval's ShrunkLDA (the same
estimator, computed without a d x d Ledoit-Wolf fit per class) and the softmax probe noss-eval
uses for many classes (StandardScaler + SoftmaxRegression(C=1)), on synthetic Gaussian speaker
clusters; prints fit times, their ratios, and how far ShrunkLDA is from sklearn.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import linalg
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from noss_eval.lda import ShrunkLDA
from noss_eval.softmax import SoftmaxRegression

LATENT = 256


def speakers(n: int, k: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n float32 rows: a speaker's mean in a 256-d latent space, projected to dim, plus noise."""
    structure = np.random.RandomState(0)
    projection = structure.randn(LATENT, dim).astype(np.float32) / np.sqrt(LATENT)
    means = structure.randn(k, LATENT).astype(np.float32)
    rng = np.random.RandomState(seed)
    y = rng.randint(0, k, n)
    latent = means[y] + 3.3 * rng.randn(n, LATENT).astype(np.float32)
    x = latent @ projection + 0.75 * rng.randn(n, dim).astype(np.float32)
    return x, np.char.add("id", y.astype(str))


def timed(make, x, y):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ledoit_wolf warns on 1-row classes
        model = make().fit(x, y)
    return model, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--test", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--classes", type=int, default=1251)
    args = parser.parse_args()
    (x, y), (xt, yt) = (
        speakers(n, args.classes, args.dim, s) for n, s in [(args.train, 1), (args.test, 2)]
    )
    with threadpool_limits(1):
        ref, t_ref = timed(
            lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"), x, y
        )
        ours, t_ours = timed(ShrunkLDA, x, y)
        soft, t_soft = timed(
            lambda: make_pipeline(StandardScaler(), SoftmaxRegression(C=1.0)), x, y
        )
        start = time.perf_counter()
        linalg.lstsq(ours.covariance_, ours.means_.T)
        t_solve = time.perf_counter() - start
    n_rows = np.unique(y, return_counts=True)[1]
    coef_diff = np.abs(ours.coef_ - ref.coef_).max()
    same = bool(np.array_equal(ours.predict(xt), ref.predict(xt)))
    print(
        f"## LDA probe: {args.train:,} train rows x {args.dim}-d, {len(n_rows):,} classes "
        f"({n_rows.min()}-{n_rows.max()} rows each), {args.test:,} test, BLAS 1 thread\n"
    )
    print("| probe | fit time s | test accuracy % |\n|---|---|---|")
    for name, model, t in [
        ('sklearn LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")', ref, t_ref),
        ("noss-eval ShrunkLDA (same estimator)", ours, t_ours),
        ("noss-eval softmax: StandardScaler + SoftmaxRegression(C=1)", soft, t_soft),
    ]:
        print(f"| {name} | {t:.1f} | {100 * model.score(xt, yt):.2f} |")
    print(
        f"\n- sklearn LDA / softmax **{t_ref / t_soft:.2f}x**; ShrunkLDA / softmax "
        f"**{t_ours / t_soft:.2f}x**; sklearn LDA / ShrunkLDA speed-up **{t_ref / t_ours:.1f}x**"
    )
    print(
        f"- of ShrunkLDA's fit, the scipy.linalg.lstsq solve (as sklearn's) takes {t_solve:.1f} s"
    )
    print(
        f"- max |coef_ difference| {coef_diff:.2e} ({coef_diff / np.abs(ref.coef_).max():.1e} of "
        f"max |coef_|); test predictions identical: **{same}**\n"
    )


if __name__ == "__main__":
    main()
