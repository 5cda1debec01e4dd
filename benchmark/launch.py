"""Scale-out of a run through submitit: ``--launcher local|slurm`` makes each unit of work one job.

Units (:class:`Unit`), planned from the records that are missing (:func:`plan_units`):

* ``extract``: one feature (or fusion) over every image the selected splits need, into the shared
  feature cache (:class:`benchmark.feature_cache.FeatureCache`, atomic shards);
* ``fit``: one feature x its predictors without a record x one split, after that feature's
  extraction (:func:`benchmark.runner.run_unit`);
* ``cnn``: one CNN on one split (:func:`benchmark.runner.run_unit`).

A job runs :func:`run_job`, which calls the runner's own functions: records are written
atomically as each is done and skipped when they exist, exactly as in an in-process run, and a
job writes nothing else. A unit whose records all exist is not submitted, so after a failed or
cancelled job the same command resubmits only what is missing. The files derived from the
records (``results.csv``, tables, split files, ``manifest.json``) are written once, by the
launching process: after the local jobs have finished (:func:`launch_local`), or for SLURM by
``python run_benchmark.py report --out OUT`` once the jobs are done (:func:`launch_slurm` prints
the job ids and that command). Job scripts, pickles and logs go under ``OUT/launcher/<stamp>/``.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmark.cnn_runner import check_cnn_inputs, missing_cnn_runs
from benchmark.feature_cache import FeatureCache
from benchmark.fusion import fused_matrices
from benchmark.runner import (
    RunConfig,
    RunData,
    build_manifest,
    finish_run,
    handcrafted_tasks,
    image_names,
    load_run_data,
    run_history,
    run_unit,
)
from benchmark.store import ResultStore, RowKey, write_json
from core.errors import BenchmarkError, ConfigError, DataError
from core.provenance import git_commit, now_iso
from data.protocols import write_generated_splits
from models.cnn.recipes import get_recipe

#: Values of ``--launcher``.
LAUNCHERS = ("local", "slurm")
#: Folder of the launcher's job files inside the output folder (git-ignored).
LAUNCHER_DIR = "launcher"
#: Kinds of :class:`Unit`.
EXTRACT, FIT, CNN_UNIT = "extract", "fit", "cnn"
#: Time limit of one local job (submitit's default, 2 minutes, is far too short for a CNN).
LOCAL_TIMEOUT_MIN = 7 * 24 * 60
#: Seconds between two looks at the running local jobs.
POLL_S = 0.2


@dataclass(frozen=True)
class Unit:
    """One job's worth of work.

    Attributes
    ----------
    kind : str
        ``extract``, ``fit`` or ``cnn``.
    name : str
        The feature (extract, fit) or the CNN (cnn).
    protocol, split : str
        The split of a ``fit`` or ``cnn`` unit (empty for ``extract``: every selected split).
    predictors : tuple of str
        The predictors of a ``fit`` unit that have no record on the split.
    """

    kind: str
    name: str
    protocol: str = ""
    split: str = ""
    predictors: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """One line naming the unit, e.g. ``fit geom86 x gr,svr on 5fold/1``."""
        if self.kind == EXTRACT:
            return f"extract {self.name}"
        what = f"{self.name} x {','.join(self.predictors)}" if self.kind == FIT else self.name
        return f"{self.kind} {what} on {self.protocol}/{self.split}"

    def config(self, base: RunConfig) -> RunConfig:
        """The run configuration of this unit alone (no ensembles, no progress bars)."""
        common: dict[str, Any] = {"ensembles": [], "progress": False}
        if self.kind == EXTRACT:
            return replace(base, features=[self.name], models=[], **common)
        where = f"{self.protocol}/{self.split}"
        if self.kind == FIT:
            return replace(base, features=[self.name], predictors=list(self.predictors), models=[], splits=where,
                           **common)
        return replace(base, features=[], predictors=[], models=[self.name], splits=where, **common)


@dataclass
class SlurmOptions:
    """The ``--slurm-*`` options of ``--launcher slurm``.

    Attributes
    ----------
    partition : str or None
        ``--partition`` (None: the cluster's default).
    gpus : int
        GPUs per CNN job (``--gpus-per-node``); hand-crafted jobs ask for none.
    cpus : int
        CPUs per job (``--cpus-per-task``); also the ``--jobs`` of a hand-crafted job.
    mem : str or None
        Memory per job in SLURM's syntax (``32G``); None: the cluster's default.
    time : str
        Time limit per job: minutes, ``HH:MM:SS`` or ``D-HH:MM[:SS]``.
    array_parallelism : int
        Tasks of one array running at once (``--array=0-N%P``).
    """

    partition: str | None = None
    gpus: int = 1
    cpus: int = 8
    mem: str | None = None
    time: str = "24:00:00"
    array_parallelism: int = 16


@dataclass
class LaunchOptions:
    """How ``--launcher`` runs the units.

    Attributes
    ----------
    kind : str
        ``local`` or ``slurm``.
    jobs : int or None
        ``--launcher-jobs``: local jobs side by side (None: one per visible GPU when CNNs train on
        CUDA, else 1).
    slurm : SlurmOptions
    """

    kind: str
    jobs: int | None = None
    slurm: SlurmOptions = field(default_factory=SlurmOptions)


@dataclass
class Outcome:
    """A finished (or submitted) job: its unit, id, whether it succeeded and how many records it computed."""

    unit: Unit
    job_id: str
    ok: bool | None = None
    records: int = 0
    log: str = ""
    error: str = ""


# ---------------------------------------------------------------------------------------------- jobs


def extract_features(config: RunConfig) -> int:
    """Fill the feature cache with ``config.features`` of every image of the selected splits (no fit).

    Returns
    -------
    int
        0 (an extraction computes no record).
    """
    data = load_run_data(config)
    splits = [s for p in data.protocols for s in p]
    records = data.dataset.records(image_names(data.dataset, splits))
    fused_matrices(config.features, FeatureCache(config.cache_dir), records, jobs=config.jobs, progress=False)
    return 0


def run_job(config: RunConfig, unit: Unit) -> int:
    """What one submitit job runs: ``unit`` with ``config`` (already :meth:`Unit.config`).

    Returns
    -------
    int
        Records computed.
    """
    print(f"unit: {unit.label}", file=sys.stderr, flush=True)
    if unit.kind == EXTRACT:
        return extract_features(config)
    return run_unit(config)


# ---------------------------------------------------------------------------------------------- plan


def cnn_device(config: RunConfig, options: LaunchOptions) -> str | None:
    """The device the CNN jobs train on, or None when they are skipped (a note says why).

    Local jobs resolve ``--device auto`` on this machine (:func:`benchmark.cnn_runner.choose_device`);
    SLURM jobs take ``cuda`` when they ask for GPUs (``--slurm-gpus`` > 0).
    """
    if not config.models:
        return None
    if options.kind == "slurm":
        if config.device != "auto":
            return config.device
        if options.slurm.gpus > 0:
            return "cuda"
        print(f"note: --slurm-gpus 0 with --device auto: skipping the CNNs ({', '.join(config.models)}); "
              "ask for GPUs or pass --device cpu", file=sys.stderr)
        return None
    from benchmark.cnn_runner import choose_device

    device = choose_device(config.device)
    if device is None:
        print(f"note: no CUDA device: skipping the CNNs ({', '.join(config.models)}); "
              "pass --device cpu to train them on the CPU (slow)", file=sys.stderr)
    return device


def plan_units(config: RunConfig, data: RunData, store: ResultStore, device: str | None) -> list[Unit]:
    """Every unit with a missing record (every unit with ``config.force``): extractions, CNNs, fits.

    A feature gets an extraction unit when two or more blocks of fits need it (so that they do not
    each extract it at once); a single block extracts what is missing itself.
    ``config.recipe`` must be resolved already when ``device`` is given (the CNN rows are keyed by it).
    """
    splits = [s for p in data.protocols for s in p]
    tasks = handcrafted_tasks(config, splits, store) if config.predictors else []
    blocks = {f: sum(t.feature == f for t in tasks) for f in config.features}
    units = [Unit(EXTRACT, f) for f in config.features if blocks[f] > 1]  # one block extracts for itself
    if device is not None:
        recipe = get_recipe(config.recipe)
        cnn_units = [Unit(CNN_UNIT, m, s.protocol, s.name)
                     for m, s in missing_cnn_runs(config.models, splits, store, config.row_init, recipe.name,
                                                  config.force)]
        check_cnn_inputs(sorted({u.name for u in cnn_units}), recipe)  # before any job is submitted
        units += cnn_units
    units += [Unit(FIT, t.feature, t.split.protocol, t.split.name, tuple(t.predictors)) for t in tasks]
    return units


def unit_records(unit: Unit, store: ResultStore, cnn_init: str, cnn_recipe: str) -> list[str]:
    """The record files ``unit`` writes, relative to the output folder (none for an extraction).

    ``cnn_init`` and ``cnn_recipe`` key a CNN unit's row (``RunConfig.row_init`` and the resolved
    recipe's name).
    """
    if unit.kind == EXTRACT:
        return []
    if unit.kind == FIT:
        keys = [RowKey.handcrafted(unit.name, p) for p in unit.predictors]
    else:
        keys = [RowKey.cnn(unit.name, cnn_init, cnn_recipe)]
    return [store.path(k, unit.protocol, unit.split).relative_to(store.out_dir).as_posix() for k in keys]


def _resolved(config: RunConfig, device: str | None) -> RunConfig:
    """``config`` with the CNN device and recipe fixed (as :func:`benchmark.runner.run_deep` would)."""
    if device is None:
        return replace(config, models=[])
    from models.cnn.recipes import default_recipe

    return replace(config, device=device, recipe=config.recipe or default_recipe(device))


def launch_folder(out_dir: Path) -> Path:
    """A new folder ``OUT/launcher/<stamp>`` for one launch's job files."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder = Path(out_dir) / LAUNCHER_DIR / stamp
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _summary(units: list[Unit]) -> str:
    counts = {k: sum(u.kind == k for u in units) for k in (EXTRACT, CNN_UNIT, FIT)}
    return (f"{len(units)} jobs ({counts[EXTRACT]} feature extractions, {counts[CNN_UNIT]} CNN splits, "
            f"{counts[FIT]} blocks of fits)")


def launch(config: RunConfig, options: LaunchOptions, render=None) -> list[Outcome]:
    """Run ``config`` as submitit jobs (:mod:`benchmark.launch`); returns the jobs' outcomes.

    Parameters
    ----------
    config : RunConfig
    options : LaunchOptions
    render : callable, optional
        ``render(store, provenance)`` draws the tables (as for :func:`benchmark.runner.run`).

    Raises
    ------
    ConfigError
        Bad launcher options, or ``--ensemble`` with ``--launcher slurm`` (one line).
    BenchmarkError
        A local job failed (the others' records and the derived files are written first).
    """
    if options.kind not in LAUNCHERS:
        raise ConfigError(f"--launcher must be one of {', '.join(LAUNCHERS)}, got {options.kind!r}")
    if options.jobs is not None and options.jobs < 1:
        raise ConfigError(f"--launcher-jobs must be at least 1, got {options.jobs}")
    if options.kind == "slurm" and config.ensembles:
        raise ConfigError("--ensemble with --launcher slurm: submit the tracks first, then, once the jobs are "
                          "done, run the same command with --ensemble and without --launcher (it computes only "
                          "the ensembles)")
    started, commit = now_iso(), git_commit()
    data = load_run_data(config)
    store = ResultStore(config.out_dir)
    if config.ensembles:
        from benchmark.ensemble import check_run_members

        config.ensembles = check_run_members(config.ensembles, config, store)  # before anything is written
    device = cnn_device(config, options)
    config = _resolved(config, device)
    units = plan_units(config, data, store, device)
    extra: dict[str, Any] = {"timings": {}, "history": run_history(config.out_dir)}
    if options.kind == "slurm":
        return launch_slurm(config, data, units, options.slurm, commit, started, extra, render)
    return launch_local(config, data, units, options.jobs, device, commit, started, extra, render)


def _integrity(data: RunData, extra: dict[str, Any]) -> None:
    from data.integrity import integrity_of

    t0 = time.perf_counter()
    extra["dataset_integrity"] = integrity_of(data.dataset)
    extra["timings"]["integrity_s"] = round(time.perf_counter() - t0, 2)


# ---------------------------------------------------------------------------------------------- local


def visible_gpus() -> list[int]:
    """Indices of the CUDA devices this process sees (``CUDA_VISIBLE_DEVICES`` when it lists indices)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None and all(p.strip().isdigit() for p in listed.split(",") if p.strip()):
        return [int(p) for p in listed.split(",") if p.strip()]
    import torch

    return list(range(torch.cuda.device_count()))


def _log_of(job: Any) -> str:
    try:
        return str(job.paths.stderr)
    except Exception:  # noqa: BLE001 - a log path is a courtesy
        return ""


def launch_local(config: RunConfig, data: RunData, units: list[Unit], jobs: int | None, device: str | None,
                 commit: str, started: str, extra: dict[str, Any], render=None) -> list[Outcome]:
    """Run ``units`` as local submitit jobs, ``jobs`` at a time, then write the derived files once.

    A ``fit`` unit starts once its feature's extraction has ended; a CNN unit on CUDA gets a GPU of
    its own (``CUDA_VISIBLE_DEVICES``), the others none. Ensembles (``config.ensembles``) are
    computed here after the jobs, when every job succeeded.

    Raises
    ------
    BenchmarkError
        One line when a job failed, after the other jobs ended and the derived files were written.
    """
    import submitit

    gpus = visible_gpus() if device == "cuda" and any(u.kind == CNN_UNIT for u in units) else []
    parallel = jobs or max(1, len(gpus))
    outcomes: list[Outcome] = []
    t0 = time.perf_counter()
    if units:
        folder = launch_folder(config.out_dir)
        print(f"launcher: {_summary(units)} on this machine, {parallel} at a time; logs in {folder}",
              file=sys.stderr, flush=True)
        executor = submitit.LocalExecutor(folder=folder)
        pending = deque(units)
        running: dict[Any, tuple[Unit, int | None]] = {}
        free_gpus = deque(gpus)
        try:
            while pending or running:
                _start_ready(executor, config, pending, running, free_gpus, parallel)
                time.sleep(POLL_S)
                for job in [j for j in running if j.done()]:
                    unit, gpu = running.pop(job)
                    if gpu is not None:
                        free_gpus.append(gpu)
                    outcomes.append(_outcome(job, unit))
        except KeyboardInterrupt:
            for job in running:
                job.cancel(check=False)
            raise
        write_json(folder / "jobs.json", [asdict(o) for o in outcomes])
    else:
        print("launcher: nothing to submit: every record exists", file=sys.stderr)
    extra["timings"]["launcher_s"] = round(time.perf_counter() - t0, 2)
    failed = [o for o in outcomes if not o.ok]
    extra["records_computed"] = sum(o.records for o in outcomes if o.unit.kind != CNN_UNIT)
    extra["cnn_records_computed"] = sum(o.records for o in outcomes if o.unit.kind == CNN_UNIT)
    extra["launcher"] = {"kind": "local", "parallel": parallel, "gpus": gpus,
                         "jobs": [{"unit": o.unit.label, "job_id": o.job_id, "ok": o.ok, "records": o.records,
                                   **({"error": o.error} if not o.ok else {})} for o in outcomes]}
    _integrity(data, extra)
    store = ResultStore(config.out_dir)
    if config.ensembles and not failed:
        from benchmark.ensemble import run_ensembles

        t1 = time.perf_counter()
        extra["ensemble_records_computed"] = run_ensembles(config, data.dataset, data.protocols, store, commit)
        extra["timings"]["ensembles_s"] = round(time.perf_counter() - t1, 2)
    finish_run(config, data, store, commit, started, extra, render, status="incomplete" if failed else "complete")
    if failed:
        first = failed[0]
        raise BenchmarkError(f"{len(failed)} of {len(outcomes)} launcher jobs failed (first: {first.unit.label}, "
                             f"job {first.job_id}: {first.error}; log {first.log}); the other records are kept: "
                             "run the same command again to resubmit only what is missing")
    return outcomes


def _start_ready(executor: Any, config: RunConfig, pending: deque, running: dict, free_gpus: deque,
                 parallel: int) -> None:
    """Submit pending units while there is room: fits after their extraction, CNNs on a free GPU."""
    extracting = {u.name for u in [*pending, *(v[0] for v in running.values())] if u.kind == EXTRACT}
    for unit in list(pending):
        if len(running) >= parallel:
            return
        if unit.kind == FIT and unit.name in extracting:
            continue
        gpu = None
        if unit.kind == CNN_UNIT and config.device == "cuda":
            if not free_gpus:
                continue
            gpu = free_gpus.popleft()
        executor.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN, gpus_per_node=int(gpu is not None),
                                   visible_gpus=() if gpu is None else (gpu,))
        job = executor.submit(run_job, unit.config(config), unit)
        pending.remove(unit)
        running[job] = (unit, gpu)
        print(f"launcher: started {unit.label} [job {job.job_id}]", file=sys.stderr, flush=True)


#: What :func:`job_state` says of a job: it returned, it raised, or it left no result (yet).
SUCCEEDED, FAILED, NO_RESULT = "succeeded", "failed", "no result"


def job_state(result_pickle: Path) -> tuple[str, str]:
    """A submitit job's state from its result file, and the exception it raised.

    Parameters
    ----------
    result_pickle : Path
        The job's ``<job id>_<task>_result.pkl`` (``job.paths.result_pickle``), written by
        submitit when the job's function returns or raises.

    Returns
    -------
    (str, str)
        (:data:`SUCCEEDED`, ""), (:data:`FAILED`, the last line of its traceback, e.g.
        ``ValueError: ...``) or (:data:`NO_RESULT`, "") when there is no result file: queued,
        running, or killed before it could write one.
    """
    if not Path(result_pickle).is_file():
        return NO_RESULT, ""
    from submitit.core.utils import pickle_load

    outcome, value = pickle_load(result_pickle)
    if outcome != "error":
        return SUCCEEDED, ""
    lines = [line.strip() for line in str(value).splitlines() if line.strip()]
    return FAILED, lines[-1] if lines else "an exception without a message"


def _outcome(job: Any, unit: Unit) -> Outcome:
    try:
        records = int(job.result())
    except Exception:  # noqa: BLE001 - any failure of a job is reported, never raised here
        state, raised = job_state(job.paths.result_pickle)
        error = raised if state == FAILED else "the job ended without a result (killed, or its process exited)"
        outcome = Outcome(unit, str(job.job_id), False, 0, _log_of(job), error)
        print(f"launcher: FAILED {unit.label} [job {job.job_id}]: {outcome.error} (log {outcome.log})",
              file=sys.stderr, flush=True)
        return outcome
    print(f"launcher: done {unit.label} [job {job.job_id}]: {records} records", file=sys.stderr, flush=True)
    return Outcome(unit, str(job.job_id), True, records, _log_of(job))


# ---------------------------------------------------------------------------------------------- slurm


def time_minutes(value: str | int) -> int:
    """A SLURM time limit (minutes, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``) in minutes.

    Raises
    ------
    ConfigError
        A value that is none of these (one line).
    """
    text = str(value).strip()
    try:
        days, _, rest = text.rpartition("-") if "-" in text else ("0", "", text)
        parts = [int(p) for p in rest.split(":")]
        if "-" in text:  # D-HH[:MM[:SS]]
            parts += [0] * (3 - len(parts))
            hours, minutes, seconds = parts
        elif len(parts) == 1:
            hours, minutes, seconds = 0, parts[0], 0
        elif len(parts) == 2:
            hours, minutes, seconds = 0, *parts
        elif len(parts) == 3:
            hours, minutes, seconds = parts
        else:
            raise ValueError
        total = int(days) * 1440 + hours * 60 + minutes + (1 if seconds else 0)
    except ValueError:
        raise ConfigError(f"--slurm-time {text!r}: give minutes, HH:MM:SS or D-HH:MM:SS") from None
    if total <= 0:
        raise ConfigError(f"--slurm-time {text!r}: must be positive")
    return total


def slurm_parameters(options: SlurmOptions, kind: str, dependency: str | None = None) -> dict[str, Any]:
    """The sbatch parameters (submitit's ``SlurmExecutor`` names) of the jobs of one ``kind`` of unit.

    CNN jobs ask for ``options.gpus`` GPUs, the hand-crafted ones for none.
    """
    for name, value in (("--slurm-cpus", options.cpus), ("--slurm-array-parallelism", options.array_parallelism)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    if options.gpus < 0:
        raise ConfigError(f"--slurm-gpus must be 0 or more, got {options.gpus}")
    params: dict[str, Any] = {"job_name": f"fbp-{kind}", "time": time_minutes(options.time),
                              "cpus_per_task": options.cpus, "array_parallelism": options.array_parallelism}
    if kind == CNN_UNIT and options.gpus:
        params["gpus_per_node"] = options.gpus
    if options.partition:
        params["partition"] = options.partition
    if options.mem:
        params["mem"] = options.mem
    if dependency:
        params["dependency"] = dependency
    return params


def submit_command(folder: Path, python: str | None = None) -> str:
    """The command a submitit job script runs (``SlurmExecutor._submitit_command_str``)."""
    return " ".join([python or shlex.quote(sys.executable), "-u -m submitit.core._submit", shlex.quote(str(folder))])


def sbatch_text(options: SlurmOptions, kind: str, folder: Path, n_tasks: int, dependency: str | None = None) -> str:
    """The sbatch script submitit writes for ``n_tasks`` units of ``kind`` (an array when more than one).

    Generated with submitit's own ``_make_sbatch_string``, without submitting anything.
    """
    from submitit.slurm.slurm import _make_sbatch_string

    params = slurm_parameters(options, kind, dependency)
    return _make_sbatch_string(command=submit_command(folder), folder=folder,
                               map_count=n_tasks if n_tasks > 1 else None, **params)


def launch_slurm(config: RunConfig, data: RunData, units: list[Unit], options: SlurmOptions, commit: str,
                 started: str, extra: dict[str, Any], render=None) -> list[Outcome]:
    """Submit ``units`` to SLURM (one array per kind), print the job ids and how to collect the report.

    Extractions and CNNs start at once; the fits wait for the extractions (``afterany``: a fit
    whose features are still missing extracts them itself). Nothing derived from the records is
    written by the jobs: ``python run_benchmark.py report --out OUT`` rewrites ``results.csv``,
    tables and figures once they are done. The manifest records the submission (status ``submitted``).

    Raises
    ------
    ConfigError
        No SLURM on this machine (no ``srun``), or bad ``--slurm-*`` values (one line).
    """
    collect = f"python run_benchmark.py report --out {config.out_dir}"
    if not units:
        print("launcher: nothing to submit: every record exists", file=sys.stderr)
        _integrity(data, extra)
        finish_run(config, data, ResultStore(config.out_dir), commit, started, extra, render)
        return []
    for kind in (EXTRACT, FIT, CNN_UNIT):
        slurm_parameters(options, kind)  # bad values stop here, before any submission
    import shutil

    if shutil.which("srun") is None or shutil.which("sbatch") is None:
        raise ConfigError("--launcher slurm: no 'srun'/'sbatch' on this machine; submit from a SLURM login node "
                          "(or use --launcher local)")
    import submitit

    folder = launch_folder(config.out_dir)
    hand_jobs = replace(config, jobs=options.cpus)
    outcomes: list[Outcome] = []
    arrays: list[tuple[str, str, int]] = []
    extraction_array = None
    for kind in (EXTRACT, CNN_UNIT, FIT):
        group = [u for u in units if u.kind == kind]
        if not group:
            continue
        dependency = f"afterany:{extraction_array}" if kind == FIT and extraction_array else None
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
        executor.update_parameters(**{f"slurm_{k}": v for k, v in slurm_parameters(options, kind, dependency).items()})
        base = config if kind == CNN_UNIT else hand_jobs
        with executor.batch():
            jobs = [executor.submit(run_job, u.config(base), u) for u in group]
        array_id = str(jobs[0].job_id).split("_")[0]
        if kind == EXTRACT:
            extraction_array = array_id
        arrays.append((kind, array_id, len(group)))
        outcomes += [Outcome(u, str(j.job_id)) for u, j in zip(group, jobs, strict=True)]
    write_json(folder / "jobs.json", [asdict(o) for o in outcomes])
    store = ResultStore(config.out_dir)
    cnn_key = (config.row_init, get_recipe(config.recipe).name) if config.models else ("", "")
    extra["launcher"] = {"kind": "slurm", "folder": str(folder), "options": asdict(options),
                         "arrays": [{"kind": k, "job_id": a, "tasks": n} for k, a, n in arrays],
                         "jobs": [{"unit": o.unit.label, "job_id": o.job_id,
                                   "writes": unit_records(o.unit, store, *cnn_key)}
                                  for o in outcomes]}
    _integrity(data, extra)
    write_generated_splits(config.out_dir, data.every_split, data.dataset.labels)
    write_json(config.out_dir / "manifest.json",
               build_manifest(config, data.dataset, data.protocols, "submitted", started, extra, commit=commit))
    print(f"launcher: submitted {_summary(units)} to SLURM; job files and logs in {folder}")
    for kind, array_id, n in arrays:
        print(f"  {kind:<8} job {array_id} ({n} task{'s' if n > 1 else ''})"
              + (f", after {extraction_array}" if kind == FIT and extraction_array else ""))
    for o in outcomes:
        print(f"  {o.job_id:<14} {o.unit.label}")
    print(f"when they are done (squeue -u $USER): {collect}   (writes results.csv, tables and figures)")
    print("a failed or cancelled job loses nothing else: the same command resubmits only the missing units")
    sys.stdout.flush()
    return outcomes


# ---------------------------------------------------------------------------------------------- collect


@dataclass
class Collected:
    """What :func:`collect_slurm` found: the submitted jobs whose records are all there, and the others.

    A pending job (a manifest entry) has ``state`` (:func:`job_state`), and ``error`` and ``log``
    when it failed.
    """

    done: list[dict[str, Any]]
    pending: list[dict[str, Any]]
    folder: str

    def note(self) -> str:
        """One line for the report: the jobs without their records, failed ones first with their errors."""

        def listed(jobs: list[dict[str, Any]], show) -> str:
            more = f" and {len(jobs) - 3} more" if len(jobs) > 3 else ""
            return ", ".join(show(j) for j in jobs[:3]) + more

        failed = [j for j in self.pending if j.get("state") == FAILED]
        waiting = [j for j in self.pending if j.get("state") != FAILED]
        parts = []
        if failed:
            parts.append(f"{len(failed)} failed: " + listed(
                failed, lambda j: f"{j['job_id']} ({j['unit']}: {j.get('error', '')}; log {j.get('log', '')})"))
        if waiting:
            parts.append(f"{len(waiting)} without a result yet (queued, running, or killed; logs in {self.folder}): "
                         + listed(waiting, lambda j: f"{j['job_id']} ({j['unit']})"))
        return (f"note: {len(self.pending)} of {len(self.done) + len(self.pending)} SLURM jobs have not written "
                f"their records: {'; '.join(parts)}. This report covers the records present; the same run "
                "command resubmits only what is missing")


def collect_slurm(out_dir: Path) -> Collected | None:
    """Bring a SLURM run's manifest up to date with the records its jobs have written.

    A ``--launcher slurm`` run leaves ``manifest.json`` with status ``submitted`` and, per job, the
    record files it writes (:func:`unit_records`). Once every job's records exist the manifest
    becomes ``complete`` (``finished``: the newest record's time); until then it stays
    ``submitted`` and each job says whether it is ``done``. Called by ``report``.

    Returns
    -------
    Collected or None
        None when the folder has no manifest of a submitted SLURM run (nothing to collect), or
        when its jobs do not list their records (a manifest older than this function: left as is).
    """
    path = Path(out_dir) / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: corrupt manifest ({err})") from None
    launcher = manifest.get("launcher") or {}
    if manifest.get("status") != "submitted" or launcher.get("kind") != "slurm":
        return None
    jobs = launcher.get("jobs") or []
    if any("writes" not in job for job in jobs):  # submitted before manifests listed each job's records
        return None
    from submitit.core.utils import JobPaths

    folder = Path(launcher.get("folder") or Path(out_dir) / LAUNCHER_DIR)
    for job in jobs:
        job["done"] = all((Path(out_dir) / rel).is_file() for rel in job["writes"])
        for key in ("state", "error", "log"):
            job.pop(key, None)
        if not job["done"]:
            paths = JobPaths(folder, str(job["job_id"]))
            job["state"], error = job_state(paths.result_pickle)
            if job["state"] == FAILED:
                job.update(error=error, log=str(paths.stderr))
    done, pending = [j for j in jobs if j["done"]], [j for j in jobs if not j["done"]]
    launcher["collected"] = now_iso()
    if not pending:
        written = [Path(out_dir) / rel for j in jobs for rel in j["writes"]]
        manifest["status"] = "complete"
        manifest["finished"] = max((ResultStore.load(p).created for p in written), default=now_iso())
    write_json(path, manifest)
    return Collected(done, pending, str(folder))
