"""Keep the figures quoted in README.md equal to the files the project's commands wrote.

The README quotes results and speed figures. Each quoted block sits between two markers::

    <!-- generated: perf-handcrafted -->
    ...
    <!-- end generated -->

and is rendered here from a committed output file (a table of ``reports/reference`` or a JSON
of ``reports/perf``), together with the command, commit, date and machine that produced it.
``python -m reports.readme`` rewrites the blocks (atomically); ``--check`` only compares and
exits 1 naming each stale block (the test suite runs the check, so a README that quotes
figures no command produced fails CI).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from core.atomic import atomic_write_text
from core.errors import DataError, one_line_errors
from reports.markdown import markdown_table
from reports.tables import normalise_results

REPO = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found; run the command that writes it (see README.md)") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: corrupt JSON ({err})") from None


def _machine(m: dict[str, Any]) -> str:
    return f"{m['machine']}, {m['cpu_count']} CPUs, {m['memory_gib']} GiB"


#: Measurement commands that moved from ``benchmark/`` to ``tools/`` (commit after ``3e576f0``);
#: figures measured before the move recorded the old module path.
MOVED_COMMANDS = {f"python -m benchmark.{m}": f"python -m tools.{m}"
                  for m in ("perf", "fit_speed", "gp_speed", "feature_speed", "throughput")}


def _command(recorded: str) -> str:
    """The recorded command as it runs today, naming the old module path when it moved."""
    for old, new in MOVED_COMMANDS.items():
        if recorded.startswith(old + " ") or recorded == old:
            return f"`{new + recorded[len(old):]}` (run as `{old}`)"
    return f"`{recorded}`"


def _provenance(report: dict[str, Any]) -> str:
    dlib = report.get("dlib")
    build = f", dlib {dlib['version']} {'with' if dlib['blas'] else 'without'} BLAS" if dlib else ""
    return (f"{_command(report['command'])} (commit `{report['git_commit'][:10]}`, {report['date'][:10]}, "
            f"{_machine(report['machine'])}{build})")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    """A compact Markdown table (:data:`reports.markdown.COMPACT`) ending with a newline."""
    return markdown_table(pd.DataFrame(rows, columns=header), compact=True) + "\n"


def quoted_table(root: Path, name: str = "paper-comparison.md") -> str:
    """The tables of ``reports/reference/tables/<name>`` (with their ``##`` headings, notes left out) and its
    provenance line."""
    path = root / "reports/reference/tables" / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: not found; run 'python run_benchmark.py report --out reports/reference'") from None
    table: list[str] = []
    for line in text.split("\nNotes:")[0].splitlines():
        if line.startswith("## "):
            table += ["", f"**{line[3:]}**", ""]
        elif line.startswith("|"):
            table.append(line)
        elif table and table[-1].startswith("|"):
            table.append("")
    table = "\n".join(table).strip().splitlines()
    provenance = re.search(r"<!-- provenance: (.*?) -->", text)
    if not table or provenance is None:
        raise DataError(f"{path}: no table or provenance line found")
    return f"From `{path.relative_to(root)}` ({provenance.group(1)}):\n\n" + "\n".join(table) + "\n"


def _runs(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every run into a store, oldest first: the manifest's ``history`` and its own run."""
    return [*manifest.get("history", []), manifest]


def strongest_rows(root: Path, n: int = 10) -> str:
    """The ``n`` rows of ``reports/reference`` with the highest official 5-fold mean PC, with their 60/40 figures."""
    folder = root / "reports/reference"
    try:
        frame = normalise_results(pd.read_csv(folder / "results.csv", dtype={"split": str}))
    except FileNotFoundError:
        raise DataError(f"{folder / 'results.csv'}: not found; run scripts/reference_report.sh") from None
    means = frame.groupby(["protocol", "pairing"])[["pc", "mae", "rmse"]].mean()
    five = means.loc["5fold"].sort_values("pc", ascending=False).head(n)
    sixty = means.loc["60-40"] if "60-40" in means.index.get_level_values(0) else pd.DataFrame()
    rows = []
    for label, m in five.iterrows():
        s = sixty.loc[label] if label in sixty.index else None
        rows.append([label, f"{m.pc:.4f}", f"{m.mae:.4f}", f"{m.rmse:.4f}",
                     *([f"{s.pc:.4f}", f"{s.mae:.4f}", f"{s.rmse:.4f}"] if s is not None else ["—"] * 3)])
    manifest = _read_json(folder / "manifest.json")
    runs = "; ".join(f"`{r['command']}` (commit `{str(r.get('git_commit'))[:10]}`, {str(r.get('finished'))[:10]})"
                     for r in _runs(manifest) if r.get("status") == "complete")
    return (f"From `reports/reference/results.csv`, written by these runs into one store: {runs}; then "
            f"`python run_benchmark.py report --out reports/reference` with the `deep` ensemble (the exact command "
            f"is in every table's provenance line; machine {_machine(manifest['machine'])}):\n\n"
            + _table(["Row", "5-fold PC", "MAE", "RMSE", "60/40 PC", "MAE", "RMSE"], rows))


def perf_handcrafted(root: Path, name: str = "handcrafted.json") -> str:
    """Cold and warm wall time and peak RSS of ``reports/perf/<name>``."""
    report = _read_json(root / "reports/perf" / name)
    what = {"cold": "empty feature cache: 6 extractors x 5500 images, then 144 fits",
            "warm": "features from the cache, all 144 fits redone (`--force`)"}
    target = {"cold": "<= 300 s, <= 4 GB", "warm": "<= 60 s, <= 4 GB"}
    rows = []
    for kind, m in report["median"].items():
        n = len(report["runs"][kind])
        rows.append([kind, what[kind], f"{m['wall_s']:.0f} s", f"{m['peak_rss_mib']:.0f} MiB", n, target[kind]])
    return (_provenance(report) + ":\n\n"
            + _table(["run", "what it does", "wall time (median)", "peak RSS (process tree)", "runs", "issue target"],
                     rows))


def fit_speed(root: Path) -> str:
    """Totals per predictor variant of ``reports/perf/fit_speed.json``."""
    report = _read_json(root / "reports/perf/fit_speed.json")
    splits = sorted({r["split"] for r in report["rows"]})
    rows = [[t["predictor"], t["variant"], t["fits"], f"{t['seconds']:.1f} s", f"{t['mean_pc']:.4f}"]
            for t in report["totals"]]
    pre = sum(p["seconds"] for p in report["preprocessing"])
    return (_provenance(report) + f", one thread, splits {', '.join(splits)}:\n\n"
            + _table(["predictor", "variant", "fits", "fit + predict, total", "mean test PC"], rows)
            + f"\nPreprocessing (scaler, float32 PCA for the high-dimensional features), once per "
              f"(feature, split): {pre:.1f} s in all.\n")


def gp_speed(root: Path) -> str:
    """Rows of ``reports/perf/gp_speed.json``."""
    report = _read_json(root / "reports/perf/gp_speed.json")
    rows = [[r["feature"], r["variant"], f"{r['fit_s']:.1f} s", f"{r['pc']:.4f}", f"{r['mae']:.4f}",
             f"{r['rmse']:.4f}"] for r in report["rows"]]
    return (_provenance(report) + f", split {report['split']}, {report['n_train']} training faces:\n\n"
            + _table(["feature", "variant", "fit time", "PC", "MAE", "RMSE"], rows))


def feature_speed(root: Path, name: str = "feature_speed.json") -> str:
    """Rows of ``reports/perf/<name>``."""
    report = _read_json(root / "reports/perf" / name)
    rows = [[r["what"], f"{r['median_ms']:.1f} ms", f"{r['p90_ms']:.1f} ms"] for r in report["rows"]]
    return (_provenance(report) + f", {report['n_faces']} faces, one core:\n\n"
            + _table(["what (each including the decoding/detection it needs)", "median per face", "p90"], rows))


def throughput(root: Path, name: str = "throughput_cpu.json") -> str:
    """Raw vs achieved training throughput per model of ``reports/perf/<name>``."""
    report = _read_json(root / "reports/perf" / name)
    device = report["device"]
    rows = [[r["model"], r["recipe"], r["batch_size"], f"{r['image_size']}/{r['input_size']}",
             f"{r['raw_img_s']:.1f}", f"{r['achieved_img_s']:.1f}", f"{r['ratio']:.2f}"] for r in report["rows"]]
    where = device.get("cpu") or device.get("gpu") or device["device"]
    return (_provenance(report) + f", {where}, {device.get('threads') or ''} threads, "
            f"{report['iters']} timed steps:\n\n"
            + _table(["model", "recipe", "batch", "image/crop", "raw img/s", "achieved img/s", "ratio"], rows))


#: Block name -> renderer of its body from the committed output files.
GENERATORS: dict[str, Callable[[Path], str]] = {
    "paper-comparison": quoted_table,
    "deep-track": partial(quoted_table, name="deep-track.md"),
    "strongest-rows": strongest_rows,
    "perf-handcrafted": perf_handcrafted,
    "perf-handcrafted-dlib-blas": partial(perf_handcrafted, name="handcrafted_dlib_blas.json"),
    "fit-speed": fit_speed,
    "throughput-cpu": throughput,
    "gp-speed": gp_speed,
    "feature-speed": feature_speed,
    "feature-speed-dlib-blas": partial(feature_speed, name="feature_speed_dlib_blas.json"),
}


def render(text: str, root: Path, *, source: str = "README.md") -> tuple[str, list[str]]:
    """``text`` with every generated block re-rendered, and the names of the blocks that changed.

    Raises
    ------
    DataError
        If a block names no known generator.
    """
    changed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise DataError(f"{source}: unknown generated block {name!r} (known: {', '.join(GENERATORS)})")
        body = "\n" + GENERATORS[name](root) + "\n"
        if body != match.group("body"):
            changed.append(name)
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(replace, text), changed


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readme", type=Path, default=REPO / "README.md")
    p.add_argument("--check", action="store_true", help="only compare; exit 1 if a block is stale")
    args = p.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new, changed = render(text, args.readme.resolve().parent, source=str(args.readme))
    if args.check:
        if changed:
            print(f"{args.readme}: stale generated block(s): {', '.join(changed)}; "
                  "run 'python -m reports.readme'", file=sys.stderr)
            return 1
        return 0
    if changed:
        atomic_write_text(args.readme, new)
    print(f"{args.readme}: {len(changed)} block(s) updated" + (f" ({', '.join(changed)})" if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
