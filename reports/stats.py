"""Uncertainty of each row's metrics, from the stored test predictions only.

Pooled test predictions
-----------------------
Every record stores each test image's true and predicted score. For a protocol with several
splits (5-fold cross-validation) the test predictions of all its splits are pooled: under the
official 5-fold protocol every image is tested exactly once, so a row has one prediction per
image of the dataset. The metrics here are computed on that pooled set, so for 5-fold they
differ slightly from the main tables' mean over the folds.

Confidence intervals
--------------------
Percentile bootstrap over test images: :data:`N_RESAMPLES` resamples (default 1000) of the
pooled test set drawn with replacement from a generator seeded with :data:`SEED` (default 0),
PC, MAE and RMSE recomputed on each (vectorised numpy, in chunks that bound memory), and the
2.5th and 97.5th percentiles reported as the 95% interval. Every row of a protocol with the
same number of test images sees the same resamples.

Paired test against the best row
--------------------------------
The best row of a protocol is the one with the highest pooled PC. Each other row is compared
with it on the same test images (matched by split and image name) by a paired permutation
test, also known as approximate randomisation: under the null hypothesis that the two rows'
predictions are exchangeable, each image's two predictions are swapped with probability 1/2,
the PC difference is recomputed, and the two-sided p-value is
``(1 + #{|Δ*| >= |Δ|}) / (1 + N)`` over ``N = N_RESAMPLES`` random swaps. A row is marked
"not worse" than the best when ``p >= ALPHA`` (0.05), else "worse"; no correction for the
number of rows compared is applied. A paired bootstrap 95% interval of the PC difference
(the same image resamples for both rows) is shown beside it as an effect size.

Why not ``scipy.stats.bootstrap`` / ``permutation_test``
--------------------------------------------------------
The resamples are drawn as ``scipy.stats.bootstrap`` draws them, so with the same seed it gives
the same intervals: on the reference report (111 rows, 5500 pooled images for 5fold and 10fold)
none of the 441 displayed intervals differs. ``permutation_test`` draws its swaps differently, so
1 of the 108 displayed p-values differs (Monte-Carlo error). Here a resample's metrics are one
matrix product of resample counts with per-image sums, and the counts are cached for every row
of a protocol; median of 7 calls on 5500 images, 1000 resamples (2 shared cores): the three
intervals 116 ms (15 ms with the resamples cached) against 149 ms for ``bootstrap``; the paired
test and its interval 177 ms (36 ms cached) against 598 ms for ``bootstrap`` +
``permutation_test``. Measured with ``python -m tests.reports.test_stats_scipy reports/reference``
(``tests/reports/test_stats_scipy.py`` also checks the agreement on synthetic data).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.metrics import METRICS
from reports import tables
from reports.table_files import write_table_pair

#: Bootstrap resamples and random swaps of the permutation test.
N_RESAMPLES = 1000
#: Seed of every resample.
SEED = 0
#: Confidence level of the intervals.
CONFIDENCE = 0.95
#: Significance level of the paired test.
ALPHA = 0.05
#: Upper bound on resampled values held in memory at once (per array).
_CHUNK_VALUES = 2_000_000

POOLED_COLUMNS = ["protocol", *tables.ROW_FIELDS, "pairing", "split", "image", "true", "pred"]

BEST, NOT_WORSE, WORSE = "best", "not worse", "worse"

METHOD_NOTES = (
    "Metrics on the pooled test predictions of all splits of the protocol (each test image once per "
    "split it is tested in); for 5-fold they differ slightly from the mean over folds.",
    "[95% CI]: percentile bootstrap over test images, {n} resamples, seed {seed}.",
    "ΔPC vs best = best row's PC - this row's PC on the same test images, with a paired bootstrap 95% CI.",
    "p: two-sided paired permutation test (approximate randomisation: each image's two predictions "
    "swapped with probability 1/2, {n} random swaps) of the PC difference with the best row.",
    f"vs best: 'not worse' (and bold PC) when p >= {ALPHA} (not significantly worse than the best row), "
    f"'worse' when p < {ALPHA}; no multiple-comparison correction.",
)


# --------------------------------------------------------------------------- pooled predictions


def pooled_predictions(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Every stored test prediction, one row per (record, test image).

    Parameters
    ----------
    records : iterable of dict
        Result records (:meth:`benchmark.store.ResultStore.records`). Records without stored
        predictions are skipped.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`POOLED_COLUMNS`; ``pairing`` is the row label of the main tables.
    """
    parts = []
    for rec in records:
        preds = rec.get("predictions") or {}
        images = preds.get("image") or []
        if not images:
            continue
        key = tables.row_fields(rec)
        part = pd.DataFrame({"image": [str(i) for i in images],
                             "true": np.asarray(preds["true"], dtype=np.float64),
                             "pred": np.asarray(preds["pred"], dtype=np.float64)})
        part["protocol"] = str(rec["protocol"])
        part["split"] = str(rec["split"])
        for f, v in key.items():
            part[f] = v
        part["pairing"] = tables.pairing_label(**key)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=POOLED_COLUMNS)
    return pd.concat(parts, ignore_index=True)[POOLED_COLUMNS]


def row_order(pooled: pd.DataFrame) -> list[str]:
    """Pairing labels of ``pooled`` (one protocol) in the display order of the main tables."""
    return list(tables.pairings(pooled).index)


# --------------------------------------------------------------------------- vectorised metrics


def batch_metrics(true: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """PC, MAE and RMSE of each row of two ``(B, n)`` arrays.

    Returns
    -------
    dict
        ``{"pc": (B,), "mae": (B,), "rmse": (B,)}``; PC is NaN for a constant row.
    """
    true = np.atleast_2d(true)
    pred = np.atleast_2d(pred)
    err = pred - true
    tc = true - true.mean(axis=1, keepdims=True)
    pc_ = pred - pred.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        pc = (tc * pc_).sum(axis=1) / np.sqrt((tc * tc).sum(axis=1) * (pc_ * pc_).sum(axis=1))
    return {"pc": pc, "mae": np.abs(err).mean(axis=1), "rmse": np.sqrt((err * err).mean(axis=1))}


def part_metrics(part: pd.DataFrame) -> dict[str, float]:
    """PC, MAE and RMSE of one set of pooled test predictions (columns ``true``, ``pred``).

    Fewer than 2 images give NaN metrics.
    """
    if len(part) < 2:
        return {"pc": np.nan, "mae": np.nan, "rmse": np.nan}
    scores = batch_metrics(part["true"].to_numpy()[None], part["pred"].to_numpy()[None])
    return {k: float(v[0]) for k, v in scores.items()}


def _pc_from_sums(n: int, sx: np.ndarray, sy: np.ndarray, sxx: np.ndarray, syy: np.ndarray,
                  sxy: np.ndarray) -> np.ndarray:
    """Pearson correlation from sums over ``n`` (weighted) items; NaN where a variance is zero."""
    cov = n * sxy - sx * sy
    var = (n * sxx - sx * sx) * (n * syy - sy * sy)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, cov / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)


def _chunks(total: int, n: int) -> Iterable[int]:
    step = max(1, min(total, _CHUNK_VALUES // max(n, 1)))
    done = 0
    while done < total:
        size = min(step, total - done)
        yield size
        done += size


@lru_cache(maxsize=2)
def _resample_weights(n: int, n_resamples: int, seed: int) -> tuple[np.ndarray, ...]:
    """How often each of ``n`` items is drawn in each bootstrap resample, in chunks of shape (size, n).

    Metrics of a resample are then weighted sums, so a chunk of resamples is one matrix product.
    Cached (read-only): every row of a protocol with the same number of test images reuses them.
    """
    rng = np.random.default_rng(seed)
    chunks = []
    for size in _chunks(n_resamples, n):
        idx = rng.integers(0, n, size=(size, n))
        idx += np.arange(size)[:, None] * n
        w = np.bincount(idx.ravel(), minlength=size * n).reshape(size, n).astype(np.float64)
        w.setflags(write=False)
        chunks.append(w)
    return tuple(chunks)


@lru_cache(maxsize=2)
def _swap_masks(n: int, n_resamples: int, seed: int) -> tuple[np.ndarray, ...]:
    """Random swaps of the permutation test (1 = swap the image's two predictions), in chunks; cached."""
    rng = np.random.default_rng(seed)
    chunks = []
    for size in _chunks(n_resamples, n):
        m = (rng.random((size, n)) < 0.5).astype(np.float64)
        m.setflags(write=False)
        chunks.append(m)
    return tuple(chunks)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval."""

    estimate: float
    low: float
    high: float


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(true: np.ndarray, pred: np.ndarray, *, n_resamples: int = N_RESAMPLES,
                 confidence: float = CONFIDENCE, seed: int = SEED) -> dict[str, Interval]:
    """Percentile bootstrap confidence intervals of PC, MAE and RMSE over test images.

    Parameters
    ----------
    true, pred : array-like of shape (n,)
        True and predicted scores of the test images.
    n_resamples : int
        Bootstrap resamples (each ``n`` images drawn with replacement).
    confidence : float
        Coverage of the interval (0.95 for the 2.5th-97.5th percentiles).
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``{"pc": Interval, "mae": Interval, "rmse": Interval}``; the estimate is the metric on
        all ``n`` images.
    """
    true = np.asarray(true, dtype=np.float64).ravel()
    pred = np.asarray(pred, dtype=np.float64).ravel()
    if true.shape != pred.shape or true.size < 3:
        raise ValueError(f"need two equal-length vectors of >= 3 values, got {true.shape} and {pred.shape}")
    n = true.size
    point = {k: float(v[0]) for k, v in batch_metrics(true, pred).items()}
    t, p = true - true.mean(), pred - pred.mean()  # PC is shift-invariant; centring avoids cancellation
    err = pred - true
    columns = np.column_stack([t, p, t * t, p * p, t * p, np.abs(err), err * err])
    samples: dict[str, list[np.ndarray]] = {k: [] for k in point}
    for weights in _resample_weights(n, n_resamples, seed):
        sums = weights @ columns
        samples["pc"].append(_pc_from_sums(n, *sums[:, :5].T))
        samples["mae"].append(sums[:, 5] / n)
        samples["rmse"].append(np.sqrt(sums[:, 6] / n))
    out = {}
    for k, est in point.items():
        low, high = _percentiles(np.concatenate(samples[k]), confidence)
        out[k] = Interval(est, low, high)
    return out


@dataclass(frozen=True)
class PairedComparison:
    """PC of row A minus PC of row B on the same test images, with its uncertainty.

    Attributes
    ----------
    delta : float
        ``PC(A) - PC(B)``.
    low, high : float
        Paired bootstrap confidence interval of ``delta``.
    p_value : float
        Two-sided paired permutation test p-value of ``delta`` (see the module docstring).
    n : int
        Test images compared.
    """

    delta: float
    low: float
    high: float
    p_value: float
    n: int


def paired_pc_test(true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, *,
                   n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                   seed: int = SEED) -> PairedComparison:
    """Compare the PC of two rows' predictions of the same test images.

    Parameters
    ----------
    true : array-like of shape (n,)
        True scores.
    pred_a, pred_b : array-like of shape (n,)
        The two rows' predictions of the same images, in the same order.
    n_resamples : int
        Random swaps of the permutation test, and bootstrap resamples of the interval.
    confidence : float
        Coverage of the interval of the difference.
    seed : int
        Seed of the swaps and of the resamples.

    Returns
    -------
    PairedComparison
    """
    true = np.asarray(true, dtype=np.float64).ravel()
    a = np.asarray(pred_a, dtype=np.float64).ravel()
    b = np.asarray(pred_b, dtype=np.float64).ravel()
    if not (true.shape == a.shape == b.shape) or true.size < 3:
        raise ValueError(f"need three equal-length vectors of >= 3 values, got {true.shape}, {a.shape}, "
                         f"{b.shape}")
    n = true.size
    shift = true.mean()  # one shift for all three keeps swapped vectors consistent
    t, a, b = true - shift, a - shift, b - shift
    st, stt = t.sum(), (t * t).sum()
    sa, saa, sta = a.sum(), (a * a).sum(), (t * a).sum()
    sb, sbb, stb = b.sum(), (b * b).sum(), (t * b).sum()
    delta = float(_pc_from_sums(n, st, sa, stt, saa, sta) - _pc_from_sums(n, st, sb, stt, sbb, stb))

    # permutation test: each image's two predictions swapped with probability 1/2
    change = np.column_stack([b - a, b * b - a * a, t * (b - a)])
    extreme = 0
    for swaps in _swap_masks(n, n_resamples, seed):
        d = swaps @ change
        sa_, saa_, sta_ = sa + d[:, 0], saa + d[:, 1], sta + d[:, 2]
        sb_, sbb_, stb_ = sa + sb - sa_, saa + sbb - saa_, sta + stb - sta_
        diff = _pc_from_sums(n, st, sa_, stt, saa_, sta_) - _pc_from_sums(n, st, sb_, stt, sbb_, stb_)
        extreme += int(np.sum(np.abs(diff) >= abs(delta) - 1e-12))
    p_value = (1 + extreme) / (1 + n_resamples)

    # paired bootstrap interval: the same image resamples for both rows
    columns = np.column_stack([t, a, b, t * t, a * a, b * b, t * a, t * b])
    diffs = []
    for weights in _resample_weights(n, n_resamples, seed):
        s = weights @ columns
        diffs.append(_pc_from_sums(n, s[:, 0], s[:, 1], s[:, 3], s[:, 4], s[:, 6])
                     - _pc_from_sums(n, s[:, 0], s[:, 2], s[:, 3], s[:, 5], s[:, 7]))
    low, high = _percentiles(np.concatenate(diffs), confidence)
    return PairedComparison(delta, low, high, float(p_value), n)


# --------------------------------------------------------------------------- per-protocol table


def uncertainty_frame(pooled: pd.DataFrame, protocol: str, *, n_resamples: int = N_RESAMPLES,
                      seed: int = SEED, alpha: float = ALPHA) -> pd.DataFrame:
    """Bootstrap intervals of every row of ``protocol`` and its paired test against the best row.

    Parameters
    ----------
    pooled : pandas.DataFrame
        :func:`pooled_predictions` of the store.
    protocol : str
        The protocol whose rows are compared.

    Returns
    -------
    pandas.DataFrame
        Indexed by pairing label (display order), columns ``n``, ``pc``, ``pc_low``,
        ``pc_high`` (and the same for ``mae``, ``rmse``), ``delta_pc``, ``delta_low``,
        ``delta_high`` (best - this row), ``p_value``, ``n_paired`` and ``verdict``
        (``"best"``, ``"not worse"``, ``"worse"``, or ``""`` when no test was possible).
    """
    sub = pooled[pooled["protocol"] == protocol]
    order = row_order(sub)
    rows: dict[str, dict[str, Any]] = {}
    for label in order:
        r = sub[sub["pairing"] == label]
        entry: dict[str, Any] = {"n": len(r)}
        if len(r) >= 3:
            for metric, ci in bootstrap_ci(r["true"].to_numpy(), r["pred"].to_numpy(),
                                           n_resamples=n_resamples, seed=seed).items():
                entry.update({metric: ci.estimate, f"{metric}_low": ci.low, f"{metric}_high": ci.high})
        rows[label] = entry
    frame = pd.DataFrame.from_dict(rows, orient="index")
    for metric in METRICS:
        for suffix in ("", "_low", "_high"):
            if f"{metric}{suffix}" not in frame:
                frame[f"{metric}{suffix}"] = math.nan
    frame["delta_pc"] = frame["delta_low"] = frame["delta_high"] = frame["p_value"] = math.nan
    frame["n_paired"] = 0
    frame["verdict"] = ""
    if frame["pc"].notna().any():
        best = str(frame["pc"].idxmax())
        frame.loc[best, "verdict"] = BEST
        frame.loc[best, ["delta_pc", "n_paired"]] = [0.0, frame.loc[best, "n"]]
        best_rows = sub.loc[sub["pairing"] == best, ["split", "image", "true", "pred"]]
        for label in order:
            if label == best:
                continue
            other = sub.loc[sub["pairing"] == label, ["split", "image", "pred"]]
            joined = best_rows.merge(other, on=["split", "image"], how="inner", suffixes=("", "_other"))
            if len(joined) < 3:
                continue
            test = paired_pc_test(joined["true"].to_numpy(), joined["pred"].to_numpy(),
                                  joined["pred_other"].to_numpy(), n_resamples=n_resamples, seed=seed)
            frame.loc[label, ["delta_pc", "delta_low", "delta_high", "p_value", "n_paired"]] = [
                test.delta, test.low, test.high, test.p_value, test.n]
            frame.loc[label, "verdict"] = WORSE if test.p_value < alpha and test.delta > 0 else NOT_WORSE
    return frame


def format_interval(ci_estimate: float, low: float, high: float) -> str:
    """``0.8573 [0.8512, 0.8634]``; blank when the estimate is missing."""
    if math.isnan(ci_estimate):
        return ""
    if math.isnan(low) or math.isnan(high):
        return tables.format_value(ci_estimate)
    return f"{tables.format_value(ci_estimate)} [{tables.format_value(low)}, {tables.format_value(high)}]"


def format_p(p: float) -> str:
    """A p-value with 3 decimals, ``<0.001`` below 0.001; blank for NaN."""
    if math.isnan(p):
        return ""
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


def uncertainty_table(frame: pd.DataFrame, protocol: str) -> tables.Table:
    """The :class:`reports.tables.Table` of :func:`uncertainty_frame`."""
    cells = pd.DataFrame(index=frame.index)
    cells["n"] = [str(int(v)) for v in frame["n"]]
    for metric in METRICS:
        cells[f"{tables.METRIC_TITLES[metric]} [95% CI]"] = [
            format_interval(r[metric], r[f"{metric}_low"], r[f"{metric}_high"]) for _, r in frame.iterrows()]
    cells["ΔPC vs best [95% CI]"] = [
        "" if r["verdict"] == BEST else format_interval(r["delta_pc"], r["delta_low"], r["delta_high"])
        for _, r in frame.iterrows()]
    cells["p"] = [format_p(p) for p in frame["p_value"]]
    cells["vs best"] = list(frame["verdict"])
    bold = pd.DataFrame(False, index=cells.index, columns=cells.columns)
    bold[cells.columns[1]] = frame["verdict"].isin([BEST, NOT_WORSE]).to_numpy()
    return tables.Table(cells=cells, bold=bold, title=tables.protocol_title(protocol))


def method_notes(n_resamples: int = N_RESAMPLES, seed: int = SEED) -> list[str]:
    """The notes rendered under the uncertainty tables."""
    return [n.format(n=n_resamples, seed=seed) for n in METHOD_NOTES]


def render_uncertainty(pooled: pd.DataFrame, tables_dir: Path, provenance: str = "", *,
                       n_resamples: int = N_RESAMPLES, seed: int = SEED) -> list[Path]:
    """Write ``uncertainty-<protocol>.md`` and ``.tex`` for every protocol of ``pooled``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    written = []
    for protocol in tables.protocol_order(pooled["protocol"]):
        frame = uncertainty_frame(pooled, protocol, n_resamples=n_resamples, seed=seed)
        table = uncertainty_table(frame, protocol)
        title = f"SCUT-FBP5500, {tables.protocol_title(protocol)}: 95% confidence intervals and paired tests"
        notes = tables.protocol_notes(protocol) + method_notes(n_resamples, seed)
        best = frame.index[frame["verdict"] == BEST]
        if len(best):
            notes.insert(0, f"Best row (highest pooled PC): {best[0]}.")
        written += write_table_pair(tables_dir, f"uncertainty-{tables.file_stem(protocol)}", [table],
                                    title=title, provenance=provenance, notes=notes)
    return written
