"""reports.stats against scipy.stats.bootstrap / permutation_test: same intervals, and a timing command.

The bootstrap of :mod:`reports.stats` draws its resamples like ``scipy.stats.bootstrap`` does
(``integers(0, n, (n_resamples, n))`` from ``numpy.random.default_rng(seed)``), so with the same
seed both give the same percentile intervals; the tests below check that. The permutation test
draws its swaps differently from ``scipy.stats.permutation_test(permutation_type="samples")``,
so p-values agree only within Monte-Carlo error (scipy's ``two-sided`` p is also a different
statistic, twice the smaller one-sided p; ``|ΔPC|`` with ``alternative="greater"`` is ours).

Timing and agreement on a report folder's stored predictions (every row of every protocol)::

    python -m tests.reports.test_stats_scipy reports/reference [--protocols 5fold,60-40] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats as sps

from reports import stats
from reports.tables import format_value


def _pc(t: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
    t = t - t.mean(axis=axis, keepdims=True)
    p = p - p.mean(axis=axis, keepdims=True)
    return (t * p).sum(axis=axis) / np.sqrt((t * t).sum(axis=axis) * (p * p).sum(axis=axis))


def _metrics(t: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
    err = p - t
    return np.stack([_pc(t, p, axis), np.abs(err).mean(axis=axis), np.sqrt((err * err).mean(axis=axis))])


def scipy_ci(true: np.ndarray, pred: np.ndarray, n_resamples: int, seed: int) -> dict[str, tuple[float, float]]:
    """Percentile intervals of PC, MAE and RMSE by ``scipy.stats.bootstrap``."""
    ci = sps.bootstrap((true, pred), _metrics, paired=True, vectorized=True, n_resamples=n_resamples,
                       method="percentile", rng=np.random.default_rng(seed)).confidence_interval
    return {m: (float(ci.low[i]), float(ci.high[i])) for i, m in enumerate(("pc", "mae", "rmse"))}


def scipy_paired(true: np.ndarray, a: np.ndarray, b: np.ndarray, n_resamples: int,
                 seed: int) -> tuple[float, float, float]:
    """Paired bootstrap interval of PC(a) - PC(b) and the permutation p of ``|ΔPC|`` by scipy."""
    ci = sps.bootstrap((true, a, b), lambda t, x, y, axis=-1: _pc(t, x, axis) - _pc(t, y, axis), paired=True,
                       vectorized=True, n_resamples=n_resamples, method="percentile",
                       rng=np.random.default_rng(seed)).confidence_interval
    perm = sps.permutation_test((a, b), lambda x, y, axis=-1: np.abs(_pc(true, x, axis) - _pc(true, y, axis)),
                                permutation_type="samples", vectorized=True, n_resamples=n_resamples,
                                alternative="greater", rng=np.random.default_rng(seed))
    return float(ci.low), float(ci.high), float(perm.pvalue)


def _data(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.uniform(1, 5, n)
    return true, true + rng.normal(0, 0.4, n), true + rng.normal(0, 0.5, n)


@pytest.mark.parametrize("n", [220, 3000])  # 3000: the resamples are drawn in two chunks
def test_bootstrap_intervals_equal_scipy_bootstrap(n):
    true, pred, _ = _data(n)
    ours = stats.bootstrap_ci(true, pred, n_resamples=1000, seed=5)
    theirs = scipy_ci(true, pred, 1000, 5)
    for metric, (low, high) in theirs.items():
        assert (ours[metric].low, ours[metric].high) == pytest.approx((low, high), abs=1e-12), metric


def test_paired_test_agrees_with_scipy():
    true, a, b = _data(500)
    ours = stats.paired_pc_test(true, a, b, n_resamples=1000, seed=2)
    low, high, p = scipy_paired(true, a, b, 1000, 2)
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=1e-12)
    assert abs(ours.p_value - p) < 0.05  # different random swaps: equal within Monte-Carlo error


# --------------------------------------------------------------------------- the timing command


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _clear_caches() -> None:
    stats._resample_weights.cache_clear()
    stats._swap_masks.cache_clear()


def main(argv: list[str] | None = None) -> int:
    """Compare the table cells of both implementations on a report folder and time them (medians)."""
    from benchmark.store import ResultStore
    from reports.cli import load_records

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("out", help="report folder with stored records (e.g. reports/reference)")
    p.add_argument("--protocols", default="", help="comma-separated protocols (default: all)")
    p.add_argument("--repeats", type=int, default=7, help="timed calls per implementation (default 7)")
    p.add_argument("--resamples", type=int, default=stats.N_RESAMPLES)
    args = p.parse_args(argv)
    pooled = stats.pooled_predictions([r if isinstance(r, dict) else r.table_dict()
                                       for r in load_records(ResultStore(args.out))])
    protocols = [x for x in args.protocols.split(",") if x] or sorted(set(pooled["protocol"]))
    n, seed = args.resamples, stats.SEED
    rows = cells = ci_differ = p_differ = 0
    sample = None
    for protocol in protocols:
        sub = pooled[pooled["protocol"] == protocol]
        frame = stats.uncertainty_frame(sub, protocol, n_resamples=n, seed=seed)
        best = str(frame["pc"].idxmax())
        best_rows = sub.loc[sub["pairing"] == best, ["split", "image", "true", "pred"]]
        for label in stats.row_order(sub):
            r = sub[sub["pairing"] == label]
            theirs = scipy_ci(r["true"].to_numpy(), r["pred"].to_numpy(), n, seed)
            for metric, (low, high) in theirs.items():
                cells += 1
                mine = (frame.loc[label, f"{metric}_low"], frame.loc[label, f"{metric}_high"])
                ci_differ += [format_value(v) for v in mine] != [format_value(low), format_value(high)]
            rows += 1
            if label == best:
                continue
            other = sub.loc[sub["pairing"] == label, ["split", "image", "pred"]]
            joined = best_rows.merge(other, on=["split", "image"], how="inner", suffixes=("", "_other"))
            args_ = (joined["true"].to_numpy(), joined["pred"].to_numpy(), joined["pred_other"].to_numpy())
            low, high, pv = scipy_paired(*args_, n, seed)
            cells += 1
            ci_differ += [format_value(frame.loc[label, "delta_low"]), format_value(frame.loc[label, "delta_high"])] \
                != [format_value(low), format_value(high)]
            p_differ += stats.format_p(frame.loc[label, "p_value"]) != stats.format_p(pv)
            sample = sample or (r["true"].to_numpy(), r["pred"].to_numpy(), args_, protocol, label)
    print(f"{rows} rows of {', '.join(protocols)}: {ci_differ} of {cells} displayed intervals differ from scipy's; "
          f"{p_differ} of {rows - len(protocols)} displayed p-values differ (different random swaps)")
    true, pred, paired_args, protocol, label = sample
    timings = {
        "bootstrap_ci, resamples drawn": _median_s(lambda: (_clear_caches(), stats.bootstrap_ci(
            true, pred, n_resamples=n, seed=seed)), args.repeats),
        "bootstrap_ci, resamples cached": _median_s(lambda: stats.bootstrap_ci(
            true, pred, n_resamples=n, seed=seed), args.repeats),
        "scipy.stats.bootstrap (PC, MAE, RMSE)": _median_s(lambda: scipy_ci(true, pred, n, seed), args.repeats),
        "paired_pc_test, draws made": _median_s(lambda: (_clear_caches(), stats.paired_pc_test(
            *paired_args, n_resamples=n, seed=seed)), args.repeats),
        "paired_pc_test, draws cached": _median_s(lambda: stats.paired_pc_test(
            *paired_args, n_resamples=n, seed=seed), args.repeats),
        "scipy bootstrap + permutation_test": _median_s(lambda: scipy_paired(*paired_args, n, seed), args.repeats),
    }
    print(f"median of {args.repeats} calls, {protocol} / {label}, n = {true.size}, {n} resamples:")
    for what, seconds in timings.items():
        print(f"  {what:40s} {seconds * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
