"""The result record: one (row, split) of a run, as stored in ``records/`` and read by every report.

Every track writes the same :class:`Record`: the hand-crafted runner (:func:`benchmark.runner.fit_split`),
the deep track (:mod:`benchmark.cnn_runner`) and the ensembles (:mod:`benchmark.ensemble`); the store
(:class:`benchmark.store.ResultStore`) reads and writes it, and its :attr:`Record.key` (a :class:`RowKey`)
names the record's folder.

A row is named by its track:

* ``handcrafted``: ``feature`` (an extractor, or a fusion ``a+b``) and ``predictor``;
* ``cnn``: ``model`` (the CNN), ``predictor="cnn"``, ``init`` and ``recipe``; ``feature`` is empty;
* ``ensemble``: ``feature`` is the ensemble's name, ``predictor="ensemble"`` and ``recipe`` its
  weighting method (not part of its key: one folder per ensemble name).

On disk a record is the JSON object of :meth:`Record.to_dict`, with ``record_version`` =
:data:`RECORD_VERSION`. :meth:`Record.from_dict` reads every earlier kind as well: records without a
version (version 1) named a CNN by ``feature`` (``feature=<model>, predictor="cnn"``); they load with
the model in ``model``. Keys a record holds beyond the known fields are kept in ``extra`` and written
back unchanged, so reading and rewriting a record loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import DataError

#: Version written into every new record (records without one are version 1).
RECORD_VERSION = 2
HANDCRAFTED, CNN, ENSEMBLE = "handcrafted", "cnn", "ensemble"
#: Keys every stored record has (a CNN record of version 2 may name its row by ``model`` instead of ``feature``).
REQUIRED_KEYS = ("track", "feature", "predictor", "protocol", "split", "metrics")
#: The row fields of a table row, in order (:meth:`Record.row_fields`).
ROW_FIELDS = ("track", "feature", "predictor", "model", "init", "recipe")


@dataclass(frozen=True)
class RowKey:
    """Identifies one table row (a pairing) and, with a protocol and split, one record.

    Built from a record by :attr:`Record.key` (or :func:`row_key`), or by the constructors
    :meth:`handcrafted`, :meth:`cnn` and :meth:`ensemble`. Its :attr:`slug` is the record
    folder's name (``geom86__gr``, ``mobilenet_v2__cnn__imagenet-cpu``, ``deep__ensemble``).

    Raises
    ------
    ValueError
        A CNN key without a ``model``, or with a ``feature`` (CNNs are named by ``model``).
    """

    track: str
    feature: str = ""
    predictor: str = ""
    init: str = ""
    recipe: str = ""
    model: str = ""

    def __post_init__(self) -> None:
        if self.track == CNN and (not self.model or self.feature):
            raise ValueError(f"a CNN row is named by its model (model={self.model!r}, feature={self.feature!r})")

    @classmethod
    def handcrafted(cls, feature: str, predictor: str) -> RowKey:
        """The key of a hand-crafted pairing."""
        return cls(HANDCRAFTED, feature, predictor)

    @classmethod
    def cnn(cls, model: str, init: str, recipe: str) -> RowKey:
        """The key of a CNN row."""
        return cls(CNN, "", CNN, init, recipe, model)

    @classmethod
    def ensemble(cls, name: str) -> RowKey:
        """The key of an ensemble row (its weighting method is not part of it)."""
        return cls(ENSEMBLE, name, ENSEMBLE)

    @property
    def name(self) -> str:
        """The row's name: the model of a CNN row, else the feature (or the ensemble's name)."""
        return self.model if self.track == CNN else self.feature

    @property
    def slug(self) -> str:
        """The record folder's name: ``NAME__PREDICTOR``, and ``__INIT-RECIPE`` for a CNN row."""
        base = f"{self.name}__{self.predictor}"
        return f"{base}__{self.init}-{self.recipe}" if self.track == CNN else base


@dataclass(frozen=True)
class Predictions:
    """Every test image of a split with its true and predicted score (same order, same length)."""

    image: list[str]
    true: list[float]
    pred: list[float]

    def to_dict(self) -> dict[str, list]:
        return {"image": list(self.image), "true": list(self.true), "pred": list(self.pred)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Predictions:
        """Read ``{"image": [...], "true": [...], "pred": [...]}``.

        Raises
        ------
        DataError
            If a list is missing or the three lengths differ.
        """
        try:
            image, true, pred = list(data["image"]), list(data["true"]), list(data["pred"])
        except (KeyError, TypeError) as err:
            raise DataError(f"predictions lack image/true/pred ({err})") from None
        if not len(image) == len(true) == len(pred):
            raise DataError(f"predictions of {len(image)} images hold {len(true)} true and {len(pred)} predicted "
                            "scores")
        return cls(image, true, pred)


_KNOWN = {"record_version", "track", "feature", "predictor", "model", "init", "recipe", "protocol", "split",
          "metrics", "n_train", "n_test", "seed", "timings", "config", "cnn", "ensemble", "landmark_fallback",
          "predictions", "created", "git_commit", "train_pred_stats"}


@dataclass
class Record:
    """One stored result: a row's test metrics and predictions on one split, with how they were made.

    Attributes
    ----------
    track : str
        ``handcrafted``, ``cnn`` or ``ensemble``.
    protocol, split : str
        Where it was evaluated (``5fold`` / ``3``).
    metrics : dict of str to float
        ``pc``, ``mae``, ``rmse`` on the test part.
    feature : str
        Hand-crafted: the extractor (or fusion); ensemble: its name; CNN: empty.
    predictor : str
        Hand-crafted: the regressor; ``cnn``; ``ensemble``.
    model : str
        CNN: the architecture (``mobilenet_v2``); empty for the other tracks.
    init, recipe : str
        CNN: initialisation and training recipe; ensemble: ``recipe`` is the weighting method.
    n_train, n_test : int or None
        Split sizes.
    seed : int or None
        Seed of every random step of the fit.
    timings : dict
        Seconds: ``fit_s``, ``predict_s`` and per-track extras (``preprocess_s``, ``wall_s``, ``oof_s``).
    config : dict
        The full configuration (feature and pipeline parameters; CNN recipe; ensemble members).
    predictions : Predictions or None
        Every test image's true and predicted score.
    landmark_fallback : dict
        ``{"train": [...], "test": [...]}``: images whose features used detected landmarks.
    created : str or None
        ISO time the record was made.
    git_commit : str or None
        Commit of the run that made it.
    cnn : dict or None
        CNN run provenance (device, threads, seconds, loss per epoch, peak RSS, ...).
    ensemble : dict or None
        Ensemble section: members, weights, intercept, method, inputs.
    train_pred_stats : dict or None
        ``{"mean": .., "std": ..}`` of the row's training-part predictions, where recorded.
    extra : dict
        Keys of the stored record not listed here, written back unchanged.
    record_version : int
        The shape of this object: :data:`RECORD_VERSION` (an older record is upgraded when read, so it is
        rewritten in the current shape).
    """

    track: str
    protocol: str
    split: str
    metrics: dict[str, float]
    feature: str = ""
    predictor: str = ""
    model: str = ""
    init: str = ""
    recipe: str = ""
    n_train: int | None = None
    n_test: int | None = None
    seed: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    predictions: Predictions | None = None
    landmark_fallback: dict[str, list[str]] = field(default_factory=lambda: {"train": [], "test": []})
    created: str | None = None
    git_commit: str | None = None
    cnn: dict[str, Any] | None = None
    ensemble: dict[str, Any] | None = None
    train_pred_stats: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    record_version: int = RECORD_VERSION

    # ------------------------------------------------------------------ identity

    @property
    def key(self) -> RowKey:
        """The row of this record (the one place a :class:`RowKey` is made from a record)."""
        if self.track == ENSEMBLE:
            return RowKey.ensemble(self.feature)
        return RowKey(self.track, self.feature, self.predictor, self.init, self.recipe, self.model)

    @property
    def name(self) -> str:
        """The row's name: the model of a CNN row, else the feature (or ensemble name)."""
        return self.key.name

    @property
    def n_fallback(self) -> int:
        """Images (training and test) whose features used detected instead of manual landmarks."""
        fallback = self.landmark_fallback or {}
        return len(fallback.get("train", [])) + len(fallback.get("test", []))

    def row_fields(self) -> dict[str, str]:
        """The row's table fields (:data:`ROW_FIELDS`) as strings (a CNN row names its model in ``model``)."""
        return {"track": self.track, "feature": self.feature, "predictor": self.predictor, "model": self.model,
                "init": self.init, "recipe": self.recipe}

    def csv_row(self) -> dict[str, Any]:
        """The record's line of ``results.csv`` (:data:`benchmark.store.CSV_COLUMNS`)."""
        return {
            **self.row_fields(), "protocol": self.protocol, "split": self.split,
            **{m: self.metrics[m] for m in ("pc", "mae", "rmse")},
            "n_train": self.n_train, "n_test": self.n_test,
            "fit_seconds": self.timings.get("fit_s"), "predict_seconds": self.timings.get("predict_s"),
            "seed": self.seed, "n_fallback": self.n_fallback, "created": self.created or "",
            "members": ", ".join(m["row"] for m in (self.ensemble or {}).get("members", [])),
        }

    def table_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with the table's row fields (:meth:`row_fields`), for readers of record dicts
        that label rows like the tables (``reports.stats.pooled_predictions``)."""
        return {**self.to_dict(), **self.row_fields()}

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON object; optional sections that are None are left out, ``extra`` keys are kept."""
        out: dict[str, Any] = {
            "record_version": self.record_version,
            "track": self.track, "feature": self.feature, "predictor": self.predictor, "model": self.model,
            "init": self.init, "recipe": self.recipe, "protocol": self.protocol, "split": self.split,
            "metrics": dict(self.metrics),
        }
        optional = {
            "n_train": self.n_train, "n_test": self.n_test, "seed": self.seed,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        out["timings"] = dict(self.timings)
        out["config"] = self.config
        for name in ("cnn", "ensemble"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out["landmark_fallback"] = self.landmark_fallback
        if self.predictions is not None:
            out["predictions"] = self.predictions.to_dict()
        tail = {"created": self.created, "git_commit": self.git_commit, "train_pred_stats": self.train_pred_stats}
        out.update({k: v for k, v in tail.items() if v is not None})
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        """Read a stored record of any version (see the module docstring).

        Raises
        ------
        DataError
            If the object is not a record: a required key is missing, its version is newer than
            :data:`RECORD_VERSION`, or its predictions are malformed (the message has no path; the
            store adds it).
        """
        if not isinstance(data, Mapping):
            raise DataError(f"a result record is a JSON object, not {type(data).__name__}")
        version = data.get("record_version", 1)
        if not isinstance(version, int) or version > RECORD_VERSION:
            raise DataError(f"record_version {version!r} is not one this version reads (<= {RECORD_VERSION})")
        required = [k for k in REQUIRED_KEYS if k not in data]
        if version >= 2 and data.get("track") == CNN and "feature" in required and data.get("model"):
            required.remove("feature")
        if required:
            raise DataError(f"result record lacks {', '.join(required)}")
        track, feature, model = str(data["track"]), str(data.get("feature") or ""), str(data.get("model") or "")
        if track == CNN and not model:  # version 1: the CNN was named by feature
            feature, model = "", feature
        if track == CNN and not model:
            raise DataError("a CNN result record names no model")
        predictions = data.get("predictions")
        fallback = data.get("landmark_fallback")
        return cls(
            track=track, protocol=str(data["protocol"]), split=str(data["split"]), metrics=dict(data["metrics"]),
            feature=feature, predictor=str(data["predictor"]), model=model,
            init=str(data.get("init") or ""), recipe=str(data.get("recipe") or ""),
            n_train=data.get("n_train"), n_test=data.get("n_test"), seed=data.get("seed"),
            timings=dict(data.get("timings") or {}), config=data.get("config") or {},
            predictions=Predictions.from_dict(predictions) if predictions else None,
            landmark_fallback=fallback if isinstance(fallback, dict) else {"train": [], "test": []},
            created=data.get("created"), git_commit=data.get("git_commit"),
            cnn=data.get("cnn"), ensemble=data.get("ensemble"), train_pred_stats=data.get("train_pred_stats"),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
            record_version=RECORD_VERSION,
        )


def as_record(record: Record | Mapping[str, Any]) -> Record:
    """``record`` itself, or read from its stored (dict) form."""
    return record if isinstance(record, Record) else Record.from_dict(record)


def row_key(record: Record | Mapping[str, Any]) -> RowKey:
    """The :class:`RowKey` of a record or of its stored (dict) form."""
    return as_record(record).key
