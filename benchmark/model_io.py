"""Saving and loading fitted models, each with a JSON metadata file beside it.

Formats
-------
* Hand-crafted rows: the fitted scikit-learn :class:`~sklearn.pipeline.Pipeline` whose first
  step is the feature extractor (so ``pipeline.predict([face_record])`` scores a face), saved
  with skops (``.skops``), never pickle. Loading computes the file's types with
  :func:`skops.io.get_untrusted_types` and trusts them only if every one comes from this
  project's ``features``, ``models`` or ``benchmark`` modules as installed (the module's file lies
  inside :data:`PROJECT_DIRS`; a foreign package of the same name is refused) or from
  scikit-learn, NumPy, SciPy, XGBoost; any other type refuses to load with a one-line error.
* CNN weights: a state dict in safetensors (``.safetensors``), loaded on the CPU.
* Ensembles (late fusion): a JSON file (``.ensemble``) naming each member's saved model file of
  the same split (relative path and SHA-256), its weight, and the intercept; written only when
  every member's model was saved. Loading checks every member file's hash.

Metadata (``<name>.json`` beside ``<name>.skops``/``<name>.safetensors``)
-------------------------------------------------------------------------
What was fitted (feature and its parameters, predictor or CNN, protocol, split), the test
metrics of its record, package versions, the git commit, the SHA-256 of the model file
(checked on load) and ``labels``: the empirical quantiles of the dataset's labels at
:data:`N_QUANTILES` evenly spaced levels (0, 0.001, ..., 1), from which ``predict`` reports a
score's percentile among the SCUT-FBP5500 scores without the dataset. These are derived
statistics of the 5500 mean scores (no image names, no per-image labels).

Layout of a run's saved models (:func:`save_run_model`)::

    OUT/models/<protocol>/<row slug>/split-<name>.skops   (+ split-<name>.json)
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from benchmark.feature_cache import atomic_write_bytes
from benchmark.pipeline import jsonable_params
from benchmark.record import row_key
from benchmark.store import ResultStore
from core.errors import BenchmarkError
from core.hashing import sha256_file
from core.provenance import git_commit, now_iso, package_versions
from features.base import FeatureExtractor

MODEL_SUFFIX = ".skops"
CNN_SUFFIX = ".safetensors"
ENSEMBLE_SUFFIX = ".ensemble"
METADATA_SUFFIX = ".json"
FORMAT = "fbp-bench-model"
FORMAT_VERSION = 1
KIND_PIPELINE = "sklearn-pipeline"
KIND_CNN = "cnn-state-dict"
KIND_ENSEMBLE = "ensemble"
#: This project's packages whose types a model file may contain: trusted only where a type's module
#: is installed inside :data:`PROJECT_DIRS` (an unrelated package of the same name is not trusted).
PROJECT_PACKAGES = ("features", "models", "benchmark")
#: Where the project's packages are installed: beside this one (``benchmark``), as set up by
#: ``pyproject.toml`` (one source tree or one ``site-packages``).
PROJECT_DIRS = tuple(Path(__file__).resolve().parent.parent / name for name in PROJECT_PACKAGES)
#: Libraries whose types a model file may contain (by top-level package name).
TRUSTED_LIBRARIES = ("sklearn", "numpy", "scipy", "xgboost")
#: Top-level packages whose types a model file may contain: those of :data:`PROJECT_PACKAGES` only
#: where installed inside :data:`PROJECT_DIRS`, the others by name.
TRUSTED_PACKAGES = (*PROJECT_PACKAGES, *TRUSTED_LIBRARIES)
#: Number of label quantile levels stored in the metadata (0, 1/1000, ..., 1).
N_QUANTILES = 1001
#: Name of the feature-extractor step in a saved pipeline.
FEATURE_STEP = "features"


class ModelFileError(BenchmarkError):
    """A model or metadata file is missing, corrupt, inconsistent or contains an untrusted type."""


# --------------------------------------------------------------------------- metadata


def metadata_path(path: str | Path) -> Path:
    """The metadata file of a model file (``split-1.skops`` -> ``split-1.json``)."""
    return Path(path).with_suffix(METADATA_SUFFIX)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a model file (``path`` may be the model file or its ``.json``).

    Raises
    ------
    ModelFileError
        If the metadata file is missing or not a JSON object.
    """
    meta = metadata_path(path)
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{meta}: model metadata file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{meta}: model metadata is not valid JSON ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f"{meta}: not an fbp-bench model metadata file")
    return data


def _write_metadata(path: Path, kind: str, payload: bytes, metadata: Mapping[str, Any]) -> None:
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "model_file": path.name,
            "sha256": hashlib.sha256(payload).hexdigest(), "saved": now_iso(),
            "versions": package_versions(), **dict(metadata)}
    if "git_commit" not in meta:
        meta["git_commit"] = git_commit()
    atomic_write_bytes(metadata_path(path), (json.dumps(meta, indent=1, default=str) + "\n").encode())


def _read_checked(path: Path) -> bytes:
    """The model file's bytes, checked against the SHA-256 in its metadata when that exists."""
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a model file") from None
    if metadata_path(path).is_file() and metadata_path(path) != path:
        expected = read_metadata(path).get("sha256")
        if expected and hashlib.sha256(payload).hexdigest() != expected:
            raise ModelFileError(f"{path}: file does not match the SHA-256 in {metadata_path(path).name} "
                                 "(modified or truncated)")
    return payload


# --------------------------------------------------------------------------- label distribution


def label_quantiles(values: Iterable[float], n: int = N_QUANTILES) -> list[float]:
    """Empirical quantiles of ``values`` at ``n`` evenly spaced levels from 0 to 1.

    Parameters
    ----------
    values : iterable of float
        The labels (all 5500 SCUT-FBP5500 mean scores).
    n : int
        Number of levels (``n=1001``: steps of 0.1 percentile).

    Returns
    -------
    list of float
        Non-decreasing, rounded to 6 decimals.
    """
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError("label values must be a non-empty set of finite numbers")
    return [round(float(q), 6) for q in np.quantile(arr, np.linspace(0.0, 1.0, n))]


def percentile_of(score: float, quantiles: Iterable[float]) -> float:
    """Percentage of the labels below ``score``, from stored quantiles.

    The empirical CDF is interpolated linearly between the quantiles (levels evenly spaced
    from 0 to 1); where several quantiles equal ``score`` the middle of their levels is used.

    Returns
    -------
    float
        In [0, 100]: 0 below the lowest label, 100 above the highest.
    """
    q = np.asarray(list(quantiles), dtype=np.float64)
    levels = np.linspace(0.0, 1.0, q.size)
    lo, hi = np.searchsorted(q, score, "left"), np.searchsorted(q, score, "right")
    if hi > lo:  # equals one or more quantiles
        return float(100 * levels[lo:hi].mean())
    if lo == 0:
        return 0.0
    if lo == q.size:
        return 100.0
    frac = (score - q[lo - 1]) / (q[lo] - q[lo - 1])
    return float(100 * (levels[lo - 1] + frac * (levels[lo] - levels[lo - 1])))


def label_summary(values: Iterable[float]) -> dict[str, Any]:
    """The ``labels`` entry of the metadata: count, mean, std and :func:`label_quantiles`."""
    arr = np.asarray(list(values), dtype=np.float64)
    return {"description": f"empirical quantiles of the {arr.size} dataset labels at {N_QUANTILES} "
                           "evenly spaced levels from 0 to 1 (derived statistics; no image names or "
                           "per-image labels)",
            "n": int(arr.size), "mean": round(float(arr.mean()), 6), "std": round(float(arr.std()), 6),
            "quantiles": label_quantiles(arr)}


# --------------------------------------------------------------------------- skops pipelines


def _inside_project(spec: importlib.machinery.ModuleSpec) -> bool:
    """Whether a module's file (a package's folders) lies inside :data:`PROJECT_DIRS`."""
    places = list(spec.submodule_search_locations or [])
    if spec.has_location and spec.origin:
        places.append(spec.origin)
    if not places:
        return False  # built-in, frozen or no file: not this project's
    for place in places:
        resolved = Path(place).resolve()
        if not any(resolved.is_relative_to(folder) for folder in PROJECT_DIRS):
            return False
    return True


def is_project_module(module: str) -> bool:
    """Whether ``module`` (dotted name) is one of this project's modules as installed.

    Each enclosing package is located in turn (``models``, ``models.cnn``, ...) with
    :func:`importlib.util.find_spec`, and must lie inside :data:`PROJECT_DIRS` before the next
    level is looked up, so a package that is not the project's is never imported. The walk stops
    at the first name that is not a package or not found (the rest names an attribute: a class,
    a nested class); a module that does not exist fails later, when skops imports it.
    """
    parts = module.split(".")
    if parts[0] not in PROJECT_PACKAGES:
        return False
    for i in range(1, len(parts) + 1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:i]))
        except (ImportError, ValueError):
            return False
        if spec is None:
            return i > 1  # not a module: the rest of the name is an attribute of the module above
        if not _inside_project(spec):
            return False
        if spec.submodule_search_locations is None:
            return True  # a module (not a package): the rest is a class in it
    return True


def is_trusted_type(name: str) -> bool:
    """Whether a type name reported by skops (``module.QualName``) may be loaded.

    Trusted: a type of this project's modules as installed (:func:`is_project_module`: the
    module's file is inside :data:`PROJECT_DIRS`), or of the other :data:`TRUSTED_PACKAGES`
    (:data:`TRUSTED_LIBRARIES`).
    """
    top = name.split(".", 1)[0]
    if top in PROJECT_PACKAGES:
        return "." in name and is_project_module(name.rpartition(".")[0])
    return top in TRUSTED_PACKAGES


def trusted_types(path: Path, payload: bytes) -> list[str]:
    """The allow-list to load ``payload`` with: its untrusted types, if all are from trusted packages.

    Raises
    ------
    ModelFileError
        If a type comes from elsewhere, or the file is not a skops file.
    """
    import skops.io as sio

    try:
        found = sio.get_untrusted_types(data=payload)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as err:
        raise ModelFileError(f"{path}: not a skops model file ({type(err).__name__}: {err})") from None
    refused = sorted(t for t in found if not is_trusted_type(t))
    if refused:
        libraries = ", ".join(p for p in TRUSTED_PACKAGES if p not in PROJECT_PACKAGES)
        raise ModelFileError(f"{path}: refusing to load: type(s) neither from this project's packages as "
                             f"installed ({', '.join(str(d) for d in PROJECT_DIRS)}) nor from {libraries}: "
                             f"{', '.join(refused)}")
    return list(found)


def save_pipeline(path: str | Path, pipeline: Pipeline, metadata: Mapping[str, Any]) -> Path:
    """Save a fitted pipeline with skops and its metadata as JSON beside it.

    Parameters
    ----------
    path : str or Path
        The model file (``.skops``); ``<stem>.json`` is written beside it. Both are written
        atomically; parent folders are created.
    pipeline : Pipeline
        Fitted; its first step should be the feature extractor.
    metadata : mapping
        JSON-serialisable description (feature, predictor, protocol, split, metrics, label
        quantiles ...); format, versions, the file's SHA-256 and the time are added.

    Returns
    -------
    Path
        The model file.

    Raises
    ------
    ModelFileError
        If the pipeline holds a type that :func:`load_pipeline` would refuse.
    """
    import skops.io as sio

    path = Path(path)
    payload = sio.dumps(pipeline, compression=zipfile.ZIP_DEFLATED)
    trusted_types(path, payload)  # never write a file that cannot be loaded back
    atomic_write_bytes(path, payload)
    _write_metadata(path, KIND_PIPELINE, payload, metadata)
    return path


def load_pipeline(path: str | Path) -> Pipeline:
    """Load a pipeline saved by :func:`save_pipeline`, trusting only the types :func:`is_trusted_type` accepts.

    Raises
    ------
    ModelFileError
        If the file is missing, not a skops file, modified since saving (SHA-256 in the
        metadata), contains a type from another package, or is not a pipeline.
    """
    import skops.io as sio
    from skops.io.exceptions import UnsupportedTypeException, UntrustedTypesFoundException

    path = Path(path)
    payload = _read_checked(path)
    trusted = trusted_types(path, payload)
    try:
        model = sio.loads(payload, trusted=trusted)
    except (UntrustedTypesFoundException, UnsupportedTypeException) as err:
        raise ModelFileError(f"{path}: refusing to load: {err}") from None
    except ImportError as err:
        raise ModelFileError(f"{path}: model needs code that is not installed ({err})") from None
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as err:
        raise ModelFileError(f"{path}: corrupt skops model file ({type(err).__name__}: {err})") from None
    if not isinstance(model, Pipeline):
        raise ModelFileError(f"{path}: holds a {type(model).__name__}, not a scikit-learn Pipeline")
    return model


# --------------------------------------------------------------------------- CNN weights


def save_cnn(path: str | Path, state_dict: Mapping[str, Any], metadata: Mapping[str, Any]) -> Path:
    """Save CNN weights (a ``state_dict`` of tensors) with safetensors and metadata as JSON beside it.

    Tensors are moved to the CPU and made contiguous (tied weights are stored as copies).

    Returns
    -------
    Path
        The weights file (``.safetensors``).
    """
    from safetensors.torch import save

    path = Path(path)
    tensors = {str(k): v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    payload = save(tensors, metadata={"format": FORMAT})
    atomic_write_bytes(path, payload)
    _write_metadata(path, KIND_CNN, payload, metadata)
    return path


def load_cnn(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load weights saved by :func:`save_cnn`, on the CPU, with their metadata.

    Returns
    -------
    state_dict : dict of str to torch.Tensor
    metadata : dict

    Raises
    ------
    ModelFileError
        If a file is missing, corrupt, or the weights do not match their metadata.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    metadata = read_metadata(path)
    payload = _read_checked(path)
    try:
        state = load(payload)
    except SafetensorError as err:
        raise ModelFileError(f"{path}: corrupt safetensors file ({err})") from None
    return state, metadata


# --------------------------------------------------------------------------- runner integration


def run_model_path(out_dir: str | Path, record: Mapping[str, Any]) -> Path:
    """``out_dir/models/<protocol>/<row slug>/split-<name>.skops`` for a result record."""
    key = row_key(record)
    store = ResultStore(out_dir)
    rel = store.path(key, str(record["protocol"]), str(record["split"])).relative_to(store.records_dir)
    return Path(out_dir) / "models" / rel.with_suffix(MODEL_SUFFIX)


def with_extractor(extractor: FeatureExtractor, fitted_model: BaseEstimator) -> Pipeline:
    """A pipeline that scores faces: the (stateless) extractor, then the fitted model's steps."""
    steps = list(fitted_model.steps) if isinstance(fitted_model, Pipeline) else [("predict", fitted_model)]
    name = FEATURE_STEP if FEATURE_STEP not in {n for n, _ in steps} else f"{FEATURE_STEP}_"
    return Pipeline([(name, extractor.fit(None)), *steps])


def save_run_model(out_dir: str | Path, record: Mapping[str, Any], extractor: FeatureExtractor,
                   fitted_model: BaseEstimator, label_values: Iterable[float]) -> Path:
    """Save the model of one (pairing, split) of a run, for ``run_benchmark.py predict``.

    Parameters
    ----------
    out_dir : str or Path
        The run's output folder.
    record : mapping
        The result record of the fit (:func:`benchmark.runner.fit_and_score`): names the file
        and gives the metadata (metrics, protocol, split, configuration).
    extractor : FeatureExtractor
        The feature extractor of the pairing (stateless).
    fitted_model : estimator
        The model fitted on the split's training features (scaler, PCA, predictor).
    label_values : iterable of float
        The labels of every image of the dataset (all 5500 scores); only their quantiles are
        stored (:func:`label_summary`).

    Returns
    -------
    Path
        ``out_dir/models/<protocol>/<row slug>/split-<name>.skops`` (``.json`` beside it).
    """
    path = run_model_path(out_dir, record)
    key = row_key(record)
    metadata = {
        "track": record["track"], "feature": record["feature"], "predictor": record["predictor"],
        "init": record.get("init", "") or "", "recipe": record.get("recipe", "") or "", "row": key.slug,
        "protocol": str(record["protocol"]), "split": str(record["split"]),
        "metrics": dict(record.get("metrics", {})), "n_train": record.get("n_train"),
        "n_test": record.get("n_test"), "seed": record.get("seed"),
        "feature_config": {"name": record["feature"], "class": f"{type(extractor).__module__}."
                           f"{type(extractor).__qualname__}", "params": jsonable_params(extractor),
                           "version": extractor.version, "uses_landmarks": bool(extractor.uses_landmarks)},
        "model_config": (record.get("config") or {}).get("model"),
        "record_created": record.get("created"),
        "labels": label_summary(label_values),
    }
    if record.get("git_commit"):
        metadata["git_commit"] = record["git_commit"]
    return save_pipeline(path, with_extractor(extractor, fitted_model), metadata)


# --------------------------------------------------------------------------- ensembles


def saved_model_file(out_dir: str | Path, protocol: str, slug: str, split: str) -> Path | None:
    """The saved model of row ``slug`` on one split (pipeline or CNN weights), or None if not saved."""
    folder = Path(out_dir) / "models" / protocol / slug
    for suffix in (MODEL_SUFFIX, CNN_SUFFIX, ENSEMBLE_SUFFIX):
        path = folder / f"split-{split}{suffix}"
        if path.is_file() and metadata_path(path).is_file():
            return path
    return None


def save_ensemble(out_dir: str | Path, record: Mapping[str, Any]) -> Path | None:
    """Save the ensemble of one split of a run (``record``: its ensemble record) for ``predict``.

    The file names the members' saved models of the same split; if one of them was not saved
    (the run had no ``--save-model`` for it), nothing is written and None is returned.

    Returns
    -------
    Path or None
        ``out_dir/models/<protocol>/<ensemble>__ensemble__<method>/split-<name>.ensemble``.
    """
    protocol, split = str(record["protocol"]), str(record["split"])
    section = record["ensemble"]
    members = []
    files = []
    path = run_model_path(out_dir, record).with_suffix(ENSEMBLE_SUFFIX)
    for member in section["members"]:
        file = saved_model_file(out_dir, protocol, member["row"], split)
        if file is None:
            return None
        files.append(file)
        members.append({"row": member["row"], "file": Path(os.path.relpath(file, path.parent)).as_posix(),
                        "sha256": sha256_file(file), "weight": float(member["weight"])})
    first = read_metadata(files[0])
    payload = (json.dumps({"format": FORMAT, "members": members, "intercept": float(section["intercept"]),
                           "method": section["method"]}, indent=1) + "\n").encode()
    metadata = {
        "track": record["track"], "feature": record["feature"], "predictor": record["predictor"],
        "init": "", "recipe": record.get("recipe", ""), "row": path.parent.name,
        "protocol": protocol, "split": split, "metrics": dict(record.get("metrics", {})),
        "n_train": record.get("n_train"), "n_test": record.get("n_test"), "seed": record.get("seed"),
        "members": [m["row"] for m in members], "record_created": record.get("created"),
        "labels": first.get("labels"),
    }
    if record.get("git_commit"):
        metadata["git_commit"] = record["git_commit"]
    atomic_write_bytes(path, payload)
    _write_metadata(path, KIND_ENSEMBLE, payload, metadata)
    return path


def load_ensemble(path: str | Path) -> tuple[list[tuple[Path, float]], float, dict[str, Any]]:
    """Read an ensemble saved by :func:`save_ensemble`.

    Returns
    -------
    members : list of (Path, float)
        Each member's model file and weight.
    intercept : float
    metadata : dict

    Raises
    ------
    ModelFileError
        If the file is missing, corrupt, or a member file is missing or changed since.
    """
    path = Path(path)
    metadata = read_metadata(path)
    payload = _read_checked(path)
    try:
        spec = json.loads(payload)
        entries = [(path.parent / m["file"], float(m["weight"]), str(m["sha256"])) for m in spec["members"]]
        intercept = float(spec["intercept"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{path}: not a valid ensemble file ({err})") from None
    for member, _, sha in entries:
        try:
            digest = sha256_file(member)
        except FileNotFoundError:
            raise ModelFileError(f"{path}: member model {member} not found") from None
        if digest != sha:
            raise ModelFileError(f"{path}: member model {member} changed since the ensemble was saved")
    return [(m, w) for m, w, _ in entries], intercept, metadata
