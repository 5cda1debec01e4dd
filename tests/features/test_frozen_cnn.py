"""Frozen ImageNet CNN features (mobilenet_v2-pooled, efficientnet_lite0-pooled) on the astronaut test face."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from features import FEATURES
from features import _frozen_cnn as FC
from features.face import FaceContext
from models.cnn import CNNS
from models.cnn.architectures import IMAGENET_NORMALISATION
from models.cnn.weights import MissingWeightsError
from tests.features.astronaut import astronaut_variants

NAMES = ("mobilenet_v2-pooled", "efficientnet_lite0-pooled")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory):
    return astronaut_variants(tmp_path_factory.mktemp("astro"))["orig_detect"]


def _extractor(name: str):
    ext = FEATURES.create(name)
    try:
        FC.frozen_backbone(ext.cnn)
    except MissingWeightsError as err:
        pytest.skip(str(err))
    return ext


@pytest.mark.parametrize("name", NAMES)
def test_pooled_features_are_1280_finite_and_deterministic(name, astronaut):
    ext = _extractor(name)
    assert ext.high_dimensional and not ext.uses_landmarks
    first = ext.extract(FaceContext(astronaut))
    second = ext.extract(FaceContext(astronaut))
    assert first.shape == (1280,) and first.dtype == np.float64
    assert np.isfinite(first).all() and (first >= 0).all() and first.max() > 0
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", NAMES)
def test_extractor_pickles_without_its_network(name, astronaut):
    ext = _extractor(name)
    before = ext.extract(FaceContext(astronaut))
    blob = pickle.dumps(ext)
    assert len(blob) < 1000
    np.testing.assert_array_equal(pickle.loads(blob).extract(FaceContext(astronaut)), before)


def test_framing_and_normalisation_are_the_cnn_tracks(astronaut):
    """mobilenet_v2: the same input as models.cnn.train builds from the 256x256 image."""
    from data.pack import resize_rgb
    from models.cnn.train import MEAN_255, STD_255, center_crops, to_input

    mean, std = IMAGENET_NORMALISATION
    assert np.allclose(np.array(mean) * 255, MEAN_255) and np.allclose(np.array(std) * 255, STD_255)
    assert FC.normalisation("mobilenet_v2") == IMAGENET_NORMALISATION
    assert FC.normalisation("efficientnet_lite0") == CNNS.get("efficientnet_lite0").normalisation
    face = FaceContext(astronaut)
    ext = FEATURES.create("mobilenet_v2-pooled")
    small = torch.from_numpy(np.array(resize_rgb(face.rgb, FC.RESIZE)))[None]
    expected = to_input(center_crops(small, FC.CROP), channels_last=False)
    got = ext.input_tensor(face)
    assert got.shape == (1, 3, 224, 224) and got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    lite = FEATURES.create("efficientnet_lite0-pooled").input_tensor(face)
    assert float(lite.min()) >= -127 / 128 - 1e-6 and float(lite.max()) <= 128 / 128 + 1e-6


def test_loading_a_backbone_leaves_the_global_random_state_alone():
    FC.frozen_backbone.cache_clear()
    state = torch.random.get_rng_state()
    try:
        FC.frozen_backbone("mobilenet_v2")
    except MissingWeightsError as err:
        pytest.skip(str(err))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_base_module_registers_nothing():
    assert {FEATURES.get(n).__module__ for n in NAMES} == {
        "features.mobilenet_v2_pooled", "features.efficientnet_lite0_pooled"}
    assert not [n for n in FEATURES.list() if FEATURES.get(n) is FC.FrozenCnnFeature]
