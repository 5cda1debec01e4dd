"""Files of a table: ``<stem>.md`` and ``<stem>.tex`` of the same panels, written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.atomic import atomic_write_text
from reports.latex import render_latex_table
from reports.markdown import render_markdown_document
from reports.tables import Table


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    atomic_write_text(path, text)
    return path


def write_table_pair(tables_dir: Path, stem: str, panels: Sequence[Table], *, title: str, provenance: str = "",
                     notes: Sequence[str] = (), caption: str | None = None, label: str | None = None,
                     fit_width: bool = False) -> list[Path]:
    """Write ``<stem>.md`` and ``<stem>.tex`` of ``panels``, atomically (``tables_dir`` is created if needed).

    Parameters
    ----------
    tables_dir : pathlib.Path
        Output folder.
    stem : str
        File name stem.
    panels : sequence of Table
        The panels (one table, or several sharing their columns).
    title : str
        Markdown title; also the LaTeX caption unless ``caption`` is given.
    provenance : str
        First line of both files.
    notes : sequence of str
        Notes under the tables.
    caption : str or None
        LaTeX caption (default: ``title``).
    label : str or None
        LaTeX label (default: ``tab:scut-<stem>``).
    fit_width : bool
        Scale the LaTeX table to the text width, see :func:`reports.latex.render_latex_table`.

    Returns
    -------
    list of pathlib.Path
        The Markdown and LaTeX files.
    """
    tables_dir = Path(tables_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    md = render_markdown_document(panels, title=title, provenance=provenance, notes=notes)
    tex = render_latex_table(panels, caption=caption or title, label=label or f"tab:scut-{stem}",
                             provenance=provenance, notes=notes, fit_width=fit_width)
    return [write_text(tables_dir / f"{stem}.md", md), write_text(tables_dir / f"{stem}.tex", tex)]
