"""Base class of feature extractors: stateless, scikit-learn compatible transformers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from data.scut import FaceRecord
from features.face import FaceContext


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Turns faces into fixed-length feature vectors.

    Subclasses implement :meth:`extract` for one :class:`~features.face.FaceContext` and
    register with ``@FEATURES.register("name")``. ``__init__`` only stores keyword arguments.
    Extraction learns nothing, so ``fit`` is a no-op; anything learned (scaling, PCA) belongs
    to the predictor pipeline, fitted per training split.

    Class attributes
    ----------------
    version : str
        Bump when the code changes the output; part of the feature cache key.
    uses_landmarks : bool
        True if the feature reads the 86 manual landmarks (and so falls back to detected
        landmarks where the ``.pts`` file is missing).
    high_dimensional : bool
        True if the runner should reduce the feature with PCA (fitted on the training split).
    """

    version: ClassVar[str] = "1"
    uses_landmarks: ClassVar[bool] = False
    high_dimensional: ClassVar[bool] = False
    registry_name: ClassVar[str] = ""

    def fit(self, X: Sequence[FaceRecord], y=None) -> FeatureExtractor:
        """No-op (extraction is stateless); returns ``self``."""
        self.n_features_in_ = 1
        return self

    def transform(self, X: Sequence[FaceRecord]) -> np.ndarray:
        """Features of each face.

        Parameters
        ----------
        X : sequence of FaceRecord

        Returns
        -------
        ndarray of shape (n_samples, n_features), float64
        """
        return np.vstack([self.extract(FaceContext(face)) for face in X])

    def extract(self, face: FaceContext) -> np.ndarray:
        """Feature vector of one face, shape ``(n_features,)``."""
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags

    def cache_key(self) -> str:
        """Stable key of (registered name, parameters, code version) for the feature cache."""
        payload = json.dumps({"name": self.registry_name or type(self).__name__,
                              "class": f"{type(self).__module__}.{type(self).__qualname__}",
                              "params": self.get_params(deep=False), "version": self.version},
                             sort_keys=True, default=repr)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]
