"""The model fitted on each split: scaling, optional PCA and a registered predictor.

Everything in the pipeline is fitted on the training part of a split only (the runner calls
``fit`` with training rows and ``predict`` with test rows). Its ``get_params()`` is the
record's configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from benchmark.fusion import FusedFeatures, create_fused, is_fused
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
                        seed: int = 0, widths: Sequence[int] | None = None) -> Pipeline:
    """Scaler, then PCA if the feature is high-dimensional (fitted on a training split only).

    High-dimensional features are cast to float32 first (see :class:`ToFloat32`). For a fused
    feature (:class:`~benchmark.fusion.FusedFeatures`) each block gets its own preprocessing
    on its own columns (a :class:`~sklearn.compose.ColumnTransformer` named ``blocks``), so
    each block is standardised, and PCA-reduced if that extractor is high-dimensional, on its
    own; ``widths`` are then the blocks' column counts, in order.
    """
    if isinstance(extractor, FusedFeatures):
        if widths is None or len(widths) != len(extractor.blocks):
            raise ValueError(f"fused feature {extractor.registry_name!r} needs the column count of each of "
                             f"its {len(extractor.blocks)} blocks, got {widths!r}")
        stops = np.cumsum(widths)
        columns = [(name, build_preprocessing(block, pca_components, seed), slice(int(stop - width), int(stop)))
                   for (name, block), width, stop in zip(extractor.blocks, widths, stops, strict=True)]
        return Pipeline([("blocks", ColumnTransformer(columns, remainder="drop", sparse_threshold=0.0))])
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
                seed: int = 0, widths: Sequence[int] | None = None) -> Pipeline:
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
    widths : sequence of int, optional
        Column count of each block of a fused feature (see :func:`build_preprocessing`).
    """
    pre = build_preprocessing(extractor, pca_components, seed, widths)
    return Pipeline([*pre.steps, ("predict", build_predictor(predictor, seed))])


def create_extractor(name: str) -> FeatureExtractor:
    """The registered feature extractor ``name`` with its default (benchmark) parameters.

    A fusion (``dlib-embed+lbp``, see :mod:`benchmark.fusion`) gives a
    :class:`~benchmark.fusion.FusedFeatures` of its blocks.
    """
    if is_fused(name):
        return create_fused(name)
    return FEATURES.create(name)


def jsonable_params(estimator: BaseEstimator) -> dict[str, Any]:
    """``get_params(deep=True)`` with nested estimators replaced by their class names."""
    out: dict[str, Any] = {}
    for key, value in estimator.get_params(deep=True).items():
        if isinstance(value, BaseEstimator):
            out[key] = type(value).__name__
        elif isinstance(value, (list, tuple)) and value and isinstance(value[0], tuple):  # steps, blocks
            out[key] = [item[0] for item in value]
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (tuple, list)):
            out[key] = [v if isinstance(v, (str, int, float, bool)) else repr(v) for v in value]
        else:
            out[key] = repr(value)
    return out
