"""Fit cost and accuracy of each predictor, one core: ``python -m tools.fit_speed``.

For every (feature, predictor) it fits the benchmark's model on the training part of the
chosen splits (default: 5-fold split 1 and the 60/40 split 1; features from the cache) and
prints the seconds spent in the predictor's ``fit`` + ``predict`` and the test PC. The
preprocessing (scaler, PCA) is fitted once per (feature, split) and timed separately.
BLAS and OpenMP are limited to one thread, as in each worker of ``run_benchmark.py --jobs 2``
on two cores.

``--set xgb.max_bin=256`` (repeatable) also runs a variant of a predictor with that
parameter changed, so a speed change can be shown not to cost accuracy: the variant's rows
are printed and stored beside the default's, with the totals of both.

Examples
--------
``python -m tools.fit_speed --predictors xgb --set xgb.max_bin=256 --json reports/perf/fit_speed.json``
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchmark.feature_cache import FeatureCache, default_cache_dir
from benchmark.metrics import pearson
from benchmark.pipeline import DEFAULT_PCA, build_predictor, build_preprocessing, create_extractor
from core.atomic import atomic_write_text
from core.errors import ConfigError, one_line_errors
from core.provenance import measurement
from data.protocols import ALL, Split, load_protocols, select_splits
from data.scut import ScutFBP5500, resolve_data_dir
from features import FEATURES
from models import PREDICTORS


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["xgb.max_bin=256", ...]`` -> ``{"xgb": {"max_bin": 256}}`` (values as Python literals).

    Raises
    ------
    ConfigError
        If an item is not ``predictor.param=value``, or names an unknown predictor or parameter.
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        predictor, dot, param = key.partition(".")
        if not sep or not dot or not param:
            raise ConfigError(f"--set {item!r}: expected predictor.param=value, e.g. xgb.max_bin=256")
        known = PREDICTORS.create(predictor).get_params()  # unknown predictor: the registry's error
        if param not in known:
            raise ConfigError(f"--set {item!r}: {predictor} has no parameter {param!r} "
                              f"(it has {', '.join(sorted(known))})")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out.setdefault(predictor, {})[param] = value
    return out


def time_fits(X: np.ndarray, y: np.ndarray, split: Split, row_of: dict[str, int], feature: str,
              variants: list[tuple[str, str, dict[str, Any]]]) -> tuple[float, list[dict[str, Any]]]:
    """Preprocess once, then fit and score each ``(label, predictor, params)`` variant.

    Returns
    -------
    preprocess_s : float
        Seconds to fit the preprocessing and transform both parts.
    rows : list of dict
        One per variant: ``fit_predict_s`` (seconds) and the test ``pc``.
    """
    train = np.array([row_of[n] for n in split.train])
    test = np.array([row_of[n] for n in split.test])
    t0 = time.perf_counter()
    pre = build_preprocessing(create_extractor(feature), DEFAULT_PCA)
    X_train = pre.fit_transform(X[train])
    X_test = pre.transform(X[test])
    preprocess_s = time.perf_counter() - t0
    rows = []
    for label, predictor, params in variants:
        model = build_predictor(predictor).set_params(**params)
        t1 = time.perf_counter()
        pred = model.fit(X_train, y[train]).predict(X_test)
        rows.append({"variant": label, "predictor": predictor, "params": params,
                     "fit_predict_s": round(time.perf_counter() - t1, 3), "pc": round(pearson(y[test], pred), 4)})
    return preprocess_s, rows


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--cache-dir", type=Path)
    p.add_argument("--features", default=",".join(FEATURES.list()))
    p.add_argument("--predictors", default=",".join(PREDICTORS.list()))
    p.add_argument("--splits", default="5fold/1,60-40/1", help="protocol/split, comma-separated")
    p.add_argument("--set", action="append", default=[], metavar="PREDICTOR.PARAM=VALUE",
                   help="also run a variant with this parameter changed (repeatable)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    features = args.features.split(",")
    predictors = args.predictors.split(",")
    for name in features:  # an unknown name: one line listing the registered ones
        FEATURES.get(name)
    for name in predictors:
        PREDICTORS.get(name)
    overrides = parse_overrides(args.set)
    variants = [("default", name, {}) for name in predictors]
    variants += [(" ".join(f"{k}={v!r}" for k, v in params.items()), name, params)
                 for name, params in overrides.items() if name in predictors]
    dataset = ScutFBP5500(resolve_data_dir(args.data_dir))
    splits = [s for p in select_splits(load_protocols(ALL, dataset), args.splits) for s in p]
    names = sorted({n for s in splits for n in (*s.train, *s.test)}, key={n: i for i, n in
                                                                            enumerate(dataset.names)}.__getitem__)
    row_of = {n: i for i, n in enumerate(names)}
    y = np.array([dataset.labels[n] for n in names])
    records = dataset.records(names)
    cache = FeatureCache(args.cache_dir or default_cache_dir())
    rows: list[dict[str, Any]] = []
    preprocess: list[dict[str, Any]] = []
    with threadpool_limits(1):
        for feature in features:
            (matrix,) = cache.matrices([create_extractor(feature)], records, progress=False)
            for split in splits:
                pre_s, found = time_fits(matrix.values, y, split, row_of, feature, variants)
                where = f"{split.protocol}/{split.name}"
                preprocess.append({"feature": feature, "split": where, "seconds": round(pre_s, 3)})
                print(f"{feature:<11} {where:<9} preprocessing {pre_s:6.2f} s", flush=True)
                for row in found:
                    rows.append({"feature": feature, "split": where, **row})
                    print(f"{'':<11} {where:<9} {row['predictor']:<4} {row['variant']:<24} "
                          f"{row['fit_predict_s']:7.2f} s  PC {row['pc']:.4f}", flush=True)
    totals = summarise(rows)
    print("\ntotals over every feature and split (seconds of fit + predict, mean test PC):")
    for t in totals:
        print(f"  {t['predictor']:<4} {t['variant']:<24} {t['seconds']:8.1f} s  mean PC {t['mean_pc']:.4f}")
    print(f"  preprocessing: {sum(r['seconds'] for r in preprocess):.1f} s")
    if args.json:
        atomic_write_text(args.json, json.dumps({
            **measurement("tools.fit_speed", argv), "threads": 1,
            "totals": totals, "preprocessing": preprocess, "rows": rows}, indent=1) + "\n")
    return 0


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Total seconds and mean PC per (predictor, variant), in first-seen order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["predictor"], r["variant"]), []).append(r)
    return [{"predictor": p, "variant": v, "fits": len(g), "seconds": round(sum(r["fit_predict_s"] for r in g), 2),
             "mean_pc": round(float(np.mean([r["pc"] for r in g])), 4)} for (p, v), g in groups.items()]


if __name__ == "__main__":
    sys.exit(main())
