"""Command line: ``run_benchmark.py`` and the ``fbp-benchmark`` console script.

Exit codes: 0 success, 1 bad input (one line on stderr naming the file and the problem),
2 usage error (argparse), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.feature_cache import default_cache_dir
from benchmark.pipeline import DEFAULT_PCA
from core.errors import BenchmarkError, ConfigError
from core.registry import Registry
from data.protocols import ALL, ALL_PROTOCOLS, PROTOCOLS
from data.scut import ENV_VAR, resolve_data_dir
from features import FEATURES
from models import PREDICTORS

DEFAULT_OUT = Path("reports/latest")


def _names(value: str | None, registry: Registry) -> list[str]:
    """Comma-separated names checked against ``registry``; None means all registered, "none" none."""
    if value is None:
        return registry.list()
    if value.strip().lower() == "none":
        return []
    names = [v.strip() for v in value.split(",") if v.strip()]
    for name in names:
        registry.get(name)  # raises UnknownComponentError listing the valid names
    return names


def run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_benchmark.py",
        description="Facial beauty prediction benchmark on SCUT-FBP5500 (Liang et al., ICPR 2018).",
        epilog="Other commands: 'run_benchmark.py report --help', 'run_benchmark.py predict --help', "
               "'run_benchmark.py check-data --help', 'run_benchmark.py audit --help'.")
    p.add_argument("--protocol", default=ALL,
                   help="5fold, 60-40, all (default: 5fold and 60-40), 10fold (not an official split), or a folder "
                        "of split files (train_K.txt/test_K.txt)")
    p.add_argument("--splits", help="only these splits of the protocol(s), comma-separated: a split name (1) "
                                    "or protocol/split (5fold/1); default: every split")
    p.add_argument("--data-dir", help=f"dataset root (default: ${ENV_VAR}, else data/SCUT-FBP5500_v2)")
    p.add_argument("--features", help="comma-separated feature extractors (default: all registered); join "
                                      "several with + for one fused feature row (see --list)")
    p.add_argument("--predictors", help="comma-separated predictors (default: all registered)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: reports/latest)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="feature cache folder (default: $FBP_CACHE_DIR, else ~/.cache/fbp-bench)")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1; -1 = all cores)")
    p.add_argument("--force", action="store_true", help="recompute records that already exist")
    p.add_argument("--seed", type=int, default=0, help="seed of every random step (default 0)")
    p.add_argument("--pca", type=int, default=DEFAULT_PCA,
                   help=f"PCA components for high-dimensional features (default {DEFAULT_PCA})")
    p.add_argument("--save-model", action="store_true",
                   help="save every fitted model under OUT/models (for 'run_benchmark.py predict')")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--ensemble", action="append", default=[], metavar="NAME=ROW,ROW,...",
                   help="an ensemble row combining these rows of each split, weights learned on the training part "
                        "(repeatable; see --list)")
    cnn = p.add_argument_group("deep track (CNNs)")
    cnn.add_argument("--models", help="comma-separated CNNs, or none (default: all registered when a CUDA "
                                      "device is present)")
    cnn.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                     help="auto (default): CUDA if present, else the CNNs are skipped")
    cnn.add_argument("--init", choices=("imagenet", "scratch"), default="imagenet",
                     help="CNN initialisation (default imagenet: torchvision weights, offline cache)")
    from models.cnn.recipes import RECIPES

    cnn.add_argument("--recipe", choices=tuple(RECIPES), default=None,
                     help="CNN training recipe (default: cpu on the CPU, paper on CUDA; see --list)")
    cnn.add_argument("--max-iters", type=int, default=None,
                     help="cap CNN iterations (quick checks only; recorded in every record)")
    p.add_argument("--list", action="store_true", help="list features, predictors and protocols, then exit")
    return p


def list_components() -> str:
    """Every registered feature, predictor and protocol with its one-line description."""
    from benchmark import ensemble, fusion
    from models.cnn import CNNS
    from models.cnn.recipes import RECIPES

    def section(title: str, rows: list[tuple[str, str]]) -> list[str]:
        width = max(len(name) for name, _ in rows)
        return [title] + [f"  {name:<{width}} {text}" for name, text in rows]

    lines = section("features:", [(n, FEATURES.describe(n)) for n in FEATURES.list()]
                    + [("A+B+...", f"early fusion: {fusion.SYNTAX_HELP}")])
    lines += section("predictors:", [(n, PREDICTORS.describe(n)) for n in PREDICTORS.list()])
    lines += section("models (CNNs):", [(n, CNNS.describe(n)) for n in CNNS.list()])
    lines += section("recipes (CNN training; --recipe, default cpu on the CPU and paper on CUDA):",
                     [(n, r.description) for n, r in RECIPES.items()])
    lines += ensemble.help_lines()
    lines += section("protocols:", [(n, p.description) for n, p in PROTOCOLS.items()]
                     + [(ALL, f"the paper's official protocols ({', '.join(ALL_PROTOCOLS)}; not 10fold)"),
                        ("PATH", "a folder of split files in the official format (custom protocol)")])
    return "\n".join(lines)


def cmd_run(argv: list[str]) -> int:
    args = run_parser().parse_args(argv)
    if args.list:
        print(list_components())
        return 0
    from benchmark.ensemble import parse_ensembles
    from benchmark.fusion import parse_feature_list
    from benchmark.runner import RunConfig, run

    if args.jobs == 0 or args.jobs < -1:
        raise ConfigError(f"--jobs must be a positive number or -1, got {args.jobs}")
    from models.cnn import CNNS

    config = RunConfig(
        data_dir=resolve_data_dir(args.data_dir), protocol=args.protocol,
        features=parse_feature_list(args.features), predictors=_names(args.predictors, PREDICTORS),
        out_dir=args.out, cache_dir=args.cache_dir or default_cache_dir(), jobs=args.jobs,
        force=args.force, seed=args.seed, pca_components=args.pca, progress=not args.quiet,
        argv=["python run_benchmark.py", *argv], models=_names(args.models, CNNS), device=args.device,
        init=args.init, recipe=args.recipe, max_iters=args.max_iters, save_model=args.save_model,
        splits=args.splits, ensembles=parse_ensembles(args.ensemble))
    from reports.tables import render_store

    store = run(config, render=render_store)
    print(f"results: {store.out_dir / 'results.csv'}; tables: {store.out_dir / 'tables'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``report``/``predict``/``check-data``/``audit`` sub-commands, else run the benchmark."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return _dispatch(argv[0], argv[1:])
        return cmd_run(argv)
    except BenchmarkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished records are kept; rerun the same command to resume", file=sys.stderr)
        return 130


def _dispatch(command: str, argv: list[str]) -> int:
    """Run a sub-command; imported lazily so ``--help`` and the run stay light."""
    if command == "report":
        from reports.cli import cmd_report

        return cmd_report(argv)
    if command == "check-data":
        from data.integrity import cmd_check_data

        return cmd_check_data(argv)
    if command == "audit":
        from reports.audit import cmd_audit

        return cmd_audit(argv)
    from predict.cli import cmd_predict

    return cmd_predict(argv)


SUBCOMMANDS = ("report", "predict", "check-data", "audit")
