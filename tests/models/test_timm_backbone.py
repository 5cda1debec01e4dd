"""Any timm model as ``timm/<name>``: the registry family, training, local checkpoints, offline errors, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

from core.errors import ConfigError  # noqa: E402
from core.registry import UnknownComponentError  # noqa: E402
from models.cnn import CNNS  # noqa: E402
from models.cnn import timm_backbone as TB  # noqa: E402
from models.cnn.recipes import Recipe, Stage  # noqa: E402
from models.cnn.train import train_and_predict  # noqa: E402
from models.cnn.weights import MissingWeightsError, WeightsMismatchError  # noqa: E402

NET = "timm/resnet10t"


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _save(model: torch.nn.Module, path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))


def test_timm_names_resolve_on_demand_and_are_not_listed():
    names = CNNS.list()
    assert not any(n.startswith("timm/") for n in names) and "resnet18" in names
    cls = CNNS.get(NET)
    assert cls is CNNS.get(NET) and NET in CNNS and "timm/resnet1" not in CNNS
    arch = CNNS.create(NET)
    assert arch.name == NET and arch.input_size == 176  # resnet10t.c3_in1k's pretrained_cfg
    assert arch.normalisation == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert "resnet10t" in CNNS.describe(NET)
    assert CNNS.create("timm/vit_tiny_patch16_224").normalisation == ((0.5,) * 3, (0.5,) * 3)
    assert set(CNNS.families()) == {"timm/"}


@pytest.mark.parametrize(("typo", "suggestion"), [("timm/resnet1", "timm/resnet18"),
                                                  ("timm/convnxt_atto", "timm/convnext_atto")])
def test_a_typo_is_one_line_naming_the_closest_timm_names(typo, suggestion):
    from cli.main import _names

    with pytest.raises(UnknownComponentError) as err:
        _names(typo, CNNS)
    msg = str(err.value)
    assert "\n" not in msg and f"Did you mean {suggestion}" in msg and "timm" in msg


def test_unknown_plain_name_mentions_the_timm_family():
    with pytest.raises(UnknownComponentError, match=r"Valid models: .*; or timm/<name>"):
        CNNS.get("resnet5")


def test_scratch_timm_net_learns_through_train_and_predict():
    rng = np.random.default_rng(0)
    level = np.array([40, 220] * 4)
    imgs = np.clip(level[:, None, None, None] + rng.normal(0, 20, (8, 40, 40, 3)), 0, 255).astype(np.uint8)
    scores = np.where(level > 100, 4.5, 1.5).astype(np.float32)
    recipe = Recipe("toy", batch_size=8, stages=(Stage("s", "adam", lr=1e-3, iterations=10),))
    res = train_and_predict(NET, imgs, scores, imgs[:4], recipe=recipe, init="scratch", device="cpu", seed=0,
                            progress=False, input_size=32)
    assert res.train_loss.shape == (10,) and np.isfinite(res.train_loss).all()
    assert res.train_loss[-3:].mean() < 0.5 * res.train_loss[:3].mean()
    assert res.test_pred.shape == (4,)
    assert res.state_dict is not None and res.state_dict["fc.weight"].shape == (1, 512)  # timm's own key names
    assert res.provenance()["weights"]["init"] == "scratch"


def test_local_checkpoint_loads_every_key_and_another_architecture_is_refused(tmp_path):
    torch.manual_seed(1)
    source = timm.create_model("resnet10t", num_classes=1000)  # an ImageNet-shaped checkpoint: 1000-class fc
    good = tmp_path / "resnet10t.safetensors"
    _save(source, good)
    arch = CNNS.create(NET)
    model = arch.build("imagenet", weights=good)
    info = arch.build_info
    assert info["source"] == "file" and info["file"] == good.name and len(info["sha256"]) == 64
    assert info["keys_loaded"] == len(model.state_dict()) - 2  # all but fc.weight, fc.bias
    assert "2 head keys of the file ignored" in info["head"] and info["head_init"].startswith("nn.Linear default")
    assert torch.equal(model.state_dict()["conv1.0.weight"], source.state_dict()["conv1.0.weight"])
    assert model(torch.randn(2, 3, 32, 32)).shape == (2,)
    # a torch state dict nested under "state_dict" works too
    pth = tmp_path / "resnet10t.pth"
    torch.save({"state_dict": source.state_dict(), "epoch": 3}, pth)
    arch.build("imagenet", weights=pth)
    assert arch.build_info["file"] == "resnet10t.pth"

    other = tmp_path / "mnv3.safetensors"
    _save(timm.create_model("mobilenetv3_small_050"), other)
    with pytest.raises(WeightsMismatchError) as err:
        arch.build("imagenet", weights=other)
    msg = str(err.value)
    assert "\n" not in msg and f"not a checkpoint of {NET}" in msg and "missing" in msg and "unexpected" in msg
    with pytest.raises(ConfigError, match="use it with --init imagenet"):
        arch.build("scratch", weights=good)


def test_torchvision_net_takes_a_local_checkpoint_too(tmp_path):
    import torchvision

    path = tmp_path / "r18.safetensors"
    _save(torchvision.models.resnet18(weights=None), path)
    arch = CNNS.create("resnet18")
    arch.build("imagenet", weights=path)
    assert arch.build_info["source"] == "file" and arch.build_info["keys_loaded"] == 120


def test_cached_timm_checkpoint_loads_through_timms_api_without_network(tmp_path, monkeypatch):
    torch.manual_seed(2)
    source = timm.create_model("resnet10t")
    cached = tmp_path / "model.safetensors"
    _save(source, cached)
    monkeypatch.setattr(TB, "cached_pretrained_file", lambda cfg: cached)
    monkeypatch.setattr(TB, "_resolves", lambda host: pytest.fail("no network lookup when cached"))
    arch = CNNS.create(NET)
    model = arch.build("imagenet")
    assert arch.build_info["source"] == "cache" and arch.build_info["weights"] == "timm:resnet10t.c3_in1k"
    assert torch.equal(model.state_dict()["conv1.0.weight"], source.state_dict()["conv1.0.weight"])
    assert arch.head(model).out_features == 1


def test_offline_pretrained_download_is_one_line_naming_the_file_and_weights(monkeypatch):
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub ...")

    monkeypatch.setattr(TB, "cached_pretrained_file", lambda cfg: None)
    monkeypatch.setattr(TB, "_resolves", lambda host: True)  # get past the DNS check into timm's download
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_hf", offline)
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_url", offline)
    with pytest.raises(MissingWeightsError) as err:
        CNNS.create(NET).build("imagenet")
    msg = str(err.value)
    assert "\n" not in msg and "LocalEntryNotFoundError" in msg
    assert "https://huggingface.co/timm/resnet10t.c3_in1k" in msg and "--weights FILE" in msg
    monkeypatch.setattr(TB, "_resolves", lambda host: False)  # no DNS: stops before timm's retries
    with pytest.raises(MissingWeightsError, match="cannot resolve huggingface.co"):
        CNNS.create(NET).build("imagenet")


def test_fixed_size_transformer_takes_the_recipes_crop():
    arch = CNNS.create("timm/vit_tiny_patch16_224")
    torch.manual_seed(0)
    model = arch.build("scratch").eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2,)  # built for 224, dynamic_img_size


def test_a_model_of_one_input_size_is_refused_in_one_line_before_any_image_is_read(tmp_path, capsys):
    arch = CNNS.create("timm/levit_128s")  # fixed 224 px attention biases, no dynamic_img_size
    arch.check_input_size(224)
    with pytest.raises(ConfigError, match=r"timm/levit_128s is made for 224x224 px inputs and does not take "
                                          r"128 px crops \(RuntimeError: .*\); use a recipe that crops 224 px"):
        arch.check_input_size(128)

    from cli.main import main
    from tests.synthetic import make_fake_scut

    root = make_fake_scut(tmp_path / "scut", n_per_subset=5)
    out = tmp_path / "out"
    assert main(["--data-dir", str(root), "--out", str(out), "--protocol", "5fold", "--splits", "1",
                 "--features", "none", "--quiet", "--device", "cpu", "--recipe", "cpu",
                 "--models", "timm/levit_128s"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "made for 224x224 px inputs" in err[0], err
    assert not list(out.glob("records/**/*.json"))


def test_the_one_output_head_starts_as_nn_linears_default_not_timms_classifier_init():
    # timm's EfficientNet draws its classifier within +-1/sqrt(out_features): +-1 for one output
    torch.manual_seed(0)
    head = CNNS.create("timm/tf_efficientnet_lite0").build("scratch").get_classifier()
    bound = 1 / head.in_features**0.5
    assert float(head.weight.abs().max()) <= bound and float(head.bias.abs().max()) <= bound
    assert float(head.weight.abs().max()) > bound / 2  # drawn, not zeroed


def test_list_says_timm_names_are_accepted():
    from cli.main import list_components

    line = next(ln for ln in list_components().splitlines() if "timm/<name>" in ln)
    assert "timm.list_models()" in line and "timm/resnet10t" in line


def test_end_to_end_run_writes_records_and_tables(tmp_path):
    from cli.main import main
    from tests.synthetic import make_fake_scut

    root = make_fake_scut(tmp_path / "scut", n_per_subset=5)
    out = tmp_path / "out"
    base = ["--data-dir", str(root), "--out", str(out), "--protocol", "5fold", "--splits", "1", "--features", "none",
            "--quiet", "--device", "cpu", "--recipe", "cpu", "--max-iters", "2"]
    assert main([*base, "--models", NET, "--init", "scratch"]) == 0
    rec = json.loads((out / "records" / "5fold" / "timm_resnet10t__cnn__scratch-cpu" / "split-1.json").read_text())
    assert rec["model"] == NET and rec["track"] == "cnn" and rec["cnn"]["iterations"] == 2
    assert rec["cnn"]["weights"]["builder"] == "timm.create_model('resnet10t', num_classes=1)"
    df = pd.read_csv(out / "results.csv")
    assert list(df["model"]) == [NET]
    assert f"{NET} (CNN, init=scratch, recipe=cpu)" in (out / "tables" / "5fold.md").read_text()

    ckpt = tmp_path / "resnet10t.safetensors"
    _save(timm.create_model("resnet10t"), ckpt)
    assert main([*base, "--models", NET, "--weights", str(ckpt)]) == 0
    row_init = "file." + TB.sha256_file(ckpt)[:8]  # a file's rows are its own, named by content
    path = out / "records" / "5fold" / f"timm_resnet10t__cnn__{row_init}-cpu" / "split-1.json"
    rec = json.loads(path.read_text())
    assert rec["init"] == row_init and rec["config"]["init"] == "imagenet"
    assert rec["cnn"]["weights"]["sha256"] == TB.sha256_file(ckpt) and rec["config"]["weights"] == str(ckpt)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["cnn"]["weights"] == {"path": str(ckpt.resolve()), "row_init": row_init}
    assert f"{NET} (CNN, init={row_init}, recipe=cpu)" in (out / "tables" / "5fold.md").read_text()
    mtime = path.stat().st_mtime_ns
    assert main([*base, "--models", NET, "--weights", str(ckpt)]) == 0  # done: skipped
    assert path.stat().st_mtime_ns == mtime
    other = tmp_path / "other.safetensors"
    torch.manual_seed(1)
    _save(timm.create_model("resnet10t"), other)
    assert main([*base, "--models", NET, "--weights", str(other)]) == 0  # another file: another row
    assert len(list((out / "records" / "5fold").glob("timm_resnet10t__cnn__file.*-cpu"))) == 2
    assert main([*base, "--models", NET, "--weights", str(tmp_path / "absent.safetensors")]) == 1
    assert main([*base, "--models", "timm/resnet1"]) == 1
