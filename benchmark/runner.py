"""Runs every (feature x predictor) pairing over every split and stores one record each."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from benchmark.cnn_runner import ReleaseImages, choose_device, cnn_row_init, is_pack, run_cnn_track
from benchmark.feature_cache import FeatureCache
from benchmark.fusion import fused_matrices
from benchmark.metrics import score_all
from benchmark.pipeline import (
    DEFAULT_PCA,
    build_predictor,
    build_preprocessing,
    create_extractor,
    jsonable_params,
)
from benchmark.record import HANDCRAFTED, Predictions, Record
from benchmark.store import ResultStore, RowKey, write_json
from core.errors import ConfigError
from core.provenance import git_commit, machine, now_iso, package_versions
from data.integrity import integrity_of
from data.protocols import Split, load_protocols, protocol_manifest, select_splits, write_generated_splits
from data.scut import ScutFBP5500


@dataclass
class RunConfig:
    """Everything a run depends on (the manifest records it).

    Attributes
    ----------
    data_dir : Path
        Dataset root.
    protocol : str
        ``5fold``, ``60-40``, ``all`` or a split folder.
    features, predictors : list of str
        Registered names.
    out_dir : Path
        Output folder.
    cache_dir : Path
        Feature cache folder.
    jobs : int
        Parallel workers (feature extraction and fits).
    force : bool
        Recompute records that already exist.
    seed : int
        Seed of every random step.
    pca_components : int
        PCA size for high-dimensional features.
    progress : bool
        Show progress bars.
    argv : list of str
        The command line, for the manifest.
    models : list of str
        CNNs of the deep track (empty: none).
    device : str
        ``auto`` (CUDA if present, else the CNNs are skipped), ``cuda`` or ``cpu``.
    init : str
        CNN initialisation (``imagenet``/``scratch``).
    recipe : str or None
        CNN training recipe (a name of :data:`models.cnn.recipes.RECIPES`); None: ``cpu`` when
        the CNNs run on the CPU, ``paper`` on CUDA.
    max_iters : int or None
        Cap on CNN iterations (recorded; for quick checks only).
    save_model : bool
        Save every fitted model (skops pipelines, CNN safetensors) under ``out_dir/models``.
    splits : str or None
        ``--splits``: only these splits of the protocol(s) (see
        :func:`data.protocols.select_splits`); None runs every split.
    ensembles : list of benchmark.ensemble.EnsembleSpec
        ``--ensemble``: ensemble rows built after both tracks (:mod:`benchmark.ensemble`).
    weights : Path or None
        ``--weights FILE``: a local checkpoint replacing the ImageNet weights of the one CNN.
    """

    data_dir: Path
    protocol: str
    features: list[str]
    predictors: list[str]
    out_dir: Path
    cache_dir: Path
    jobs: int = 1
    force: bool = False
    seed: int = 0
    pca_components: int = DEFAULT_PCA
    progress: bool = True
    argv: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    device: str = "auto"
    init: str = "imagenet"
    recipe: str | None = None
    max_iters: int | None = None
    save_model: bool = False
    splits: str | None = None
    ensembles: list = field(default_factory=list)
    weights: Path | None = None

    @cached_property
    def row_init(self) -> str:
        """The ``init`` of this run's CNN rows: ``init``, or ``file.<sha256 prefix>`` of ``weights``
        (:func:`benchmark.cnn_runner.cnn_row_init`); the file is hashed once per configuration."""
        return cnn_row_init(self.init, self.weights)


@dataclass
class Task:
    """One (feature, split): its preprocessing is fitted once, then each predictor."""

    feature: str
    predictors: list[str]
    split: Split


def fit_split(feature: str, predictors: list[str], split: Split, X: np.ndarray, y: np.ndarray,
              fallback: np.ndarray, row_of: dict[str, int], pca_components: int, seed: int,
              save_to: Path | None = None, label_values: list[float] | None = None,
              widths: tuple[int, ...] = ()) -> list[Record]:
    """Fit each pairing of ``feature`` on the split's training rows and score it on the test rows.

    The preprocessing (scaler, PCA) is fitted once on the training rows and shared by the
    predictors; each record's configuration is the full ``Pipeline(preprocessing + predictor)``.

    Parameters
    ----------
    X : ndarray of shape (n_images, n_features)
        Features of every image of the dataset (rows by ``row_of``).
    y : ndarray of shape (n_images,)
        Labels of every image.
    fallback : ndarray of shape (n_images,), bool
        Images whose features used detected instead of manual landmarks.
    save_to : Path, optional
        Output folder: save each fitted ``Pipeline(extractor, preprocessing, predictor)`` there.
    label_values : list of float, optional
        All dataset labels, stored (as quantiles) with saved models for percentiles.
    widths : tuple of int
        Column count of each block of a fused feature (:mod:`benchmark.fusion`).

    Returns
    -------
    list of Record
        One record per predictor, to store (``git_commit`` is set by the caller).
    """
    train = np.array([row_of[n] for n in split.train])
    test = np.array([row_of[n] for n in split.test])
    extractor = create_extractor(feature)
    t0 = time.perf_counter()
    pre = build_preprocessing(extractor, pca_components, seed, widths=widths or None)
    X_train = pre.fit_transform(X[train])  # fitted on training rows only
    X_test = pre.transform(X[test])
    pre_s = time.perf_counter() - t0
    records = []
    for name in predictors:
        model = build_predictor(name, seed)
        t1 = time.perf_counter()
        model.fit(X_train, y[train])  # training rows only
        t2 = time.perf_counter()
        pred = model.predict(X_test)
        t3 = time.perf_counter()
        pipeline = Pipeline([*pre.steps, ("predict", model)])
        records.append(Record(
            track=HANDCRAFTED, feature=feature, predictor=name, protocol=split.protocol, split=split.name,
            metrics=score_all(y[test], pred), n_train=len(train), n_test=len(test), seed=seed,
            timings={"fit_s": round(pre_s + t2 - t1, 4), "preprocess_s": round(pre_s, 4),
                     "predict_s": round(t3 - t2, 4)},
            config={"feature": {"name": feature, "params": jsonable_params(extractor), "version": extractor.version},
                    "model": jsonable_params(pipeline)},
            landmark_fallback={"train": [n for n in split.train if fallback[row_of[n]]],
                               "test": [n for n in split.test if fallback[row_of[n]]]},
            predictions=Predictions(list(split.test), [float(v) for v in y[test]], [float(v) for v in pred]),
            created=now_iso(),
        ))
        if save_to is not None:
            from benchmark.model_io import save_run_model

            save_run_model(save_to, records[-1].to_dict(), extractor, pipeline, label_values or [])
    return records


def build_manifest(config: RunConfig, dataset: ScutFBP5500, protocols: list[list[Split]], status: str,
                   started: str, extra: dict[str, Any] | None = None, *, commit: str | None = None) -> dict[str, Any]:
    """The run manifest: configuration, versions, git commit, dataset fingerprint, machine.

    ``commit`` is the commit the run started from (default: the current one). ``extra`` is
    merged in, except its ``dataset_integrity`` (:func:`data.integrity.integrity_of`), which goes
    into ``dataset`` as ``integrity`` (the verdict) and ``integrity_check`` (the counts).
    """
    extra = dict(extra or {})
    integrity = extra.pop("dataset_integrity", None)
    return {
        "status": status,
        "command": " ".join(config.argv),
        "started": started,
        "finished": now_iso() if status == "complete" else None,
        "git_commit": commit or git_commit(),
        "versions": package_versions(),
        "machine": machine(),
        "dataset": {"root": str(dataset.root), "fingerprint": dataset.fingerprint(),
                    "n_images": len(dataset.labels), "kind": type(dataset).__name__,
                    **({"integrity": integrity["verdict"], "integrity_check": integrity} if integrity else {})},
        "config": {
            "protocol": config.protocol,
            "splits": {p[0].protocol: [{"split": s.name, "n_train": len(s.train), "n_test": len(s.test)}
                                       for s in p] for p in protocols},
            "features": {f: jsonable_params(create_extractor(f)) for f in config.features},
            "predictors": config.predictors,
            "cnn": {"models": config.models, "device": config.device, "init": config.init,
                    "recipe": config.recipe, "max_iters": config.max_iters,
                    **({"weights": {"path": str(Path(config.weights).resolve()), "row_init": config.row_init}}
                       if config.weights is not None else {})} if config.models else None,
            "protocols": {p[0].protocol: protocol_manifest(p[0].protocol) for p in protocols},
            "selected_splits": config.splits,
            "pca_components": config.pca_components, "seed": config.seed, "jobs": config.jobs,
            "cache_dir": str(config.cache_dir),
        },
        **extra,
    }


#: Keys of an earlier run's manifest kept in the ``history`` of the next run into the same folder.
HISTORY_KEYS = ("command", "git_commit", "started", "finished", "status", "timings", "machine")


def run_history(out_dir: Path) -> list[dict[str, Any]]:
    """Earlier runs into ``out_dir``: its manifest's ``history`` plus the manifest's own run, oldest first.

    A store is often filled by several commands (the hand-crafted track, then each CNN, then
    the ensembles); the manifest describes the latest and keeps the others here, so the report
    can name every command, commit and machine behind its rows. A missing or unreadable
    manifest gives no history (it is rewritten by this run).
    """
    path = Path(out_dir) / "manifest.json"
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(old, dict) or "command" not in old:
        return []
    return [*old.get("history", []), {k: old.get(k) for k in HISTORY_KEYS}]


def run(config: RunConfig, render: Callable[[ResultStore, str], object] | None = None) -> ResultStore:
    """Run the benchmark: the hand-crafted track, then the deep track, then tables.

    ``render(store, provenance)`` draws the tables from the stored records (the command line
    passes :func:`reports.protocol_tables.render_store`; this layer does not import the reports); None
    writes records, ``results.csv`` and the manifest only.

    Hand-crafted: features (cached), then every (feature x predictor) pairing on every split.
    Deep: every selected CNN on every split (skipped with one line when ``device`` is ``auto``
    and there is no CUDA device). Records are written as each fit finishes; existing records
    are skipped unless ``config.force``. Returns the store of ``config.out_dir``.
    """
    started = now_iso()
    commit = git_commit()
    data = load_run_data(config)
    dataset, protocols = data.dataset, data.protocols
    store = ResultStore(config.out_dir)
    if config.ensembles:
        from benchmark.ensemble import check_run_members

        config.ensembles = check_run_members(config.ensembles, config, store)  # before anything is written
    timings: dict[str, float] = {}
    extra: dict[str, Any] = {"timings": timings, "history": run_history(config.out_dir)}
    t0 = time.perf_counter()
    extra["dataset_integrity"] = integrity_of(dataset)  # one SHA-256 pass over the data folder
    timings["integrity_s"] = round(time.perf_counter() - t0, 2)
    extra["records_computed"] = run_handcrafted(config, dataset, protocols, store, commit, started, extra)
    run_deep(config, data.source, protocols, store, commit, extra)
    if config.ensembles:
        from benchmark.ensemble import run_ensembles

        t0 = time.perf_counter()
        extra["ensemble_records_computed"] = run_ensembles(config, dataset, protocols, store, commit)
        timings["ensembles_s"] = round(time.perf_counter() - t0, 2)
    finish_run(config, data, store, commit, started, extra, render)
    return store


def run_deep(config: RunConfig, source: Any, protocols: list[list[Split]], store: ResultStore, commit: str,
             extra: dict[str, Any]) -> None:
    """The deep track of a run: every selected CNN on every split without a record.

    Skipped with one line when ``config.device`` is ``auto`` and there is no CUDA device. Sets
    ``extra["cnn_records_computed"]`` and ``extra["timings"]["cnn_s"]`` when the CNNs run.
    """
    timings = extra.setdefault("timings", {})
    if config.models:
        device = choose_device(config.device)
        if device is None:
            print(f"note: no CUDA device: skipping the CNNs ({', '.join(config.models)}); "
                  "pass --device cpu to train them on the CPU (slow)", file=sys.stderr)
        else:
            from models.cnn.recipes import default_recipe

            config.recipe = config.recipe or default_recipe(device)
            t0 = time.perf_counter()
            extra["cnn_records_computed"] = run_cnn_track(
                source, protocols, store, models=config.models, device=device, init=config.init,
                recipe=config.recipe, seed=config.seed, force=config.force, max_iters=config.max_iters,
                save_model=config.save_model, commit=commit, progress=config.progress, weights=config.weights)
            timings["cnn_s"] = round(time.perf_counter() - t0, 2)


@dataclass
class RunData:
    """What a run reads before it computes anything.

    Attributes
    ----------
    dataset : ScutFBP5500 or data.pack.PackedDataset
        The release (or a pack, for the CNNs only).
    source : benchmark.cnn_runner.ImageSource
        Images of the deep track.
    every_split : list of list of Split
        Every split of the chosen protocol(s) (their split files are written into the output folder).
    protocols : list of list of Split
        The splits selected by ``config.splits``.
    """

    dataset: Any
    source: Any
    every_split: list[list[Split]]
    protocols: list[list[Split]]


def load_run_data(config: RunConfig) -> RunData:
    """The dataset, image source and splits of ``config`` (a release folder or a pack).

    Raises
    ------
    ConfigError
        A pack given for the hand-crafted track (one line).
    """
    if is_pack(Path(config.data_dir)):
        from data.pack import PackedDataset

        if config.features and config.predictors:
            raise ConfigError(f"{config.data_dir}: a pack holds only 256x256 images for the CNNs; pass "
                              "--features none, or the release folder for the hand-crafted track")
        dataset = source = PackedDataset(config.data_dir)
        protocols = dataset.protocols(config.protocol)
    else:
        dataset = ScutFBP5500(config.data_dir)
        protocols = load_protocols(config.protocol, dataset)
        source = ReleaseImages(dataset, config.cache_dir)
    return RunData(dataset, source, protocols, select_splits(protocols, config.splits))


def finish_run(config: RunConfig, data: RunData, store: ResultStore, commit: str, started: str,
               extra: dict[str, Any], render: Callable[[ResultStore, str], object] | None,
               status: str = "complete") -> None:
    """Write what a run derives from its records, once: split files, ``results.csv``, tables, manifest.

    ``extra`` must hold ``dataset_integrity`` (:func:`data.integrity.integrity_of`). Called at the
    end of :func:`run`, and by :mod:`benchmark.launch` after its jobs (which never write these files).
    """
    write_generated_splits(config.out_dir, data.every_split, data.dataset.labels)
    store.write_csv()
    if render is not None:
        render(store, f"`{' '.join(config.argv)}`; commit {commit}; data {extra['dataset_integrity']['verdict']}")
    write_json(config.out_dir / "manifest.json", build_manifest(config, data.dataset, data.protocols, status,
                                                                started, extra, commit=commit))


def run_unit(config: RunConfig) -> int:
    """Compute the missing records of ``config`` and nothing else: one job of :mod:`benchmark.launch`.

    :func:`run` without its shared writes (no integrity pass, manifest, ``results.csv``, tables or
    split files), so several units can run at once into one output folder: each record is written
    atomically as it is done, and existing records are skipped unless ``config.force``.

    Returns
    -------
    int
        Records computed (hand-crafted and CNN).
    """
    commit = git_commit()
    data = load_run_data(config)
    store = ResultStore(config.out_dir)
    extra: dict[str, Any] = {"timings": {}}
    done = run_handcrafted(config, data.dataset, data.protocols, store, commit, now_iso(), extra,
                           write_manifest=False)
    run_deep(config, data.source, data.protocols, store, commit, extra)
    return done + extra.get("cnn_records_computed", 0)


def image_names(dataset: ScutFBP5500, splits: list[Split]) -> list[str]:
    """Every image of ``splits`` (training and test), in the dataset's order."""
    position = {n: i for i, n in enumerate(dataset.names)}
    return sorted({n for s in splits for n in (*s.train, *s.test)}, key=position.__getitem__)


def handcrafted_tasks(config: RunConfig, splits: list[Split], store: ResultStore) -> list[Task]:
    """The (feature, split) fits of the hand-crafted track with a missing record (all of them with ``force``)."""
    tasks = []
    for f in config.features:
        for s in splits:
            todo = [p for p in config.predictors
                    if config.force or not store.has(RowKey.handcrafted(f, p), s.protocol, s.name)]
            if todo:
                tasks.append(Task(f, todo, s))
    return tasks


def run_handcrafted(config: RunConfig, dataset: ScutFBP5500, protocols: list[list[Split]], store: ResultStore,
                    commit: str, started: str, extra: dict[str, Any], *, write_manifest: bool = True) -> int:
    """The hand-crafted track; returns the number of records computed.

    ``write_manifest=False`` (a job of :mod:`benchmark.launch`) leaves the manifest alone.
    """
    splits = [s for p in protocols for s in p]
    tasks = handcrafted_tasks(config, splits, store)
    if not tasks:
        return 0
    timings = extra["timings"]
    names = image_names(dataset, splits)
    row_of = {n: i for i, n in enumerate(names)}
    y = np.array([dataset.labels[n] for n in names])
    t0 = time.perf_counter()
    records = dataset.records(names)
    needed = sorted({t.feature for t in tasks}, key=config.features.index)
    matrices = fused_matrices(needed, FeatureCache(config.cache_dir), records, jobs=config.jobs,
                              progress=config.progress)
    timings["features_s"] = round(time.perf_counter() - t0, 2)
    # inputs are valid (every image decoded): from here on the run writes into the output folder
    extra["landmark_fallback"] = {r.image_id: r.landmark_status for r in records if r.landmarks is None}
    if write_manifest:
        write_json(config.out_dir / "manifest.json",
                   build_manifest(config, dataset, protocols, "running", started, extra, commit=commit))

    t1 = time.perf_counter()
    n_records = sum(len(t.predictors) for t in tasks)
    jobs = Parallel(n_jobs=config.jobs, return_as="generator_unordered")(
        delayed(fit_split)(t.feature, t.predictors, t.split, matrices[t.feature].values, y,
                           matrices[t.feature].fallback, row_of, config.pca_components, config.seed,
                           config.out_dir if config.save_model else None, list(dataset.labels.values()),
                           widths=matrices[t.feature].widths)
        for t in tasks)
    bar = tqdm(total=n_records, desc="fits", unit="fit", disable=not config.progress)
    for records_done in jobs:
        for record in records_done:
            record.git_commit = commit
            store.write(record)
        bar.update(len(records_done))
    bar.close()
    timings["fits_s"] = round(time.perf_counter() - t1, 2)
    return n_records
