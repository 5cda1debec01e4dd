"""LaTeX writer: one booktabs ``table`` environment of :class:`reports.tables.Table` panels.

Written by hand rather than with pandas' ``Styler.to_latex``: Styler (pandas 2.x) cannot produce
this output. It draws no ``\\cmidrule`` under the groups of a two-level header, writes a
one-column group as a plain cell instead of ``\\multicolumn{1}{c}{...}`` and the index name on
a header row of its own, has no full-width italic panel row for stacking the PC, MAE and RMSE
panels under one header, no ``\\resizebox`` around the tabular and no notes block; the
math-mode signs (``$-$0.0123``) and ``±``/``Δ`` would still need this module's escaping. Getting
the same bytes out of it would take more string patching of its output than this writer has
lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reports.tables import Table, one_line

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
    return f"% provenance: {one_line(provenance) or 'not recorded'}"


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
        lines += [latex_escape(one_line(n)) + r"\par" for n in notes]
        lines.append(r"\end{minipage}")
    lines += [r"\end{table}", ""]
    return "\n".join(lines)
