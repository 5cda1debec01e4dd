"""The deep track: fine-tune each selected CNN on each split and store one record each.

Images come either from the release (decoded and resized to the recipe's ``image_size`` once,
and kept in a uint8 ``.npy`` cache under the feature cache folder) or from a pack made by
``python -m data.pack`` (the compact form carried to a GPU machine). torch is imported only
here, lazily, so the hand-crafted track never needs it.

Each (model, split) trains with an epoch checkpoint under ``OUT/checkpoints/``: a killed run
resumes inside the split from its last finished epoch; the checkpoint is deleted once the
record is stored.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from benchmark.metrics import score_all
from benchmark.record import CNN, Predictions, Record
from benchmark.store import ResultStore, RowKey
from core.errors import ConfigError
from core.hashing import sha256_file
from core.provenance import now_iso, peak_rss_mib
from data.protocols import Split, load_protocols


class ImageSource(Protocol):
    """What the deep track needs from a dataset: labels, splits and square uint8 images."""

    labels: dict[str, float]

    def fingerprint(self) -> str: ...

    def protocols(self, spec: str) -> list[list[Split]]: ...

    def images(self, names: list[str], size: int | None = None) -> np.ndarray: ...


class ReleaseImages:
    """:class:`ImageSource` over the release folder: JPEGs decoded once per size.

    Parameters
    ----------
    dataset : ScutFBP5500
    cache_dir : Path, optional
        Folder of the decoded-image cache (``images-<fingerprint>-<size>.npy``, written
        atomically); None keeps the decoded images in memory only.
    """

    def __init__(self, dataset, cache_dir: Path | None = None) -> None:
        self.dataset = dataset
        self.cache_dir = cache_dir
        self._index = {n: i for i, n in enumerate(dataset.names)}
        self._arrays: dict[int, np.ndarray] = {}

    @property
    def labels(self) -> dict[str, float]:
        return self.dataset.labels

    def fingerprint(self) -> str:
        return self.dataset.fingerprint()

    def protocols(self, spec: str) -> list[list[Split]]:
        return load_protocols(spec, self.dataset)

    def images(self, names: list[str], size: int | None = None) -> np.ndarray:
        """Images of ``names`` as (len(names), size, size, 3) uint8 (size default 256)."""
        from data.pack import IMAGE_SIZE

        size = size or IMAGE_SIZE
        if size not in self._arrays:
            self._arrays = {size: self._decoded(size)}  # one size in memory at a time
        return self._arrays[size][[self._index[n] for n in names]]

    def _decoded(self, size: int) -> np.ndarray:
        from core.atomic import atomic_path
        from data.pack import decode_release_images

        path = None
        if self.cache_dir is not None:
            path = Path(self.cache_dir) / f"images-{self.fingerprint()}-{size}.npy"
            if path.is_file():
                array = np.load(path)
                if array.shape == (len(self._index), size, size, 3) and array.dtype == np.uint8:
                    return array
        array = decode_release_images(self.dataset, self.dataset.names, size)
        if path is not None:
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.save(fh, array)
        return array


def is_pack(path: Path) -> bool:
    """True if ``path`` is a pack folder made by ``python -m data.pack``."""
    from data.pack import MANIFEST

    return (path / MANIFEST).is_file() and not (path / "Images").is_dir()


def choose_device(device: str) -> str | None:
    """The device a run's CNNs train on, from its ``--device`` option (``auto``, ``cuda`` or ``cpu``).

    Parameters
    ----------
    device : str
        ``auto`` picks CUDA when available; ``cuda`` and ``cpu`` are taken as given.

    Returns
    -------
    str or None
        ``cuda`` or ``cpu``; None when ``auto`` finds no CUDA device (the caller skips the CNNs).
        (:func:`models.cnn.train.resolve_device` turns a device name into a ``torch.device``.)

    Raises
    ------
    ConfigError
        ``cuda`` asked for on a machine without a CUDA device (one line).
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else None
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available (use --device cpu for a slow CPU run)")
    return device


def checkpoint_path(store: ResultStore, key: RowKey, split: Split) -> Path:
    """Where the epoch checkpoint of (``key``, ``split``) lives while it trains."""
    record = store.path(key, split.protocol, split.name)
    return (store.out_dir / "checkpoints" / record.relative_to(store.records_dir)).with_suffix(".pt")


#: Hex digits of a ``--weights`` file's sha256 in the ``init`` of its rows.
WEIGHTS_ID_DIGITS = 8


def cnn_row_init(init: str, weights: Path | None) -> str:
    """The ``init`` a CNN row is stored under: ``init``, or ``file.<sha256 prefix>`` with ``--weights FILE``.

    A network initialised from a local checkpoint is another row than the same network with the
    ImageNet weights of its library (and than one from another file): its records, resume
    checkpoint and table label say which file, by content. The prefix has
    :data:`WEIGHTS_ID_DIGITS` hex digits (``file.57934424``).

    Raises
    ------
    ConfigError
        ``weights`` is not a file (one line).
    """
    if weights is None:
        return init
    if not Path(weights).is_file():
        raise ConfigError(f"--weights {weights}: checkpoint file not found")
    return f"file.{sha256_file(weights)[:WEIGHTS_ID_DIGITS]}"


def missing_cnn_runs(models: list[str], splits: list[Split], store: ResultStore, init: str, recipe: str,
                     force: bool) -> list[tuple[str, Split]]:
    """The (model, split) runs of the deep track without a stored record (all of them with ``force``).

    ``recipe`` is the recipe's name (CNN rows are keyed by model, init and recipe). Used by
    :func:`run_cnn_track` and by :mod:`benchmark.launch` to plan its CNN jobs.
    """
    return [(m, s) for m in models for s in splits
            if force or not store.has(RowKey.cnn(m, init, recipe), s.protocol, s.name)]


def check_cnn_inputs(models: list[str], recipe: Any) -> None:
    """Refuse, before any image is decoded or job submitted, a network that cannot take ``recipe``'s crops.

    Raises
    ------
    ConfigError
        One line naming the network, the crop size and what to use instead.
    """
    from models.cnn.train import checked_input_size

    for model in models:
        checked_input_size(model, recipe)


def run_cnn_track(source: ImageSource, protocols: list[list[Split]], store: ResultStore, *, models: list[str],
                  device: str, init: str, recipe: Any, seed: int, force: bool, max_iters: int | None,
                  save_model: bool, commit: str, progress: bool, weights: Path | None = None) -> int:
    """Train and score every (model, split) without a stored record; returns how many were run.

    ``recipe`` is a recipe name, a :class:`models.cnn.recipes.Recipe` or None (the device's
    default: ``cpu`` on the CPU, ``paper`` on CUDA); records are keyed by its name and store the
    recipe actually run. A record is written as soon as its split is done, and each split keeps
    an epoch checkpoint while it trains, so an interrupted run resumes inside the split.
    ``weights`` (``--weights FILE``, one model only) replaces that model's ImageNet weights by a
    local checkpoint file; its name and sha256 land in the record, whose ``init`` is
    :func:`cnn_row_init` (``file.<sha256 prefix>``).
    """
    from models.cnn.recipes import default_recipe, get_recipe
    from models.cnn.train import train_and_predict

    recipe_obj = get_recipe(recipe if recipe is not None else default_recipe(device))
    recipe = recipe_obj.name
    if weights is not None and len(models) != 1:
        raise ConfigError(f"--weights {weights} is the checkpoint of one network: give exactly one --models name, "
                          f"not {len(models)}")
    row_init = cnn_row_init(init, weights)
    todo = missing_cnn_runs(models, [s for p in protocols for s in p], store, row_init, recipe, force)
    check_cnn_inputs(sorted({m for m, _ in todo}), recipe_obj)
    done = 0
    for model, split in todo:
        key = RowKey.cnn(model, row_init, recipe)
        train, test = list(split.train), list(split.test)
        y_train = np.array([source.labels[n] for n in train])
        y_test = np.array([source.labels[n] for n in test])
        print(f"cnn: {model} ({row_init}, {recipe}) on {split.protocol}/{split.name} [{device}]",
              file=sys.stderr, flush=True)
        ckpt = checkpoint_path(store, key, split)
        if force:
            ckpt.unlink(missing_ok=True)
        size = recipe_obj.image_size
        result = train_and_predict(model, source.images(train, size), y_train, source.images(test, size),
                                   recipe=recipe_obj, init=init, device=device, seed=seed,
                                   max_iters=max_iters, progress=progress, checkpoint=ckpt, weights=weights)
        record = Record(
            track=CNN, model=model, predictor=CNN, init=row_init, recipe=recipe,
            protocol=split.protocol, split=split.name, metrics=score_all(y_test, result.test_pred),
            n_train=len(train), n_test=len(test), seed=seed,
            timings={"fit_s": round(result.train_time_s, 3), "predict_s": round(result.predict_time_s, 3),
                     "wall_s": round(result.wall_time_s, 3)},
            config={"model": model, "init": init, "recipe": result.recipe.to_dict(), "max_iters": max_iters,
                    **({"weights": str(weights)} if weights is not None else {})},
            cnn={**result.provenance(), "peak_rss_mib": peak_rss_mib()},  # process peak so far
            predictions=Predictions(test, [float(v) for v in y_test], [float(v) for v in result.test_pred]),
            created=now_iso(), git_commit=commit,
        )
        path = store.write(record)
        ckpt.unlink(missing_ok=True)
        if save_model:
            from benchmark.model_io import label_summary, save_cnn

            model_file = (store.out_dir / "models" / path.relative_to(store.records_dir)).with_suffix(".safetensors")
            meta = {k: v for k, v in record.to_dict().items() if k != "predictions"}
            meta["labels"] = label_summary(source.labels.values())
            save_cnn(model_file, result.state_dict, meta)
        done += 1
    return done
