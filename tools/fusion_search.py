"""Choose the blocks of the reference report's fused feature on a held-out part of a *training* part.

``python -m tools.fusion_search`` takes the training part of one official 5-fold split
(default: fold 1), holds out a stratified ``--holdout`` share of it (default 10%, by subset
AF/AM/CF/CM, fixed seed; :func:`tools.recipe_search.holdout_split`), and runs a greedy
forward selection over the candidate features (default: every registered one): starting from
nothing, it adds the block whose fused feature, fitted with ``--predictor`` (default ``gr``) on
the rest of the training part, scores the highest PC on the held-out part; it walks the whole
path (every candidate added once) and selects the shortest prefix whose held-out PC is within
``--tolerance`` (default 0.002) of the path's best. Then every registered predictor is scored on
the selected blocks, and the best one is the predictor of the fused row in the ensembles.

The split's test images are never loaded: features are read from the feature cache (or
computed) for the training part only, and every scaler, PCA and predictor is fitted on its fit
part. Written into ``--out`` (default ``reports/fusion_search``): ``search.json`` (every fit of
the path: blocks, held-out PC/MAE/RMSE, seconds; no per-image labels) and ``summary.md``.

``--print-run-args`` prints, from a finished ``search.json``, the run arguments of the reference
report's fusion stage (``scripts/reference_report.sh``): the fused feature and its ensembles.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.feature_cache import FeatureCache, default_cache_dir
from benchmark.fusion import SEPARATOR, fused_matrices
from benchmark.metrics import score_all
from benchmark.pipeline import DEFAULT_PCA, build_model, create_extractor
from core.atomic import atomic_write_text
from core.errors import ConfigError, DataError, one_line_errors
from core.provenance import measurement
from data.protocols import load_protocols
from data.scut import ScutFBP5500, resolve_data_dir
from features import FEATURES
from models import PREDICTORS
from tools.recipe_search import holdout_split

DEFAULT_OUT = Path("reports/fusion_search")
SEARCH_FILE = "search.json"
#: Ensembles of the fusion stage: name -> how its members are formed from the search's choice.
HC_STACK = "hc-stack"
DEEP = "deep"
#: Predictors of the fused row (the best on the held-out part), stacked by ``hc-stack``: each
#: stacked member costs 5 inner refits per split, so the slowest ones are left out.
STACK_SIZE = 2


def score_blocks(blocks: list[str], predictor: str, matrices: dict[str, Any], fit: np.ndarray, held: np.ndarray,
                 y: np.ndarray, pca: int, seed: int) -> dict[str, Any]:
    """Fit ``blocks`` fused (one block: the feature alone) + ``predictor`` on ``fit`` rows, score ``held`` rows.

    Parameters
    ----------
    matrices : dict of str to FeatureMatrix
        Per single feature, the training part's features (rows as ``y``).
    fit, held : ndarray of int
        Row indices of the fit part and the held-out part.
    y : ndarray of shape (n_rows,)
        Labels of the training part.

    Returns
    -------
    dict
        ``blocks``, ``feature`` (the fused name), ``predictor``, held-out ``pc``/``mae``/``rmse``
        (4 decimals) and ``seconds``.
    """
    name = SEPARATOR.join(blocks)
    X = np.hstack([matrices[b].values for b in blocks])
    widths = tuple(matrices[b].values.shape[1] for b in blocks) if len(blocks) > 1 else None
    model = build_model(create_extractor(name), predictor, pca, seed, widths=widths)
    t0 = time.perf_counter()
    model.fit(X[fit], y[fit])
    pred = model.predict(X[held])
    metrics = {k: round(v, 4) for k, v in score_all(y[held], pred).items()}
    return {"blocks": list(blocks), "feature": name, "predictor": predictor, **metrics,
            "seconds": round(time.perf_counter() - t0, 2)}


def greedy_path(candidates: list[str], score) -> list[dict[str, Any]]:
    """Forward selection: each step adds the candidate with the highest held-out PC.

    Parameters
    ----------
    candidates : list of str
    score : callable
        ``score(blocks) -> dict`` with a ``pc`` key (:func:`score_blocks` bound to the data).

    Returns
    -------
    list of dict
        Every fit, each with its ``step`` (1 = single blocks) and ``chosen`` (True for the best
        of its step, which the next step extends).
    """
    chosen: list[str] = []
    fits: list[dict[str, Any]] = []
    for step in range(1, len(candidates) + 1):
        trials = [{**score([*chosen, c]), "step": step, "chosen": False}
                  for c in candidates if c not in chosen]
        best = max(trials, key=lambda t: t["pc"])
        best["chosen"] = True
        chosen = list(best["blocks"])
        fits += trials
    return fits


def select(fits: list[dict[str, Any]], tolerance: float) -> dict[str, Any]:
    """The shortest chosen prefix whose held-out PC is within ``tolerance`` of the path's best."""
    path = [f for f in fits if f["chosen"]]
    top = max(f["pc"] for f in path)
    return next(f for f in path if f["pc"] >= top - tolerance)


def render_summary(result: dict[str, Any]) -> str:
    """``summary.md`` of a search result."""
    sel, pred = result["selected"], result["predictor_choice"]
    lines = [
        "# Fused feature of the reference report: chosen on a held-out part of a training part", "",
        f"Rendered by `{result['command']}` (commit `{result['git_commit'][:10]}`, {result['date']}). "
        f"Held-out part: a stratified {result['holdout']:.0%} of the {result['split']} "
        f"({result['n_fit']} fit / {result['n_holdout']} held out); no test image was loaded. Greedy forward "
        f"selection with `{result['predictor']}`: each step adds the block with the highest held-out PC; the "
        f"selection is the shortest step within {result['tolerance']} PC of the path's best.", "",
        "| step | blocks | held-out PC | MAE | RMSE | chosen |", "| --- | --- | --- | --- | --- | --- |"]
    for f in result["fits"]:
        lines.append(f"| {f['step']} | {f['feature']} | {f['pc']:.4f} | {f['mae']:.4f} | {f['rmse']:.4f} | "
                     f"{'**yes**' if f['chosen'] else ''} |")
    lines += ["", f"**Selected blocks:** `{sel['feature']}` (held-out PC {sel['pc']:.4f}).", "",
              "Predictors on the selected blocks (held-out part):", "",
              "| predictor | held-out PC | MAE | RMSE |", "| --- | --- | --- | --- |"]
    for f in pred["fits"]:
        lines.append(f"| {f['predictor']} | {f['pc']:.4f} | {f['mae']:.4f} | {f['rmse']:.4f} |")
    lines += ["", f"**Predictor of the fused row in the `{DEEP}` ensemble:** `{pred['best']}`.", "",
              "Run arguments of the fusion stage (`python -m tools.fusion_search --print-run-args`):", "",
              f"    {' '.join(shlex.quote(a) for a in run_args(result))}", "",
              f"Machine: {result['machine'].get('platform')}, {result['machine'].get('cpu_count')} CPUs."]
    return "\n".join(lines) + "\n"


def run_args(result: dict[str, Any]) -> list[str]:
    """Arguments of the reference report's fusion stage, from a search result.

    The fused feature is fitted with the :data:`STACK_SIZE` predictors of the highest held-out
    PC, and ``hc-stack`` stacks them (NNLS on out-of-fold training predictions). ``deep`` joins
    every CPU-trained CNN with the fused row of the best predictor (CNNs are not refitted on
    inner folds and their records carry no training-part statistics, so the ensemble's weighting
    falls back to the plain mean: nothing is learned). ``deep`` is only built where its CNN
    members were run (the official protocols), so it is not among these arguments: ``report
    --ensemble`` builds it from stored records (:func:`deep_ensemble`).
    """
    feature = result["selected"]["feature"]
    ranked = sorted(result["predictor_choice"]["fits"], key=lambda f: -f["pc"])[:STACK_SIZE]
    predictors = [f["predictor"] for f in ranked]
    stack = ",".join(f"{feature}__{p}" for p in predictors)
    return ["--features", feature, "--predictors", ",".join(predictors), "--ensemble", f"{HC_STACK}={stack}"]


def deep_ensemble(result: dict[str, Any], cnns: tuple[str, ...] = ("mobilenet_v2", "efficientnet_lite0")) -> str:
    """``deep=CNN,...,FUSED__PREDICTOR``: the ``--ensemble`` value of the CNN + fusion ensemble."""
    return f"{DEEP}={','.join(cnns)},{result['selected']['feature']}__{result['predictor_choice']['best']}"


def read_result(out: Path) -> dict[str, Any]:
    """The stored ``search.json`` of ``out``; DataError naming it if missing or corrupt."""
    path = out / SEARCH_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found; run 'python -m tools.fusion_search' first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.fusion_search", description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--cache-dir", type=Path, help="feature cache (default: $FBP_CACHE_DIR or ~/.cache/fbp-bench)")
    p.add_argument("--candidates", help="comma-separated registered features (default: all registered)")
    p.add_argument("--predictor", default="gr", help="predictor of the greedy search (default gr)")
    p.add_argument("--split", default="1", help="official 5-fold split whose training part is used")
    p.add_argument("--holdout", type=float, default=0.1, help="held-out share of the training part")
    p.add_argument("--tolerance", type=float, default=0.002,
                   help="select the shortest step within this held-out PC of the best (default 0.002)")
    p.add_argument("--pca", type=int, default=DEFAULT_PCA)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="workers for features missing from the cache")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--print-run-args", action="store_true",
                   help="print the fusion stage's run arguments from OUT/search.json, then exit")
    p.add_argument("--print-deep-ensemble", action="store_true",
                   help="print the deep ensemble's --ensemble value from OUT/search.json, then exit")
    return p


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m tools.fusion_search``; returns the exit code."""
    args = parser().parse_args(argv)
    if args.print_run_args or args.print_deep_ensemble:
        result = read_result(args.out)
        print(" ".join(shlex.quote(a) for a in run_args(result)) if args.print_run_args else
              deep_ensemble(result))
        return 0
    candidates = ([c.strip() for c in args.candidates.split(",") if c.strip()] if args.candidates
                  else FEATURES.list())
    for c in candidates:
        FEATURES.get(c)
    PREDICTORS.get(args.predictor)
    if len(candidates) < 2:
        raise ConfigError("--candidates: name at least two features")
    dataset = ScutFBP5500(resolve_data_dir(args.data_dir))
    splits = {s.name: s for s in load_protocols("5fold", dataset)[0]}
    if args.split not in splits:
        raise ConfigError(f"--split {args.split!r}: valid splits are {', '.join(splits)}")
    split = splits[args.split]
    names = list(split.train)  # the test part is never read
    fit_names, held_names = holdout_split(names, args.holdout, args.seed)
    row_of = {n: i for i, n in enumerate(names)}
    fit = np.array([row_of[n] for n in fit_names])
    held = np.array([row_of[n] for n in held_names])
    y = np.array([dataset.labels[n] for n in names])
    matrices = fused_matrices(candidates, FeatureCache(args.cache_dir or default_cache_dir()),
                              dataset.records(names), jobs=args.jobs, progress=False)

    def score(blocks: list[str], predictor: str = args.predictor) -> dict[str, Any]:
        res = score_blocks(blocks, predictor, matrices, fit, held, y, args.pca, args.seed)
        print(f"  {res['feature']} + {predictor}: held-out PC {res['pc']:.4f} ({res['seconds']:.1f} s)",
              file=sys.stderr, flush=True)
        return res

    fits = greedy_path(candidates, score)
    selected = select(fits, args.tolerance)
    pred_fits = [score(selected["blocks"], p) for p in PREDICTORS.list()]
    best = max(pred_fits, key=lambda f: f["pc"])["predictor"]
    result = {**measurement("tools.fusion_search", argv),
              "split": f"5fold/{split.name} training part", "holdout": args.holdout, "seed": args.seed,
              "n_fit": len(fit_names), "n_holdout": len(held_names), "predictor": args.predictor,
              "tolerance": args.tolerance, "pca": args.pca, "candidates": candidates, "fits": fits,
              "selected": selected, "predictor_choice": {"fits": pred_fits, "best": best}}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / SEARCH_FILE, json.dumps(result, indent=1) + "\n")
    atomic_write_text(args.out / "summary.md", render_summary(result))
    print(f"selected: {selected['feature']} (held-out PC {selected['pc']:.4f}); predictor {best}; "
          f"summary: {args.out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
