"""Support vector regression (RBF) with C, epsilon and gamma chosen by inner CV on the training split."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import SVR

from models import PREDICTORS
from models.predictors._search import subsample


@PREDICTORS.register("svr")
class SVRPredictor(RegressorMixin, BaseEstimator):
    """Support vector regression, RBF kernel (C, epsilon, gamma by inner 3-fold CV on the training split).

    The grid search runs on at most ``search_samples`` random rows of the training split (the
    test split is never seen); the chosen parameters are then refitted on the whole training split.

    Parameters
    ----------
    C_grid, epsilon_grid : tuple of float
        Candidate values.
    gamma_grid : tuple of float
        Candidate multipliers of scikit-learn's ``gamma="scale"`` (1 / (n_features * X.var())).
    search_samples : int or None
        Rows used by the inner search; None uses all training rows. 500 chooses the same
        parameters as 800 on the real data at two thirds of the search cost
        (``python -m tools.fit_speed --predictors svr --set svr.search_samples=800``).
    cv : int
        Inner folds.
    random_state : int
        Seed of the subsample and of the inner folds.
    """

    def __init__(self, C_grid=(0.3, 1.0, 3.0), epsilon_grid=(0.15,), gamma_grid=(0.5, 1.0),
                 search_samples: int | None = 500, cv: int = 3, random_state: int = 0) -> None:
        self.C_grid = C_grid
        self.epsilon_grid = epsilon_grid
        self.gamma_grid = gamma_grid
        self.search_samples = search_samples
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y) -> SVRPredictor:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        scale = 1.0 / (X.shape[1] * max(float(X.var()), 1e-12))
        grid = {"C": list(self.C_grid), "epsilon": list(self.epsilon_grid),
                "gamma": [g * scale for g in self.gamma_grid]}
        Xs, ys = subsample(X, y, self.search_samples, self.random_state)
        search = GridSearchCV(SVR(kernel="rbf"), grid, scoring="neg_mean_squared_error",
                              cv=KFold(self.cv, shuffle=True, random_state=self.random_state))
        search.fit(Xs, ys)
        self.best_params_ = search.best_params_
        self.svr_ = SVR(kernel="rbf", **self.best_params_).fit(X, y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        return self.svr_.predict(np.asarray(X, dtype=np.float64))
