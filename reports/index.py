"""The ``index.md`` files: the report's (provenance, links to every table, the figures, the methods)
and the result tables' (``tables/index.md``).

The report index lives in the output folder of a run (``reports/latest/index.md`` by default) and
uses relative links only, so it renders on GitHub and in any Markdown viewer wherever the
folder is copied. Provenance comes from the run's ``manifest.json`` (command, git commit,
machine); a folder without one says "not recorded". The tables index lists the main table of
each protocol (:func:`reports.protocol_tables.render_tables`) and the paper's reference entries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.atomic import atomic_write_text
from reports import paper, status, tables
from reports.markdown import markdown_provenance, markdown_table, render_markdown_table
from reports.stats import method_notes

if TYPE_CHECKING:  # the run command writes the tables index without loading matplotlib
    from reports.figures import FigureFile

INDEX_NAME = "index.md"


def _code(text: object) -> str:
    """Inline code that survives backticks in the text."""
    value = tables.one_line(text)
    return f"`` {value} ``" if "`" in value else f"`{value}`"


def machine_summary(machine: Mapping[str, Any] | None) -> str:
    """``Linux-6.1-x86_64, x86_64, 16 CPUs, 62.8 GiB`` from the manifest's ``machine``."""
    if not machine:
        return "not recorded"
    parts = [str(machine[k]) for k in ("platform", "machine") if machine.get(k)]
    if machine.get("cpu_count"):
        parts.append(f"{machine['cpu_count']} CPUs")
    if machine.get("memory_gib"):
        parts.append(f"{machine['memory_gib']} GiB")
    return ", ".join(parts) or "not recorded"


def provenance_line(manifest: Mapping[str, Any] | None, report_command: str = "") -> str:
    """One line (the first line of every table file): run command, commit, machine, re-render command."""
    if not manifest:
        run = "run provenance not recorded (no manifest.json)"
    else:
        run = (f"`{tables.one_line(manifest.get('command') or 'not recorded')}`; "
               f"commit {manifest.get('git_commit') or 'unknown'}; "
               f"machine {machine_summary(manifest.get('machine'))}; "
               f"data {(manifest.get('dataset') or {}).get('integrity') or 'integrity not recorded'}")
    return f"{run}; rendered by `{report_command}`" if report_command else run


def _link(path: Path, out_dir: Path, text: str | None = None) -> str:
    rel = Path(os.path.relpath(path, out_dir)).as_posix()
    return f"[{text or path.name}]({rel.replace(' ', '%20')})"


def _provenance_rows(manifest: Mapping[str, Any] | None, n_records: int, report_command: str) -> pd.DataFrame:
    m = manifest or {}
    dataset = m.get("dataset") or {}
    rows = [
        ("Run command", _code(m["command"]) if m.get("command") else "not recorded"),
        ("Git commit", _code(m["git_commit"]) if m.get("git_commit") else "not recorded"),
        ("Machine", machine_summary(m.get("machine"))),
        ("Run status", str(m.get("status") or "not recorded")),
        ("Started / finished", f"{m.get('started') or '?'} / {m.get('finished') or '?'}"),
        ("Dataset", f"{dataset.get('n_images', '?')} images, fingerprint {dataset.get('fingerprint', '?')}, "
         f"{dataset.get('integrity') or 'integrity not recorded'} (run_benchmark.py check-data)"
         if dataset else "not recorded"),
        *[(f"Earlier run {i}", f"{_code(h.get('command') or 'not recorded')} (commit "
           f"{_code(str(h.get('git_commit') or 'unknown')[:10])}, {h.get('status') or '?'}, finished "
           f"{h.get('finished') or '?'})") for i, h in enumerate(m.get("history") or [], 1)],
        ("Records", str(n_records)),
        ("Report command", _code(report_command) if report_command else "not recorded"),
    ]
    return pd.DataFrame([(k, v.replace("|", r"\|")) for k, v in rows], columns=["", "Value"])


def _table_rows(out_dir: Path, tables_dir: Path, protocols: Sequence[str]) -> pd.DataFrame:
    rows = []
    for protocol in protocols:
        stem = tables.file_stem(protocol)
        row = {"Protocol": tables.protocol_title(protocol)}
        for column, name in (("Results (per split)", stem), ("Per subset (AF/AM/CF/CM)", f"subsets-{stem}"),
                             ("95% CI and paired tests", f"uncertainty-{stem}"),
                             ("Identity-disjoint (audit)", f"identity-{stem}")):
            links = [_link(tables_dir / f"{name}{ext}", out_dir, label)
                     for ext, label in ((".md", "Markdown"), (".tex", "LaTeX"))
                     if (tables_dir / f"{name}{ext}").is_file()]
            row[column] = " · ".join(links) or "—"
        rows.append(row)
    return pd.DataFrame(rows)


def render_index(out_dir: Path, *, manifest: Mapping[str, Any] | None, protocols: Sequence[str],
                 figures: Sequence[FigureFile], comparison: pd.DataFrame | None = None, n_records: int = 0,
                 report_command: str = "", n_resamples: int = 1000, seed: int = 0) -> str:
    """Render the report's ``index.md``.

    Parameters
    ----------
    out_dir : pathlib.Path
        The report folder (links are relative to it); tables are looked up in ``out_dir/tables``.
    manifest : mapping or None
        The run's ``manifest.json``.
    protocols : sequence of str
        Protocols in display order.
    figures : sequence of FigureFile
        The figures drawn (:func:`reports.figures.render_figures`).
    comparison : pandas.DataFrame or None
        :func:`reports.status.comparison_frame`, shown inline when not empty.
    n_records : int
        Number of stored records.
    report_command : str
        The command that rendered the report.
    n_resamples, seed : int
        Bootstrap settings, for the methods section.

    Returns
    -------
    str
        The Markdown text.
    """
    out_dir = Path(out_dir)
    tables_dir = out_dir / "tables"
    parts = [markdown_provenance(provenance_line(manifest, report_command)), "",
             "# SCUT-FBP5500 benchmark report", "",
             "Every table and figure below is rendered from the stored result records (`records/`) "
             f"alone; re-render them with {_code(report_command or 'python run_benchmark.py report')}.", "",
             "## Provenance", "",
             markdown_table(_provenance_rows(manifest, n_records, report_command)), "",
             "## Tables", ""]
    if protocols:
        parts += [markdown_table(_table_rows(out_dir, tables_dir, protocols)), ""]
    extra = [(tables_dir / "paper-comparison.md", "Our results vs the paper's, with reproduction status"),
             (tables_dir / "deep-track.md", "Our CNN rows beside the paper's CNN rows"),
             (tables_dir / "deep-track-runs.md", "How each CNN split was trained (device, threads, time, img/s)"),
             (tables_dir / "index.md", "Index of the result tables"),
             (out_dir / "results.csv", "All records as CSV")]
    for path, text in extra:
        if path.is_file():
            tex = path.with_suffix(".tex")
            suffix = f" ({_link(tex, out_dir, 'LaTeX')})" if tex.is_file() else ""
            parts.append(f"- {text}: {_link(path, out_dir)}{suffix}")
    parts.append("")
    if comparison is not None and not comparison.empty:
        parts += ["## Reproduction of the paper", ""]
        for protocol in dict.fromkeys(comparison["protocol"]):
            parts += [f"### {tables.protocol_title(protocol)}", "",
                      render_markdown_table(status.comparison_table(comparison, protocol)), ""]
        parts += [f"- {tables.one_line(n)}" for n in status.comparison_notes(comparison)]
        parts += [f"- Paper: {paper.CITATION}.", ""]
    if figures:
        parts += ["## Figures", ""]
        for protocol in dict.fromkeys(f.protocol for f in figures):
            parts += [f"### {tables.protocol_title(protocol)}", ""]
            for fig in (f for f in figures if f.protocol == protocol):
                rel = Path(os.path.relpath(fig.png, out_dir)).as_posix()
                links = f"{_link(fig.pdf, out_dir, 'PDF')}, {_link(fig.png, out_dir, 'PNG')}"
                parts += [f"![{fig.kind}-{fig.protocol}]({rel})", "", f"{fig.caption} ({links})", ""]
    parts += ["## Methods", ""]
    parts += [f"- {tables.one_line(n)}" for n in method_notes(n_resamples, seed)]
    parts += ["- Per-subset tables: AF = Asian female, AM = Asian male, CF = Caucasian female, "
              "CM = Caucasian male (from the image names), metrics on the pooled test predictions.",
              f"- Reproduction status: {tables.one_line(status.STATUS_NOTE)}", ""]
    return "\n".join(parts)


def write_index(out_dir: Path, text: str) -> Path:
    """Write ``out_dir/index.md`` and return its path."""
    path = Path(out_dir) / INDEX_NAME
    atomic_write_text(path, text)
    return path


# --------------------------------------------------------------------------- tables/index.md


@dataclass(frozen=True)
class ListedTable:
    """What the tables index says about one protocol's main table (``<stem>.md`` / ``<stem>.tex``)."""

    protocol: str
    stem: str
    description: str
    n_splits: int
    n_pairings: int


def render_tables_index(listed: Sequence[ListedTable], provenance: str = "") -> str:
    """Render ``tables/index.md``: a table of the protocols' tables and the paper's reference entries."""
    parts = [markdown_provenance(provenance), "", "# Result tables", ""]
    if listed:
        parts += [markdown_table(pd.DataFrame({
            "Protocol": [t.protocol for t in listed],
            "Description": [t.description for t in listed],
            "Splits": [t.n_splits for t in listed],
            "Pairings": [t.n_pairings for t in listed],
            "Markdown": [f"[{t.stem}.md]({t.stem}.md)" for t in listed],
            "LaTeX": [f"[{t.stem}.tex]({t.stem}.tex)" for t in listed],
        })), ""]
    else:
        parts += ["No results to tabulate.", ""]
    parts += [f"Paper values: {paper.CITATION}.", ""]
    if paper.REFERENCE_ENTRIES:
        parts += ["Reference numbers not on an official protocol (never compared with our rows):", ""]
        parts += [f"- {e.label}: PC {tables.format_value(e.pc)}, MAE {tables.format_value(e.mae)}, "
                  f"RMSE {tables.format_value(e.rmse)} ({e.source})" for e in paper.REFERENCE_ENTRIES]
        parts.append("")
    return "\n".join(parts)


def write_tables_index(tables_dir: Path, listed: Sequence[ListedTable], provenance: str = "") -> Path:
    """Write ``tables_dir/index.md`` (:func:`render_tables_index`) and return its path."""
    return write_index(tables_dir, render_tables_index(listed, provenance))
