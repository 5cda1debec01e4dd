"""Gaussian process: scikit-learn's default optimiser vs the benchmark's subsample-tuned GP.

``python -m tools.gp_speed [--data-dir DIR] [--features geom86,gabor-kp] [--split 1]``
fits both on the training part of one official 5-fold split (features from the cache) and
prints fit time and test PC / MAE / RMSE of each, so the speed-up can be checked not to cost
accuracy. Both see the same scaled (and, for high-dimensional features, PCA-reduced) inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmark.feature_cache import FeatureCache, default_cache_dir
from benchmark.metrics import score_all
from benchmark.pipeline import DEFAULT_PCA, build_model, create_extractor
from core.atomic import atomic_write_text
from core.errors import one_line_errors
from core.provenance import measurement
from data.protocols import load_protocols
from data.scut import ScutFBP5500, resolve_data_dir


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--cache-dir", type=Path)
    p.add_argument("--features", default="geom86,gabor-kp")
    p.add_argument("--split", default="1", help="5-fold split name (default 1)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    ds = ScutFBP5500(resolve_data_dir(args.data_dir))
    split = next(s for s in load_protocols("5fold", ds)[0] if s.name == args.split)
    names = list(split.train) + list(split.test)
    records = ds.records(names)
    y = np.array([ds.labels[n] for n in names])
    tr, te = slice(0, len(split.train)), slice(len(split.train), None)
    rows = []
    for feature in args.features.split(","):
        ext = create_extractor(feature)
        (mat,) = FeatureCache(args.cache_dir or default_cache_dir()).matrices([ext], records, progress=False)
        for variant, params in (("sklearn default optimiser", {"hyper_samples": None}),
                                ("benchmark gr (hyper-parameters on 500 rows)", {})):
            model = build_model(ext, "gr", DEFAULT_PCA, seed=0)
            model.set_params(**{f"predict__{k}": v for k, v in params.items()})
            t0 = time.perf_counter()
            model.fit(mat.values[tr], y[tr])
            fit_s = time.perf_counter() - t0
            m = score_all(y[te], model.predict(mat.values[te]))
            rows.append({"feature": feature, "variant": variant, "fit_s": round(fit_s, 2),
                         **{k: round(v, 4) for k, v in m.items()},
                         "kernel": str(model.named_steps["predict"].kernel_)})
            print(f"{feature:<10} {variant:<44} fit {fit_s:7.1f} s  PC {m['pc']:.4f}  MAE {m['mae']:.4f}  "
                  f"RMSE {m['rmse']:.4f}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {**measurement("tools.gp_speed", argv), "split": f"5fold/{args.split}",
                  "n_train": len(split.train), "rows": rows}
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
