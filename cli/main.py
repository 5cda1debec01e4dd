"""Command line: ``run_benchmark.py`` and the ``fbp-benchmark`` console script.

One parser with argparse sub-commands (:data:`COMMANDS`): ``run`` (the default when the first
argument is an option, so ``run_benchmark.py --protocol all`` works as it always did), ``list``,
``report``, ``predict``, ``check-data`` and ``audit``. Each command's options are defined next to
its code (``run_parser`` here, :func:`reports.cli.report_parser`, ...) and joined here as
sub-parsers; choices (features, predictors, CNNs, recipes, inits) come from their registries.

Exit codes: 0 success, 1 bad input (one line on stderr naming the file and the problem),
2 usage error (argparse), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.feature_cache import default_cache_dir
from benchmark.pipeline import DEFAULT_PCA
from benchmark.store import DEFAULT_OUT
from core.errors import BenchmarkError, ConfigError
from core.registry import Registry
from data.protocols import ALL, ALL_PROTOCOLS, PROTOCOLS
from data.scut import ENV_VAR, resolve_data_dir
from features import FEATURES
from models import PREDICTORS


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


def run_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """Options of ``run`` (the benchmark itself)."""
    p = argparse.ArgumentParser(
        prog="run_benchmark.py",
        description="Facial beauty prediction benchmark on SCUT-FBP5500 (Liang et al., ICPR 2018).",
        epilog="Other commands: " + ", ".join(f"'run_benchmark.py {c} --help'" for c in COMMANDS if c != "run")
               + " ('run_benchmark.py --help' lists them).", add_help=add_help)
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
    from models.cnn.architectures import INITS

    cnn.add_argument("--init", choices=INITS, default="imagenet",
                     help="CNN initialisation (default imagenet: torchvision weights, offline cache)")
    from models.cnn.recipes import RECIPES

    cnn.add_argument("--recipe", choices=tuple(RECIPES), default=None,
                     help="CNN training recipe (default: cpu on the CPU, paper on CUDA; see --list)")
    cnn.add_argument("--max-iters", type=int, default=None,
                     help="cap CNN iterations (quick checks only; recorded in every record)")
    cnn.add_argument("--weights", type=Path, default=None, metavar="FILE",
                     help="local checkpoint (safetensors or torch state dict) instead of the ImageNet weights of "
                          "the one --models network, checked key by key (its classifier is ignored); "
                          "needs --init imagenet; its sha256 is recorded")
    p.add_argument("--list", action="store_true", help="list features, predictors and protocols, then exit")
    _launcher_options(p)
    return p


def _launcher_options(p: argparse.ArgumentParser) -> None:
    """The "launcher" group of ``run``: each unit of work as a submitit job (:mod:`benchmark.launch`)."""
    from benchmark.launch import LAUNCHERS, SlurmOptions

    d = SlurmOptions()
    g = p.add_argument_group("launcher", "run each unit (a feature extraction, a block of fits on one split, a CNN "
                                         "on one split) as a submitit job; logs in OUT/launcher/")
    g.add_argument("--launcher", choices=LAUNCHERS, default=None,
                   help="local: jobs side by side on this machine; slurm: job arrays on a SLURM cluster, then "
                        "'run_benchmark.py report --out OUT' (default: none, everything in this process)")
    g.add_argument("--launcher-jobs", type=int, default=None, metavar="N",
                   help="local jobs at once (default: one per GPU when CNNs train on CUDA, else 1)")
    g.add_argument("--slurm-partition", default=None, metavar="NAME", help="SLURM partition (default: the cluster's)")
    g.add_argument("--slurm-gpus", type=int, default=None, metavar="N", help=f"GPUs per CNN job (default {d.gpus})")
    g.add_argument("--slurm-cpus", type=int, default=None, metavar="N",
                   help=f"CPUs per job, also the --jobs of a hand-crafted job (default {d.cpus})")
    g.add_argument("--slurm-mem", default=None, metavar="SIZE",
                   help="memory per job, e.g. 32G (default: the cluster's)")
    g.add_argument("--slurm-time", default=None, metavar="TIME",
                   help=f"time limit per job: minutes, HH:MM:SS or D-HH:MM:SS (default {d.time})")
    g.add_argument("--slurm-array-parallelism", type=int, default=None, metavar="N",
                   help=f"tasks of one job array running at once (default {d.array_parallelism})")


def _launch_options(args: argparse.Namespace):
    """The :class:`benchmark.launch.LaunchOptions` of ``args``, or None without ``--launcher``."""
    from benchmark.launch import LaunchOptions, SlurmOptions

    slurm = {k: getattr(args, f"slurm_{k}") for k in ("partition", "gpus", "cpus", "mem", "time",
                                                       "array_parallelism")}
    given = [f"--slurm-{k.replace('_', '-')}" for k, v in slurm.items() if v is not None]
    if given and args.launcher != "slurm":
        raise ConfigError(f"{', '.join(given)} need --launcher slurm")
    if args.launcher_jobs is not None and args.launcher != "local":
        raise ConfigError("--launcher-jobs needs --launcher local")
    if args.launcher is None:
        return None
    return LaunchOptions(args.launcher, args.launcher_jobs,
                         SlurmOptions(**{k: v for k, v in slurm.items() if v is not None}))


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
    lines += section("models (CNNs):", [(n, CNNS.describe(n)) for n in CNNS.list()]
                     + [(f"{prefix}<name>", text) for prefix, text in CNNS.families().items()])
    lines += section("recipes (CNN training; --recipe, default cpu on the CPU and paper on CUDA):",
                     [(n, r.description) for n, r in RECIPES.items()])
    lines += ensemble.help_lines()
    lines += section("protocols:", [(n, p.description) for n, p in PROTOCOLS.items()]
                     + [(ALL, f"the paper's official protocols ({', '.join(ALL_PROTOCOLS)}; not 10fold)"),
                        ("PATH", "a folder of split files in the official format (custom protocol)")])
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    """``run_benchmark.py [run]``: the benchmark over the chosen protocols; tables rendered at the end."""
    if args.list:
        return cmd_list(args, argv)
    from benchmark.ensemble import parse_ensembles
    from benchmark.fusion import parse_feature_list
    from benchmark.runner import RunConfig, run
    from models.cnn import CNNS
    from reports.protocol_tables import render_store

    if args.jobs == 0 or args.jobs < -1:
        raise ConfigError(f"--jobs must be a positive number or -1, got {args.jobs}")
    config = RunConfig(
        data_dir=resolve_data_dir(args.data_dir), protocol=args.protocol,
        features=parse_feature_list(args.features), predictors=_names(args.predictors, PREDICTORS),
        out_dir=args.out, cache_dir=args.cache_dir or default_cache_dir(), jobs=args.jobs,
        force=args.force, seed=args.seed, pca_components=args.pca, progress=not args.quiet,
        argv=["python run_benchmark.py", *argv], models=_names(args.models, CNNS), device=args.device,
        init=args.init, recipe=args.recipe, max_iters=args.max_iters, save_model=args.save_model,
        splits=args.splits, ensembles=parse_ensembles(args.ensemble), weights=args.weights)
    launcher = _launch_options(args)
    if launcher is not None:
        from benchmark.launch import launch

        launch(config, launcher, render=render_store)
        if launcher.kind == "local":
            print(f"results: {config.out_dir / 'results.csv'}; tables: {config.out_dir / 'tables'}")
        return 0
    store = run(config, render=render_store)
    print(f"results: {store.out_dir / 'results.csv'}; tables: {store.out_dir / 'tables'}")
    return 0


def cmd_list(args: argparse.Namespace, argv: list[str]) -> int:
    """``run_benchmark.py list`` (also ``--list``): every registered component with its description."""
    print(list_components())
    return 0


def list_parser(add_help: bool = True) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="run_benchmark.py list", add_help=add_help,
                                   description="List features, predictors, CNNs, recipes, ensembles and protocols.")


@dataclass(frozen=True)
class Command:
    """One sub-command: a one-line help, and where its options and its code live (``module:function``).

    ``parser`` returns the command's ``argparse.ArgumentParser`` (taking ``add_help``); ``run``
    takes the parsed arguments and the command's own ``argv`` (for provenance) and returns the
    exit status. Both are imported only when the parser is built.
    """

    help: str
    parser: str
    run: str

    @staticmethod
    def _load(target: str) -> Callable[..., Any]:
        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)


#: Every sub-command, in the order of ``--help``.
COMMANDS: dict[str, Command] = {
    "run": Command("run the benchmark (the default: 'run_benchmark.py --protocol all')",
                   "cli.main:run_parser", "cli.main:cmd_run"),
    "list": Command("list the registered components and protocols", "cli.main:list_parser", "cli.main:cmd_list"),
    "report": Command("re-render tables, figures and statistics from stored records",
                      "reports.cli:report_parser", "reports.cli:cmd_report"),
    "predict": Command("score faces in photos with a saved model", "predict.cli:predict_parser",
                       "predict.cli:cmd_predict"),
    "check-data": Command("compare a dataset copy with the reference SHA-256 list", "data.integrity:check_parser",
                          "data.integrity:cmd_check_data"),
    "audit": Command("identity audit of the splits (same person in training and test)", "reports.audit:audit_parser",
                     "reports.audit:cmd_audit"),
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one sub-parser per command, each inheriting its command's options."""
    top = argparse.ArgumentParser(
        prog="run_benchmark.py",
        description="Facial beauty prediction benchmark on SCUT-FBP5500 (Liang et al., ICPR 2018). Without a "
                    "sub-command the options are those of 'run' (see 'run_benchmark.py run --help').")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        own = command._load(command.parser)(add_help=False)
        sub.add_parser(name, parents=[own], help=command.help, description=own.description, epilog=own.epilog,
                       formatter_class=own.formatter_class).set_defaults(_run=command._load(command.run))
    return top


def _with_command(argv: list[str]) -> list[str]:
    """``argv`` with ``run`` put first when it starts with an option other than help (the old form)."""
    if not argv:
        return ["run"]
    if argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        return ["run", *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run its sub-command; returns the exit status."""
    argv = _with_command(list(sys.argv[1:] if argv is None else argv))
    try:
        args = build_parser().parse_args(argv)
        return args._run(args, argv[1:])
    except BenchmarkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished records are kept; rerun the same command to resume", file=sys.stderr)
        return 130
