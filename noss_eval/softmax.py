"""Multinomial logistic regression for many-class probes (VoxCeleb1: 1,251 speakers).

Same objective as sklearn's `LogisticRegression(C)`, `C * sum(log-loss) + ||W||^2 / 2`, minimised
by mini-batch Adam with a cosine schedule in float32: `epochs` passes of about 20 steps each
(batch n/20, between 64 and 2048 rows). One pass costs two matrix products, so a few epochs over
140k x 2048 take minutes where lbfgs takes hours; `benchmarks/bench_probe.py` checks the accuracy
against sklearn on a subset sklearn can fit.

`UpstreamLogisticRegression` is paper mode's logistic regression: upstream NOSS's
`LogisticRegression(C, solver='lbfgs', multi_class='multinomial')`, which fits a softmax over both
classes of a binary task too (sklearn >= 1.8 no longer accepts `multi_class`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    def __init__(
        self,
        C: float = 1.0,
        class_weight: str | None = None,
        epochs: int = 4,
        batch_size: int | None = None,
        learning_rate: float = 2e-3,
        random_state: int = 0,
    ):
        self.C = C
        self.class_weight = class_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> SoftmaxRegression:
        x = np.ascontiguousarray(X, dtype=np.float32)
        self.classes_, target = np.unique(y, return_inverse=True)
        n, d = x.shape
        k = len(self.classes_)
        weight = np.ones(k, np.float32)
        if self.class_weight == "balanced":
            weight = (n / (k * np.bincount(target, minlength=k))).astype(np.float32)
        elif self.class_weight is not None:
            raise ValueError(f"class_weight must be None or 'balanced', not {self.class_weight!r}")
        rng = np.random.RandomState(self.random_state)
        w = np.zeros((d, k), np.float32)
        b = np.zeros(k, np.float32)
        moments = [np.zeros_like(p) for p in (w, w, b, b)]
        decay = np.float32(1.0 / (self.C * n))  # the L2 term per sample of the mean loss
        batch = self.batch_size or int(np.clip(n // 20, 64, 2048))
        steps = self.epochs * -(-n // batch)
        t = 0
        for _ in range(self.epochs):
            order = rng.permutation(n)
            for start in range(0, n, batch):
                rows = order[start : start + batch]
                xb, yb = x[rows], target[rows]
                grad = _softmax(xb @ w + b)
                grad[np.arange(len(rows)), yb] -= 1.0
                grad *= (weight[yb] / len(rows))[:, None]
                t += 1
                rate = self.learning_rate * 0.5 * (1.0 + np.cos(np.pi * t / steps))
                _adam(w, xb.T @ grad + decay * w, moments[0], moments[1], rate, t)
                _adam(b, grad.sum(axis=0), moments[2], moments[3], rate, t)
        self.coef_, self.intercept_ = w.T, b
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float32) @ self.coef_.T + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return _softmax(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _softmax(z: np.ndarray) -> np.ndarray:
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _adam(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    rate: float,
    t: int,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> None:
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    grad *= grad
    v += (1 - beta2) * grad
    step = rate * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    param -= step * m / (np.sqrt(v) + eps)


class UpstreamLogisticRegression(LogisticRegression):
    """sklearn's `LogisticRegression` (same parameters; lbfgs) that fits the multinomial loss on
    two classes too, as upstream NOSS's `multi_class='multinomial'` did: scikit-learn 1.4-1.7
    `_logistic_regression_path` minimised `C * sum(softmax log-loss) + (|w0|^2 + |w1|^2) / 2`
    over both classes' rows, stored class 1's row as `coef_`, and `predict_proba` took the
    softmax of `[-d, d]`. sklearn's binomial fit at the same C is a different model: its optimum
    is this one's at C/2 (w1 = -w0 = beta/2), and its lbfgs runs on a differently scaled
    problem, so `max_iter` stops it elsewhere. Three or more classes: sklearn's own fit (lbfgs is
    multinomial there)."""

    def fit(self, X, y, sample_weight=None):
        from scipy import optimize
        from sklearn.utils.validation import check_array

        y = np.asarray(y)
        if len(np.unique(y)) != 2 or self.solver != "lbfgs" or not self.fit_intercept:
            self._binary_softmax = False
            return super().fit(X, y, sample_weight)
        from sklearn._loss.loss import HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
        from sklearn.preprocessing import LabelEncoder
        from sklearn.utils import compute_class_weight
        from sklearn.utils.optimize import _check_optimize_result

        X = check_array(X, dtype=np.float64, order="C")
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        target = LabelEncoder().fit(self.classes_).transform(y)
        given = {} if sample_weight is None else {"sample_weight": sample_weight}
        if sample_weight is not None or self.class_weight is not None:
            sample_weight = (
                np.ones(len(y)) if sample_weight is None else np.array(sample_weight, np.float64)
            )
        if self.class_weight is not None:  # (sklearn < 1.6 takes no sample_weight here)
            weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y, **given)
            sample_weight *= weights[target]
        sw_sum = len(y) if sample_weight is None else float(np.sum(sample_weight))
        loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=2), fit_intercept=True)
        w0 = np.zeros((2, X.shape[1] + 1), order="F").ravel(order="F")
        result = optimize.minimize(
            loss.loss_gradient,
            w0,
            method="L-BFGS-B",
            jac=True,
            args=(X, target.astype(np.float64), sample_weight, 1.0 / (self.C * sw_sum), 1),
            options={
                "maxiter": self.max_iter,
                "maxls": 50,
                "gtol": self.tol,
                "ftol": 64 * np.finfo(float).eps,
            },
        )
        n_iter = _check_optimize_result("lbfgs", result, self.max_iter)
        row = np.reshape(result.x, (2, -1), order="F")[1][np.newaxis, :]
        self.coef_, self.intercept_ = row[:, :-1], row[:, -1]
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        self._binary_softmax = True
        return self

    def predict_proba(self, X):
        if not getattr(self, "_binary_softmax", False):
            return super().predict_proba(X)
        decision = self.decision_function(X)
        return _softmax(np.c_[-decision, decision])
