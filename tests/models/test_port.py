"""Porting a checkpoint between two implementations of one network: positional pairing proven by outputs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from models.cnn import CNNS  # noqa: E402
from models.cnn.port import TOLERANCE, main, max_relative_difference, port, port_state_dict  # noqa: E402
from models.cnn.weights import WeightsMismatchError, read_state_dict  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

LITE, TIMM_LITE = "efficientnet_lite0", "timm/tf_efficientnet_lite0"


def test_packaged_lite0_weights_become_timms_tf_lite0_with_identical_outputs(tmp_path):
    out = tmp_path / "w" / "tf_lite0.safetensors"
    info = port(LITE, TIMM_LITE, out, size=96)
    assert info["max_relative_difference"] <= TOLERANCE and info["tensors"] == 296
    assert info["source_weights"]["sha256"].startswith("57934424")  # the packaged ImageNet checkpoint
    # the file is a checkpoint of the timm net: --weights loads it key by key, and the backbone
    # then computes what the source network computes (heads made equal to compare the outputs)
    src = CNNS.create(LITE).build("imagenet")
    arch = CNNS.create(TIMM_LITE)
    dst = arch.build("imagenet", weights=out)
    assert arch.build_info["keys_loaded"] == 296 - 2  # everything but the 1-output head
    dst.get_classifier().load_state_dict(CNNS.create(LITE).head(src).state_dict())
    assert max_relative_difference(src, dst, 96) <= TOLERANCE
    assert set(read_state_dict(out)) == set(dst.state_dict())


def test_a_different_computation_with_the_same_tensors_is_refused(tmp_path):
    # timm's efficientnet_lite0 has the same parameters but PyTorch's symmetric padding, not
    # TensorFlow's SAME: every tensor pairs, the outputs do not, and nothing is written
    out = tmp_path / "lite0.safetensors"
    with pytest.raises(WeightsMismatchError, match="outputs differ by .* not the same computation"):
        port(LITE, "timm/efficientnet_lite0", out, size=64)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_another_network_is_refused_at_the_first_tensor_that_does_not_pair():
    a = {"conv.weight": torch.zeros(8, 3, 3, 3), "bn.weight": torch.zeros(8), "bn.bias": torch.zeros(8)}
    b = {"stem.weight": torch.zeros(8, 3, 3, 3), "norm.bias": torch.zeros(8), "norm.weight": torch.zeros(8)}
    with pytest.raises(WeightsMismatchError, match=r"tensor 1 of 3: A bn.weight \(8,\) does not pair with B norm.bias"):
        port_state_dict(a, b, "A", "B")
    with pytest.raises(WeightsMismatchError, match="A has 3 tensors and B 2"):
        port_state_dict(a, dict(list(b.items())[:2]), "A", "B")
    c = {"stem.weight": torch.zeros(8, 3, 3, 3), "norm.weight": torch.zeros(8), "norm.bias": torch.ones(8)}
    ported = port_state_dict(a, c, "A", "B")
    assert list(ported) == list(c) and torch.equal(ported["norm.bias"], a["bn.bias"])


def test_cli_prints_one_line_and_fails_with_one_line(tmp_path, capsys):
    assert main(["--source", "resnet18", "--target", "timm/resnet18", "--out", str(tmp_path / "r18.safetensors"),
                 "--weights", str(_resnet18_file(tmp_path)), "--size", "64"]) == 0
    assert capsys.readouterr().out.startswith(f"ok {tmp_path / 'r18.safetensors'}: 122 tensors of resnet18")
    assert main(["--source", "resnet18", "--target", "timm/resnet10t", "--out", str(tmp_path / "x.safetensors"),
                 "--weights", str(_resnet18_file(tmp_path)), "--size", "64"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not the same network" in err
    assert not (tmp_path / "x.safetensors").exists()


def _resnet18_file(tmp_path):
    import torchvision
    from safetensors.torch import save_file

    path = tmp_path / "resnet18-random.safetensors"
    if not path.exists():
        torch.manual_seed(0)
        save_file({k: v.contiguous() for k, v in torchvision.models.resnet18().state_dict().items()}, str(path))
    return path
