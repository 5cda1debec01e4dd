"""Linear regression with an L2 penalty chosen by efficient leave-one-out CV on the training split."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV

from models import PREDICTORS

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 4, 15))


@PREDICTORS.register("lr")
class LinearPredictor(RidgeCV):
    """Linear regression (ridge, alpha by leave-one-out CV on the training split)."""

    def __init__(self, alphas=DEFAULT_ALPHAS, fit_intercept: bool = True) -> None:
        super().__init__(alphas=alphas, fit_intercept=fit_intercept)
