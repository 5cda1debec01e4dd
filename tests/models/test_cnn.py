"""CNN registry, recipes, on-device augmentation and the training loop, on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ConfigError
from models.cnn import CNNS
from models.cnn.recipes import FAST, PAPER, PAPER_SAMPLES, RECIPES, Recipe, Stage, fast_recipe, get_recipe
from models.cnn.train import (
    CnnResult,
    center_crops,
    random_crops,
    resolve_device,
    to_input,
    train_and_predict,
)

MODELS = ("alexnet", "resnet18", "resnext50", "resnet50", "mobilenet_v2")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_registry_lists_the_five_models_with_descriptions():
    assert set(MODELS) <= set(CNNS.list())
    for name in MODELS:
        assert CNNS.describe(name)
    assert CNNS.create("alexnet").input_size == 227
    assert CNNS.create("alexnet").weight_decay == 5e-4
    assert CNNS.create("resnet50").weight_decay == 1e-4


@pytest.mark.parametrize("name", MODELS)
def test_scratch_build_outputs_one_score_per_image(name):
    arch = CNNS.create(name)
    torch.manual_seed(0)
    model = arch.build("scratch").eval()
    assert arch.build_info == {"init": "scratch"}
    with torch.inference_mode():
        out = model(torch.randn(2, 3, arch.input_size, arch.input_size))
    assert out.shape == (2,)
    assert torch.isfinite(out).all()
    assert arch.head(model).out_features == 1


def test_unknown_names_are_one_line_errors():
    with pytest.raises(KeyError, match="Valid models"):
        CNNS.get("resnet5")
    with pytest.raises(ConfigError, match="Valid recipes"):
        get_recipe("papper")
    with pytest.raises(ConfigError, match="Valid inits"):
        CNNS.create("resnet18").build("random")


def test_recipes_match_the_issue():
    assert set(RECIPES) == {"paper", "blog", "fast", "cpu"}
    (stage,) = PAPER.stages
    assert (PAPER.batch_size, stage.iterations, stage.lr, stage.momentum) == (16, 20000, 1e-3, 0.9)
    assert [stage.lr_at(i, 20000) for i in (0, 4999, 5000, 10000, 15000, 19999)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-5, 1e-6, 1e-6])
    assert PAPER.samples(4400) == PAPER_SAMPLES == FAST.samples(4400)
    assert FAST.batch_size == 256 and FAST.stages[0].lr == pytest.approx(0.016)
    assert FAST.bf16 and FAST.channels_last
    assert fast_recipe(128).samples(4400) == PAPER_SAMPLES
    blog = RECIPES["blog"]
    assert [s.freeze_backbone for s in blog.stages] == [True, False]
    assert blog.stages[1].lr < blog.stages[0].lr
    assert blog.iterations(4400) == 2 * int(np.ceil(30 * 4400 / blog.batch_size))


def test_limited_recipe_keeps_schedule_shape_and_records_it():
    short = PAPER.limited(40, 4400)
    assert short.iterations(4400) == 40
    assert [short.stages[0].lr_at(i, 40) for i in (9, 10, 20, 30)] == pytest.approx([1e-3, 1e-4, 1e-5, 1e-6])
    assert "limited to 40 of 20000" in short.note
    assert PAPER.limited(10**6, 4400) is PAPER
    blog = RECIPES["blog"].limited(10, 100)
    assert blog.iterations(100) <= 10 and all(s.iterations for s in blog.stages)


def test_random_crops_are_windows_of_the_source_and_flips_mirror():
    gen = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (5, 20, 24, 3), dtype=torch.uint8)
    idx = torch.tensor([4, 0, 2, 2])
    crops = random_crops(imgs, idx, 16, gen, hflip=True)
    assert crops.shape == (4, 16, 16, 3) and crops.dtype == torch.uint8
    for c, i in zip(crops, idx.tolist(), strict=True):
        found = any(torch.equal(c, w) or torch.equal(c, w.flip(1))
                    for y in range(5) for x in range(9) for w in [imgs[i, y:y + 16, x:x + 16]])
        assert found
    cc = center_crops(imgs, 16)
    assert torch.equal(cc[1], imgs[1, 2:18, 4:20])
    x = to_input(crops, channels_last=True)
    assert x.shape == (4, 3, 16, 16) and x.is_contiguous(memory_format=torch.channels_last)
    assert to_input(crops, channels_last=False).is_contiguous()


def test_cuda_request_without_cuda_is_a_one_line_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")


def _toy_data(n: int = 8, side: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Dark images score 1.5, bright ones 4.5: learnable in a few steps."""
    rng = np.random.default_rng(0)
    level = np.array([40, 220] * (n // 2))
    imgs = np.clip(level[:, None, None, None] + rng.normal(0, 20, (n, side, side, 3)), 0, 255)
    return imgs.astype(np.uint8), np.where(level > 100, 4.5, 1.5).astype(np.float32)


def test_a_few_steps_reduce_the_training_loss():
    imgs, scores = _toy_data()
    recipe = Recipe("toy", batch_size=8, stages=(Stage("s", "adam", lr=1e-3, iterations=10),))
    res = train_and_predict("resnet18", imgs, scores, imgs[:4], recipe=recipe, init="scratch",
                            device="cpu", seed=0, progress=False, input_size=32)
    assert isinstance(res, CnnResult)
    assert res.train_loss.shape == (10,) and np.isfinite(res.train_loss).all()
    assert res.train_loss[-3:].mean() < 0.5 * res.train_loss[:3].mean()
    assert res.test_pred.shape == (4,) and res.test_pred.dtype == np.float32
    assert res.iterations == 10 and res.samples_seen == 80 and res.images_per_s > 0
    assert res.precision == "fp32" and res.input_size == 32
    assert res.state_dict is not None and "fc.weight" in res.state_dict
    prov = res.provenance()
    assert prov["recipe"]["name"] == "toy" and prov["weights"] == {"init": "scratch"}


def test_frozen_backbone_stage_trains_only_the_head_and_max_iters_caps():
    imgs, scores = _toy_data(4, 36)
    recipe = Recipe("two", batch_size=4, stages=(
        Stage("head", "adam", lr=1e-2, epochs=2, freeze_backbone=True),
        Stage("all", "sgd", lr=1e-4, epochs=2)))
    res = train_and_predict("mobilenet_v2", imgs, scores, imgs[:2], recipe=recipe, init="scratch",
                            device="cpu", seed=1, max_iters=3, progress=False, input_size=32)
    assert res.iterations == 2  # 2 + 2 iterations scaled to <= 3: one per stage
    assert [s["frozen_backbone"] for s in res.stages] == [True, False]
    assert "limited to 3 of 4" in res.recipe.note
    assert res.state_dict and all(v.device.type == "cpu" for v in res.state_dict.values())


def test_bad_inputs_are_config_errors():
    imgs, scores = _toy_data(4, 36)
    with pytest.raises(ConfigError, match="uint8"):
        train_and_predict("resnet18", imgs.astype(np.float32), scores, imgs, device="cpu", init="scratch")
    with pytest.raises(ConfigError, match="smaller than"):
        train_and_predict("resnet18", imgs, scores, imgs, device="cpu", init="scratch")
    with pytest.raises(ConfigError, match="scores for 4"):
        train_and_predict("resnet18", imgs, scores[:3], imgs, device="cpu", init="scratch", input_size=32)


def test_throughput_table_on_cpu(tmp_path):
    from tools.throughput import format_table, main, measure

    rows = measure(["resnet18"], batch_size=2, device="cpu", iters=1, warmup=0, input_size=32, log=False)
    (row,) = rows
    assert row["model"] == "resnet18" and row["raw_img_s"] > 0 and row["achieved_img_s"] > 0
    assert row["ratio"] == pytest.approx(row["achieved_img_s"] / row["raw_img_s"], rel=0.1)
    assert "resnet18" in format_table(rows)
    if not torch.cuda.is_available():
        assert main(["--models", "resnet18", "--device", "cuda", "--json", str(tmp_path / "t.json")]) == 1


def test_gpu_suite_plan_shrinks_samples_to_the_budget():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "gpu_suite.py"
    spec = importlib.util.spec_from_file_location("gpu_suite", path)
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    runs = suite.planned_runs()
    assert len(runs) == 10 and runs[0] == ("mobilenet_v2", "imagenet", "5fold", "1")
    assert ("mobilenet_v2", "imagenet", "60-40", "1") in runs
    assert {r[0] for r in runs if r[1] == "scratch"} == {"alexnet", "resnet18", "resnet50", "resnext50"}
    img_s = dict(suite.REFERENCE_IMG_S)
    samples, reason = suite.choose_samples(runs, img_s, 300.0, PAPER_SAMPLES, 256)
    assert samples < PAPER_SAMPLES and samples % 256 == 0 and "reduced" in reason
    assert suite.estimate(runs, img_s, samples) <= 300.0
    assert suite.choose_samples(runs, img_s, 10**5, PAPER_SAMPLES, 256)[0] == PAPER_SAMPLES
