"""``python run_benchmark.py report [--out DIR]``: re-render every table and figure from stored records.

Nothing is retrained and the dataset is not needed: the report reads ``DIR/records/`` (and
``DIR/manifest.json`` for provenance) and writes

* ``DIR/results.csv`` and ``DIR/tables/<protocol>.md|.tex`` (main tables, :mod:`reports.tables`);
* ``DIR/tables/subsets-<protocol>.md|.tex`` (:mod:`reports.subsets`);
* ``DIR/tables/uncertainty-<protocol>.md|.tex`` (:mod:`reports.stats`);
* ``DIR/tables/identity-<protocol>.md|.tex`` (:mod:`reports.identity`), for each protocol with an
  audit (``DIR/audit/pairs-<protocol>.csv``, ``python run_benchmark.py audit``);
* ``DIR/tables/paper-comparison.md|.tex`` (:mod:`reports.status`), when a row matches the paper;
* ``DIR/figures/*.png|.pdf`` (:mod:`reports.figures`);
* ``DIR/index.md`` linking all of them (:mod:`reports.index`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmark.record import Record
from benchmark.store import DEFAULT_OUT, ResultStore
from core.errors import ConfigError, DataError


def report_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        add_help=add_help, prog="run_benchmark.py report",
        description="Re-render every table and figure of an output folder from its stored records "
                    "(no retraining, no dataset needed).")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="output folder of a run (default: reports/latest)")
    p.add_argument("--resamples", type=int, default=1000,
                   help="bootstrap resamples and permutation-test swaps (default 1000)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the bootstrap and permutation test (default 0)")
    p.add_argument("--no-figures", action="store_true", help="tables only (faster)")
    p.add_argument("--ensemble", action="append", default=[], metavar="NAME=ROW,ROW,...",
                   help="first store an ensemble row of these stored rows on each split where all have records "
                        "(no refit; repeatable; see 'run_benchmark.py --list')")
    return p


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The run's ``manifest.json``, or None when absent.

    Raises
    ------
    DataError
        If the file exists but is not valid JSON.
    """
    path = Path(out_dir) / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None


def load_records(store: ResultStore) -> list[Record]:
    """Every record of ``store`` (:meth:`benchmark.store.ResultStore.records`).

    Raises
    ------
    DataError
        A corrupt record file, or one that is not a result record (one line naming it).
    """
    return list(store.records())


def build_report(out_dir: Path, *, n_resamples: int = 1000, seed: int = 0, figures: bool = True,
                 report_command: str = "", ensembles: list | None = None) -> list[Path]:
    """Render every table, figure and the index of ``out_dir`` from its records.

    ``ensembles`` (:class:`benchmark.ensemble.EnsembleSpec`) are first stored as ensemble
    records built from the stored records (:func:`benchmark.ensemble.build_from_store`).

    Returns
    -------
    list of pathlib.Path
        Every file written, ``index.md`` last.

    Raises
    ------
    DataError
        If the folder holds no records, or a record, the manifest or an audit pairs file is corrupt.
    """
    from reports import deep, identity, index, stats, status, subsets, tables
    from reports import figures as figures_mod
    from reports.audit import AUDIT_DIR
    from reports.protocol_tables import render_tables

    out_dir = Path(out_dir)
    store = ResultStore(out_dir)
    if ensembles:
        from benchmark.ensemble import build_from_store

        build_from_store(store, ensembles)
    records = load_records(store)
    if not records:
        raise DataError(f"{store.records_dir}: no result records found; run the benchmark first, e.g. "
                        f"'python run_benchmark.py --protocol 60-40 --out {out_dir}'")
    from benchmark.launch import collect_slurm

    collected = collect_slurm(out_dir)  # a SLURM run's manifest learns which jobs are done
    if collected is not None and collected.pending:
        print(collected.note(), file=sys.stderr)
    manifest = read_manifest(out_dir)
    report_command = report_command or f"python run_benchmark.py report --out {out_dir}"
    provenance = index.provenance_line(manifest, report_command)
    results = store.dataframe()
    tables_dir = out_dir / "tables"
    written = [store.write_csv()]
    written += render_tables(results, out_dir, provenance=provenance)
    pooled = stats.pooled_predictions([r.table_dict() for r in records])
    protocols = tables.protocol_order(results["protocol"].astype(str))
    fig_files: list = []
    if len(pooled):
        written += subsets.render_subset_tables(pooled, tables_dir, provenance)
        written += identity.render_identity_tables(pooled, tables_dir, out_dir / AUDIT_DIR, provenance)
        written += stats.render_uncertainty(pooled, tables_dir, provenance, n_resamples=n_resamples,
                                            seed=seed)
        if figures:
            fig_files = figures_mod.render_figures(pooled, results, out_dir / "figures", records)
            written += [p for f in fig_files for p in (f.png, f.pdf)]
    written += status.render_comparison(results, tables_dir, provenance)
    written += deep.render_deep_tables(records, tables_dir, provenance)
    text = index.render_index(out_dir, manifest=manifest, protocols=protocols, figures=fig_files,
                              comparison=status.comparison_frame(results), n_records=len(records),
                              report_command=report_command, n_resamples=n_resamples, seed=seed)
    written.append(index.write_index(out_dir, text))
    return written


def cmd_report(args: argparse.Namespace, argv: list[str]) -> int:
    """``run_benchmark.py report``: ``args`` parsed by :func:`report_parser`, ``argv`` as typed (provenance)."""
    if args.resamples < 10:
        raise ConfigError(f"--resamples must be at least 10, got {args.resamples}")
    from benchmark.ensemble import parse_ensembles

    ensembles = parse_ensembles(args.ensemble)
    t0 = time.perf_counter()
    written = build_report(args.out, n_resamples=args.resamples, seed=args.seed, figures=not args.no_figures,
                           report_command=" ".join(["python run_benchmark.py report", *argv]), ensembles=ensembles)
    print(f"report: {written[-1]} ({len(written)} files, {time.perf_counter() - t0:.1f} s)")
    return 0
