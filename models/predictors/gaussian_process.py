"""Gaussian process regression (RBF + white noise) with cheap hyper-parameter fitting.

scikit-learn's ``GaussianProcessRegressor`` maximises the log marginal likelihood with
L-BFGS; each step costs an O(n^3) Cholesky plus O(n^2 d) gradient terms, so on 4400 training
faces the default optimiser takes over a minute per fit. The kernel hyper-parameters
(signal variance, length scale, noise level) are smooth, low-dimensional quantities that a
random subsample of the training split estimates well. So :class:`GaussianProcessPredictor`

1. fits the hyper-parameters by marginal likelihood on ``hyper_samples`` random training
   rows (default 500);
2. fits the exact GP on the *whole* training split with those hyper-parameters fixed: one
   kernel matrix (computed in place around a BLAS matrix product) and one Cholesky
   factorisation. The factorisation runs in single precision, and iterative refinement
   against the double-precision kernel brings the weights back to double-precision accuracy
   (relative residual below ``1e-10``); where it cannot (a badly conditioned kernel, tiny
   noise) the factorisation is redone in double precision. The posterior mean equals
   scikit-learn's ``GaussianProcessRegressor(kernel_, optimizer=None, normalize_y=True)``
   (tested), at a fraction of its cost.

``hyper_samples=None`` runs the plain full optimiser instead (for comparison;
``python -m tools.gp_speed`` measures both).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
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
    factorisation : {"float32", "float64"}
        Precision of the Cholesky factorisation of the training kernel: ``"float32"`` refines
        the solution to double precision (see :func:`solve_spd`; faster), ``"float64"``
        factorises in double precision directly. Both give the same posterior mean.
    random_state : int
        Seed of the subsample and of the restarts.
    """

    def __init__(self, hyper_samples: int | None = 500, n_restarts: int = 0, factorisation: str = "float32",
                 random_state: int = 0) -> None:
        self.hyper_samples = hyper_samples
        self.n_restarts = n_restarts
        self.factorisation = factorisation
        self.random_state = random_state

    def _kernel(self, n_features: int):
        return (ConstantKernel(1.0, (1e-3, 1e3))
                * RBF(length_scale=np.sqrt(n_features), length_scale_bounds=(1e-2, 1e4))
                + WhiteKernel(noise_level=0.5, noise_level_bounds=(1e-4, 1e1)))

    def fit(self, X, y) -> GaussianProcessPredictor:
        if self.factorisation not in ("float32", "float64"):
            raise ValueError(f"factorisation must be 'float32' or 'float64', got {self.factorisation!r}")
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
        self.alpha_, self.solver_ = solve_spd(K, (y - self.y_mean_) / self.y_std_,
                                              single=self.factorisation == "float32")
        self.X_train_ = X
        self.n_features_in_ = X.shape[1]
        return self

    def _rbf(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """``signal_variance * exp(-|a - b|^2 / (2 length_scale^2))`` for all pairs, shape (len(A), len(B))."""
        sq = A @ B.T  # every step below works in place on this one (len(A), len(B)) array
        sq *= -2.0
        sq += (A * A).sum(1)[:, None]
        sq += (B * B).sum(1)[None, :]
        np.maximum(sq, 0.0, out=sq)
        sq *= -0.5 / self.length_scale_**2
        np.exp(sq, out=sq)
        sq *= self.signal_variance_
        return sq

    def predict(self, X) -> np.ndarray:
        """Posterior mean, in the units of ``y`` (score points)."""
        K_star = self._rbf(np.asarray(X, dtype=np.float64), self.X_train_)
        return K_star @ self.alpha_ * self.y_std_ + self.y_mean_


def solve_spd(K: np.ndarray, b: np.ndarray, tol: float = 1e-10, max_steps: int = 8,
              single: bool = True) -> tuple[np.ndarray, str]:
    """Solve ``K x = b`` for a symmetric positive definite ``K`` (float64), to double precision.

    Factorises ``K`` in float32 (half the time of float64) and refines ``x`` with residuals
    computed in float64 until ``|b - K x|_inf <= tol * |b|_inf``. Falls back to a float64
    Cholesky when the float32 factorisation fails or the refinement does not converge
    (condition number near ``1 / float32 eps``).

    Parameters
    ----------
    K : ndarray of shape (n, n), float64
        The matrix; it is overwritten (used as workspace by the float64 fallback).
    b : ndarray of shape (n,)
        Right-hand side.
    single : bool
        Try the float32 factorisation first; False goes straight to float64.

    Returns
    -------
    x : ndarray of shape (n,), float64
    solver : str
        ``"float32+refinement"`` or ``"float64"``: which path gave ``x``.
    """
    target = tol * max(float(np.abs(b).max()), np.finfo(np.float64).tiny)
    factor = None
    if single:
        try:
            factor = cho_factor(K.astype(np.float32), lower=True, overwrite_a=True, check_finite=False)
        except LinAlgError:  # not positive definite in float32: the float64 path below
            pass
    if factor is not None and np.isfinite(factor[0].diagonal()).all():
        x = np.zeros_like(b, dtype=np.float64)
        residual = np.array(b, dtype=np.float64)
        previous = np.inf
        for _ in range(max_steps):
            x += cho_solve(factor, residual.astype(np.float32), check_finite=False)
            residual = b - K @ x
            size = float(np.abs(residual).max())
            if size <= target:
                return x, "float32+refinement"
            if not size < 0.5 * previous:  # stalled or diverging: the float32 factor is too inaccurate
                break
            previous = size
    x = cho_solve(cho_factor(K, lower=True, overwrite_a=True, check_finite=False), b, check_finite=False)
    return x, "float64"
