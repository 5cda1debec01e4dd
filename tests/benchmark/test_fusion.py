"""Early fusion: ``a+b`` feature names, the fused extractor, per-block preprocessing, cache and model files."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from benchmark import fusion, model_io
from benchmark.feature_cache import FeatureCache
from benchmark.pipeline import build_model, build_preprocessing, create_extractor
from benchmark.store import ResultStore, RowKey
from core.errors import ConfigError
from data.scut import ScutFBP5500
from features.face import FaceContext
from tests.synthetic import make_fake_scut, register_fusion_features

PIXELS, LANDMARK = register_fusion_features()
FUSED = f"{PIXELS}+{LANDMARK}"


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return ScutFBP5500(make_fake_scut(tmp_path_factory.mktemp("scut") / "scut", n_per_subset=5))


def test_names_parse_and_check_every_block():
    assert fusion.fusion_blocks(f" {PIXELS} + {LANDMARK} ") == [PIXELS, LANDMARK]
    assert fusion.canonical_name(f"{LANDMARK} +{PIXELS}") == f"{LANDMARK}+{PIXELS}"  # order is kept
    assert fusion.fusion_blocks(PIXELS) == [PIXELS] and not fusion.is_fused(PIXELS) and fusion.is_fused(FUSED)
    assert fusion.parse_feature_list(f"{PIXELS},{PIXELS}+{LANDMARK}") == [PIXELS, FUSED]
    assert fusion.parse_feature_list("none") == []
    assert not any(fusion.SEPARATOR in n for n in fusion.parse_feature_list(None))  # the default never fuses
    with pytest.raises(ConfigError, match="unknown feature 'nope'.*Valid features"):
        fusion.fusion_blocks(f"{PIXELS}+nope")
    with pytest.raises(ConfigError, match="empty block"):
        fusion.fusion_blocks(f"{PIXELS}++{LANDMARK}")
    with pytest.raises(ConfigError, match="appears more than once"):
        fusion.fusion_blocks(f"{PIXELS}+{PIXELS}")
    assert fusion.is_known(FUSED) and not fusion.is_known(f"{PIXELS}+nope")
    assert fusion.landmark_blocks(FUSED) == [LANDMARK]


def test_fused_extractor_concatenates_blocks_and_is_an_estimator(fake):
    extractor = create_extractor(FUSED)
    assert isinstance(extractor, fusion.FusedFeatures) and extractor.registry_name == FUSED
    assert extractor.uses_landmarks and not create_extractor(PIXELS).uses_landmarks
    face = FaceContext(fake.records(fake.names[:1])[0])
    parts = [create_extractor(PIXELS).extract(face), create_extractor(LANDMARK).extract(face)]
    np.testing.assert_array_equal(extractor.extract(face), np.concatenate(parts))
    params = extractor.get_params()
    assert params[f"{LANDMARK}__cells"] == 6 and [n for n, _ in params["blocks"]] == [PIXELS, LANDMARK]
    copy = clone(extractor).set_params(**{f"{PIXELS}__cells": 2})
    assert copy.extract(face).shape == (4 + 36,) and extractor.extract(face).shape == (16 + 36,)


def test_each_block_is_scaled_and_reduced_on_its_own():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 16)) * 1000 + 50  # a block on a much larger scale
    b = rng.normal(size=(30, 36))
    pre = build_preprocessing(create_extractor(FUSED), pca_components=3, seed=0, widths=(16, 36))
    out = pre.fit_transform(np.hstack([a, b]))
    assert out.shape == (30, 16 + 3)  # PCA only on the high-dimensional block
    np.testing.assert_allclose(out[:, :16], StandardScaler().fit_transform(a))
    assert np.allclose(out[:, 16:].mean(axis=0), 0, atol=1e-5)
    with pytest.raises(ValueError, match="column count"):
        build_preprocessing(create_extractor(FUSED), widths=(16,))


def test_fused_matrices_reuse_the_cache_per_block(fake, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    records = fake.records(fake.names)
    mats = fusion.fused_matrices([PIXELS, FUSED], cache, records, progress=False)
    single = mats[PIXELS]
    lm = cache.matrices([create_extractor(LANDMARK)], records, progress=False)[0]
    np.testing.assert_array_equal(mats[FUSED].values, np.hstack([single.values, lm.values]))
    np.testing.assert_array_equal(mats[FUSED].fallback, single.fallback | lm.fallback)
    assert mats[FUSED].widths == (16, 36) and single.widths == ()
    assert mats[FUSED].fallback.any()  # the landmark block flags images without usable .pts
    folders = [p.name for p in (tmp_path / "cache" / "features").iterdir()]
    assert len(folders) == 2 and not any(fusion.SEPARATOR in f for f in folders)  # one folder per block


def test_fused_row_folder_keeps_plus_and_cannot_collide(tmp_path):
    store = ResultStore(tmp_path)
    fused = store.path(RowKey("handcrafted", FUSED, "svr"), "5fold", "1")
    assert fused.parent.name == f"{FUSED}__svr"
    assert fused != store.path(RowKey("handcrafted", f"{PIXELS}_{LANDMARK}", "svr"), "5fold", "1")


def test_fused_model_saves_with_skops_and_scores_faces(fake, tmp_path):
    # the synthetic test features live outside the trusted packages, so the file holds project features
    name = "geom68+lbp"
    extractor = create_extractor(name)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 10 + 30)), rng.uniform(1, 5, 40)
    model = build_model(extractor, "lr", pca_components=3, widths=(10, 30)).fit(X, y)
    path = model_io.save_pipeline(tmp_path / "m.skops", model_io.with_extractor(extractor, model), {"feature": name})
    loaded = model_io.load_pipeline(path)
    assert isinstance(loaded.steps[0][1], fusion.FusedFeatures) and loaded.steps[0][1].registry_name == name
    np.testing.assert_allclose(loaded[1:].predict(X), model.predict(X))
    # a fused extractor scores faces: it concatenates its blocks' vectors (synthetic blocks here)
    synthetic = create_extractor(FUSED)
    records = fake.records(fake.names[:3])
    np.testing.assert_array_equal(synthetic.transform(records),
                                  np.hstack([create_extractor(PIXELS).transform(records),
                                             create_extractor(LANDMARK).transform(records)]))


def test_predict_scores_a_photo_with_a_fused_model(tmp_path, capsys):
    """A saved fused model scores a photo; a landmark block (geom86) is estimated, with a warning."""
    from PIL import Image
    from skimage import data as skdata

    from cli.main import main
    from data.scut import FaceRecord

    rng = np.random.default_rng(0)
    base = skdata.astronaut().astype(np.float64)
    records, labels = [], []
    for k in range(8):
        path = tmp_path / f"variant{k}.jpg"
        Image.fromarray(np.clip(base * (0.6 + 0.08 * k) + rng.normal(0, 3, base.shape), 0, 255)
                        .astype(np.uint8)).save(path)
        records.append(FaceRecord(image_id=f"v{k}", image_path=path))
        labels.append(1.5 + 0.3 * k)
    name = "lbp+geom86"
    extractor = create_extractor(name)
    X = extractor.transform(records)
    widths = tuple(create_extractor(b).transform(records[:1]).shape[1] for b in fusion.fusion_blocks(name))
    model = build_model(extractor, "lr", pca_components=3, widths=widths).fit(X, np.array(labels))
    record = {"track": "handcrafted", "feature": name, "predictor": "lr", "protocol": "60-40", "split": "1",
              "metrics": {"pc": 0.8, "mae": 0.3, "rmse": 0.4}, "n_train": 8, "n_test": 0}
    saved = model_io.save_run_model(tmp_path / "run", record, extractor, model, rng.uniform(1, 5, 100))
    assert saved.parent.name == "lbp+geom86__lr"
    rc = main(["predict", str(records[3].image_path), "--models-dir", str(tmp_path / "run" / "models"),
               "--model", "lbp+geom86__lr"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.startswith("model: lbp+geom86 + lr (60-40, split 1") and ": face 1 of 1, box" in out
    assert "lbp+geom86 (its block(s) geom86) reads the 86 SCUT-FBP5500 landmarks" in err
