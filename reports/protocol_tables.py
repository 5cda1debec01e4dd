"""The main result tables: one Markdown and one LaTeX table per protocol, from stored metrics.

Input: one row per (pairing x split), see :mod:`reports.tables` (``n_train`` and ``n_test``
are used only in the title of a single-split protocol, see :func:`reports.tables.split_sizes`).

Outputs, under ``out_dir/tables/``:

* ``<protocol>.md`` / ``<protocol>.tex`` for each protocol.  A protocol with several
  splits (``5fold``) gets one panel per metric with a column per split and an
  ``Average`` column (mean ± sample std, ddof=1); a single-split protocol (``60-40``)
  gets one table with PC, MAE and RMSE columns.
* ``index.md`` listing the tables (written by :func:`reports.index.write_tables_index`).

Where the paper reports a number for the same pairing and protocol it is shown in a
``Paper`` column with ``Δ`` = ours - paper beside it, and the row gets a reproduction
``Status`` (:func:`reports.status.status_label`, from PC only; for a multi-split protocol
from the mean PC over the splits, repeated in the PC, MAE and RMSE panels).  Every file
starts with a provenance line given by the caller.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from benchmark.metrics import HIGHER_IS_BETTER, METRICS
from benchmark.store import ResultStore
from reports import paper
from reports.index import ListedTable, write_tables_index
from reports.status import STATUS, STATUS_NOTE, status_label
from reports.table_files import write_table_pair
from reports.tables import (
    AVERAGE,
    DELTA,
    DELTA_AVERAGE_NOTE,
    DELTA_NOTE,
    METRIC_TITLES,
    OURS,
    PAPER,
    Table,
    best_mask,
    ensemble_notes,
    file_stem,
    format_delta,
    format_mean_std,
    format_value,
    normalise_results,
    pairings,
    protocol_notes,
    protocol_order,
    protocol_title,
    split_order,
    split_sizes,
)

BOLD_NOTE = (
    "Bold: best of our results in each column (highest PC, lowest MAE and RMSE); "
    "Paper and Δ columns are never bold."
)
AVERAGE_NOTE = "Average: mean ± sample standard deviation (ddof=1) over the splits."
STATUS_PANELS_NOTE = (
    "Status is PC-based (our PC Average vs the paper's PC) and is repeated unchanged in the MAE and "
    "RMSE panels."
)


def _paper_entries(protocol: str, keys: pd.DataFrame) -> dict[str, paper.PaperEntry]:
    """The paper entry matched to each pairing label (pairings without one are left out)."""
    matched = {}
    for label, key in keys.iterrows():
        entry = paper.paper_entry(protocol, key["feature"], key["predictor"], init=key["init"])
        if entry is not None:
            matched[label] = entry
    return matched


def _statuses(ours_pc: pd.Series, matched: dict[str, paper.PaperEntry]) -> pd.Series:
    """Reproduction status of each row from our PC; ``""`` for rows without a paper entry."""
    return pd.Series([status_label(float(pc), matched[label].pc) if label in matched else ""
                      for label, pc in ours_pc.items()], index=ours_pc.index, dtype=object)


def _paper_notes(matched: dict[str, paper.PaperEntry], delta_note: str, *extra: str) -> list[str]:
    """Notes of a table with paper columns: Δ, the status rule (plus ``extra``), the sources."""
    if not matched:
        return []
    entries = list(matched.values())
    sources = list(dict.fromkeys(e.source for e in entries))
    notes = [delta_note, STATUS_NOTE, *extra,
             f"Paper values: {paper.SHORT_CITATION}, " + "; ".join(sources) + "."]
    notes.extend(dict.fromkeys(e.protocol_note for e in entries if e.protocol_note))
    notes.extend(dict.fromkeys(e.note for e in entries if e.note))
    return notes


# --------------------------------------------------------------------------- several splits


def per_split_tables(frame: pd.DataFrame, protocol: str) -> tuple[list[Table], list[str]]:
    """Build the PC, MAE and RMSE panels of a multi-split protocol.

    Parameters
    ----------
    frame : pandas.DataFrame
        Normalised results (see :func:`reports.tables.normalise_results`) of this protocol only.
    protocol : str
        The protocol's name, used to look up the paper's values.

    Returns
    -------
    panels : list of Table
        One panel per metric; columns ``Split 1..k``, ``Average`` and, when the paper
        reports any of these pairings, ``Paper``, ``Δ`` and ``Status`` (the same PC-based
        status in every panel, from our mean PC; blank for rows the paper does not report).
    notes : list of str
        Notes to render under the table.
    """
    keys = pairings(frame)
    splits = split_order(frame["split"])
    matched = _paper_entries(protocol, keys)
    statuses = _statuses(_wide(frame, keys, splits, "pc").mean(axis=1), matched)
    panels = [_per_split_panel(frame, keys, splits, metric, matched, statuses) for metric in METRICS]
    notes = [AVERAGE_NOTE, BOLD_NOTE] + _missing_split_notes(frame, keys, splits)
    notes += _paper_notes(matched, DELTA_AVERAGE_NOTE, STATUS_PANELS_NOTE)
    return panels, notes


def _wide(frame: pd.DataFrame, keys: pd.DataFrame, splits: list[str], metric: str) -> pd.DataFrame:
    """One row per pairing (in ``keys`` order), one column per split, NaN where missing."""
    return frame.pivot(index="pairing", columns="split", values=metric).reindex(index=keys.index,
                                                                                 columns=splits)


def _per_split_panel(frame: pd.DataFrame, keys: pd.DataFrame, splits: list[str], metric: str,
                     matched: dict[str, paper.PaperEntry], statuses: pd.Series) -> Table:
    wide = _wide(frame, keys, splits, metric)
    mean, std = wide.mean(axis=1), wide.std(axis=1, ddof=1)
    split_headers = [f"Split {s}" for s in splits]
    cells = wide.apply(lambda col: col.map(format_value)).set_axis(split_headers, axis=1)
    cells[AVERAGE] = [format_mean_std(m, s) for m, s in zip(mean, std, strict=True)]
    bold = pd.DataFrame(False, index=cells.index, columns=cells.columns)
    higher = HIGHER_IS_BETTER[metric]
    for split, header in zip(splits, split_headers, strict=True):
        bold[header] = best_mask(wide[split], higher)
    bold[AVERAGE] = best_mask(mean, higher)
    if matched:
        reported = pd.Series({label: matched[label].metric(metric) if label in matched else math.nan
                              for label in keys.index})
        cells[PAPER] = reported.map(format_value)
        cells[DELTA] = (mean - reported).map(format_delta)
        cells[STATUS] = statuses
        bold[PAPER] = bold[DELTA] = bold[STATUS] = False
    return Table(cells=cells, bold=bold, title=METRIC_TITLES[metric])


def _missing_split_notes(frame: pd.DataFrame, keys: pd.DataFrame, splits: list[str]) -> list[str]:
    notes = []
    complete = frame[list(METRICS)].notna().all(axis=1)
    for label in keys.index:
        present = set(frame.loc[(frame["pairing"] == label) & complete, "split"])
        absent = [s for s in splits if s not in present]
        if absent:
            notes.append(f"{label} has no result (or a NaN metric) for split(s) {', '.join(absent)}; "
                         "its Average is over the remaining splits.")
    return notes


# --------------------------------------------------------------------------- one split


def single_split_table(frame: pd.DataFrame, protocol: str) -> tuple[Table, list[str]]:
    """Build the table of a single-split protocol: rows = pairings, columns = PC, MAE, RMSE.

    When the paper reports any of the pairings, each metric gets ``(metric, "Ours")``,
    ``(metric, "Paper")`` and ``(metric, "Δ")`` columns (a two-level header), followed by
    a top-level ``("", "Status")`` column (PC-based, blank for rows the paper does not report).

    Returns
    -------
    table : Table
    notes : list of str
        Notes to render under the table.
    """
    keys = pairings(frame)
    matched = _paper_entries(protocol, keys)
    values = frame.set_index("pairing").reindex(keys.index)
    cells: dict[object, list[str]] = {}
    bold: dict[object, pd.Series] = {}
    for metric in METRICS:
        ours = values[metric]
        title = METRIC_TITLES[metric]
        column = (title, OURS) if matched else title
        cells[column] = ours.map(format_value).tolist()
        bold[column] = best_mask(ours, HIGHER_IS_BETTER[metric])
        if matched:
            reported = pd.Series([matched[label].metric(metric) if label in matched else math.nan
                                  for label in keys.index], index=keys.index)
            cells[(title, PAPER)] = reported.map(format_value).tolist()
            cells[(title, DELTA)] = (ours - reported).map(format_delta).tolist()
            bold[(title, PAPER)] = bold[(title, DELTA)] = pd.Series(False, index=keys.index)
    if matched:
        cells[("", STATUS)] = _statuses(values["pc"], matched).tolist()
        bold[("", STATUS)] = pd.Series(False, index=keys.index)
    cell_frame = pd.DataFrame(cells, index=keys.index)
    bold_frame = pd.DataFrame({c: s.to_numpy() for c, s in bold.items()}, index=keys.index)
    return Table(cells=cell_frame, bold=bold_frame), [BOLD_NOTE] + _paper_notes(matched, DELTA_NOTE)


# --------------------------------------------------------------------------- files


def render_tables(results: pd.DataFrame, out_dir: Path, *, provenance: str = "",
                  fit_width: bool = False) -> list[Path]:
    """Write the Markdown and LaTeX tables of every protocol in ``results``, then their index.

    Parameters
    ----------
    results : pandas.DataFrame
        One row per (pairing x split) with the columns listed in :mod:`reports.tables`.
    out_dir : pathlib.Path
        Run folder; files are written to ``out_dir / "tables"`` (created if needed).
    provenance : str
        One line describing how the results were produced (command, machine, commit);
        written at the top of every file.
    fit_width : bool
        Scale LaTeX tables to the text width (needs ``\\usepackage{graphicx}``), see
        :func:`reports.latex.render_latex_table`.

    Returns
    -------
    list of pathlib.Path
        The files written: ``<protocol>.md`` and ``<protocol>.tex`` per protocol, then
        ``index.md``.

    Raises
    ------
    ValueError
        If required columns are missing, rows are duplicated, or two protocol names map to
        the same file name.
    """
    frame = normalise_results(results)
    protocols = protocol_order(frame["protocol"])
    stems = [file_stem(p) for p in protocols]
    if len(set(stems)) != len(stems):
        raise ValueError(f"protocol names {protocols} collide as file names {stems}")
    tables_dir = Path(out_dir) / "tables"
    tables_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    listed = []
    for protocol, stem in zip(protocols, stems, strict=True):
        sub = frame[frame["protocol"] == protocol]
        n_splits = sub["split"].nunique()
        description = protocol_title(protocol, split_sizes(sub) if n_splits == 1 else None)
        title = f"SCUT-FBP5500, {description}"
        if n_splits > 1:
            panels, notes = per_split_tables(sub, protocol)
            caption = f"{title}: PC, MAE and RMSE per split, with mean ± sample standard deviation."
        else:
            table, notes = single_split_table(sub, protocol)
            panels = [table]
            caption = f"{title}: PC, MAE and RMSE."
        notes = protocol_notes(protocol) + notes + ensemble_notes(sub)
        written += write_table_pair(tables_dir, stem, panels, title=title, provenance=provenance, notes=notes,
                                    caption=caption, label=f"tab:scut-{protocol}", fit_width=fit_width)
        listed.append(ListedTable(protocol, stem, description, n_splits, sub["pairing"].nunique()))
    written.append(write_tables_index(tables_dir, listed, provenance))
    return written


def render_store(store: ResultStore, provenance: str) -> list[Path]:
    """Render the tables of a run's ``store`` from its stored records only (the run command's renderer)."""
    return render_tables(store.dataframe(), store.out_dir, provenance=provenance)
