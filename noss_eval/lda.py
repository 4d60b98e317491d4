"""sklearn's `LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`, fitted cheaply.

sklearn's `_class_cov` (via `_cov`) standardises each class's rows with a `StandardScaler`, fits
`ledoit_wolf` on them (two d x d products per class, `ledoit_wolf_shrinkage` then
`_ledoit_wolf`), rescales the d x d result and adds it in with the class prior: at 1,251 classes
and 2048 dims that is thousands of d x d passes. The shrinkage s_k only needs scalars of the
standardised, centred rows Z_k (n_k x d): mu = ||Z||_F^2 / (n d), beta_ = sum_i ||z_i||^4 and
delta_ = ||Z^T Z||_F^2 / n^2 = ||Z Z^T||_F^2 / n^2 (the n_k x n_k gram when n_k < d). With
Y_k = Z_k * scale_k (the centred rows), the summed covariance is

    sum_k prior_k [(1 - s_k) Y_k^T Y_k / n_k + s_k mu_k diag(scale_k^2)]

one product W^T W of all rows (class k's scaled by sqrt(prior_k (1 - s_k) / n_k)), summed over
blocks of rows, plus a diagonal. `_class_means` and the `scipy.linalg.lstsq` solve are sklearn's
`_solve_lstsq`; `fit`, `predict`, `predict_proba` and `decision_function` are sklearn's own; other
shrinkages or a `covariance_estimator` fall back to sklearn's `_solve_lstsq`. Statistics are
computed in float64 (sklearn keeps float32 input in float32 per class), so results agree to float
rounding.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, _class_means
from sklearn.preprocessing import StandardScaler

BLOCK_ROWS = 8192  # rows of W per product W_b^T W_b, summed into the covariance


def ledoit_wolf_shrinkage_and_mu(z: np.ndarray) -> tuple[float, float]:
    """sklearn's `ledoit_wolf_shrinkage(z, assume_centered=True)` and the target scale mu, for
    centred rows z, in O(n^2 d) when n < d instead of O(n d^2)."""
    n, d = z.shape
    sq_norms = np.einsum("ij,ij->i", z, z)
    trace = sq_norms.sum() / n  # trace of the empirical covariance z^T z / n
    mu = trace / d
    if d == 1:
        return 0.0, mu
    gram = z @ z.T if n <= d else z.T @ z
    delta_ = np.einsum("ij,ij->", gram, gram) / n**2
    beta_ = np.dot(sq_norms, sq_norms)
    beta = (beta_ / n - delta_) / (d * n)
    delta = (delta_ - 2.0 * mu * trace + d * mu**2) / d
    beta = min(beta, delta)
    return (0.0 if beta == 0 else beta / delta), mu


class ShrunkLDA(LinearDiscriminantAnalysis):
    """`LinearDiscriminantAnalysis` defaulting to solver="lsqr", shrinkage="auto", fast there."""

    def __init__(
        self,
        solver="lsqr",
        shrinkage="auto",
        priors=None,
        n_components=None,
        store_covariance=False,
        tol=1e-4,
        covariance_estimator=None,
    ):
        super().__init__(
            solver=solver,
            shrinkage=shrinkage,
            priors=priors,
            n_components=n_components,
            store_covariance=store_covariance,
            tol=tol,
            covariance_estimator=covariance_estimator,
        )

    def _solve_lstsq(self, X, y, shrinkage, covariance_estimator):
        auto = isinstance(shrinkage, str) and shrinkage == "auto"
        if not auto or covariance_estimator is not None:
            return super()._solve_lstsq(X, y, shrinkage, covariance_estimator)
        self.means_ = _class_means(X, y)
        _, inverse = np.unique(y, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse))])
        priors = np.asarray(self.priors_, dtype=np.float64)
        d = X.shape[1]
        self.covariance_, diagonal, block, n_block = np.zeros((d, d)), np.zeros(d), [], 0
        for k, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            scaler = StandardScaler()
            z = scaler.fit_transform(X[order[start:stop]])
            z = (z - z.mean(axis=0)).astype(np.float64)  # as LedoitWolf centres again
            s, mu = ledoit_wolf_shrinkage_and_mu(z)
            scale = scaler.scale_.astype(np.float64)
            block.append(z * (scale * np.sqrt(priors[k] * (1.0 - s) / (stop - start))))
            diagonal += priors[k] * s * mu * scale**2
            n_block += stop - start
            if n_block >= BLOCK_ROWS or k == len(bounds) - 2:
                w = np.concatenate(block)  # W's rows, a block at a time to bound memory
                self.covariance_ += w.T @ w
                block, n_block = [], 0
        self.covariance_.flat[:: d + 1] += diagonal
        self.coef_ = linalg.lstsq(self.covariance_, self.means_.T)[0].T
        # sklearn takes the diagonal of means_ @ coef_.T (k x k); the row-wise dot is the same
        self.intercept_ = -0.5 * np.einsum("ij,ij->i", self.means_, self.coef_) + np.log(
            self.priors_
        )
