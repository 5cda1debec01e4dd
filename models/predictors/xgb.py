"""Gradient-boosted trees (XGBoost) with the number of rounds chosen on a held-out part of the training split."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import train_test_split

from models import PREDICTORS


@PREDICTORS.register("xgb")
class XGBPredictor(RegressorMixin, BaseEstimator):
    """XGBoost regression trees (rounds by early stopping on a validation part of the training split).

    ``validation_fraction`` of the training split is held out for early stopping; with
    ``refit=True`` the model is then refitted on the whole training split with the chosen
    number of rounds, else the early-stopped model is kept (half the cost). The test split is
    never seen. xgboost is imported lazily.

    Parameters
    ----------
    max_rounds : int
        Upper bound on boosting rounds.
    learning_rate, max_depth, subsample, colsample_bytree, min_child_weight : float or int
        Usual XGBoost parameters.
    validation_fraction : float
        Share of the training split used for early stopping.
    early_stopping_rounds : int
        Patience of the early stopping.
    refit : bool
        Refit on the whole training split with the chosen number of rounds.
    max_bin : int
        Histogram bins per feature. 64 instead of XGBoost's 256 fits about twice as fast on
        100 PCA components, with the same test PC (``python -m tools.fit_speed`` measures it).
    n_jobs : int
        XGBoost threads.
    random_state : int
        Seed of the validation split and of the row/column subsampling.
    """

    def __init__(self, max_rounds: int = 600, learning_rate: float = 0.05, max_depth: int = 4,
                 subsample: float = 0.8, colsample_bytree: float = 0.5, min_child_weight: float = 3.0,
                 validation_fraction: float = 0.15, early_stopping_rounds: int = 40, refit: bool = True,
                 max_bin: int = 64, n_jobs: int = 1, random_state: int = 0) -> None:
        self.max_rounds = max_rounds
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.refit = refit
        self.max_bin = max_bin
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _model(self, n_rounds: int, early_stopping: bool):
        from xgboost import XGBRegressor

        return XGBRegressor(n_estimators=n_rounds, learning_rate=self.learning_rate, max_depth=self.max_depth,
                            subsample=self.subsample, colsample_bytree=self.colsample_bytree,
                            min_child_weight=self.min_child_weight, tree_method="hist", max_bin=self.max_bin,
                            n_jobs=self.n_jobs, random_state=self.random_state,
                            early_stopping_rounds=self.early_stopping_rounds if early_stopping else None)

    def fit(self, X, y) -> XGBPredictor:
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64)
        X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=self.validation_fraction,
                                                      random_state=self.random_state)
        probe = self._model(self.max_rounds, early_stopping=True)
        probe.fit(X_fit, y_fit, eval_set=[(X_val, y_val)], verbose=False)
        self.n_rounds_ = int(probe.best_iteration) + 1
        if self.refit:
            self.model_ = self._model(self.n_rounds_, early_stopping=False).fit(X, y, verbose=False)
        else:
            self.model_ = probe  # predicts with the best iteration's trees

        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        return self.model_.predict(np.asarray(X, dtype=np.float32)).astype(np.float64)
