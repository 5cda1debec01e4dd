"""The model fitted on each split: scaling, optional PCA and a registered predictor.

Everything in the pipeline is fitted on the training part of a split only (the runner calls
``fit`` with training rows and ``predict`` with test rows). Its ``get_params()`` is the
record's configuration.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from features import FEATURES
from features.base import FeatureExtractor
from models import PREDICTORS

#: PCA components kept for high-dimensional features (fitted on the training split).
DEFAULT_PCA = 100


class ToFloat32(TransformerMixin, BaseEstimator):
    """Casts features to float32 (stateless).

    Put in front of the scaler of high-dimensional features: the randomized PCA then runs in
    single precision, about three times faster and with half the memory, and its leading 100
    components (and every predictor's test PC, to four decimals) are unchanged.
    """

    def fit(self, X, y=None) -> ToFloat32:
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X) -> np.ndarray:
        """``X`` as float32, shape (n_samples, n_features)."""
        return np.asarray(X, dtype=np.float32)


def build_preprocessing(extractor: FeatureExtractor, pca_components: int = DEFAULT_PCA,
                        seed: int = 0) -> Pipeline:
    """Scaler, then PCA if the feature is high-dimensional (fitted on a training split only).

    High-dimensional features are cast to float32 first (see :class:`ToFloat32`).
    """
    if not extractor.high_dimensional:
        return Pipeline([("scale", StandardScaler())])
    return Pipeline([("float32", ToFloat32()), ("scale", StandardScaler()),
                     ("reduce", PCA(n_components=pca_components, svd_solver="randomized", random_state=seed))])


def build_predictor(predictor: str, seed: int = 0) -> BaseEstimator:
    """The registered predictor ``predictor``, with ``random_state=seed`` where it has one."""
    model = PREDICTORS.create(predictor)
    if "random_state" in model.get_params(deep=False):
        model.set_params(random_state=seed)
    return model


def build_model(extractor: FeatureExtractor, predictor: str, pca_components: int = DEFAULT_PCA,
                seed: int = 0) -> Pipeline:
    """Scaler -> (PCA if the feature is high-dimensional) -> predictor.

    Parameters
    ----------
    extractor : FeatureExtractor
        The feature the model reads (decides whether PCA is used).
    predictor : str
        Registered predictor name.
    pca_components : int
        Components kept by PCA for high-dimensional features.
    seed : int
        Passed as ``random_state`` to every step that has one.
    """
    pre = build_preprocessing(extractor, pca_components, seed)
    return Pipeline([*pre.steps, ("predict", build_predictor(predictor, seed))])


def create_extractor(name: str) -> FeatureExtractor:
    """The registered feature extractor ``name`` with its default (benchmark) parameters."""
    return FEATURES.create(name)


def jsonable_params(estimator: BaseEstimator) -> dict[str, Any]:
    """``get_params(deep=True)`` with nested estimators replaced by their class names."""
    out: dict[str, Any] = {}
    for key, value in estimator.get_params(deep=True).items():
        if isinstance(value, BaseEstimator):
            out[key] = type(value).__name__
        elif isinstance(value, list) and value and isinstance(value[0], tuple):  # Pipeline.steps
            out[key] = [name for name, _ in value]
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (tuple, list)):
            out[key] = [v if isinstance(v, (str, int, float, bool)) else repr(v) for v in value]
        else:
            out[key] = repr(value)
    return out
