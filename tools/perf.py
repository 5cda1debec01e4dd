"""Speed and memory benchmark of the hand-crafted suite: cold cache, then warm cache.

``python -m tools.perf [--data-dir DIR] [--jobs 2] [--repeats 1]`` runs the full
hand-crafted suite (``run_benchmark.py --protocol all``, every feature and predictor) as a
child process twice per repeat:

* cold: a fresh, empty feature cache and output folder (features extracted, every fit run);
* warm: the same feature cache, ``--force`` (features read from the cache, every fit rerun).

It prints wall time and peak resident memory (sum over the process tree, sampled every
0.2 s with psutil) of each, the medians over repeats, and writes them as JSON
(``--json PATH``). Targets (issue #2, 2-core machine): cold <= 300 s, warm <= 60 s, peak <= 4 GB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from core.atomic import atomic_write_text
from core.errors import BenchmarkError, one_line_errors
from core.provenance import dlib_build, measurement

REPO = Path(__file__).resolve().parent.parent


def tree_rss(proc: psutil.Process) -> int:
    """Resident memory of ``proc`` and all its descendants, bytes."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def timed_run(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd``; return its wall time (s) and peak process-tree RSS (MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, tree_rss(ps))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchmarkError(f"benchmark run failed with exit code {proc.returncode}: {' '.join(cmd)}")
    return {"wall_s": round(wall, 2), "peak_rss_mib": round(peak / 2**20, 1)}


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", help="dataset root (default: $FBP_DATA_DIR)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--features", help="subset of features (default: all)")
    p.add_argument("--predictors", help="subset of predictors (default: all)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--warm-cache-dir", type=Path,
                   help="skip the cold run: time warm runs against this existing feature cache")
    args = p.parse_args(argv)
    from data.scut import ScutFBP5500, resolve_data_dir

    ScutFBP5500(resolve_data_dir(args.data_dir))  # a missing or broken dataset is one line here, not in a child
    runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="fbp-perf-") as tmp:
            cache = args.warm_cache_dir or f"{tmp}/cache"
            base = [sys.executable, str(REPO / "run_benchmark.py"), "--protocol", "all", "--quiet", "--models", "none",
                    "--jobs", str(args.jobs), "--out", f"{tmp}/out", "--cache-dir", str(cache)]
            for opt, val in (("--data-dir", args.data_dir), ("--features", args.features),
                             ("--predictors", args.predictors)):
                if val:
                    base += [opt, val]
            if not args.warm_cache_dir:
                runs["cold"].append(timed_run(base))
            runs["warm"].append(timed_run([*base, "--force"]))
    summary = {k: {m: statistics.median(r[m] for r in v) for m in ("wall_s", "peak_rss_mib")}
               for k, v in runs.items() if v}
    report = {**measurement("tools.perf", argv), "dlib": dlib_build(), "runs": runs, "median": summary}
    for kind in summary:
        print(f"{kind}: wall {summary[kind]['wall_s']:.1f} s, peak RSS {summary[kind]['peak_rss_mib']:.0f} MiB "
              f"(median of {args.repeats})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
