"""Evaluation metrics of the SCUT-FBP5500 paper: Pearson correlation, MAE and RMSE."""

from __future__ import annotations

import numpy as np


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape or t.size < 2:
        raise ValueError(f"need two equal-length vectors of >= 2 values, got {t.shape} and {p.shape}")
    return t, p


def pearson(y_true, y_pred) -> float:
    """Pearson correlation coefficient (PC) between true and predicted scores; nan if constant."""
    t, p = _pair(y_true, y_pred)
    t, p = t - t.mean(), p - p.mean()
    denom = np.sqrt((t * t).sum() * (p * p).sum())
    return float((t * p).sum() / denom) if denom > 0 else float("nan")


def mae(y_true, y_pred) -> float:
    """Mean absolute error, in score units (1-5 scale)."""
    t, p = _pair(y_true, y_pred)
    return float(np.abs(t - p).mean())


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, in score units (1-5 scale)."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(((t - p) ** 2).mean()))


METRICS = {"pc": pearson, "mae": mae, "rmse": rmse}
#: Whether a larger value is better, per metric.
HIGHER_IS_BETTER = {"pc": True, "mae": False, "rmse": False}


def score_all(y_true, y_pred) -> dict[str, float]:
    """All three metrics as ``{"pc": ..., "mae": ..., "rmse": ...}``."""
    return {name: fn(y_true, y_pred) for name, fn in METRICS.items()}
