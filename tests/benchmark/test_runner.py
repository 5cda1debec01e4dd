"""End-to-end runs on a synthetic dataset, the leakage rule, and resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark import runner as runner_mod
from benchmark.runner import RunConfig, run
from reports.protocol_tables import render_store
from tests.synthetic import make_fake_scut, register_pixel_feature

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_root(tmp_path):
    register_pixel_feature()
    return make_fake_scut(tmp_path / "scut", n_per_subset=10)


def config(fake_root, tmp_path, **kw):
    base = dict(data_dir=fake_root, protocol="all", features=["test-pixels"], predictors=["lr", "svr"],
                out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False, argv=["test"])
    base.update(kw)
    return RunConfig(**base)


def test_end_to_end_synthetic(fake_root, tmp_path):
    store = run(config(fake_root, tmp_path), render=render_store)
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert {"feature", "predictor", "protocol", "split", "pc", "mae", "rmse"} <= set(df.columns)
    assert len(df) == 2 * (5 + 1)
    assert (df["pc"] > 0.8).all(), df  # the synthetic score is encoded in the pixels
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["dataset"]["fingerprint"]
    assert manifest["versions"]["scikit-learn"]
    rec = next(store.records())
    assert rec.track == "handcrafted" and rec.model == "" and rec.key.slug == f"{rec.feature}__{rec.predictor}"
    assert len(rec.predictions.pred) == rec.n_test and rec.git_commit is not None
    # CM1.pts is empty: test-pixels reads no landmarks, so nothing is flagged as a fallback
    assert not rec.landmark_fallback["test"]
    assert df["model"].isna().all()  # an empty model column: no CNN rows
    assert list((tmp_path / "out" / "tables").glob("*.md")) and list((tmp_path / "out" / "tables").glob("*.tex"))


def test_rerun_skips_and_force_recomputes(fake_root, tmp_path, monkeypatch):
    run(config(fake_root, tmp_path))
    calls = []
    real = runner_mod.build_predictor
    monkeypatch.setattr(runner_mod, "build_predictor", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    run(config(fake_root, tmp_path))
    assert calls == []
    run(config(fake_root, tmp_path, force=True, protocol="60-40"))
    assert sorted(calls) == ["lr", "svr"]
    calls.clear()
    (tmp_path / "out" / "records" / "5fold" / "test-pixels__svr" / "split-3.json").unlink()
    run(config(fake_root, tmp_path))
    assert calls == ["svr"]  # only the missing record is recomputed


def test_no_test_rows_reach_fitting(fake_root, tmp_path, monkeypatch):
    """The leakage rule: scaler, PCA, searches and predictors are fitted on training rows only.

    Every test image's features are replaced by a sentinel value; spies on every ``fit`` check
    that no sentinel row (or transformed sentinel row) and no extra row reaches fitting, for
    every predictor. A runner that fitted on all images would fail here.
    """
    from benchmark.feature_cache import FeatureCache
    from data.protocols import load_protocols
    from data.scut import ScutFBP5500

    SENTINEL = 1e4
    (folds,) = load_protocols("5fold", ScutFBP5500(fake_root))
    fits: list[tuple[str, int]] = []

    real_pre, real_pred = runner_mod.build_preprocessing, runner_mod.build_predictor

    def spy_pre(*a, **k):
        pre = real_pre(*a, **k)
        fit_transform = pre.fit_transform

        def spy(X, y=None):
            assert not (np.asarray(X) == SENTINEL).any(), "a test row reached the preprocessing fit"
            fits.append(("pre", len(X)))
            return fit_transform(X, y)

        pre.fit_transform = spy
        return pre

    def spy_pred(*a, **k):
        model = real_pred(*a, **k)
        fit = model.fit

        def spy(X, y):
            assert np.abs(np.asarray(X)).max() < 100, "a (scaled) test row reached the predictor fit"
            fits.append((a[0], len(X)))
            return fit(X, y)

        model.fit = spy
        return model

    real_matrices = FeatureCache.matrices
    poisoned_split = folds[1]

    def poisoned(self, extractors, records, **kw):
        mats = real_matrices(self, extractors, records, **kw)
        for m in mats:
            for i, r in enumerate(records):
                if r.image_id in poisoned_split.test:
                    m.values[i] = SENTINEL
        return mats

    monkeypatch.setattr(runner_mod, "build_preprocessing", spy_pre)
    monkeypatch.setattr(runner_mod, "build_predictor", spy_pred)
    monkeypatch.setattr(FeatureCache, "matrices", poisoned)
    fold2 = fake_root / "train_test_files" / "5_folders_cross_validations_files" / "cross_validation_2"
    store = run(config(fake_root, tmp_path, protocol=str(fold2), predictors=["lr", "svr", "gr", "xgb"]))
    assert len(fits) == 5  # one preprocessing fit + four predictors
    assert {n for _, n in fits} == {len(poisoned_split.train)}
    rec = next(r for r in store.records() if r.predictor == "lr")
    assert set(rec.predictions.image) == set(poisoned_split.test)


def test_no_test_rows_reach_fusion_or_ensemble_fits(fake_root, tmp_path, monkeypatch):
    """The leakage rule for fused features and ensembles.

    Every test image's features (all blocks) are replaced by a sentinel and its label by a value
    below every real label. Class-level spies on every scaler, PCA, predictor and ensemble
    weighting ``fit`` (so fits inside a ColumnTransformer's clones and the inner cross-validation
    are seen too) check that no sentinel or transformed sentinel row, no poisoned label and no
    extra row reaches any fit or weight. A block scaler fitted on all images, or ensemble weights
    learned on the test predictions, fails here.
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    from benchmark import ensemble
    from benchmark.feature_cache import FeatureCache
    from data.protocols import load_protocols
    from data.scut import ScutFBP5500
    from models import PREDICTORS
    from tests.synthetic import register_fusion_features

    pixels, landmark = register_fusion_features()
    fused = f"{pixels}+{landmark}"
    SENTINEL, POISON = 1e4, 1.0  # real synthetic labels are >= 1.2
    (folds,) = load_protocols("5fold", ScutFBP5500(fake_root))
    split = folds[1]
    test, n_train = set(split.test), len(split.train)
    fits: list[tuple[str, int]] = []

    def spy(cls, method, kind):
        real = getattr(cls, method)

        def wrapper(self, X, y=None, *args, **kwargs):
            values = np.asarray(X, dtype=np.float64)
            assert not (values == SENTINEL).any(), f"a test row reached a {kind} fit"
            assert np.abs(values).max() < 100, f"a (transformed) test row reached a {kind} fit"
            assert y is None or (np.asarray(y) > POISON + 0.01).all(), f"a test label reached a {kind} fit"
            assert len(values) <= n_train, f"{kind} fitted on {len(values)} rows, more than the training part"
            fits.append((kind, len(values)))
            return real(self, X, y, *args, **kwargs)

        monkeypatch.setattr(cls, method, wrapper)

    spy(StandardScaler, "fit", "scaler")
    spy(PCA, "fit", "pca")
    spy(PCA, "fit_transform", "pca")
    for name in ("lr", "svr"):
        spy(PREDICTORS.get(name), "fit", name)
    spy(ensemble.NNLSStacking, "fit", "weights")

    real_matrices, real_labels = FeatureCache.matrices, ScutFBP5500.labels.func

    def poisoned(self, extractors, records, **kw):
        mats = real_matrices(self, extractors, records, **kw)
        for m in mats:
            for i, r in enumerate(records):
                if r.image_id in test:
                    m.values[i] = SENTINEL
        return mats

    def poisoned_labels(self):
        return {n: POISON + 1e-4 * i if n in test else v for i, (n, v) in enumerate(real_labels(self).items())}

    monkeypatch.setattr(FeatureCache, "matrices", poisoned)
    monkeypatch.setattr(ScutFBP5500, "labels", property(poisoned_labels))
    fold2 = fake_root / "train_test_files" / "5_folders_cross_validations_files" / "cross_validation_2"
    store = run(config(fake_root, tmp_path, protocol=str(fold2), features=[pixels, fused], pca_components=3,
                       ensembles=ensemble.parse_ensembles([f"duo={pixels}__lr,{fused}__svr"])))
    kinds = [k for k, _ in fits]
    assert kinds.count("weights") == 1 and ("weights", n_train) in fits  # weights from the training part
    # outer fits: 1 + 2 block scalers, 1 PCA, 4 predictors; inner 5-fold OOF: 5 + 10 scalers, 5 PCAs, 10 predictors
    assert (kinds.count("scaler"), kinds.count("pca"), kinds.count("lr") + kinds.count("svr")) == (18, 6, 14)
    rec = next(r for r in store.records() if r.track == "ensemble")
    assert rec.recipe == "nnls-oof" and set(rec.predictions.image) == test
    oof = json.loads(ensemble.oof_path(store, ensemble.parse_member(f"{fused}__svr", "").key, rec.protocol,
                                       rec.split).read_text())
    assert set(oof["image"]) == set(split.train)


def _plugin_env(tmp_path: Path) -> dict:
    """PYTHONPATH with a fake installed distribution exposing slow test components by entry point."""
    site = tmp_path / "site"
    (site / "fbp_slowplugin-0.1.dist-info").mkdir(parents=True)
    (site / "fbp_slowplugin-0.1.dist-info" / "METADATA").write_text("Name: fbp-slowplugin\nVersion: 0.1\n")
    (site / "fbp_slowplugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[fbp.features]\nslow-pixels = fbp_slowplugin\n[fbp.predictors]\nslow-lr = fbp_slowplugin\n")
    (site / "fbp_slowplugin.py").write_text(
        "import time\n"
        "from features import FEATURES\nfrom models import PREDICTORS\n"
        "from models.predictors.linear import LinearPredictor\n"
        "from tests.synthetic import PixelGridFeature\n"
        "@FEATURES.register('slow-pixels')\n"
        "class SlowPixels(PixelGridFeature):\n"
        "    '''Pixel grid, slowly.'''\n"
        "    def extract(self, face):\n"
        "        time.sleep(0.01)\n"
        "        return super().extract(face)\n"
        "@PREDICTORS.register('slow-lr')\n"
        "class SlowLR(LinearPredictor):\n"
        "    '''Ridge, slowly.'''\n"
        "    def fit(self, X, y):\n"
        "        time.sleep(0.4)\n"
        "        return super().fit(X, y)\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO), env.get("PYTHONPATH", "")])
    return env


def test_kill_and_resume(fake_root, tmp_path):
    env = _plugin_env(tmp_path)
    cmd = [sys.executable, str(REPO / "run_benchmark.py"), "--protocol", "all", "--data-dir", str(fake_root),
           "--features", "slow-pixels", "--predictors", "slow-lr,lr", "--out", str(tmp_path / "out"),
           "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, start_new_session=True)
    records = tmp_path / "out" / "records"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(records.glob("*/*/*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len(list(records.glob("*/*/*.json")))
    assert 2 <= n_before < 12, "the kill should land mid-run"
    before = {p: p.read_bytes() for p in records.glob("*/*/*.json")}
    assert not list(records.rglob("*.tmp"))
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    after = list(records.glob("*/*/*.json"))
    assert len(after) == 12  # 2 predictors x 6 splits, nothing duplicated
    for p, content in before.items():
        assert p.read_bytes() == content  # finished records were kept, not recomputed
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(df) == 12 and not df.duplicated(["feature", "predictor", "protocol", "split"]).any()


def test_manifest_keeps_the_history_of_earlier_runs_into_the_same_folder(fake_root, tmp_path):
    run(config(fake_root, tmp_path, protocol="60-40", argv=["first"]))
    first = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert first["history"] == []
    run(config(fake_root, tmp_path, protocol="60-40", predictors=["lr"], argv=["second"]))
    second = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert second["command"] == "second"
    assert [h["command"] for h in second["history"]] == ["first"]
    assert second["history"][0]["git_commit"] == first["git_commit"]
    assert second["history"][0]["finished"] == first["finished"] and second["history"][0]["timings"]
    (tmp_path / "out" / "manifest.json").write_text("{not json")
    assert runner_mod.run_history(tmp_path / "out") == []
