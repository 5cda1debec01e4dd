"""Common tests run over every registered feature extractor (new extractors are tested automatically)."""

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata
from sklearn.base import clone

from data.scut import FaceRecord
from features import FEATURES
from features.base import FeatureExtractor


@pytest.fixture(scope="module")
def astronaut_record(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(path, quality=95)
    return FaceRecord(image_id="astronaut", image_path=path, landmarks=None, content_hash="astro")


@pytest.mark.parametrize("name", FEATURES.list())
def test_extractor_contract(name, astronaut_record):
    ext = FEATURES.create(name)
    assert isinstance(ext, FeatureExtractor)
    assert not [k for k in vars(ext) if k.endswith("_")], "__init__ must only store parameters"
    assert clone(ext).get_params() == ext.get_params()
    assert ext.fit([astronaut_record]) is ext
    X = ext.transform([astronaut_record, astronaut_record])
    assert X.ndim == 2 and X.shape[0] == 2 and X.shape[1] >= 8
    assert np.isfinite(X).all()
    np.testing.assert_array_equal(X[0], X[1])
    assert ext.cache_key() == FEATURES.create(name).cache_key()
    assert FEATURES.describe(name)


@pytest.mark.parametrize("name", FEATURES.list())
def test_extractor_on_real_images(name, scut):
    ext = FEATURES.create(name)
    records = scut.records(["AF1.jpg", "CM152.jpg"])  # CM152 has an empty .pts (fallback)
    X = ext.transform(records)
    assert np.isfinite(X).all() and X.shape[0] == 2
