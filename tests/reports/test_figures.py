"""Figures drawn from stored records: files, identity line, PC in the titles, fold bars."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmark.metrics import pearson
from reports import figures, stats, tables
from tests.reports.test_stats import fake_records


@pytest.fixture(scope="module")
def records():
    return fake_records({("geom86", "svr"): 0.45, ("lbp", "lr"): 0.7, ("resnet18", "cnn"): 0.3})


@pytest.fixture(scope="module")
def pooled(records):
    return stats.pooled_predictions(records)


def test_scatter_has_identity_line_and_pooled_pc_in_titles(pooled):
    fig = figures.scatter_figure(pooled, "5fold")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3
    sub = pooled[pooled["protocol"] == "5fold"]
    for ax, label in zip(axes, stats.row_order(sub), strict=True):
        rows = sub[sub["pairing"] == label]
        assert len(rows) == 220  # the 5 folds' test predictions pooled
        title = ax.get_title()
        pc = tables.format_value(pearson(rows["true"], rows["pred"]))
        assert title.startswith(label) and f"PC = {pc}" in title
        (line,) = ax.lines
        x, y = line.get_data()
        np.testing.assert_allclose(x, y)  # identity
    assert "pooled" in fig._suptitle.get_text()


def test_render_figures_writes_png_and_pdf(pooled, records, tmp_path):
    from benchmark.store import ResultStore

    store = ResultStore(tmp_path / "run")
    for rec in records:
        store.write(rec)
    files = figures.render_figures(pooled, store.dataframe(), tmp_path / "figures")
    assert [(f.kind, f.protocol) for f in files] == [
        ("scatter", "5fold"), ("hist", "5fold"), ("folds", "5fold"), ("scatter", "60-40"), ("hist", "60-40")]
    for f in files:
        assert f.png.stat().st_size > 5000 and f.pdf.read_bytes().startswith(b"%PDF")
        with Image.open(f.png) as im:
            assert im.format == "PNG" and min(im.size) > 300
        assert f.caption


def test_fold_figure_bars_are_means_with_std_error_bars(records):
    frame = tables.normalise_results(_frame(records))
    fig = figures.fold_figure(frame, "5fold")
    (ax,) = fig.axes
    bars = list(ax.patches)
    order = list(tables.pairings(frame[frame["protocol"] == "5fold"]).index)
    assert len(bars) == len(order)
    for k, (bar, label) in enumerate(zip(bars, order, strict=True)):
        assert bar.get_y() + bar.get_height() / 2 == pytest.approx(len(order) - 1 - k)  # first row on top
        pcs = frame[(frame["protocol"] == "5fold") & (frame["pairing"] == label)]["pc"]
        assert bar.get_width() == pytest.approx(pcs.mean())
    low, high = ax.get_xlim()
    pcs = frame.loc[frame["protocol"] == "5fold", "pc"]
    assert high == 1 and 0 <= low < pcs.min() - 0.02 and round(low * 20, 6) == int(round(low * 20, 6))
    assert len(ax.collections) >= len(order)  # a dot per split for each row, plus the error bars


def _frame(records):
    import pandas as pd

    return pd.DataFrame([{**{k: r[k] for k in ("track", "feature", "predictor", "init", "recipe", "protocol",
                                              "split")}, **r["metrics"]} for r in records])
