"""Choose CNN recipe settings on a validation part held out from a *training* part, never a test fold.

``python -m tools.recipe_search --model mobilenet_v2 --variant base --variant lr1e-3:lr=1e-3``
takes the training part of one official 5-fold split (default: fold 1), holds out a random
``--holdout`` share of it (default 10%, stratified by subset AF/AM/CF/CM, fixed seed), trains
the recipe (default ``cpu``) with each variant's settings on the rest and scores the held-out
part. The split's test images are never loaded. One JSON per (model, variant) is written into
``--out`` (default ``reports/recipe_cpu``; metrics, times and the recipe run, no per-image
labels) as soon as it is done, so an interrupted search resumes; then ``summary.md`` is
re-rendered from every JSON there.

A variant is ``NAME`` (the recipe unchanged) or ``NAME:key=value,key=value`` with keys
``lr``, ``epochs``, ``weight_decay``, ``warmup`` (of the first stage), ``batch_size``,
``image_size``, ``crop_size``, ``hflip`` (of the recipe).
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

from benchmark.feature_cache import default_cache_dir
from benchmark.metrics import score_all
from core.atomic import atomic_write_text
from core.errors import ConfigError, one_line_errors
from core.provenance import measurement
from data.protocols import load_protocols
from data.scut import ScutFBP5500, resolve_data_dir

STAGE_KEYS = {"lr": float, "epochs": float, "weight_decay": float, "warmup": float}
RECIPE_KEYS = {"batch_size": int, "image_size": int, "crop_size": int, "hflip": lambda v: v.lower() == "true"}
DEFAULT_OUT = Path("reports/recipe_cpu")


def parse_variant(spec: str, recipe: Any) -> tuple[str, Any]:
    """``NAME[:key=value,...]`` -> (name, the recipe with those settings)."""
    name, _, settings = spec.partition(":")
    if not name or any(c in name for c in "/\\ "):
        raise ConfigError(f"--variant {spec!r}: a name without '/', '\\' or spaces comes first")
    stage_changes: dict[str, Any] = {}
    recipe_changes: dict[str, Any] = {}
    for item in filter(None, settings.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in {**STAGE_KEYS, **RECIPE_KEYS}:
            raise ConfigError(f"--variant {spec!r}: bad setting {item!r} (keys: "
                              f"{', '.join([*STAGE_KEYS, *RECIPE_KEYS])})")
        try:
            parsed = {**STAGE_KEYS, **RECIPE_KEYS}[key](value)
        except ValueError:
            raise ConfigError(f"--variant {spec!r}: {key}={value!r} is not a number") from None
        (stage_changes if key in STAGE_KEYS else recipe_changes)[key] = parsed
    stages = list(recipe.stages)
    if stage_changes:
        stages[0] = dataclasses.replace(stages[0], **stage_changes)
    return name, dataclasses.replace(recipe, stages=tuple(stages), **recipe_changes,
                                     note=f"variant {spec}")


def holdout_split(names: list[str], share: float, seed: int) -> tuple[list[str], list[str]]:
    """(fit part, held-out part) of ``names``: ``share`` of each subset (name prefix), at random."""
    if not 0 < share < 1:
        raise ConfigError(f"--holdout must be in (0, 1), got {share}")
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    for subset in sorted({n[:2] for n in names}):
        members = [n for n in names if n[:2] == subset]
        k = max(1, round(share * len(members)))
        held.update(rng.choice(members, size=k, replace=False).tolist())
    return [n for n in names if n not in held], [n for n in names if n in held]


def render_summary(out: Path) -> Path:
    """``summary.md``: one row per stored variant JSON, best validation PC first."""
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    rows.sort(key=lambda r: -r["validation"]["pc"])
    lines = ["# CPU recipe: validation on a held-out part of a training split", "",
             "Rendered by `python -m tools.recipe_search` from the JSON files in this folder. "
             "Held-out part: a stratified share of the *training* part of the split named below; "
             "no test image was loaded.", "",
             "| model | variant | image/crop | epochs | lr | batch | val PC | val MAE | val RMSE | "
             "train s | img/s | split, fit / held out | commit |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        rec, st = r["recipe"], r["recipe"]["stages"][0]
        v = r["validation"]
        lines.append(f"| {r['model']} | {r['variant']} | {rec['image_size']}/{rec['crop_size']} | "
                     f"{st['epochs']:g} | {st['lr']:g} | {rec['batch_size']} | {v['pc']:.4f} | {v['mae']:.4f} | "
                     f"{v['rmse']:.4f} | {r['train_s']:.0f} | {r['images_per_s']:.1f} | "
                     f"{r['split']}, {r['n_fit']} / {r['n_holdout']} | `{r['git_commit'][:10]}` |")
    if rows:
        m = rows[0]["machine"]
        lines += ["", f"Machine: {rows[0]['device_name']}, {m.get('cpu_count')} CPUs, "
                      f"{m.get('memory_gib')} GiB, {m.get('platform')}; threads per run: {rows[0]['threads']}."]
    path = out / "summary.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m tools.recipe_search``; returns the exit code."""
    from models.cnn import CNNS
    from models.cnn.recipes import RECIPES, get_recipe

    p = argparse.ArgumentParser(prog="python -m tools.recipe_search", description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--cache-dir", type=Path, help="decoded-image cache (default: the feature cache folder)")
    p.add_argument("--model", default="mobilenet_v2", help="registered CNN")
    p.add_argument("--recipe", default="cpu", choices=tuple(RECIPES))
    p.add_argument("--variant", action="append", default=None,
                   help="NAME or NAME:key=value,... (repeatable; default: the recipe as it is, named base)")
    p.add_argument("--split", default="1", help="official 5-fold split whose training part is used")
    p.add_argument("--holdout", type=float, default=0.1, help="held-out share of the training part")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="CPU threads (default: all available)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--force", action="store_true", help="rerun variants whose JSON exists")
    args = p.parse_args(argv)
    CNNS.get(args.model)
    base = get_recipe(args.recipe)
    variants = [parse_variant(v, base) for v in (args.variant or ["base"])]
    dataset = ScutFBP5500(resolve_data_dir(args.data_dir))
    splits = {s.name: s for s in load_protocols("5fold", dataset)[0]}
    if args.split not in splits:
        raise ConfigError(f"--split {args.split!r}: valid splits are {', '.join(splits)}")
    split = splits[args.split]
    fit_names, held_names = holdout_split(list(split.train), args.holdout, args.seed)

    from benchmark.cnn_runner import ReleaseImages
    from models.cnn.train import train_and_predict

    source = ReleaseImages(dataset, args.cache_dir or default_cache_dir())
    for name, recipe in variants:
        path = args.out / f"{args.model}__{name}.json"
        if path.is_file() and not args.force:
            print(f"{args.model} {name}: done ({path})", file=sys.stderr)
            continue
        print(f"{args.model} {name}: training on {len(fit_names)}, validating on {len(held_names)} "
              f"(training part of 5fold/{split.name})", file=sys.stderr, flush=True)
        y_fit = np.array([dataset.labels[n] for n in fit_names])
        y_held = np.array([dataset.labels[n] for n in held_names])
        t0 = time.perf_counter()
        res = train_and_predict(args.model, source.images(fit_names, recipe.image_size), y_fit,
                                source.images(held_names, recipe.image_size), recipe=recipe,
                                init="imagenet", device=args.device, seed=args.seed, progress=True,
                                keep_state_dict=False, threads=args.threads)
        wall = time.perf_counter() - t0
        metrics = {k: round(v, 4) for k, v in score_all(y_held, res.test_pred).items()}
        report = {**measurement("tools.recipe_search", argv), "model": args.model, "variant": name,
                  "recipe": res.recipe.to_dict(), "split": f"5fold/{split.name} training part",
                  "holdout": args.holdout, "seed": args.seed, "n_fit": len(fit_names),
                  "n_holdout": len(held_names), "validation": metrics, "train_s": round(res.train_time_s, 1),
                  "wall_s": round(wall, 1), "images_per_s": round(res.images_per_s, 1),
                  "threads": res.threads, "device_name": res.device_name,
                  "train_loss_last5pct": res.provenance()["train_loss_last5pct"]}
        atomic_write_text(path, json.dumps(report, indent=1) + "\n")
        print(f"{args.model} {name}: validation PC {metrics['pc']:.4f} MAE {metrics['mae']:.4f} "
              f"RMSE {metrics['rmse']:.4f}; {res.train_time_s:.0f} s, {res.images_per_s:.1f} img/s", flush=True)
    print(f"summary: {render_summary(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
