"""Reproduction status of a row against the number the paper reported for it.

Every row that the paper (Liang et al., ICPR 2018, see :mod:`reports.paper`) reports gets a
status from its Pearson correlation (PC), the paper's headline metric:

========== =====================================================================
reproduced ours is better than the paper's, or at most 0.01 below it
           (``ΔPC = ours - paper >= -0.01``)
close      ours is more than 0.01 but at most 0.03 below the paper's
           (``-0.03 <= ΔPC < -0.01``)
off        ours is more than 0.03 below the paper's (``ΔPC < -0.03``)
========== =====================================================================

ΔPC is compared as displayed, i.e. rounded to :data:`reports.tables.DECIMALS` decimals, so a
row shown with ``Δ -0.0100`` is "reproduced". For multi-split protocols "ours" is the mean PC
over the splits (the ``Average`` column of the main tables). MAE and RMSE are shown beside
PC but do not enter the status. Rows the paper does not report have no status (``""``).

The main tables (:mod:`reports.protocol_tables`) call :func:`status_label` with our PC and the
paper's PC. :func:`comparison_frame` and :func:`render_comparison` build a stand-alone "ours vs
paper" table with the status.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from benchmark.metrics import METRICS
from reports import paper, tables
from reports.table_files import write_table_pair

REPRODUCED = "reproduced"
CLOSE = "close"
OFF = "off"
#: ΔPC at or above ``-REPRODUCED_TOLERANCE`` is "reproduced".
REPRODUCED_TOLERANCE = 0.01
#: ΔPC at or above ``-CLOSE_TOLERANCE`` (and below the above) is "close"; lower is "off".
CLOSE_TOLERANCE = 0.03
#: Header of the status column.
STATUS = "Status"

STATUS_NOTE = (
    f"Status, from ΔPC = our PC - the paper's PC (as displayed): {REPRODUCED} if ΔPC >= "
    f"-{REPRODUCED_TOLERANCE:.2f} (including better than the paper), {CLOSE} if -{CLOSE_TOLERANCE:.2f} "
    f"<= ΔPC < -{REPRODUCED_TOLERANCE:.2f}, {OFF} if ΔPC < -{CLOSE_TOLERANCE:.2f}. MAE and RMSE do not "
    "enter the status."
)


def status_label(ours_pc: float | None, paper_pc: float | None) -> str:
    """Reproduction status of one row from our PC and the paper's PC.

    Parameters
    ----------
    ours_pc : float or None
        Our PC (the mean over splits for a multi-split protocol).
    paper_pc : float or None
        The PC the paper reports for the same pairing and protocol.

    Returns
    -------
    str
        ``"reproduced"``, ``"close"`` or ``"off"`` (see the module docstring); ``""`` when
        either value is missing or NaN.
    """
    if ours_pc is None or paper_pc is None or math.isnan(ours_pc) or math.isnan(paper_pc):
        return ""
    delta = round(float(ours_pc) - float(paper_pc), tables.DECIMALS)
    if delta >= -REPRODUCED_TOLERANCE:
        return REPRODUCED
    if delta >= -CLOSE_TOLERANCE:
        return CLOSE
    return OFF


def comparison_frame(results: pd.DataFrame) -> pd.DataFrame:
    """Ours vs paper for every row the paper reports.

    Parameters
    ----------
    results : pandas.DataFrame
        One row per (pairing x split), e.g. :meth:`benchmark.store.ResultStore.dataframe`.

    Returns
    -------
    pandas.DataFrame
        One row per (protocol, pairing) the paper reports, in display order, with columns
        ``protocol``, ``pairing``, ``feature``, ``predictor``, ``n_splits``, ``<metric>``, ``paper_<metric>``,
        ``delta_<metric>`` for PC, MAE and RMSE (ours = mean over the splits), ``status``,
        ``note`` (the paper entry's caveat, if any) and ``protocol_note`` (why the entry is
        compared with this protocol).
    """
    frame = tables.normalise_results(results)
    rows = []
    for protocol in tables.protocol_order(frame["protocol"]):
        sub = frame[frame["protocol"] == protocol]
        for label, key in tables.pairings(sub).iterrows():
            entry = paper.paper_entry(protocol, key["feature"], key["predictor"], init=key["init"])
            if entry is None:
                continue
            mine = sub[sub["pairing"] == label]
            row: dict[str, object] = {"protocol": protocol, "pairing": label, "feature": key["feature"],
                                      "predictor": key["predictor"], "n_splits": len(mine)}
            for metric in METRICS:
                ours = float(mine[metric].mean())
                row[metric] = ours
                row[f"paper_{metric}"] = entry.metric(metric)
                row[f"delta_{metric}"] = ours - entry.metric(metric)
            row["status"] = status_label(row["pc"], entry.pc)
            row["note"] = entry.note
            row["protocol_note"] = entry.protocol_note
            rows.append(row)
    columns = ["protocol", "pairing", "feature", "predictor", "n_splits"]
    for metric in METRICS:
        columns += [metric, f"paper_{metric}", f"delta_{metric}"]
    return pd.DataFrame(rows, columns=columns + ["status", "note", "protocol_note"])


def comparison_table(comparison: pd.DataFrame, protocol: str) -> tables.Table:
    """The :class:`reports.tables.Table` of one protocol of :func:`comparison_frame`."""
    sub = comparison[comparison["protocol"] == protocol].set_index("pairing")
    cells: dict[object, list[str]] = {}
    for metric in METRICS:
        title = tables.METRIC_TITLES[metric]
        cells[(title, tables.OURS)] = [tables.format_value(v) for v in sub[metric]]
        cells[(title, tables.PAPER)] = [tables.format_value(v) for v in sub[f"paper_{metric}"]]
        cells[(title, tables.DELTA)] = [tables.format_delta(v) for v in sub[f"delta_{metric}"]]
    cells[("", STATUS)] = list(sub["status"])
    frame = pd.DataFrame(cells, index=sub.index)
    frame.columns = list(cells)
    return tables.Table(cells=frame, title=tables.protocol_title(protocol))


def comparison_notes(comparison: pd.DataFrame) -> list[str]:
    """Notes under a comparison table: status rule, Δ, citation and the paper entries' caveats."""
    notes = [STATUS_NOTE, tables.DELTA_AVERAGE_NOTE, f"Paper values: {paper.SHORT_CITATION}."]
    for protocol in dict.fromkeys(comparison["protocol"]):
        notes += tables.protocol_notes(protocol)
    handcrafted = comparison["predictor"] != "cnn"
    if handcrafted.any() and not (comparison["feature"] == "geom86").any():
        notes.append(paper.missing_geometric_note())
    return notes + [n for n in dict.fromkeys([*comparison["protocol_note"], *comparison["note"]]) if n]


def render_comparison(results: pd.DataFrame, tables_dir: Path, provenance: str = "") -> list[Path]:
    """Write ``paper-comparison.md`` and ``paper-comparison.tex`` into ``tables_dir``.

    One panel per protocol with rows the paper reports: ours (mean over splits), the paper's
    value and Δ for PC, MAE and RMSE, and the status. Nothing is written (and ``[]`` is
    returned) when no stored row matches a paper row.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    comparison = comparison_frame(results)
    if comparison.empty:
        return []
    protocols = list(dict.fromkeys(comparison["protocol"]))
    panels = [comparison_table(comparison, p) for p in protocols]
    notes = comparison_notes(comparison)
    title = "SCUT-FBP5500: our results vs the paper's"
    return write_table_pair(tables_dir, "paper-comparison", panels, title=title, provenance=provenance,
                            notes=notes, caption=f"{title} (PC, MAE, RMSE; Δ = ours - paper).")

