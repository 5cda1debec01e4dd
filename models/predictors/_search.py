"""Helpers shared by predictors that tune on a subsample of their training data."""

from __future__ import annotations

import numpy as np


def subsample(X: np.ndarray, y: np.ndarray, n: int | None, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``n`` rows of the *training* data ``(X, y)``, drawn without replacement.

    ``n=None`` or ``n >= len(X)`` returns the data unchanged.
    """
    if n is None or len(X) <= n:
        return X, y
    idx = np.random.default_rng(random_state).choice(len(X), size=n, replace=False)
    return X[idx], y[idx]
