"""Common tests run over every registered predictor (a new predictor is tested automatically)."""

import numpy as np
import pytest
from sklearn.base import clone

from benchmark.metrics import pearson
from models import PREDICTORS


def toy(seed=0, n=300, d=8):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = 3 + 0.5 * X[:, 0] - 0.3 * X[:, 1] ** 2 + 0.2 * np.sin(2 * X[:, 2]) + rng.normal(0, 0.05, n)
    return X, y


@pytest.mark.parametrize("name", PREDICTORS.list())
def test_predictor_contract(name):
    model = PREDICTORS.create(name)
    params = model.get_params()
    assert clone(model).get_params().keys() == params.keys()
    assert not [k for k in vars(model) if k.endswith("_")], "__init__ must only store parameters"
    X, y = toy()
    assert model.fit(X[:200], y[:200]) is model
    pred = model.predict(X[200:])
    assert pred.shape == (100,) and np.isfinite(pred).all()
    assert pearson(y[200:], pred) > 0.7, name


@pytest.mark.parametrize("name", PREDICTORS.list())
def test_predictor_is_deterministic(name):
    X, y = toy(1)
    a = PREDICTORS.create(name).fit(X[:200], y[:200]).predict(X[200:])
    b = PREDICTORS.create(name).fit(X[:200], y[:200]).predict(X[200:])
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_gp_fast_hyperparameters_match_full_optimiser():
    X, y = toy(2, n=1200, d=6)
    fast = PREDICTORS.create("gr", hyper_samples=300).fit(X[:1000], y[:1000])
    full = PREDICTORS.create("gr", hyper_samples=None).fit(X[:1000], y[:1000])
    pf, pfull = fast.predict(X[1000:]), full.predict(X[1000:])
    assert pearson(y[1000:], pf) > pearson(y[1000:], pfull) - 0.02


def test_gp_posterior_mean_equals_sklearn_with_same_kernel():
    from sklearn.gaussian_process import GaussianProcessRegressor

    X, y = toy(3, n=500, d=5)
    ours = PREDICTORS.create("gr", hyper_samples=200).fit(X[:400], y[:400])
    ref = GaussianProcessRegressor(ours.kernel_, optimizer=None, normalize_y=True).fit(X[:400], y[:400])
    np.testing.assert_allclose(ours.predict(X[400:]), ref.predict(X[400:]), rtol=1e-6, atol=1e-6)


def _rbf_gram(n, d, length_scale, noise, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, d))
    sq = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    return np.exp(-0.5 * sq / length_scale**2) + noise * np.eye(n)


@pytest.mark.parametrize(("noise", "expected"), [(0.2, "float32+refinement"), (1e-5, "float64")])
def test_solve_spd_reaches_double_precision_on_both_paths(noise, expected):
    from models.predictors.gaussian_process import solve_spd

    K = _rbf_gram(400, 3, 2.0, noise)
    b = np.random.default_rng(1).normal(size=400)
    x, solver = solve_spd(K.copy(), b)
    assert solver == expected  # tiny noise: the float32 factor cannot reach 1e-10, so float64 is used
    np.testing.assert_allclose(K @ x, b, rtol=0, atol=1e-8 * np.abs(b).max())
    np.testing.assert_allclose(x, np.linalg.solve(K, b), rtol=1e-6, atol=1e-6 * np.abs(x).max())


def test_gp_float32_and_float64_factorisations_agree():
    X, y = toy(4, n=700, d=6)
    fast = PREDICTORS.create("gr").fit(X[:600], y[:600])
    double = PREDICTORS.create("gr", factorisation="float64").fit(X[:600], y[:600])
    assert (fast.solver_, double.solver_) == ("float32+refinement", "float64")
    np.testing.assert_allclose(fast.predict(X[600:]), double.predict(X[600:]), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="factorisation"):
        PREDICTORS.create("gr", factorisation="half").fit(X[:50], y[:50])
