"""Registered predictors: ``lr``, ``gr``, ``svr``, ``xgb``."""
