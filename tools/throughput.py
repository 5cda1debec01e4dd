"""Training throughput of the CNNs: bare network vs. the device-resident pipeline (CUDA or CPU).

For each model, at the recipe's batch size, crop side, precision, memory format and optimiser
(on CUDA the ``fast`` recipe at ``--batch-size``: bf16 autocast, channels_last, SGD; on the CPU
the ``cpu`` recipe: fp32, channels_last, AdamW, its batch and crop; ``--recipe`` picks another):

* ``raw``: training steps of the bare network on a random float input already on the device
  (the ceiling: no data handling at all);
* ``achieved``: a short real run of :func:`models.cnn.train.train_and_predict` (device-resident
  uint8 images at the recipe's ``image_size``, random crops and flips, normalisation),
  steady-state images/s;
* ``ratio`` = achieved / raw (1.0 = the input pipeline costs nothing).

On the CPU both use every available core and the same allocator setting
(:func:`models.cnn.train.tune_cpu_allocator`)::

    python -m tools.throughput --models alexnet resnet18 --batch-size 256 --device cuda \\
        --pack data/packed --json throughput.json
    python -m tools.throughput --device cpu --models mobilenet_v2 efficientnet_lite0 \\
        --json reports/perf/throughput_cpu.json

Without ``--pack`` (or when it is absent) the achieved run uses random uint8 images, which
cost the same as real ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.atomic import atomic_write_text
from core.errors import one_line_errors
from core.provenance import measurement
from models.cnn import CNNS
from models.cnn.recipes import RECIPES, Recipe, default_recipe, fast_recipe, get_recipe
from models.cnn.train import (
    _make_optimizer,
    _versions,
    available_cores,
    resolve_device,
    train_and_predict,
    tune_cpu_allocator,
)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def recipe_for(device: str | torch.device, batch_size: int | None = None, recipe: str | None = None) -> Recipe:
    """The recipe measured: ``recipe`` if named, else the device's default (``fast`` on CUDA).

    ``batch_size`` overrides the recipe's (for ``fast``: its batch, lr scaled as the recipe does).
    """
    dev = torch.device(device)
    name = recipe or ("fast" if dev.type == "cuda" else default_recipe("cpu"))
    if name == "fast":
        return fast_recipe(batch_size or 256)
    base = get_recipe(name)
    return dataclasses.replace(base, batch_size=batch_size) if batch_size else base


def raw_throughput(model_name: str, recipe: Recipe, device: str | torch.device = "cuda",
                   iters: int = 20, warmup: int = 5, input_size: int | None = None,
                   compile: bool = False) -> dict[str, Any]:
    """Training images/s of the bare network on random input (no data pipeline).

    Parameters
    ----------
    model_name : str
        Registered CNN.
    recipe : Recipe
        Batch size, crop side, precision (bf16 only applies on CUDA), memory format and
        optimiser of the first stage.
    device : str or torch.device
    iters, warmup : int
        Timed steps, and untimed steps before them (cudnn autotuning, allocation).
    input_size : int, optional
        Crop side; default the recipe's, else the architecture's.

    Returns
    -------
    dict
        ``images_per_s``, ``seconds``, ``iters``, ``batch_size``, ``input_size``.
    """
    dev = resolve_device(device)
    arch = CNNS.create(model_name)
    size = input_size or recipe.crop_size or arch.input_size
    batch_size = recipe.batch_size
    torch.manual_seed(0)
    fmt = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model = arch.build("scratch").to(dev, memory_format=fmt).train()
    net = torch.compile(model) if compile else model
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    stage = recipe.stages[0]
    wd = arch.weight_decay if stage.weight_decay is None else stage.weight_decay
    opt = _make_optimizer(stage, list(model.parameters()), wd, dev)
    x = torch.randn(batch_size, 3, size, size, device=dev).contiguous(memory_format=fmt)
    y = torch.rand(batch_size, device=dev) * 4 + 1
    use_amp = recipe.bf16 and dev.type == "cuda"

    def step() -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            out = net(x)
        loss = F.mse_loss(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(dev)
    seconds = time.perf_counter() - t0
    return {"images_per_s": iters * batch_size / seconds, "seconds": seconds, "iters": iters,
            "batch_size": batch_size, "input_size": size}


def achieved_throughput(model_name: str, images: torch.Tensor, scores: np.ndarray, recipe: Recipe,
                        device: str | torch.device = "cuda", iters: int = 30,
                        input_size: int | None = None, compile: bool = False) -> dict[str, Any]:
    """Steady training images/s of a short real run of ``recipe`` through the training loop.

    Parameters
    ----------
    images : Tensor (N, H, W, 3), uint8
        Training images at the recipe's ``image_size`` (on the device already, or moved once).
    scores : ndarray (N,)
        Their scores.
    iters : int
        Iterations of the short run (the first ``min(10, iters // 5)`` are not timed).

    Returns
    -------
    dict
        ``images_per_s`` (steady), ``images_per_s_incl_warmup``, ``seconds``, ``iters``.
    """
    test = images[:8]
    res = train_and_predict(model_name, images, scores, test, recipe=recipe, init="scratch",
                            device=device, seed=0, max_iters=iters, progress=False,
                            input_size=input_size, compile=compile, keep_state_dict=False)
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
    return {"images_per_s": res.images_per_s_steady, "images_per_s_incl_warmup": res.images_per_s,
            "seconds": res.train_time_s, "iters": res.iterations}


def measure(models: list[str], batch_size: int | None = None, device: str | torch.device = "cuda",
            iters: int = 30, warmup: int = 5, images: torch.Tensor | None = None,
            scores: np.ndarray | None = None, input_size: int | None = None,
            compile: bool = False, log: bool = True, recipe: str | None = None) -> list[dict[str, Any]]:
    """Raw and achieved throughput of each model (see the module docstring).

    Parameters
    ----------
    batch_size : int, optional
        Overrides the recipe's batch size.
    images, scores : optional
        uint8 (N, H, W, 3) images and (N,) scores for the achieved run; default: random
        images at the recipe's ``image_size``, N = max(4 x batch_size, 64).
    recipe : str, optional
        Recipe name (default: ``fast`` on CUDA, ``cpu`` on the CPU).

    Returns
    -------
    list of dict
        Per model: ``model``, ``recipe``, ``batch_size``, ``input_size``, ``raw_img_s``,
        ``achieved_img_s``, ``ratio``, ``raw_s``, ``achieved_s``, ``threads``.
    """
    dev = resolve_device(device)
    rec = recipe_for(dev, batch_size, recipe)
    if dev.type == "cpu":
        torch.set_num_threads(available_cores())
        tune_cpu_allocator()
    if images is None:
        n = max(4 * rec.batch_size, 64)
        gen = torch.Generator().manual_seed(0)
        side = max(rec.image_size if input_size is None else input_size + 8, 1)
        images = torch.randint(0, 256, (n, side, side, 3), dtype=torch.uint8, generator=gen)
        scores = np.random.default_rng(0).uniform(1, 5, n).astype(np.float32)
    if scores is None:
        raise ValueError("scores are required with images")
    images = images.to(dev)
    rows = []
    for name in models:
        raw = raw_throughput(name, rec, dev, iters, warmup, input_size, compile=compile)
        ach = achieved_throughput(name, images, scores, rec, dev, iters + warmup, input_size, compile=compile)
        row = {"model": name, "recipe": rec.name, "batch_size": rec.batch_size, "input_size": raw["input_size"],
               "image_size": int(images.shape[1]),
               "raw_img_s": round(raw["images_per_s"], 1), "achieved_img_s": round(ach["images_per_s"], 1),
               "ratio": round(ach["images_per_s"] / raw["images_per_s"], 3),
               "raw_s": round(raw["seconds"], 3), "achieved_s": round(ach["seconds"], 3),
               "threads": torch.get_num_threads() if dev.type == "cpu" else None}
        rows.append(row)
        if log:
            print(f"{name}: raw {row['raw_img_s']:.1f} img/s, achieved {row['achieved_img_s']:.1f} img/s, "
                  f"ratio {row['ratio']:.2f}", file=sys.stderr, flush=True)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of :func:`measure` rows."""
    head = (f"{'model':<20}{'recipe':>7}{'batch':>6}{'input':>6}{'raw img/s':>12}{'achieved img/s':>16}"
            f"{'ratio':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<20}{r['recipe']:>7}{r['batch_size']:>6}{r['input_size']:>6}"
                     f"{r['raw_img_s']:>12.1f}{r['achieved_img_s']:>16.1f}{r['ratio']:>7.2f}")
    return "\n".join(lines)


def device_info(dev: torch.device) -> dict[str, Any]:
    """Device name (and compute capability, memory on CUDA) plus library versions."""
    from models.cnn.train import _cpu_name

    info: dict[str, Any] = {"device": str(dev), **_versions()}
    if dev.type == "cpu":
        info.update(cpu=_cpu_name(), threads=torch.get_num_threads(), allocator=tune_cpu_allocator())
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info.update(gpu=props.name, capability=f"{props.major}.{props.minor}",
                    memory_gib=round(props.total_memory / 2**30, 1))
    return info


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m tools.throughput``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tools.throughput",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None, help="registered CNNs (default: all)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="batch size (default: 256 for fast on CUDA, the recipe's own otherwise)")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--recipe", choices=tuple(RECIPES), default=None,
                        help="recipe measured (default: fast on CUDA, cpu on the CPU)")
    parser.add_argument("--iters", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before the raw measurement")
    parser.add_argument("--input-size", type=int, help="crop side (default: each model's own)")
    parser.add_argument("--pack", type=Path, help="use this pack's images for the achieved run")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks")
    parser.add_argument("--json", type=Path, default=Path("throughput.json"), help="output JSON file")
    args = parser.parse_args(argv)
    dev = resolve_device(args.device)
    models = args.models or CNNS.list()
    for m in models:
        CNNS.get(m)
    images = scores = None
    rec = recipe_for(dev, args.batch_size, args.recipe)
    if args.pack and (args.pack / "manifest.json").is_file():
        from data.pack import PackedDataset

        pack = PackedDataset(args.pack)
        n = min(len(pack.names), max(4 * rec.batch_size, 64))
        images = torch.from_numpy(pack.images(pack.names[:n], rec.image_size))
        scores = pack.scores(pack.names[:n])
    rows = measure(models, args.batch_size, dev, args.iters, args.warmup, images, scores,
                   args.input_size, args.compile, recipe=args.recipe)
    print(format_table(rows))
    payload = {**measurement("tools.throughput", argv), "rows": rows, "device": device_info(dev),
               "recipe": rec.to_dict(), "iters": args.iters, "warmup": args.warmup,
               "compile": args.compile, "source": "pack" if images is not None else "random"}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(payload, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
