"""``python run_benchmark.py predict PHOTO [PHOTO|DIR ...]``: score every face in photos with a saved model.

For each photo: decode it (:func:`data.images.load_rgb`: EXIF rotation applied, grayscale,
RGBA and CMYK converted, images above 2048 px downscaled while decoding), find every face with
dlib's HOG detector, and score each face with a saved model (``.skops`` pipeline whose first
step is the feature extractor, see :mod:`benchmark.model_io`). Each face gets one line: its
box (pixels of the upright original image), the score on the 1-5 scale and its percentile
among the SCUT-FBP5500 labels (from the label quantiles stored in the model's metadata).

Model choice
------------
``--model`` names a model file, or a saved row (``dlib-embed__svr``, ``dlib-embed+svr``,
``60-40/dlib-embed__svr``, ``60-40/dlib-embed__svr/split-1`` or a feature name) under
``--models-dir`` (default ``reports/latest/models``, where ``--save-model`` writes). Without
``--model`` the saved model with the best test PC is used, preferring features that work on
any photo (``dlib-embed``, ``geom68``, ``lbp``, ``gabor-grid``: no manual landmarks) over
those that read the 86 SCUT landmarks (``geom86``, ``gabor-kp``), which on a photo use the
estimate from dlib's 68 points, so their stored test PC (measured with manual landmarks)
overstates how well they do on photos.

Exit status: 0 when every photo was scored, 1 when any input failed (each failure is one
``error: PATH: problem`` line on stderr; the other photos are still scored).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmark.model_io import (
    CNN_SUFFIX,
    ENSEMBLE_SUFFIX,
    KIND_CNN,
    KIND_ENSEMBLE,
    KIND_PIPELINE,
    MODEL_SUFFIX,
    ModelFileError,
    load_pipeline,
    percentile_of,
    read_metadata,
)
from core.errors import BenchmarkError, DataError
from data.images import load_rgb
from data.scut import SCORE_RANGE, FaceRecord

DEFAULT_MODELS_DIR = Path("reports/latest/models")
#: Photos whose shorter side is below this many pixels are rejected.
MIN_SIDE = 64
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
TRAIN_HINT = "python run_benchmark.py --protocol 60-40 --features dlib-embed --predictors svr --save-model"
REFERENCE = "SCUT-FBP5500"
#: Saved model files: scikit-learn pipelines (skops) and CNN weights (safetensors).
MODEL_SUFFIXES = (MODEL_SUFFIX, CNN_SUFFIX, ENSEMBLE_SUFFIX)


class NoModelError(BenchmarkError):
    """No saved model can be used."""


# --------------------------------------------------------------------------- saved models


@dataclass
class SavedModel:
    """A saved model file and its metadata (read without loading the model)."""

    path: Path
    metadata: dict[str, Any] = field(repr=False)

    @property
    def feature(self) -> str:
        """The feature of a pipeline, the name of an ensemble; a CNN's model for metadata of version-1 records."""
        return str(self.metadata.get("feature", ""))

    @property
    def model(self) -> str:
        """The architecture of a CNN (``model``; metadata of version-1 records named it by ``feature``)."""
        if not self.is_cnn:
            return ""
        return str(self.metadata.get("model") or self.feature)

    @property
    def name(self) -> str:
        """The row's name: a CNN's model, else the feature (or the ensemble's name)."""
        return self.model or self.feature

    @property
    def predictor(self) -> str:
        return str(self.metadata.get("predictor", ""))

    @property
    def protocol(self) -> str:
        return str(self.metadata.get("protocol", ""))

    @property
    def split(self) -> str:
        return str(self.metadata.get("split", ""))

    @property
    def slug(self) -> str:
        return str(self.metadata.get("row") or f"{self.name}__{self.predictor}")

    @property
    def test_pc(self) -> float:
        value = (self.metadata.get("metrics") or {}).get("pc")
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else -math.inf

    @cached_property
    def uses_landmarks(self) -> bool:
        """True if the feature reads the 86 manual landmarks (estimated on photos)."""
        if self.is_cnn:
            return False
        if self.is_ensemble:
            return any(m.uses_landmarks for m in self.members)
        config = self.metadata.get("feature_config") or {}
        if "uses_landmarks" in config:
            return bool(config["uses_landmarks"])
        from benchmark.fusion import is_known, landmark_blocks

        return bool(landmark_blocks(self.feature)) if is_known(self.feature) else False

    @property
    def is_cnn(self) -> bool:
        return self.metadata.get("kind") == KIND_CNN

    @property
    def is_ensemble(self) -> bool:
        return self.metadata.get("kind") == KIND_ENSEMBLE

    @cached_property
    def members(self) -> list[SavedModel]:
        """An ensemble's member models (empty for other kinds)."""
        if not self.is_ensemble:
            return []
        from benchmark.model_io import load_ensemble

        return [SavedModel(path, read_metadata(path)) for path, _ in load_ensemble(self.path)[0]]

    @cached_property
    def runnable(self) -> bool:
        """A pipeline whose feature extractor, or CNN weights whose architecture, is registered here."""
        if self.is_cnn:
            try:
                from models.cnn import CNNS
            except ImportError:  # torch not installed
                return False
            return self.model in CNNS
        if self.is_ensemble:
            return all(m.runnable for m in self.members)
        from benchmark.fusion import is_known

        return self.metadata.get("kind") == KIND_PIPELINE and is_known(self.feature)  # every block of a fusion

    def load(self) -> Any:
        """The model, with ``predict(records) -> scores``: a skops pipeline or a CNN face scorer."""
        if self.is_cnn:
            from predict.face_scorer import CnnFaceScorer

            return CnnFaceScorer(self.path)
        if self.is_ensemble:
            return EnsembleScorer(self.path)
        return load_pipeline(self.path)

    @property
    def label(self) -> str:
        split = f", split {self.split}" if self.split else ""
        pc = f", test PC {self.test_pc:.4f}" if math.isfinite(self.test_pc) else ""
        return f"{self.name} + {self.predictor} ({self.protocol}{split}{pc})"

    def names(self) -> set[str]:
        """Names ``--model`` may use for this model (compared without spaces)."""
        base = {self.slug, f"{self.name}+{self.predictor}", self.name,
                f"{self.protocol}/{self.slug}", f"{self.protocol}/{self.slug}/split-{self.split}"}
        return {_norm(n) for n in base}

    def describe(self) -> dict[str, Any]:
        """The model entry of the JSON output."""
        return {"path": str(self.path), "feature": self.feature, "model": self.model, "predictor": self.predictor,
                "protocol": self.protocol, "split": self.split,
                "test_pc": self.test_pc if math.isfinite(self.test_pc) else None,
                "uses_landmarks": self.uses_landmarks}


class EnsembleScorer:
    """``predict(records) -> scores`` of a saved ensemble: its members' weighted predictions + intercept.

    Parameters
    ----------
    path : Path
        A ``.ensemble`` file written by a run with ``--ensemble`` and ``--save-model``.
    """

    def __init__(self, path: str | Path) -> None:
        from benchmark.model_io import load_ensemble

        entries, self.intercept, self.metadata = load_ensemble(path)
        self.members = [SavedModel(p, read_metadata(p)).load() for p, _ in entries]
        self.weights = np.array([w for _, w in entries], dtype=np.float64)

    def predict(self, records: Any) -> np.ndarray:
        """Scores (1-5 scale, unclipped), shape (len(records),)."""
        P = np.column_stack([np.asarray(m.predict(records), dtype=np.float64).ravel() for m in self.members])
        return P @ self.weights + self.intercept


def _norm(name: str) -> str:
    name = "".join(name.split())
    for suffix in MODEL_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def discover_models(models_dir: Path) -> tuple[list[SavedModel], list[str]]:
    """Every ``*.skops`` and ``*.safetensors`` model under ``models_dir`` with readable metadata.

    Returns
    -------
    models : list of SavedModel
        Sorted by path.
    warnings : list of str
        One line per model file skipped (metadata missing or unreadable).
    """
    models, warnings = [], []
    if not models_dir.is_dir():
        return models, warnings
    for path in sorted(p for suffix in MODEL_SUFFIXES for p in models_dir.rglob(f"*{suffix}")):
        try:
            model = SavedModel(path, read_metadata(path))
            _ = model.members  # an ensemble whose member files are missing or changed is skipped here
        except ModelFileError as err:
            warnings.append(f"skipped {err}")
        else:
            models.append(model)
    return models, warnings


def default_model(models: list[SavedModel], models_dir: Path) -> SavedModel:
    """The runnable model with the best test PC, preferring features that need no manual landmarks.

    Raises
    ------
    NoModelError
        If no model is saved, or none can score photos here.
    """
    if not models:
        raise NoModelError(f"no saved model in {models_dir}; train and save one with: {TRAIN_HINT}")
    runnable = [m for m in models if m.runnable]
    if not runnable:
        raise NoModelError(f"none of the {len(models)} saved model(s) in {models_dir} can score photos here "
                           f"(their features or CNNs are not installed); train and save one with: {TRAIN_HINT}")
    native = [m for m in runnable if not m.uses_landmarks]
    return sorted(native or runnable, key=lambda m: (-m.test_pc, str(m.path)))[0]


def find_model(name: str, models_dir: Path) -> SavedModel:
    """The model ``--model`` names: a file, else the best-PC saved model matching the name.

    Raises
    ------
    NoModelError, ModelFileError
        If nothing matches or the file's metadata is missing or unreadable.
    """
    path = Path(name).expanduser()
    if path.is_file():
        return SavedModel(path, read_metadata(path))
    if path.is_dir():
        raise NoModelError(f"{path}: is a folder; pass a model file to --model or the folder to --models-dir")
    models, _ = discover_models(models_dir)
    matches = [m for m in models if _norm(name) in m.names()]
    if not matches:
        saved = sorted({f"{m.protocol}/{m.slug}" for m in models})
        listing = f"saved: {', '.join(saved[:12])}" + (" ..." if len(saved) > 12 else "") if saved else \
            f"none saved; train and save one with: {TRAIN_HINT}"
        raise NoModelError(f"no saved model named {name!r} in {models_dir} ({listing})")
    return sorted(matches, key=lambda m: (-m.test_pc, str(m.path)))[0]


# --------------------------------------------------------------------------- photos


def expand_inputs(inputs: list[str]) -> list[tuple[Path, str | None]]:
    """Photos to score: files as given, folders expanded to their image files (not recursive).

    Returns
    -------
    list of (path, error)
        ``error`` is a one-line message for an input that cannot be scored (missing file,
        folder without images), else None.
    """
    out: list[tuple[Path, str | None]] = []
    seen: set[Path] = set()
    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                            and p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                out.append((path, f"{path}: folder has no images ({', '.join(IMAGE_SUFFIXES)})"))
            for p in images:
                if p not in seen:
                    seen.add(p)
                    out.append((p, None))
        elif path.is_file():
            if path not in seen:
                seen.add(path)
                out.append((path, None))
        else:
            out.append((path, f"{path}: file not found"))
    return out


def original_size(path: Path, fallback: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of the upright original image (EXIF rotation applied), from its header."""
    try:
        with Image.open(path) as im:
            width, height = im.size
            orientation = im.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError):
        return fallback
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


@dataclass
class FaceScore:
    """One scored face; ``box`` is (left, top, right, bottom) in pixels of the upright original."""

    box: tuple[int, int, int, int]
    raw_score: float
    score: float
    percentile: float | None


def score_photo(path: Path, pipeline: Any,
                quantiles: list[float] | None) -> tuple[tuple[int, int], list[FaceScore]]:
    """Detect and score every face of one photo, left to right.

    Returns
    -------
    size : (int, int)
        Width and height of the upright original image.
    faces : list of FaceScore

    Raises
    ------
    DataError
        Unreadable or non-image file, image too small, or no face found.
    """
    from features.face import PHOTO_MIN_SCORE, detect_faces

    rgb = load_rgb(path)
    h, w = rgb.shape[:2]
    width, height = original_size(path, (w, h))
    if min(width, height) < MIN_SIDE:
        raise DataError(f"{path}: image too small ({width}x{height} px; the shorter side must be at least "
                        f"{MIN_SIDE} px)")
    boxes = sorted(detect_faces(rgb, min_score=PHOTO_MIN_SCORE), key=lambda b: (b[0], b[1]))
    if not boxes:
        raise DataError(f"{path}: no face found")
    records = [FaceRecord(image_id=f"{path}#{k}", image_path=path, landmarks=None, box=box, content_hash="")
               for k, box in enumerate(boxes)]
    raw = np.asarray(pipeline.predict(records), dtype=np.float64).ravel()
    sx, sy = width / w, height / h
    faces = []
    for box, value in zip(boxes, raw, strict=True):
        left, top = max(box[0], 0), max(box[1], 0)
        right, bottom = min(box[2], w - 1), min(box[3], h - 1)
        scaled = (round(left * sx), round(top * sy), round(right * sx), round(bottom * sy))
        score = float(np.clip(value, *SCORE_RANGE))
        pct = percentile_of(score, quantiles) if quantiles else None
        faces.append(FaceScore(scaled, float(value), score, pct))
    return (width, height), faces


def face_line(path: Path, k: int, n: int, face: FaceScore) -> str:
    """The text output of one face."""
    left, top, right, bottom = face.box
    line = (f"{path}: face {k} of {n}, box (left {left}, top {top}, right {right}, bottom {bottom}): "
            f"{face.score:.2f} on the 1-5 scale")
    if face.percentile is not None:
        line += f", better than {face.percentile:.0f}% of {REFERENCE}"
    return line


# --------------------------------------------------------------------------- command


def predict_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        add_help=add_help, prog="run_benchmark.py predict",
        description="Score the attractiveness (1-5, SCUT-FBP5500 scale) of every face in photos with a saved "
                    "model, with its percentile among the SCUT-FBP5500 scores.",
        epilog=f"Save models with '--save-model' on a run, e.g. {TRAIN_HINT}")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="image files or folders of images")
    p.add_argument("--model", metavar="NAME_OR_PATH",
                   help="model file, or saved row name (e.g. dlib-embed__svr, "
                        "60-40/dlib-embed__svr/split-1); default: the saved model with the best test PC")
    p.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR,
                   help=f"folder of saved models (default: {DEFAULT_MODELS_DIR})")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    return p


def select_model(name: str | None, models_dir: Path) -> tuple[SavedModel, list[str]]:
    """The model to use and warning lines (skipped files, landmark estimation)."""
    warnings: list[str] = []
    if name:
        model = find_model(name, models_dir)
    else:
        models, warnings = discover_models(models_dir)
        model = default_model(models, models_dir)
    if not model.runnable:
        raise NoModelError(f"{model.path}: cannot score photos here (a {model.metadata.get('kind')} model "
                           f"named {model.name!r}, which is not installed or not a pipeline)")
    if model.uses_landmarks:
        from benchmark.fusion import is_fused, landmark_blocks

        what = model.feature
        if model.is_ensemble:
            landmark_members = ", ".join(m.slug for m in model.members if m.uses_landmarks)
            what = f"ensemble {model.feature} (its member(s) {landmark_members})"
        elif is_fused(model.feature):  # a fused model needs every block: the landmark blocks are estimated
            what = f"{model.feature} (its block(s) {', '.join(landmark_blocks(model.feature))})"
        warnings.append(f"{what} reads the 86 SCUT-FBP5500 landmarks; on photos they are estimated "
                        "from dlib's 68 points, so expect less accuracy than its test PC")
    return model, warnings


def cmd_predict(args: argparse.Namespace, argv: list[str]) -> int:
    """``run_benchmark.py predict``: ``args`` parsed by :func:`predict_parser`; returns the exit status."""
    model, warnings = select_model(args.model, args.models_dir)
    pipeline = model.load()
    from features.face import dlib_models

    dlib_models()  # a missing dlib is one error for the command, not one per photo
    quantiles = (model.metadata.get("labels") or {}).get("quantiles")
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not args.json:
        print(f"model: {model.label} [{model.path}]")
    photos: list[dict[str, Any]] = []
    n_errors = 0
    for path, error in expand_inputs(args.photos):
        entry: dict[str, Any] = {"path": str(path), "size": None, "faces": [], "error": error}
        if error is None:
            try:
                size, faces = score_photo(path, pipeline, quantiles)
            except DataError as err:
                entry["error"] = str(err)
            else:
                entry["size"] = list(size)
                entry["faces"] = [
                    {"face": k, "box": dict(zip(("left", "top", "right", "bottom"), f.box, strict=True)),
                     "score": round(f.score, 4), "raw_score": round(f.raw_score, 4),
                     "percentile": None if f.percentile is None else round(f.percentile, 1)}
                    for k, f in enumerate(faces, start=1)]
                if not args.json:
                    for k, f in enumerate(faces, start=1):
                        print(face_line(path, k, len(faces), f))
        if entry["error"]:
            n_errors += 1
            print(f"error: {entry['error']}", file=sys.stderr)
        photos.append(entry)
    if args.json:
        labels = model.metadata.get("labels") or {}
        reference = f"{REFERENCE} labels (n={labels.get('n')})" if quantiles else None
        payload = {"model": model.describe(), "scale": list(SCORE_RANGE), "percentile_reference": reference,
                   "photos": photos, "n_errors": n_errors}
        print(json.dumps(payload, indent=1))
    return 1 if n_errors else 0


