"""Per-face cost of each feature extractor, one core: ``python -m tools.feature_speed [--n 50]``.

For each registered extractor, every face gets a fresh :class:`~features.face.FaceContext`, so
each figure includes what that extractor needs on its own (decoding, alignment, dlib detection).
Also timed: decoding alone and dlib's detection + 68-point shape alone. Prints the median and
the 90th percentile in milliseconds per face.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from core.atomic import atomic_write_text
from core.errors import one_line_errors
from core.provenance import dlib_build, measurement
from data.scut import ScutFBP5500, resolve_data_dir
from features import FEATURES
from features.face import FaceContext


def _time(records, fn) -> list[float]:
    out = []
    for r in records:
        face = FaceContext(r)
        t0 = time.perf_counter()
        fn(face)
        out.append((time.perf_counter() - t0) * 1000)
    return out


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--n", type=int, default=50, help="faces (every k-th image of the label file)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    ds = ScutFBP5500(resolve_data_dir(args.data_dir))
    names = ds.names[:: max(1, len(ds.names) // args.n)][: args.n]
    records = ds.records(names)
    _ = FaceContext(records[0]).dlib_shape  # load dlib's models outside the timings
    probes = {"decode": lambda f: f.rgb, "detect+shape68 (incl. decode)": lambda f: f.dlib_shape}
    probes |= {name: FEATURES.create(name).extract for name in FEATURES.list()}
    rows = []
    for name, fn in probes.items():
        fn(FaceContext(records[0]))  # warm-up (filter banks, caches)
        ms = _time(records, fn)
        row = {"what": name, "median_ms": round(statistics.median(ms), 1),
               "p90_ms": round(sorted(ms)[int(0.9 * (len(ms) - 1))], 1)}
        rows.append(row)
        print(f"{name:<32} median {row['median_ms']:7.1f} ms  p90 {row['p90_ms']:7.1f} ms  (n={len(ms)})", flush=True)
    if args.json:
        report = {**measurement("tools.feature_speed", argv), "dlib": dlib_build(), "n_faces": len(records),
                  "rows": rows}
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
