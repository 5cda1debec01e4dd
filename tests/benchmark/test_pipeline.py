"""The per-split model: preprocessing steps, float32 PCA, and saving it."""

import numpy as np
import pytest

from benchmark.model_io import load_pipeline, save_pipeline
from benchmark.pipeline import ToFloat32, build_model, build_preprocessing, create_extractor


def correlated(n=400, d=300, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 20)) @ rng.normal(size=(20, d)) + 0.1 * rng.normal(size=(n, d))


def test_low_dimensional_features_are_only_scaled_in_float64():
    pre = build_preprocessing(create_extractor("geom86"))
    assert [name for name, _ in pre.steps] == ["scale"]
    assert pre.fit_transform(correlated(d=36)).dtype == np.float64


def test_high_dimensional_pca_in_float32_matches_float64():
    ext = create_extractor("gabor-kp")
    assert ext.high_dimensional
    X = correlated()
    pre = build_preprocessing(ext, pca_components=10)
    assert [name for name, _ in pre.steps] == ["float32", "scale", "reduce"]
    Z32 = pre.fit_transform(X)
    assert Z32.dtype == np.float32 and Z32.shape == (400, 10)
    reference = build_preprocessing(ext, pca_components=10)
    reference.steps.pop(0)  # the same pipeline without the cast: float64 throughout
    Z64 = reference.fit_transform(X)
    # components may flip sign; the leading ones agree to float32 precision
    signs = np.sign((Z32[:, :5] * Z64[:, :5]).sum(0))
    np.testing.assert_allclose(Z32[:, :5] * signs, Z64[:, :5], rtol=0, atol=1e-3 * np.abs(Z64[:, :5]).max())


def test_to_float32_is_stateless_estimator():
    step = ToFloat32()
    assert step.get_params() == {}
    assert step.fit(np.ones((3, 2))) is step and step.n_features_in_ == 2
    assert step.transform([[1, 2]]).dtype == np.float32


@pytest.mark.parametrize("predictor", ["lr", "gr"])
def test_saved_float32_pipeline_loads_with_the_trusted_types(tmp_path, predictor):
    X = correlated(n=120)
    y = X[:, 0] / np.abs(X[:, 0]).max() + 3
    model = build_model(create_extractor("gabor-grid"), predictor, pca_components=5).fit(X[:100], y[:100])
    path = save_pipeline(tmp_path / "m.skops", model, {"feature": "gabor-grid"})
    loaded = load_pipeline(path)
    np.testing.assert_allclose(loaded.predict(X[100:]), model.predict(X[100:]), rtol=1e-6)
