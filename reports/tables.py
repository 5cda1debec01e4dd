"""Render stored benchmark results as Markdown and booktabs LaTeX tables.

The renderer never computes a metric from predictions: it receives one row of
stored metrics per (pairing x split) and only aggregates (mean, sample standard
deviation), compares with the paper's reported numbers and formats.

Input columns (one row per pairing and split):
``track``, ``feature``, ``predictor``, ``init``, ``recipe``, ``protocol``, ``split``,
``pc``, ``mae``, ``rmse``; optionally ``n_train`` and ``n_test`` (split sizes, used only
in the title of a single-split protocol, see :func:`split_sizes`).

Outputs, under ``out_dir/tables/``:

* ``<protocol>.md`` / ``<protocol>.tex`` for each protocol.  A protocol with several
  splits (``5fold``) gets one block per metric with a column per split and an
  ``Average`` column (mean ± sample std, ddof=1); a single-split protocol (``60-40``)
  gets one table with PC, MAE and RMSE columns.
* ``index.md`` listing the tables.

Where the paper reports a number for the same pairing and protocol it is shown in a
``Paper`` column with ``Δ`` = ours - paper beside it, and the row gets a reproduction
``Status`` (:func:`reports.status.status_label`, from PC only; for a multi-split protocol
from the mean PC over the splits, repeated in the PC, MAE and RMSE panels).  Every file
starts with a provenance line given by the caller.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.metrics import HIGHER_IS_BETTER
from benchmark.store import ResultStore
from core.atomic import atomic_write_text
from data.protocols import PROTOCOLS, SPLITS_DIR, TEN_FOLD_METHOD
from reports import paper

REQUIRED_COLUMNS = ("track", "feature", "predictor", "protocol", "split", "pc", "mae", "rmse")
OPTIONAL_TEXT_COLUMNS = ("init", "recipe")
METRICS = ("pc", "mae", "rmse")
METRIC_TITLES = {"pc": "PC", "mae": "MAE", "rmse": "RMSE"}
DECIMALS = 4

TRACK_ORDER = {"handcrafted": 0, "cnn": 1, "ensemble": 2}
PREDICTOR_ORDER = {"lr": 0, "gr": 1, "svr": 2, "xgb": 3, "cnn": 4, "ensemble": 5}
#: Named protocols first, in the order of :data:`data.protocols.PROTOCOLS` (5fold, 60-40, 10fold).
PROTOCOL_ORDER = {name: i for i, name in enumerate(PROTOCOLS)}
#: Protocol titles; split sizes are added from the data only (see :func:`protocol_title`).
PROTOCOL_TITLES = {name: p.title for name, p in PROTOCOLS.items()}
#: Optional result columns holding the train and test set sizes of a split.
SIZE_COLUMNS = ("n_train", "n_test")

OURS, PAPER, DELTA = "Ours", "Paper", "Δ"
AVERAGE = "Average"
INDEX_LABEL = "Pairing"

BOLD_NOTE = (
    "Bold: best of our results in each column (highest PC, lowest MAE and RMSE); "
    "Paper and Δ columns are never bold."
)
AVERAGE_NOTE = "Average: mean ± sample standard deviation (ddof=1) over the splits."
DELTA_NOTE = "Δ = ours - paper."
DELTA_AVERAGE_NOTE = "Δ = our Average (mean) - the paper's value."
STATUS_PANELS_NOTE = (
    "Status is PC-based (our PC Average vs the paper's PC) and is repeated unchanged in the MAE and "
    "RMSE panels."
)


# --------------------------------------------------------------------------- table model


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells, independent of the output format.

    Attributes
    ----------
    cells : pandas.DataFrame
        String cells (``""`` for blank).  The index holds the row labels; column labels
        are strings or ``(group, sub)`` tuples for a two-level header.
    bold : pandas.DataFrame or None
        Boolean mask of the same shape as ``cells``: True where the cell is set in bold.
    title : str
        Panel heading (a Markdown ``##`` heading, or a LaTeX panel row).
    index_label : str
        Header of the row-label column.
    """

    cells: pd.DataFrame
    bold: pd.DataFrame | None = None
    title: str = ""
    index_label: str = INDEX_LABEL


# --------------------------------------------------------------------------- formatting


def format_value(value: float | None) -> str:
    """Format a metric with :data:`DECIMALS` decimals; blank for None or NaN."""
    if value is None or math.isnan(value):
        return ""
    return f"{value:.{DECIMALS}f}"


def format_delta(value: float | None) -> str:
    """Format a signed difference (``+0.0123`` / ``-0.0123``; ``0.0000`` when it rounds to zero)."""
    if value is None or math.isnan(value):
        return ""
    if round(value, DECIMALS) == 0:
        return format_value(0.0)
    return f"{value:+.{DECIMALS}f}"


def format_mean_std(mean: float, std: float) -> str:
    """Format ``mean ± std``; just the mean when the std is undefined (a single split)."""
    if math.isnan(mean):
        return ""
    if math.isnan(std):
        return format_value(mean)
    return f"{format_value(mean)} ± {format_value(std)}"


def best_mask(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """Mark the best value(s) of a column, comparing values as displayed (rounded).

    Parameters
    ----------
    values : pandas.Series
        Numeric values, NaN where missing.
    higher_is_better : bool
        True for PC, False for MAE/RMSE.

    Returns
    -------
    pandas.Series
        Boolean mask; all False when fewer than two values are present (nothing to compare).
    """
    rounded = values.astype(float).round(DECIMALS)
    if rounded.count() < 2:
        return pd.Series(False, index=values.index)
    best = rounded.max() if higher_is_better else rounded.min()
    return rounded == best


# --------------------------------------------------------------------------- input handling


def pairing_label(track: str, feature: str, predictor: str, init: str = "", recipe: str = "") -> str:
    """Row label of a pairing.

    ``"geom86 + svr"`` for hand-crafted pairings (``"dlib-embed+lbp + svr"`` for a fused
    feature), ``"resnet18 (CNN, init=imagenet, recipe=paper)"`` for CNN rows and
    ``"best (ensemble, nnls-oof)"`` for ensemble rows (``recipe`` holds the weighting method).
    """
    if track == "ensemble":
        return f"{feature} (ensemble, {recipe})" if recipe else f"{feature} (ensemble)"
    if track == "cnn" or predictor == "cnn":
        details = ["CNN"] + [f"{k}={v}" for k, v in (("init", init), ("recipe", recipe)) if v]
        return f"{feature} ({', '.join(details)})"
    return f"{feature} + {predictor}"


def normalise_results(results: pd.DataFrame) -> pd.DataFrame:
    """Validate the results frame and return a clean copy with a ``pairing`` label column.

    Raises
    ------
    ValueError
        If a required column is missing or a (protocol, pairing, split) appears twice.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results lack required column(s): {', '.join(missing)}")
    frame = results.reset_index(drop=True)
    for column in OPTIONAL_TEXT_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str) if column in frame else ""
    for column in ("track", "feature", "predictor", "protocol", "split"):
        frame[column] = frame[column].astype(str)
    for metric in METRICS:
        frame[metric] = pd.to_numeric(frame[metric]).astype(float)
    frame["pairing"] = [
        pairing_label(r.track, r.feature, r.predictor, r.init, r.recipe) for r in frame.itertuples()
    ]
    duplicated = frame.duplicated(["protocol", "pairing", "split"], keep=False)
    if duplicated.any():
        dup = frame.loc[duplicated, ["protocol", "pairing", "split"]].drop_duplicates()
        listing = "; ".join(f"{r.protocol} / {r.pairing} / split {r.split}" for r in dup.itertuples())
        raise ValueError(f"duplicate result rows: {listing}")
    return frame


def _pairing_sort_key(row: pd.Series) -> tuple:
    return (
        TRACK_ORDER.get(row["track"], len(TRACK_ORDER)), row["track"],
        row["feature"],
        PREDICTOR_ORDER.get(row["predictor"], len(PREDICTOR_ORDER)), row["predictor"],
        row["init"], row["recipe"],
    )


def pairings(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per pairing (track, feature, predictor, init, recipe, pairing), in display order."""
    keys = frame[["track", "feature", "predictor", "init", "recipe", "pairing"]].drop_duplicates()
    keys = keys.reset_index(drop=True)
    order = sorted(keys.index, key=lambda i: _pairing_sort_key(keys.loc[i]))
    return keys.loc[order].set_index("pairing")


def split_order(splits: Iterable[str]) -> list[str]:
    """Sort split names numerically when they are all integers, else alphabetically."""
    unique = sorted(set(splits))
    if all(s.isdigit() for s in unique):
        return sorted(unique, key=int)
    return unique


def protocol_notes(protocol: str) -> list[str]:
    """Notes every table of ``protocol`` carries: for a protocol that is not an official split
    (``10fold``), what it is and where its split files are."""
    info = PROTOCOLS.get(protocol)
    if info is None or not info.generated:
        return []
    return [f"{protocol} is not an official split of SCUT-FBP5500: {TEN_FOLD_METHOD}. The run wrote its "
            f"split files to {SPLITS_DIR}/{protocol}/ in its output folder; rerun exactly those splits with "
            f"--protocol OUT/{SPLITS_DIR}/{protocol}."]


def ensemble_notes(frame: pd.DataFrame) -> list[str]:
    """One note per ensemble row of ``frame`` (its members) and one per weighting method used.

    Needs the ``members`` column of ``results.csv``; nothing when it is absent.
    """
    if "members" not in frame or "track" not in frame:
        return []
    rows = frame[frame["track"] == "ensemble"].drop_duplicates(["pairing", "members"])
    if rows.empty:
        return []
    from benchmark.ensemble import COMBINERS  # lazy: only when there are ensemble rows

    notes = [f"Ensemble {r.pairing}: members {r.members}." for r in rows.itertuples()]
    for method in dict.fromkeys(rows["recipe"]):
        if method in COMBINERS:
            notes.append(f"Ensemble weighting {method}: {COMBINERS.describe(method)}")
    notes.append("Ensemble weights are learned from each split's training part only (out-of-fold predictions or "
                 "training-part statistics of the members); the members' test predictions are only combined.")
    return notes


def protocol_order(protocols: Iterable[str]) -> list[str]:
    """Named protocols first (``5fold``, ``60-40``, ``10fold``), then custom ones alphabetically."""
    return sorted(set(protocols), key=lambda p: (PROTOCOL_ORDER.get(p, len(PROTOCOL_ORDER)), p))


def _paper_entries(protocol: str, keys: pd.DataFrame) -> dict[str, paper.PaperEntry]:
    """The paper entry matched to each pairing label (pairings without one are left out)."""
    matched = {}
    for label, key in keys.iterrows():
        entry = paper.paper_entry(protocol, key["feature"], key["predictor"], init=key["init"])
        if entry is not None:
            matched[label] = entry
    return matched


# --------------------------------------------------------------------------- table building


def per_split_tables(frame: pd.DataFrame, protocol: str) -> tuple[list[Table], list[str]]:
    """Build the PC, MAE and RMSE panels of a multi-split protocol.

    Parameters
    ----------
    frame : pandas.DataFrame
        Normalised results (see :func:`normalise_results`) of this protocol only.
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
    pc_mean = _wide(frame, keys, splits, "pc").mean(axis=1)
    statuses = _statuses(pc_mean, matched)
    panels = [_per_split_panel(frame, keys, splits, metric, matched, statuses) for metric in METRICS]
    notes = [AVERAGE_NOTE, BOLD_NOTE] + _missing_split_notes(frame, keys, splits)
    notes += _paper_notes(matched, DELTA_AVERAGE_NOTE, STATUS_PANELS_NOTE)
    return panels, notes


def _wide(frame: pd.DataFrame, keys: pd.DataFrame, splits: list[str], metric: str) -> pd.DataFrame:
    """One row per pairing (in ``keys`` order), one column per split, NaN where missing."""
    return frame.pivot(index="pairing", columns="split", values=metric).reindex(index=keys.index,
                                                                                 columns=splits)


def _statuses(ours_pc: pd.Series, matched: dict[str, paper.PaperEntry]) -> pd.Series:
    """Reproduction status of each row from our PC; ``""`` for rows without a paper entry."""
    from reports.status import status_label  # lazy: reports.status imports this module

    return pd.Series([status_label(float(pc), matched[label].pc) if label in matched else ""
                      for label, pc in ours_pc.items()], index=ours_pc.index, dtype=object)


def _per_split_panel(frame: pd.DataFrame, keys: pd.DataFrame, splits: list[str], metric: str,
                     matched: dict[str, paper.PaperEntry], statuses: pd.Series) -> Table:
    from reports.status import STATUS  # lazy: reports.status imports this module

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
    from reports.status import STATUS  # lazy: reports.status imports this module

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


def _paper_notes(matched: dict[str, paper.PaperEntry], delta_note: str, *extra: str) -> list[str]:
    """Notes of a table with paper columns: Δ, the status rule (plus ``extra``), the sources."""
    from reports.status import STATUS_NOTE  # lazy: reports.status imports this module

    if not matched:
        return []
    entries = list(matched.values())
    sources = list(dict.fromkeys(e.source for e in entries))
    notes = [delta_note, STATUS_NOTE, *extra,
             f"Paper values: {paper.SHORT_CITATION}, " + "; ".join(sources) + "."]
    notes.extend(dict.fromkeys(e.protocol_note for e in entries if e.protocol_note))
    notes.extend(dict.fromkeys(e.note for e in entries if e.note))
    return notes


# --------------------------------------------------------------------------- Markdown


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _markdown_escape(text: str) -> str:
    return text.replace("|", r"\|")


def _flat_header(column: object) -> str:
    if isinstance(column, tuple):
        return " ".join(str(part) for part in column if part)
    return str(column)


def markdown_provenance(provenance: str) -> str:
    """The first line of a Markdown file: the provenance as an HTML comment."""
    text = _one_line(provenance) or "not recorded"
    return f"<!-- provenance: {text.replace('-->', '-- >')} -->"


def render_markdown_table(table: Table) -> str:
    """Render one table as a GitHub-flavoured Markdown table (via ``DataFrame.to_markdown``).

    Bold cells are wrapped in ``**``; pipes in cells are escaped.  Cells are written as
    given (number parsing is disabled), so ``0.8000`` stays ``0.8000``.
    """
    cells = table.cells.map(lambda v: _markdown_escape(str(v)))
    if table.bold is not None:
        cells = cells.mask(table.bold.to_numpy() & (cells != "").to_numpy(), "**" + cells + "**")
    cells.columns = [_markdown_escape(_flat_header(c)) for c in cells.columns]
    cells.insert(0, table.index_label, [_markdown_escape(str(i)) for i in cells.index])
    return cells.to_markdown(index=False, tablefmt="github", disable_numparse=True)


def render_markdown_document(panels: Sequence[Table], *, title: str, provenance: str = "",
                             notes: Sequence[str] = ()) -> str:
    """Render a Markdown file: provenance comment, ``#`` title, the panels, then notes.

    Panels get a ``##`` heading each when there are several of them.
    """
    parts = [markdown_provenance(provenance), "", f"# {title}", ""]
    for panel in panels:
        if len(panels) > 1 and panel.title:
            parts += [f"## {panel.title}", ""]
        parts += [render_markdown_table(panel), ""]
    if notes:
        parts += ["Notes:", ""] + [f"- {_one_line(n)}" for n in notes] + [""]
    return "\n".join(parts)


# --------------------------------------------------------------------------- LaTeX

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    "±": r"$\pm$", "Δ": r"$\Delta$", "−": r"$-$",
}
_LATEX_TABLE = str.maketrans(_LATEX_SPECIALS)


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters; ``±`` becomes ``$\\pm$`` and ``Δ`` ``$\\Delta$``."""
    return str(text).translate(_LATEX_TABLE)


def latex_cell(text: str, bold: bool = False) -> str:
    """Escape one cell; a leading sign of a number becomes math (``$-$0.0123``); optional bold."""
    escaped = re.sub(r"^([+-])(?=\d)", r"$\1$", latex_escape(text))
    return rf"\textbf{{{escaped}}}" if bold and escaped else escaped


def latex_label(name: str) -> str:
    """A ``\\label`` key made of letters, digits, ``:`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9:-]+", "-", name).strip("-")


def latex_provenance(provenance: str) -> str:
    """The first line of a LaTeX file: the provenance as a ``%`` comment."""
    return f"% provenance: {_one_line(provenance) or 'not recorded'}"


def _latex_header(index_label: str, columns: Sequence[object]) -> list[str]:
    pairs = [c if isinstance(c, tuple) else ("", c) for c in columns]
    subs = [latex_cell(str(sub)) for _, sub in pairs]
    lines = []
    if any(group for group, _ in pairs):
        groups, rules, start = [], [], 0
        while start < len(pairs):
            stop = start
            while stop + 1 < len(pairs) and pairs[stop + 1][0] == pairs[start][0]:
                stop += 1
            group, width = pairs[start][0], stop - start + 1
            if group:
                groups.append(rf"\multicolumn{{{width}}}{{c}}{{{latex_escape(group)}}}")
                rules.append(rf"\cmidrule(lr){{{start + 2}-{stop + 2}}}")
            else:
                groups.extend([""] * width)
            start = stop + 1
        lines += [" & ".join([""] + groups) + r" \\", " ".join(rules)]
    lines.append(" & ".join([latex_escape(index_label)] + subs) + r" \\")
    return lines


def _latex_rows(table: Table) -> list[str]:
    bold = table.bold if table.bold is not None else table.cells.map(lambda _: False)
    rows = []
    for label in table.cells.index:
        pairs = zip(table.cells.loc[label], bold.loc[label], strict=True)
        cells = [latex_cell(str(v), bool(b)) for v, b in pairs]
        rows.append(" & ".join([latex_escape(str(label))] + cells) + r" \\")
    return rows


def render_latex_table(panels: Table | Sequence[Table], *, caption: str, label: str,
                       provenance: str = "", notes: Sequence[str] = (), fit_width: bool = False) -> str:
    """Render one booktabs ``table`` environment (compilable with ``\\usepackage{booktabs}``).

    Parameters
    ----------
    panels : Table or sequence of Table
        One table, or several panels sharing the same columns; with several panels each
        starts with an italic panel row (its ``title``) after a ``\\midrule``.
    caption : str
        Caption text (escaped here).
    label : str
        ``\\label`` key (sanitised with :func:`latex_label`).
    provenance : str
        Written as the first line, a ``%`` comment.
    notes : sequence of str
        Rendered in small type under the tabular.
    fit_width : bool
        Scale the tabular to ``\\linewidth`` with ``\\resizebox`` (then the document also
        needs ``\\usepackage{graphicx}``).  Off by default: wide tables (the 5-fold table
        with paper columns) then overflow a narrow text block but need only booktabs.

    Returns
    -------
    str
        The LaTeX source, ending with a newline.

    Raises
    ------
    ValueError
        If the panels do not share the same columns.
    """
    panels = [panels] if isinstance(panels, Table) else list(panels)
    columns = list(panels[0].cells.columns)
    if any(list(p.cells.columns) != columns for p in panels):
        raise ValueError("all panels of one LaTeX table must have the same columns")
    width = len(columns) + 1
    packages = r"\usepackage{booktabs}" + (r" and \usepackage{graphicx}" if fit_width else "")
    lines = [latex_provenance(provenance), f"% requires {packages}", r"\begin{table}[htbp]",
             r"\centering", rf"\caption{{{latex_escape(caption)}}}", rf"\label{{{latex_label(label)}}}",
             r"\small", r"\setlength{\tabcolsep}{4pt}"]
    if fit_width:
        lines.append(r"\resizebox{\linewidth}{!}{%")
    lines += [rf"\begin{{tabular}}{{l{'r' * len(columns)}}}", r"\toprule"]
    lines += _latex_header(panels[0].index_label, columns)
    for panel in panels:
        lines.append(r"\midrule")
        if len(panels) > 1 and panel.title:
            lines.append(rf"\multicolumn{{{width}}}{{l}}{{\textit{{{latex_escape(panel.title)}}}}} \\")
        lines += _latex_rows(panel)
    lines += [r"\bottomrule", r"\end{tabular}" + ("}" if fit_width else "")]
    if notes:
        lines += [r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize"]
        lines += [latex_escape(_one_line(n)) + r"\par" for n in notes]
        lines.append(r"\end{minipage}")
    lines += [r"\end{table}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- files


def protocol_title(protocol: str, sizes: tuple[int, int] | None = None) -> str:
    """Human title of a protocol (``5fold`` -> ``5-fold cross-validation``).

    ``sizes`` = ``(n_train, n_test)``, as found by :func:`split_sizes`, is appended as
    ``(n_train train / n_test test)``; without it the title states no counts.
    """
    title = PROTOCOL_TITLES.get(protocol, f"protocol {protocol}")
    return title if sizes is None else f"{title} ({sizes[0]} train / {sizes[1]} test)"


def split_sizes(frame: pd.DataFrame) -> tuple[int, int] | None:
    """The ``(n_train, n_test)`` shared by every row of ``frame``, or None.

    None when the frame is empty, lacks a column of :data:`SIZE_COLUMNS`, or has a missing,
    non-integer or differing count in any row: the tables never state counts they were not
    given.
    """
    if frame.empty or any(c not in frame.columns for c in SIZE_COLUMNS):
        return None
    sizes = frame[list(SIZE_COLUMNS)].apply(pd.to_numeric, errors="coerce").drop_duplicates()
    if len(sizes) != 1 or sizes.isna().any(axis=None):
        return None
    n_train, n_test = (float(v) for v in sizes.iloc[0])
    if not (n_train.is_integer() and n_test.is_integer()):
        return None
    return int(n_train), int(n_test)


def file_stem(protocol: str) -> str:
    """File name stem of a protocol's tables: letters, digits, ``.``, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", protocol).strip("._") or "protocol"


@dataclass(frozen=True)
class RenderedProtocol:
    """The rendered text of one protocol's tables, plus what the index lists about it."""

    protocol: str
    markdown: str
    latex: str
    n_splits: int
    n_pairings: int
    description: str = ""


def render_protocol(frame: pd.DataFrame, protocol: str, provenance: str = "",
                    fit_width: bool = False) -> RenderedProtocol:
    """Render the Markdown and LaTeX tables of one protocol from normalised results.

    ``fit_width`` is passed to :func:`render_latex_table`.  The title of a single-split
    protocol states the split's train/test sizes when the results carry them
    (:func:`split_sizes`).
    """
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
    markdown = render_markdown_document(panels, title=title, provenance=provenance, notes=notes)
    latex = render_latex_table(panels, caption=caption, label=f"tab:scut-{protocol}",
                               provenance=provenance, notes=notes, fit_width=fit_width)
    return RenderedProtocol(protocol, markdown, latex, n_splits, sub["pairing"].nunique(), description)


def render_index(rendered: Sequence[RenderedProtocol], provenance: str = "") -> str:
    """Render ``index.md``: a table of the rendered tables and the paper's reference entries."""
    parts = [markdown_provenance(provenance), "", "# Result tables", ""]
    if rendered:
        listing = pd.DataFrame({
            "Protocol": [r.protocol for r in rendered],
            "Description": [r.description or protocol_title(r.protocol) for r in rendered],
            "Splits": [str(r.n_splits) for r in rendered],
            "Pairings": [str(r.n_pairings) for r in rendered],
            "Markdown": [f"[{file_stem(r.protocol)}.md]({file_stem(r.protocol)}.md)" for r in rendered],
            "LaTeX": [f"[{file_stem(r.protocol)}.tex]({file_stem(r.protocol)}.tex)" for r in rendered],
        })
        parts += [listing.to_markdown(index=False, tablefmt="github", disable_numparse=True), ""]
    else:
        parts += ["No results to tabulate.", ""]
    parts += [f"Paper values: {paper.CITATION}.", ""]
    if paper.REFERENCE_ENTRIES:
        parts += ["Reference numbers not on an official protocol (never compared with our rows):", ""]
        parts += [f"- {e.label}: PC {format_value(e.pc)}, MAE {format_value(e.mae)}, "
                  f"RMSE {format_value(e.rmse)} ({e.source})" for e in paper.REFERENCE_ENTRIES]
        parts.append("")
    return "\n".join(parts)


def render_tables(results: pd.DataFrame, out_dir: Path, *, provenance: str = "",
                  fit_width: bool = False) -> list[Path]:
    """Write the Markdown and LaTeX tables of every protocol in ``results``.

    Parameters
    ----------
    results : pandas.DataFrame
        One row per (pairing x split) with the columns listed in the module docstring.
    out_dir : pathlib.Path
        Run folder; files are written to ``out_dir / "tables"`` (created if needed).
    provenance : str
        One line describing how the results were produced (command, machine, commit);
        written at the top of every file.
    fit_width : bool
        Scale LaTeX tables to the text width (needs ``\\usepackage{graphicx}``), see
        :func:`render_latex_table`.

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
    rendered = []
    for protocol, stem in zip(protocols, stems, strict=True):
        result = render_protocol(frame, protocol, provenance, fit_width)
        rendered.append(result)
        written += [_write(tables_dir / f"{stem}.md", result.markdown),
                    _write(tables_dir / f"{stem}.tex", result.latex)]
    written.append(_write(tables_dir / "index.md", render_index(rendered, provenance)))
    return written


def _write(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path


def write_table_pair(tables_dir: Path, stem: str, panels: Sequence[Table], *, title: str, provenance: str = "",
                     notes: Sequence[str] = (), caption: str | None = None) -> list[Path]:
    """Write ``<stem>.md`` and ``<stem>.tex`` (label ``tab:scut-<stem>``) of ``panels``, atomically.

    Returns
    -------
    list of pathlib.Path
        The Markdown and LaTeX files.
    """
    tables_dir = Path(tables_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    md = render_markdown_document(panels, title=title, provenance=provenance, notes=notes)
    tex = render_latex_table(panels, caption=caption or title, label=f"tab:scut-{stem}", provenance=provenance,
                             notes=notes)
    return [_write(tables_dir / f"{stem}.md", md), _write(tables_dir / f"{stem}.tex", tex)]


def render_store(store: ResultStore, provenance: str) -> list[Path]:
    """Render the tables of a run's ``store`` from its stored records only (the run command's renderer)."""
    return render_tables(store.dataframe(), store.out_dir, provenance=provenance)
