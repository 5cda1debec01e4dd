"""Gaussian process regression (RBF + white noise) with cheap hyper-parameter fitting.

scikit-learn's ``GaussianProcessRegressor`` maximises the log marginal likelihood with
L-BFGS; each step costs an O(n^3) Cholesky plus O(n^2 d) gradient terms, so on 4400 training
faces the default optimiser takes over a minute per fit. The kernel hyper-parameters
(signal variance, length scale, noise level) are smooth, low-dimensional quantities that a
random subsample of the training split estimates well. So :class:`GaussianProcessPredictor`

1. fits the hyper-parameters by marginal likelihood on ``hyper_samples`` random training
   rows (default 500);
2. fits the exact GP on the *whole* training split with those hyper-parameters fixed: one
   kernel matrix (computed with a BLAS matrix product) and one Cholesky factorisation. The
   posterior mean equals scikit-learn's ``GaussianProcessRegressor(kernel_, optimizer=None,
   normalize_y=True)`` (tested), at a third of its cost.

``hyper_samples=None`` runs the plain full optimiser instead (for comparison;
``python -m benchmark.gp_speed`` measures both).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

from models import PREDICTORS
from models.predictors._search import subsample


@PREDICTORS.register("gr")
class GaussianProcessPredictor(RegressorMixin, BaseEstimator):
    """Gaussian process regression, RBF + white-noise kernel (hyper-parameters on a training subsample).

    Parameters
    ----------
    hyper_samples : int or None
        Training rows used to fit the kernel hyper-parameters; None uses all of them.
    n_restarts : int
        Extra optimiser restarts from random initial hyper-parameters.
    random_state : int
        Seed of the subsample and of the restarts.
    """

    def __init__(self, hyper_samples: int | None = 500, n_restarts: int = 0, random_state: int = 0) -> None:
        self.hyper_samples = hyper_samples
        self.n_restarts = n_restarts
        self.random_state = random_state

    def _kernel(self, n_features: int):
        return (ConstantKernel(1.0, (1e-3, 1e3))
                * RBF(length_scale=np.sqrt(n_features), length_scale_bounds=(1e-2, 1e4))
                + WhiteKernel(noise_level=0.5, noise_level_bounds=(1e-4, 1e1)))

    def fit(self, X, y) -> GaussianProcessPredictor:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        Xh, yh = subsample(X, y, self.hyper_samples, self.random_state)
        tuner = GaussianProcessRegressor(self._kernel(X.shape[1]), normalize_y=True,
                                         n_restarts_optimizer=self.n_restarts,
                                         random_state=self.random_state).fit(Xh, yh)
        self.kernel_ = tuner.kernel_
        self.signal_variance_ = float(self.kernel_.k1.k1.constant_value)
        self.length_scale_ = float(self.kernel_.k1.k2.length_scale)
        self.noise_level_ = float(self.kernel_.k2.noise_level)
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std()) or 1.0
        K = self._rbf(X, X)
        K[np.diag_indices_from(K)] += self.noise_level_ + 1e-10
        self.alpha_ = cho_solve(cho_factor(K, lower=True, overwrite_a=True, check_finite=False),
                                (y - self.y_mean_) / self.y_std_, check_finite=False)
        self.X_train_ = X
        self.n_features_in_ = X.shape[1]
        return self

    def _rbf(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """``signal_variance * exp(-|a - b|^2 / (2 length_scale^2))`` for all pairs, shape (len(A), len(B))."""
        sq = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
        np.maximum(sq, 0.0, out=sq)
        sq *= -0.5 / self.length_scale_**2
        np.exp(sq, out=sq)
        sq *= self.signal_variance_
        return sq

    def predict(self, X) -> np.ndarray:
        """Posterior mean, in the units of ``y`` (score points)."""
        K_star = self._rbf(np.asarray(X, dtype=np.float64), self.X_train_)
        return K_star @ self.alpha_ * self.y_std_ + self.y_mean_
