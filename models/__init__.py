"""Predictors (scikit-learn regressors with their own training-split-only tuning) and CNNs.

``PREDICTORS`` holds the regressors paired with hand-crafted features; every public module of
``models.predictors`` is imported on first lookup, so a new predictor is one new module.
The CNN backbones live in ``models.cnn`` with their own registry (``models.cnn.CNNS``).
"""

from core.registry import Registry

PREDICTORS: Registry = Registry("predictor", packages=("models.predictors",),
                                entry_point_group="fbp.predictors")

__all__ = ["PREDICTORS"]
