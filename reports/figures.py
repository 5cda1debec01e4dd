"""Figures of a result store (matplotlib, Agg; PNG and PDF), drawn from stored records only.

For each protocol:

* ``scatter-<protocol>``: predicted vs true score, one panel per row, with the identity line
  and the row's PC in the panel title. Test predictions of all splits are pooled.
* ``hist-<protocol>``: distribution of the true scores and of each row's predictions
  (pooled test predictions), one panel per row.
* ``folds-<protocol>`` (protocols with several splits only): PC per row as a bar (mean over
  splits) with an error bar (sample standard deviation over splits, ddof=1) and one dot per
  split.

The figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, so no global
backend state); PNG is rendered by Agg. PDFs carry no creation date, so re-rendering the same
records gives the same files.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from core.atomic import atomic_path
from data.scut import SCORE_RANGE
from reports import tables
from reports.stats import batch_metrics, row_order

#: Resolution of the PNG files.
DPI = 150
#: Width of the histogram bins, score units.
BIN_WIDTH = 0.1
_MAX_COLUMNS = 4


@dataclass(frozen=True)
class FigureFile:
    """One rendered figure.

    Attributes
    ----------
    kind : str
        ``"scatter"``, ``"hist"`` or ``"folds"``.
    protocol : str
        The protocol drawn.
    caption : str
        One-sentence description (used by the report index).
    png, pdf : pathlib.Path
        The two files.
    """

    kind: str
    protocol: str
    caption: str
    png: Path
    pdf: Path


def _grid(n: int, panel: float = 2.4) -> tuple[Figure, list, int]:
    """A grid of ``n`` square panels with fixed margins (inches).

    The layout is computed here rather than by matplotlib's constrained layout, which takes
    most of the drawing time of a 20-panel figure.
    """
    cols = min(_MAX_COLUMNS, max(n, 1))
    rows = math.ceil(n / cols)
    left, right, top, bottom = 0.75, 0.25, 0.6, 0.6  # labels, suptitle (two lines)
    title, wgap, vgap = 0.45, 0.55, 0.45  # panel titles (two lines), tick labels between panels
    width = left + cols * panel + (cols - 1) * wgap + right
    height = top + rows * (panel + title) + (rows - 1) * vgap + bottom
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw={
        "left": left / width, "right": 1 - right / width, "bottom": bottom / height,
        "top": 1 - (top + title) / height, "wspace": wgap / panel, "hspace": (vgap + title) / panel})
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n], cols


def _suptitle(fig: Figure, text: str) -> None:
    width_in, height_in = fig.get_size_inches()
    fig.suptitle(textwrap.fill(text, width=max(30, int(width_in * 11))), fontsize=10,
                 y=1 - 0.12 / height_in, va="top")


def _save(fig: Figure, figures_dir: Path, stem: str) -> tuple[Path, Path]:
    figures_dir.mkdir(parents=True, exist_ok=True)
    png, pdf = figures_dir / f"{stem}.png", figures_dir / f"{stem}.pdf"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png", metadata={"Software": None})
    if fig.get_layout_engine() is not None:
        fig.set_layout_engine("none")  # keep the layout computed for the PNG: no second pass for the PDF
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None, "Creator": None, "Producer": None})
    return png, pdf


def _limits(values: np.ndarray) -> tuple[float, float]:
    lo = min(SCORE_RANGE[0], float(np.nanmin(values)))
    hi = max(SCORE_RANGE[1], float(np.nanmax(values)))
    pad = 0.02 * (hi - lo)
    return lo - pad, hi + pad


def scatter_figure(pooled: pd.DataFrame, protocol: str) -> Figure:
    """Predicted vs true score per row of ``protocol`` (pooled test predictions)."""
    sub = pooled[pooled["protocol"] == protocol]
    order = row_order(sub)
    fig, axes, cols = _grid(len(order))
    lims = _limits(sub[["true", "pred"]].to_numpy())
    for k, (ax, label) in enumerate(zip(axes, order, strict=True)):
        r = sub[sub["pairing"] == label]
        pc = batch_metrics(r["true"].to_numpy()[None], r["pred"].to_numpy()[None])["pc"][0] \
            if len(r) > 1 else np.nan
        ax.scatter(r["true"], r["pred"], s=4, alpha=0.35, linewidths=0, color="tab:blue", rasterized=True)
        ax.plot(lims, lims, "--", color="0.3", linewidth=1, label="identity")
        ax.set_xlim(lims)
        ax.set_ylim(lims)
        ax.set_aspect("equal")
        ax.set_title(f"{label}\nPC = {tables.format_value(float(pc))}  (n = {len(r)})", fontsize=9)
        if k + cols >= len(order):
            ax.set_xlabel("true score")
        if k % cols == 0:
            ax.set_ylabel("predicted score")
        ax.tick_params(labelsize=8)
    _suptitle(fig, f"SCUT-FBP5500, {tables.protocol_title(protocol)}: predicted vs true score"
              + (" (test predictions of all splits pooled)" if sub["split"].nunique() > 1 else ""))
    return fig


def histogram_figure(pooled: pd.DataFrame, protocol: str) -> Figure:
    """True vs predicted score distributions per row of ``protocol`` (pooled test predictions)."""
    sub = pooled[pooled["protocol"] == protocol]
    order = row_order(sub)
    fig, axes, cols = _grid(len(order))
    lo, hi = _limits(sub[["true", "pred"]].to_numpy())
    bins = np.arange(math.floor(lo / BIN_WIDTH), math.ceil(hi / BIN_WIDTH) + 1) * BIN_WIDTH
    for k, (ax, label) in enumerate(zip(axes, order, strict=True)):
        r = sub[sub["pairing"] == label]
        ax.hist(r["true"], bins=bins, color="0.6", alpha=0.6, label="true")
        ax.hist(r["pred"], bins=bins, histtype="step", linewidth=1.5, color="tab:orange", label="predicted")
        ax.set_title(label, fontsize=9)
        if k == 0:
            ax.legend(fontsize=8, frameon=False)
        if k + cols >= len(order):
            ax.set_xlabel("score")
        if k % cols == 0:
            ax.set_ylabel("test images")
        ax.tick_params(labelsize=8)
    _suptitle(fig, f"SCUT-FBP5500, {tables.protocol_title(protocol)}: true vs predicted score distribution")
    return fig


def fold_figure(results: pd.DataFrame, protocol: str) -> Figure:
    """PC per row: mean over splits (bar), sample std (error bar) and each split (dots).

    Parameters
    ----------
    results : pandas.DataFrame
        Normalised results (:func:`reports.tables.normalise_results`), one row per split.
    """
    sub = results[results["protocol"] == protocol]
    order = list(tables.pairings(sub).index)
    y = np.arange(len(order))[::-1]
    fig = Figure(figsize=(7.0, 0.38 * len(order) + 1.4), layout="constrained")
    ax = fig.subplots()
    means, stds = [], []
    for pos, label in zip(y, order, strict=True):
        pcs = sub.loc[sub["pairing"] == label, "pc"].to_numpy(dtype=float)
        means.append(np.nanmean(pcs))
        stds.append(np.nanstd(pcs, ddof=1) if np.isfinite(pcs).sum() > 1 else 0.0)
        ax.scatter(pcs, np.full(len(pcs), pos), s=10, color="k", zorder=3)
    ax.barh(y, means, xerr=stds, color="tab:blue", alpha=0.55, capsize=3, error_kw={"linewidth": 1})
    # zoom on the range of the values (PCs of all rows often lie within 0.1), in steps of 0.05
    finite = sub["pc"].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    low = max(0.0, math.floor((finite.min() - 0.03) * 20) / 20) if finite.size else 0.0
    ax.set_xlim(low, 1)
    for pos, m in zip(y, means, strict=True):
        ax.text(low + 0.01 * (1 - low), pos, tables.format_value(float(m)), va="center", ha="left",
                fontsize=7, color="white")
    ax.set_yticks(y, order, fontsize=8)
    ax.set_xlabel("PC (bar: mean over splits; error bar: sample std; dots: splits)")
    ax.set_title(f"SCUT-FBP5500, {tables.protocol_title(protocol)}: PC per split", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


def render_figures(pooled: pd.DataFrame, results: pd.DataFrame, figures_dir: Path,
                   records: Sequence[Mapping[str, Any]] = ()) -> list[FigureFile]:
    """Draw every figure of every protocol into ``figures_dir`` (PNG and PDF).

    Parameters
    ----------
    pooled : pandas.DataFrame
        :func:`reports.stats.pooled_predictions` of the store.
    results : pandas.DataFrame
        :meth:`benchmark.store.ResultStore.dataframe` (one row per record).
    figures_dir : pathlib.Path
        Output folder (created if needed).
    records : sequence of dict
        The stored records; CNN records with a per-epoch loss add a training-loss figure.

    Returns
    -------
    list of FigureFile
        In protocol order: scatter, histogram, then (multi-split protocols) folds, then the
        CNN training loss where there are CNN rows.
    """
    from reports.deep import cnn_records, loss_figure

    cnn = cnn_records(records)
    figures_dir = Path(figures_dir)
    normalised = tables.normalise_results(results) if len(results) else results
    out: list[FigureFile] = []
    for protocol in tables.protocol_order(pooled["protocol"]):
        stem = tables.file_stem(protocol)
        title = tables.protocol_title(protocol)
        multi = pooled.loc[pooled["protocol"] == protocol, "split"].nunique() > 1
        pooled_note = " (test predictions of all splits pooled)" if multi else ""
        png, pdf = _save(scatter_figure(pooled, protocol), figures_dir, f"scatter-{stem}")
        out.append(FigureFile("scatter", protocol, f"{title}: predicted vs true score per row, identity line "
                              f"dashed, PC in each title{pooled_note}.", png, pdf))
        png, pdf = _save(histogram_figure(pooled, protocol), figures_dir, f"hist-{stem}")
        out.append(FigureFile("hist", protocol, f"{title}: distribution of true scores (grey) and of each "
                              f"row's predictions (orange){pooled_note}.", png, pdf))
        if multi and len(normalised):
            png, pdf = _save(fold_figure(normalised, protocol), figures_dir, f"folds-{stem}")
            out.append(FigureFile("folds", protocol, f"{title}: PC per row, mean over splits (bar) with "
                                  "sample standard deviation (error bar) and each split (dots).", png, pdf))
        loss = loss_figure(cnn, protocol)
        if loss is not None:
            png, pdf = _save(loss, figures_dir, f"loss-{stem}")
            out.append(FigureFile("loss", protocol, f"{title}: each CNN's mean training loss per epoch, one line "
                                  "per split (log scale).", png, pdf))
    return out
