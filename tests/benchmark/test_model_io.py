"""Model files: skops pipelines with a trusted-type allow-list, safetensors CNN weights, metadata."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from benchmark import model_io
from benchmark.pipeline import build_model
from features import FEATURES


def project_feature(landmarks: bool = False) -> str:
    """A registered feature of this project's ``features`` package (not a test plugin)."""
    for name in FEATURES.list():
        cls = FEATURES.get(name)
        if cls.__module__.startswith("features.") and cls.uses_landmarks == landmarks:
            return name
    pytest.skip("no project feature extractor registered")


class Untrusted(TransformerMixin, BaseEstimator):
    """A transformer from outside the trusted packages (this test module)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


@pytest.fixture(scope="module")
def fitted():
    name = project_feature()
    extractor = FEATURES.create(name)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), rng.uniform(1, 5, 40)
    model = build_model(extractor, "lr", pca_components=3).fit(X, y)
    return name, extractor, model, X


def test_save_and_load_pipeline_roundtrip(fitted, tmp_path):
    name, extractor, model, X = fitted
    pipeline = model_io.with_extractor(extractor, model)
    assert pipeline.steps[0][0] == "features" and pipeline.steps[0][1] is extractor
    path = model_io.save_pipeline(tmp_path / "m" / "model.skops", pipeline, {"feature": name, "note": "x"})
    loaded = model_io.load_pipeline(path)
    assert isinstance(loaded, Pipeline) and type(loaded.steps[0][1]) is type(extractor)
    np.testing.assert_allclose(loaded[1:].predict(X), model.predict(X))
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["format"] == model_io.FORMAT and meta["kind"] == model_io.KIND_PIPELINE
    assert meta["feature"] == name and meta["note"] == "x" and meta["versions"]["scikit-learn"]
    assert not list((tmp_path / "m").glob("*.tmp"))


@pytest.mark.parametrize("bad_step", [Untrusted(), FunctionTransformer(func=eval)],
                         ids=["foreign-class", "builtin-eval"])
def test_untrusted_types_refuse_to_load(bad_step, tmp_path):
    import skops.io as sio

    pipeline = Pipeline([("bad", bad_step), ("scale", StandardScaler())])  # never fitted nor run
    path = tmp_path / "evil.skops"
    sio.dump(pipeline, path)  # written behind model_io's back
    with pytest.raises(model_io.ModelFileError) as info:
        model_io.load_pipeline(path)
    message = str(info.value)
    assert "refusing to load" in message and "\n" not in message
    assert ("Untrusted" in message) if isinstance(bad_step, Untrusted) else ("builtins.eval" in message)
    with pytest.raises(model_io.ModelFileError, match="refusing"):
        model_io.save_pipeline(tmp_path / "never.skops", pipeline, {})
    assert not (tmp_path / "never.skops").exists()


def test_trust_rule():
    for name in ("features.lbp.LBPGrid", "models.predictors.svr.SVRPredictor", "sklearn.svm._classes.SVR",
                 "numpy.float64", "scipy.sparse._csr.csr_matrix", "xgboost.core.Booster", "benchmark.x.Y"):
        assert model_io.is_trusted_type(name)
    for name in ("builtins.eval", "os.system", "tests.synthetic.PixelGridFeature", "featuresx.Evil",
                 "numpyx.Y", "subprocess.Popen"):
        assert not model_io.is_trusted_type(name)


EVIL_SOURCE = textwrap.dedent("""
    from sklearn.base import BaseEstimator, TransformerMixin


    class Evil(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return X
""")


def test_types_of_a_foreign_package_named_like_the_project_are_refused(fitted, tmp_path, monkeypatch):
    """A type whose module is called ``models.*`` but is installed elsewhere is refused (one line).

    First a module ``models.evil`` from a file outside the project (registered in ``sys.modules``
    as if installed), then a whole foreign top-level ``models`` package found first on
    ``sys.path`` (never imported by the check: its ``__init__`` raises); the project's own
    types still load.
    """
    import skops.io as sio

    evil_file = tmp_path / "elsewhere" / "evil.py"
    evil_file.parent.mkdir()
    evil_file.write_text(EVIL_SOURCE)
    spec = importlib.util.spec_from_file_location("models.evil", evil_file)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "models.evil", module)
    spec.loader.exec_module(module)
    assert module.Evil.__module__ == "models.evil"
    assert not model_io.is_project_module("models.evil") and not model_io.is_trusted_type("models.evil.Evil")
    pipeline = Pipeline([("evil", module.Evil()), ("scale", StandardScaler())])
    path = tmp_path / "evil.skops"
    sio.dump(pipeline, path)  # written behind model_io's back
    for load in (model_io.load_pipeline, lambda p: model_io.save_pipeline(tmp_path / "never.skops", pipeline, {})):
        with pytest.raises(model_io.ModelFileError) as info:
            load(path)
        message = str(info.value)
        assert "refusing to load" in message and "models.evil.Evil" in message and "\n" not in message
    assert not (tmp_path / "never.skops").exists()

    site = tmp_path / "site"
    (site / "models").mkdir(parents=True)
    (site / "models" / "__init__.py").write_text("raise RuntimeError('the foreign models package was imported')\n")
    (site / "models" / "evil.py").write_text(EVIL_SOURCE)
    with monkeypatch.context() as m:  # an unrelated `models` is the one Python would import
        m.delitem(sys.modules, "models.evil")
        m.delitem(sys.modules, "models")
        m.syspath_prepend(str(site))
        assert importlib.util.find_spec("models").origin == str(site / "models" / "__init__.py")
        for name in ("models.evil.Evil", "models.predictors.svr.SVRPredictor", "models"):
            assert not model_io.is_trusted_type(name), name
        with pytest.raises(model_io.ModelFileError, match=r"refusing to load.*models\.evil\.Evil"):
            model_io.load_pipeline(path)
        assert "models" not in sys.modules  # the foreign package was located, never imported

    name, extractor, model, X = fitted  # the project's own types still load
    good = model_io.save_pipeline(tmp_path / "good.skops", model_io.with_extractor(extractor, model), {})
    assert type(model_io.load_pipeline(good).steps[0][1]) is type(extractor)


def test_project_dirs_are_where_the_project_packages_are_installed():
    import benchmark
    import features
    import models

    for package in (benchmark, features, models):
        assert Path(package.__file__).resolve().parent in model_io.PROJECT_DIRS
        assert model_io.is_project_module(package.__name__)


def test_corrupt_modified_and_missing_files(fitted, tmp_path):
    name, extractor, model, _ = fitted
    with pytest.raises(model_io.ModelFileError, match="not found"):
        model_io.load_pipeline(tmp_path / "none.skops")
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"this is not a zip file")
    with pytest.raises(model_io.ModelFileError, match="not a skops model file"):
        model_io.load_pipeline(junk)
    path = model_io.save_pipeline(tmp_path / "ok.skops", model_io.with_extractor(extractor, model), {})
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(model_io.ModelFileError, match="SHA-256"):
        model_io.load_pipeline(path)
    (tmp_path / "ok.json").write_text("{broken")
    with pytest.raises(model_io.ModelFileError, match="not valid JSON"):
        model_io.read_metadata(path)


def test_label_quantiles_and_percentiles():
    rng = np.random.default_rng(1)
    labels = np.round(rng.normal(3.0, 0.7, 5500).clip(1, 5), 6)
    q = model_io.label_quantiles(labels)
    assert len(q) == model_io.N_QUANTILES and q[0] == labels.min() and q[-1] == labels.max()
    assert np.all(np.diff(q) >= 0)
    for score in (1.5, 2.4, 3.0, 3.3, 4.2):
        assert model_io.percentile_of(score, q) == pytest.approx(100 * np.mean(labels < score), abs=0.15)
    assert model_io.percentile_of(0.5, q) == 0.0 and model_io.percentile_of(5.5, q) == 100.0
    ties = model_io.label_quantiles([1.0, 2.0, 2.0, 2.0, 3.0], n=5)
    assert model_io.percentile_of(2.0, ties) == pytest.approx(50.0)
    summary = model_io.label_summary(labels)
    assert summary["n"] == 5500 and summary["quantiles"] == q
    assert "derived statistics" in summary["description"]


def test_save_run_model_layout_and_metadata(fitted, tmp_path):
    name, extractor, model, X = fitted
    record = {"track": "handcrafted", "feature": name, "predictor": "lr", "init": "", "recipe": "",
              "protocol": "5fold", "split": "3", "metrics": {"pc": 0.71, "mae": 0.3, "rmse": 0.4},
              "n_train": 4400, "n_test": 1100, "seed": 0, "config": {"model": {"predict": "LinearPredictor"}},
              "predictions": {"image": ["AF1.jpg"], "true": [3.0], "pred": [3.1]}, "git_commit": "abc123"}
    labels = np.random.default_rng(2).uniform(1, 5, 5500)
    path = model_io.save_run_model(tmp_path, record, extractor, model, labels)
    assert path == tmp_path / "models" / "5fold" / f"{name}__lr" / "split-3.skops"
    meta = model_io.read_metadata(path)
    assert meta["metrics"]["pc"] == 0.71 and meta["protocol"] == "5fold" and meta["split"] == "3"
    assert meta["row"] == f"{name}__lr" and meta["git_commit"] == "abc123"
    assert meta["feature_config"]["uses_landmarks"] is False and meta["feature_config"]["params"]
    assert len(meta["labels"]["quantiles"]) == model_io.N_QUANTILES and meta["labels"]["n"] == 5500
    assert "predictions" not in meta and "AF1.jpg" not in path.with_suffix(".json").read_text()
    loaded = model_io.load_pipeline(path)
    np.testing.assert_allclose(loaded[1:].predict(X), model.predict(X))


def test_cnn_weights_roundtrip(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                              torch.nn.LazyLinear(1))
    x = torch.randn(2, 3, 8, 8)
    net.eval()
    expected = net(x)
    path = model_io.save_cnn(tmp_path / "cnn" / "split-1.safetensors", net.state_dict(),
                             {"model": "tiny", "init": "scratch", "recipe": "test", "metrics": {"pc": 0.5}})
    state, meta = model_io.load_cnn(path)
    assert meta["kind"] == model_io.KIND_CNN and meta["model"] == "tiny" and meta["versions"]["torch"]
    assert set(state) == set(net.state_dict())
    fresh = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                torch.nn.Linear(144, 1))
    fresh.load_state_dict(state)
    fresh.eval()
    torch.testing.assert_close(fresh(x), expected)
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(model_io.ModelFileError, match="SHA-256"):
        model_io.load_cnn(path)
