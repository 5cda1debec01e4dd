"""Per-subset breakdown: PC, MAE and RMSE of every row on Asian/Caucasian female/male faces.

SCUT-FBP5500 has four subsets, named by the image file prefix (:func:`data.scut.subset_of`):
``AF`` Asian female (2000 images), ``AM`` Asian male (2000), ``CF`` Caucasian female (750),
``CM`` Caucasian male (750). The metrics are computed from the stored test predictions,
pooled over the splits of a protocol (see :mod:`reports.stats`), split by subset; ``All`` is
the pooled set.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.metrics import HIGHER_IS_BETTER, METRICS
from data.scut import SUBSETS, subset_of
from reports import paper, tables
from reports.stats import part_metrics, row_order
from reports.table_files import write_table_pair

SUBSET_NAMES = {"AF": "Asian female", "AM": "Asian male", "CF": "Caucasian female", "CM": "Caucasian male"}
ALL = "All"

NOTES = (
    "Subsets from the image names: " + ", ".join(f"{k} = {v}" for k, v in SUBSET_NAMES.items()) + ".",
    "Metrics on the test predictions pooled over the protocol's splits; All = the pooled set (for 5-fold "
    "it differs slightly from the mean over folds of the main table).",
    "Bold: best row in each column (highest PC, lowest MAE and RMSE).",
)


def subset_metrics(pooled: pd.DataFrame) -> pd.DataFrame:
    """PC, MAE and RMSE of every (protocol, row, subset), and of the whole pooled set.

    Parameters
    ----------
    pooled : pandas.DataFrame
        :func:`reports.stats.pooled_predictions` of the store.

    Returns
    -------
    pandas.DataFrame
        Columns ``protocol``, ``pairing``, ``subset`` (``AF``, ``AM``, ``CF``, ``CM``, ``All``),
        ``n``, ``pc``, ``mae``, ``rmse``; a subset with fewer than 2 test images of a row has
        NaN metrics.
    """
    codes = {name: subset_of(name) for name in pooled["image"].unique()}
    frame = pooled.assign(subset=pooled["image"].map(codes))
    rows = []
    for protocol in tables.protocol_order(frame["protocol"]):
        sub = frame[frame["protocol"] == protocol]
        groups = dict(iter(sub.groupby("pairing", sort=False)))
        for label in row_order(sub):
            r = groups[label]
            by_subset = dict(iter(r.groupby("subset", sort=False)))
            for code in (*SUBSETS, ALL):
                part = r if code == ALL else by_subset.get(code, r.iloc[:0])
                rows.append({"protocol": protocol, "pairing": label, "subset": code, "n": len(part),
                             **part_metrics(part)})
    return pd.DataFrame(rows, columns=["protocol", "pairing", "subset", "n", "pc", "mae", "rmse"])


def subset_tables(metrics: pd.DataFrame, protocol: str) -> list[tables.Table]:
    """One panel per metric (PC, MAE, RMSE): rows = pairings, columns = AF, AM, CF, CM, All."""
    sub = metrics[metrics["protocol"] == protocol]
    order = list(dict.fromkeys(sub["pairing"]))
    columns = [*SUBSETS, ALL]
    panels = []
    for metric in METRICS:
        wide = sub.pivot(index="pairing", columns="subset", values=metric)
        wide = wide.reindex(index=order, columns=columns)
        cells = wide.apply(lambda col: col.map(tables.format_value))
        bold = pd.DataFrame({c: tables.best_mask(wide[c], HIGHER_IS_BETTER[metric]) for c in columns})
        panels.append(tables.Table(cells=cells.rename_axis(index=None, columns=None),
                                   bold=bold.rename_axis(index=None, columns=None),
                                   title=tables.METRIC_TITLES[metric]))
    return panels


def with_paper_rows(panels: list[tables.Table], metrics: pd.DataFrame,
                    protocol: str) -> tuple[list[tables.Table], list[str]]:
    """Add the paper's per-subset PC (:data:`reports.paper.SUBSET_ENTRIES`) to the PC panel.

    For each pairing of ``protocol`` the paper reports by subset, two rows follow the PC panel's
    rows: ``<pairing>: paper`` (the values as printed) and ``<pairing>: Δ`` (ours - paper).

    Returns
    -------
    panels : list of Table
    notes : list of str
        The notes these rows need (empty when none was added).
    """
    sub = metrics[(metrics["protocol"] == protocol) & metrics["subset"].isin(SUBSETS)]
    pc_panel = panels[0]
    cells, bold = pc_panel.cells.copy(), pc_panel.bold.copy()
    notes: list[str] = []
    for entry in paper.SUBSET_ENTRIES:
        label = tables.pairing_label("handcrafted", entry.feature, entry.predictor)
        if entry.protocol != protocol or label not in cells.index:
            continue
        ours = sub[sub["pairing"] == label].set_index("subset")["pc"]
        reported = {c: format(entry.pc[c], "g") if c in entry.pc else "" for c in cells.columns}
        delta = {c: tables.format_delta(float(ours[c]) - entry.pc[c]) if c in entry.pc and c in ours else ""
                 for c in cells.columns}
        for suffix, row in (("paper", reported), ("Δ", delta)):
            cells.loc[f"{label}: {suffix}"] = [row[c] for c in cells.columns]
            bold.loc[f"{label}: {suffix}"] = False
        notes.append(f"{label}: paper = the PC by subset of {paper.SHORT_CITATION}, {entry.source}, as printed; "
                     "Δ = ours - paper. The paper's per-subset MAE and RMSE are not filled in.")
        row_entry = paper.paper_entry(protocol, entry.feature, entry.predictor)
        if row_entry is not None and row_entry.protocol_note:
            notes.append(row_entry.protocol_note)
    if not notes:
        return panels, []
    first = tables.Table(cells=cells, bold=bold.astype(bool), title=pc_panel.title, index_label=pc_panel.index_label)
    return [first, *panels[1:]], notes


def render_subset_tables(pooled: pd.DataFrame, tables_dir: Path, provenance: str = "") -> list[Path]:
    """Write ``subsets-<protocol>.md`` and ``.tex`` for every protocol of ``pooled``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    metrics = subset_metrics(pooled)
    written = []
    for protocol in tables.protocol_order(metrics["protocol"]):
        panels, paper_notes = with_paper_rows(subset_tables(metrics, protocol), metrics, protocol)
        counts = metrics[metrics["protocol"] == protocol].groupby("subset")["n"].max()
        notes = [*tables.protocol_notes(protocol), *NOTES, "Test images per subset (largest over rows): "
                 + ", ".join(f"{c} {int(counts.get(c, 0))}" for c in (*SUBSETS, ALL)) + ".", *paper_notes]
        title = f"SCUT-FBP5500, {tables.protocol_title(protocol)}: PC, MAE and RMSE per subset"
        written += write_table_pair(tables_dir, f"subsets-{tables.file_stem(protocol)}", panels,
                                    title=title, provenance=provenance, notes=notes)
    return written
