"""Markdown writer of :class:`reports.tables.Table` panels and of plain listings (via ``DataFrame.to_markdown``).

Tables are GitHub-flavoured Markdown rendered by tabulate: padded columns (``github`` format) for
the report's files, or unpadded rows with ``---`` separators (:data:`COMPACT`) for text that is
read as source too (the README blocks). Cells are written as given: number parsing is off, so
``0.8000`` stays ``0.8000``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tabulate import DataRow, TableFormat

from reports.tables import Table, one_line

#: Unpadded pipe table: ``| a | b |`` rows under a ``| --- | --- |`` separator.
COMPACT = TableFormat(lineabove=None, linebelowheader=lambda widths, _aligns: "|" + "|".join(" --- " for _ in widths)
                      + "|", linebetweenrows=None, linebelow=None, headerrow=DataRow("|", "|", "|"),
                      datarow=DataRow("|", "|", "|"), padding=1, with_header_hide=None)


def markdown_table(frame: pd.DataFrame, *, compact: bool = False) -> str:
    """``frame`` (its columns as the header, no index) as a Markdown table.

    ``compact`` writes :data:`COMPACT` rows instead of padded columns. Cells are converted with
    ``str`` and written as they are (escape pipes before).
    """
    text = frame.astype(str)
    if compact:
        return text.to_markdown(index=False, tablefmt=COMPACT, stralign=None, disable_numparse=True)
    return text.to_markdown(index=False, tablefmt="github", disable_numparse=True)


def markdown_escape(text: str) -> str:
    """Escape the pipes of a cell."""
    return text.replace("|", r"\|")


def _flat_header(column: object) -> str:
    if isinstance(column, tuple):
        return " ".join(str(part) for part in column if part)
    return str(column)


def markdown_provenance(provenance: str) -> str:
    """The first line of a Markdown file: the provenance as an HTML comment."""
    text = one_line(provenance) or "not recorded"
    return f"<!-- provenance: {text.replace('-->', '-- >')} -->"


def render_markdown_table(table: Table) -> str:
    """Render one table as a GitHub-flavoured Markdown table.

    Bold cells are wrapped in ``**``; pipes in cells are escaped; a two-level column label
    ``(group, sub)`` becomes ``"group sub"``.
    """
    cells = table.cells.map(lambda v: markdown_escape(str(v)))
    if table.bold is not None:
        cells = cells.mask(table.bold.to_numpy() & (cells != "").to_numpy(), "**" + cells + "**")
    cells.columns = [markdown_escape(_flat_header(c)) for c in cells.columns]
    cells.insert(0, table.index_label, [markdown_escape(str(i)) for i in cells.index])
    return markdown_table(cells)


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
        parts += ["Notes:", ""] + [f"- {one_line(n)}" for n in notes] + [""]
    return "\n".join(parts)
